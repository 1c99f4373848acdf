/**
 * DynamoDB for the local stack: dynalite in memory on 127.0.0.1 with the history, idempotency, message-record and usage
 * tables, and the connections table with the websocket transport.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { CreateTableCommand, CreateTableCommandInput, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { resourceNames } from "../../config/names";
import type { EnvironmentConfig } from "../../config/schema";
import { CONNECTIONS_TABLE, HISTORY_TABLE, IDEMPOTENCY_TABLE, MESSAGES_TABLE, USAGE_TABLE } from "../../contracts/tables";
import { LOCAL_CREDENTIALS } from "../credentials";

// dynalite ships no type declarations.
const dynalite: (options: { createTableMs?: number; deleteTableMs?: number; updateTableMs?: number }) => Server = require("dynalite");

export interface LocalDynamo {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  region: string;
  tables: { history: string; idempotency: string; messages: string; usage: string; connections?: string };
  /** A client bound to the endpoint; closed by close(). */
  client: DynamoDBClient;
  close(): Promise<void>;
}

export interface DynamoOptions {
  /** 0 (default) = an ephemeral port. */
  port?: number;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/** An on-demand table with string keys: the partition key, and the sort key when the schema has one. */
function stringKeyedTable(name: string, keys: { partitionKey: string; sortKey?: string }): CreateTableCommandInput {
  const attributes = [keys.partitionKey, ...(keys.sortKey ? [keys.sortKey] : [])];
  return {
    TableName: name,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: attributes.map((AttributeName) => ({ AttributeName, AttributeType: "S" })),
    KeySchema: attributes.map((AttributeName, i) => ({ AttributeName, KeyType: i === 0 ? "HASH" : "RANGE" })),
  };
}

/** The tables as the stacks create them (on-demand billing; the key schemas come from contracts/tables.ts). */
export function tableDefinitions(config: EnvironmentConfig): CreateTableCommandInput[] {
  const names = resourceNames(config);
  return [
    stringKeyedTable(names.historyTable, HISTORY_TABLE),
    stringKeyedTable(names.messagesTable, MESSAGES_TABLE),
    stringKeyedTable(names.usageTable, USAGE_TABLE),
    stringKeyedTable(names.idempotencyTable, IDEMPOTENCY_TABLE),
    ...(config.transports.includes("websocket") ? [stringKeyedTable(names.connectionsTable, CONNECTIONS_TABLE)] : []),
  ];
}

export async function startDynamo(config: EnvironmentConfig, opts: DynamoOptions = {}): Promise<LocalDynamo> {
  // createTableMs 0: tables are ACTIVE at once, so nothing has to wait for them.
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({ region: config.region, endpoint, credentials: opts.credentials ?? LOCAL_CREDENTIALS });
  const close = async () => {
    client.destroy();
    server.closeAllConnections?.();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  try {
    // dynalite has no TTL expiry; the TTL attributes are still written, so the data looks as deployed.
    for (const table of tableDefinitions(config)) await client.send(new CreateTableCommand(table));
  } catch (e) {
    await close();
    throw e;
  }
  const names = resourceNames(config);
  const connections = config.transports.includes("websocket") ? { connections: names.connectionsTable } : {};
  return { endpoint, region: config.region, tables: { history: names.historyTable, idempotency: names.idempotencyTable, messages: names.messagesTable, usage: names.usageTable, ...connections }, client, close };
}
