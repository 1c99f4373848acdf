import { Construct } from "constructs";
import { DynamodbTable } from "@cdktf/provider-aws/lib/dynamodb-table";
import { HISTORY_TABLE, IDEMPOTENCY_TABLE, MESSAGES_TABLE, USAGE_TABLE } from "../contracts/tables";

export interface EncryptedTableProps {
  /** Table name. */
  readonly name: string;
  /** String partition key attribute. */
  readonly partitionKey: string;
  /** Optional string sort key attribute. */
  readonly sortKey?: string;
  /** Attribute holding the expiry time (epoch seconds); DynamoDB deletes expired items. None: items are kept. */
  readonly ttlAttribute?: string;
  /** Customer managed KMS key for server-side encryption. */
  readonly kmsKeyArn: string;
  /** Refuse DeleteTable (production data). */
  readonly deletionProtection: boolean;
}

/** On-demand DynamoDB table with point-in-time recovery, KMS encryption and, given an attribute, TTL. */
export class EncryptedTable extends Construct {
  public readonly tableArn: string;
  public readonly tableName: string;

  constructor(scope: Construct, id: string, props: EncryptedTableProps) {
    super(scope, id);
    const attributes = [{ name: props.partitionKey, type: "S" }, ...(props.sortKey ? [{ name: props.sortKey, type: "S" }] : [])];
    const table = new DynamodbTable(this, "table", {
      name: props.name,
      billingMode: "PAY_PER_REQUEST",
      hashKey: props.partitionKey,
      rangeKey: props.sortKey,
      attribute: attributes,
      pointInTimeRecovery: { enabled: true },
      serverSideEncryption: { enabled: true, kmsKeyArn: props.kmsKeyArn },
      ttl: props.ttlAttribute ? { enabled: true, attributeName: props.ttlAttribute } : undefined,
      deletionProtectionEnabled: props.deletionProtection,
    });
    this.tableArn = table.arn;
    this.tableName = table.name;
  }
}

export interface ConversationTablesProps {
  /** Chat history table name. */
  readonly historyTableName: string;
  /** Powertools idempotency table name. */
  readonly idempotencyTableName: string;
  /** Durable message records (replay, stop) table name; kept whether or not history is. */
  readonly messagesTableName: string;
  /** Per-user usage rows and generation slots (limits, myUsage, `npm run usage`). */
  readonly usageTableName: string;
  /** No history table when the environment disables history. */
  readonly historyEnabled: boolean;
  /** Customer managed KMS key for every table. */
  readonly kmsKeyArn: string;
  /** Refuse DeleteTable on every table (production). */
  readonly deletionProtection: boolean;
}

/** The functions' tables (history, idempotency, message records, usage), with the key schemas from contracts/tables.ts. */
export class ConversationTables extends Construct {
  public readonly history?: EncryptedTable;
  public readonly idempotency: EncryptedTable;
  public readonly messages: EncryptedTable;
  public readonly usage: EncryptedTable;

  constructor(scope: Construct, id: string, props: ConversationTablesProps) {
    super(scope, id);
    const common = { kmsKeyArn: props.kmsKeyArn, deletionProtection: props.deletionProtection };
    if (props.historyEnabled) {
      this.history = new EncryptedTable(this, "history", { name: props.historyTableName, partitionKey: HISTORY_TABLE.partitionKey, sortKey: HISTORY_TABLE.sortKey, ttlAttribute: HISTORY_TABLE.ttlAttribute, ...common });
    }
    this.idempotency = new EncryptedTable(this, "idempotency", { name: props.idempotencyTableName, partitionKey: IDEMPOTENCY_TABLE.partitionKey, ttlAttribute: IDEMPOTENCY_TABLE.ttlAttribute, ...common });
    this.messages = new EncryptedTable(this, "messages", { name: props.messagesTableName, partitionKey: MESSAGES_TABLE.partitionKey, sortKey: MESSAGES_TABLE.sortKey, ttlAttribute: MESSAGES_TABLE.ttlAttribute, ...common });
    this.usage = new EncryptedTable(this, "usage", { name: props.usageTableName, partitionKey: USAGE_TABLE.partitionKey, sortKey: USAGE_TABLE.sortKey, ...common });
  }
}
