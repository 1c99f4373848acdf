/** dynalite with the deployed tables: the worker's history writes and Powertools idempotency records land as on AWS. */
import { DescribeTableCommand } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { resourceNames } from "../../../config/names";
import { LocalDynamo, startDynamo } from "../../../local/dynamo";
import { CONNECTIONS_TABLE, HISTORY_TABLE, IDEMPOTENCY_TABLE } from "../../../contracts/tables";
import { localConfig } from "./localConfig";

let dynamo: LocalDynamo;
beforeAll(async () => {
  dynamo = await startDynamo(await localConfig());
});
afterAll(() => dynamo.close());

test("creates the history, idempotency, message-record and usage tables (and, with the websocket transport, the connections table), ACTIVE at once, with the shared key schemas", async () => {
  const names = resourceNames(await localConfig());
  expect(dynamo.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  // environments/local.tfvars lists the websocket transport.
  expect(dynamo.tables).toEqual({ history: names.historyTable, idempotency: names.idempotencyTable, messages: names.messagesTable, usage: names.usageTable, connections: names.connectionsTable });
  const connections = (await dynamo.client.send(new DescribeTableCommand({ TableName: names.connectionsTable }))).Table!;
  expect(connections.KeySchema).toEqual([
    { AttributeName: CONNECTIONS_TABLE.partitionKey, KeyType: "HASH" },
    { AttributeName: CONNECTIONS_TABLE.sortKey, KeyType: "RANGE" },
  ]);
  const history = (await dynamo.client.send(new DescribeTableCommand({ TableName: names.historyTable }))).Table!;
  expect(history.TableStatus).toBe("ACTIVE");
  expect(history.KeySchema).toEqual([
    { AttributeName: HISTORY_TABLE.partitionKey, KeyType: "HASH" },
    { AttributeName: HISTORY_TABLE.sortKey, KeyType: "RANGE" },
  ]);
  const idem = (await dynamo.client.send(new DescribeTableCommand({ TableName: names.idempotencyTable }))).Table!;
  expect(idem.KeySchema).toEqual([{ AttributeName: IDEMPOTENCY_TABLE.partitionKey, KeyType: "HASH" }]);
});

test("history turns written under one session come back in sort-key order", async () => {
  const doc = DynamoDBDocumentClient.from(dynamo.client);
  const pk = "USER#alice#SESSION#session-0001";
  await doc.send(new PutCommand({ TableName: dynamo.tables.history, Item: { pk, sk: "2026-01-01T00:00:02Z#m1#assistant", text: "hi ✨" } }));
  await doc.send(new PutCommand({ TableName: dynamo.tables.history, Item: { pk, sk: "2026-01-01T00:00:01Z#m1#user", text: "hello" } }));
  const res = await doc.send(new QueryCommand({ TableName: dynamo.tables.history, KeyConditionExpression: "pk = :pk", ExpressionAttributeValues: { ":pk": pk } }));
  expect(res.Items?.map((i) => i.text)).toEqual(["hello", "hi ✨"]);
  await doc.send(new PutCommand({ TableName: dynamo.tables.idempotency, Item: { id: "message-0001", status: "COMPLETED" } }));
  expect((await doc.send(new GetCommand({ TableName: dynamo.tables.idempotency, Key: { id: "message-0001" } }))).Item?.status).toBe("COMPLETED");
});
