/**
 * dynalite in process for the worker's tests: a real DynamoDB-compatible server (the local stack uses it too), so the
 * idempotency records go through real conditional writes; one fresh idempotency table per worker under test.
 */
import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { AddressInfo } from "node:net";
import { IDEMPOTENCY_TABLE } from "../../../contracts/tables";

const dynalite = require("dynalite");

export interface TestDynamo {
  client: DynamoDBClient;
  /** Creates an idempotency table with the shared key schema and a new name; returns the name. */
  idempotencyTable(): Promise<string>;
  close(): Promise<void>;
}

export async function startTestDynamo(prefix = "idempotency"): Promise<TestDynamo> {
  const server: { listen: (port: number, host: string, cb: () => void) => void; address: () => AddressInfo; close: (cb: () => void) => void } = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const client = new DynamoDBClient({ endpoint: `http://127.0.0.1:${server.address().port}`, region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "y" } });
  let tables = 0;
  return {
    client,
    async idempotencyTable() {
      const TableName = `${prefix}-${++tables}`;
      await client.send(
        new CreateTableCommand({
          TableName,
          KeySchema: [{ AttributeName: IDEMPOTENCY_TABLE.partitionKey, KeyType: "HASH" }],
          AttributeDefinitions: [{ AttributeName: IDEMPOTENCY_TABLE.partitionKey, AttributeType: "S" }],
          BillingMode: "PAY_PER_REQUEST",
        }),
      );
      return TableName;
    },
    async close() {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
