/**
 * The websocket transport's delivery, against dynalite for the connections table and aws-sdk-client-mock for
 * PostToConnection: each event goes, as the unchanged envelope JSON, to every open connection of its user and to no one
 * else's; a GoneException removes that connection and ends delivery to it while the others go on; any other failure
 * fails the event; expired items are skipped; and every event fits API Gateway's 128 KB message limit.
 */
import { ApiGatewayManagementApiClient, ForbiddenException, GoneException, PostToConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi";
import { ScanCommand } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { resourceNames } from "../../config/names";
import { MAX_EVENT_BYTES, serializeEvent, type StreamEvent } from "../../contracts/streamEvents";
import { CONNECTIONS_TABLE } from "../../contracts/tables";
import { WEBSOCKET_LIMITS } from "../../contracts/websocketFrames";
import { createConnectionPublisher } from "../../lambdas/shared/connectionPublisher";
import { ConnectionTable } from "../../lambdas/shared/connectionTable";
import { silentLogger, type RuntimeMetrics } from "../../lambdas/shared/telemetry";
import { startDynamo, type LocalDynamo } from "../../local/dynamo";
import { localConfig } from "../local/services/localConfig";

const management = mockClient(ApiGatewayManagementApiClient);
let dynamo: LocalDynamo;
let doc: DynamoDBDocumentClient;
let tableName: string;
let users = 0;

beforeAll(async () => {
  const config = await localConfig({ transports: ["appsync", "websocket"] });
  dynamo = await startDynamo(config);
  doc = DynamoDBDocumentClient.from(dynamo.client);
  tableName = resourceNames(config).connectionsTable;
});
afterAll(() => dynamo.close());
beforeEach(() => {
  management.reset();
  management.on(PostToConnectionCommand).resolves({});
});

function fixture(clock = { at: Date.parse("2026-11-23T12:00:00.000Z") }) {
  const connections = new ConnectionTable({ doc, tableName, now: () => clock.at });
  const counted: string[] = [];
  const metrics: RuntimeMetrics = { addMetric: (name) => void counted.push(name), countError: () => {}, countModelTokens: () => {} };
  const publisher = createConnectionPublisher({ management: new ApiGatewayManagementApiClient({ region: "us-east-1", endpoint: "https://api.example/live" }), connections, logger: silentLogger, metrics, now: () => clock.at });
  const user = `user-ws-${++users}`;
  return { connections, publisher, user, counted, clock };
}

const token = (userId: string, messageId: string, sequenceNumber: number): StreamEvent => ({
  action: "on_new_llm_token",
  userId,
  timestamp: "2026-11-23T12:00:00.000Z",
  data: { sessionId: "session-ws-01", messageId, token: { runId: "run-1", sequenceNumber, value: `"q" \\ ✨ ${sequenceNumber}\n` } },
});

const posts = () => management.commandCalls(PostToConnectionCommand).map((c) => ({ to: c.args[0].input.ConnectionId, data: c.args[0].input.Data }));

describe("the connection publisher", () => {
  it("posts the envelope JSON to every connection of the event's user, and to none of another user's", async () => {
    const { connections, publisher, user } = fixture();
    const other = `${user}-other`;
    await connections.put(user, "conn-a");
    await connections.put(user, "conn-b");
    await connections.put(other, "conn-other");
    const event = token(user, "message-ws-0001", 0);
    await publisher.publish(event);
    expect(posts().sort((x, y) => x.to!.localeCompare(y.to!))).toEqual([
      { to: "conn-a", data: serializeEvent(event) },
      { to: "conn-b", data: serializeEvent(event) },
    ]);
  });

  it("a GoneException deletes that connection and ends delivery to it; the event still succeeds and the others keep theirs", async () => {
    const { connections, publisher, user, counted } = fixture();
    await connections.put(user, "conn-live");
    await connections.put(user, "conn-gone");
    management.on(PostToConnectionCommand, { ConnectionId: "conn-gone" }).rejects(new GoneException({ message: "gone", $metadata: { httpStatusCode: 410 } }));
    await expect(publisher.publish(token(user, "message-ws-0002", 0))).resolves.toBeUndefined();
    expect(await connections.list(user)).toEqual(["conn-live"]);
    expect(counted).toEqual(["ConnectionsGone"]);
    management.resetHistory();
    await publisher.publish(token(user, "message-ws-0002", 1));
    expect(posts().map((p) => p.to)).toEqual(["conn-live"]);
  });

  it("any other failure fails the event (the emitter counts it lost), after the other connections got it", async () => {
    const { connections, publisher, user } = fixture();
    await connections.put(user, "conn-ok");
    await connections.put(user, "conn-forbidden");
    management.on(PostToConnectionCommand, { ConnectionId: "conn-forbidden" }).rejects(new ForbiddenException({ message: "Forbidden", $metadata: { httpStatusCode: 403 } }));
    await expect(publisher.publish(token(user, "message-ws-0003", 0))).rejects.toThrow("Forbidden");
    expect(posts().map((p) => p.to).sort()).toEqual(["conn-forbidden", "conn-ok"]);
    expect((await connections.list(user)).sort()).toEqual(["conn-forbidden", "conn-ok"]);
  });

  it("skips items whose TTL passed but that DynamoDB has not deleted yet", async () => {
    const { publisher, user, clock } = fixture();
    const nowSeconds = Math.floor(clock.at / 1000);
    await doc.send(new PutCommand({ TableName: tableName, Item: { [CONNECTIONS_TABLE.partitionKey]: user, [CONNECTIONS_TABLE.sortKey]: "conn-expired", [CONNECTIONS_TABLE.ttlAttribute]: nowSeconds - 1 } }));
    await doc.send(new PutCommand({ TableName: tableName, Item: { [CONNECTIONS_TABLE.partitionKey]: user, [CONNECTIONS_TABLE.sortKey]: "conn-fresh", [CONNECTIONS_TABLE.ttlAttribute]: nowSeconds + 60 } }));
    await publisher.publish(token(user, "message-ws-0004", 0));
    expect(posts().map((p) => p.to)).toEqual(["conn-fresh"]);
  });

  it("a new message reads the connections afresh: one opened just before it gets its first event", async () => {
    const { connections, publisher, user } = fixture();
    await connections.put(user, "conn-first");
    await publisher.publish(token(user, "message-ws-0005", 0));
    await connections.put(user, "conn-second");
    management.resetHistory();
    await publisher.publish(token(user, "message-ws-0006", 0));
    expect(posts().map((p) => p.to).sort()).toEqual(["conn-first", "conn-second"]);
  });

  it("an item lives a little over API Gateway's 2-hour connection limit", async () => {
    const { connections, user, clock } = fixture();
    await connections.put(user, "conn-ttl");
    const { Items } = await dynamo.client.send(new ScanCommand({ TableName: tableName }));
    const item = Items!.find((i) => i[CONNECTIONS_TABLE.sortKey]?.S === "conn-ttl")!;
    const lifetime = Number(item[CONNECTIONS_TABLE.ttlAttribute]!.N) - Math.floor(clock.at / 1000);
    expect(lifetime).toBeGreaterThan(WEBSOCKET_LIMITS.connectionMs / 1000);
    expect(lifetime).toBeLessThanOrEqual(WEBSOCKET_LIMITS.connectionMs / 1000 + 15 * 60);
  });

  it("every event fits one WebSocket message: the event budget is under 128 KB, and an event over it is refused unsent", async () => {
    expect(MAX_EVENT_BYTES).toBeLessThan(WEBSOCKET_LIMITS.messageBytes);
    const { connections, publisher, user } = fixture();
    await connections.put(user, "conn-big");
    const huge = { ...token(user, "message-ws-0007", 0), data: { sessionId: "session-ws-01", messageId: "message-ws-0007", token: { runId: "r", sequenceNumber: 0, value: "x".repeat(WEBSOCKET_LIMITS.messageBytes) } } };
    await expect(publisher.publish(huge as StreamEvent)).rejects.toThrow(/over API Gateway's 131072-byte WebSocket message limit/);
    expect(posts()).toEqual([]);
  });
});
