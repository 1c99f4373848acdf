/**
 * The local WebSocket API stand-in on its own, with small functions of the test's: the @connections API as the real
 * ApiGatewayManagementApiClient sees it (post, get, delete, GoneException, PayloadTooLargeException, a wrong signature
 * refused), API Gateway's events (authorizer context on every route, $disconnect on close), route selection, and the
 * idle timeout.
 */
import { ApiGatewayManagementApiClient, DeleteConnectionCommand, GetConnectionCommand, GoneException, PayloadTooLargeException, PostToConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi";
import WebSocket from "ws";
import { WEBSOCKET_LIMITS } from "../../../contracts/websocketFrames";
import { createLambdaContext } from "../../../local/poller";
import { startWebsocketApi, type LocalWebsocketApi } from "../../../local/websocket";
import { waitFor } from "../../support/waitFor";

const CREDENTIALS = { accessKeyId: "AKIDWSTEST", secretAccessKey: "ws-test-secret" };
const events: { routeKey: string; connectionId: string; authorizer: unknown; body?: string }[] = [];
let api: LocalWebsocketApi;

beforeAll(async () => {
  const context = createLambdaContext({ functionName: "fn", region: "us-east-1", accountId: "000000000000", timeoutMs: 10_000, memoryLimitInMB: 128 });
  api = await startWebsocketApi({
    region: "us-east-1",
    accountId: "000000000000",
    stage: "test",
    credentials: CREDENTIALS,
    contextFor: () => context,
    idleTimeoutMs: 1500,
    functions: () => ({
      authorizer: async (event) => {
        const token = (event as { queryStringParameters?: { token?: string } | null }).queryStringParameters?.token;
        if (!token) throw new Error("Unauthorized");
        return { principalId: token, policyDocument: { Statement: [{ Action: "execute-api:Invoke", Effect: token === "deny" ? "Deny" : "Allow", Resource: (event as { methodArn: string }).methodArn }] }, context: { userId: `user-${token}` } };
      },
      routes: async (event) => {
        const e = event as { requestContext: { routeKey: string; connectionId: string; authorizer: unknown }; body?: string };
        events.push({ routeKey: e.requestContext.routeKey, connectionId: e.requestContext.connectionId, authorizer: e.requestContext.authorizer, body: e.body });
        return { statusCode: 200, body: JSON.stringify({ type: "echo", route: e.requestContext.routeKey }) };
      },
    }),
  });
});
afterAll(() => api?.close());

const management = (credentials = CREDENTIALS) => new ApiGatewayManagementApiClient({ region: "us-east-1", endpoint: api.managementEndpoint, credentials });

async function open(token: string): Promise<{ ws: WebSocket; received: string[]; connectionId: string }> {
  const ws = new WebSocket(`${api.url}?token=${token}`);
  const received: string[] = [];
  ws.on("message", (d: Buffer) => received.push(d.toString("utf8")));
  await new Promise<void>((resolve, reject) => (ws.once("open", () => resolve()), ws.once("error", reject)));
  const connectionId = events.filter((e) => e.routeKey === "$connect").at(-1)!.connectionId;
  return { ws, received, connectionId };
}

const refusal = (url: string) => new Promise<number>((resolve) => new WebSocket(url).once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0)));

test("the authorizer decides the upgrade: no token 401, a Deny 403; an Allow's context reaches every route", async () => {
  expect(await refusal(api.url)).toBe(401);
  expect(await refusal(`${api.url}?token=deny`)).toBe(403);
  const { ws, received, connectionId } = await open("alice");
  ws.send(JSON.stringify({ action: "ping" }));
  ws.send("not json");
  await waitFor(() => received.length === 2, { timeoutMs: 5000, description: "two answers" });
  expect(received.map((r) => JSON.parse(r).route).sort()).toEqual(["$default", "ping"]);
  ws.close();
  await waitFor(() => events.some((e) => e.routeKey === "$disconnect" && e.connectionId === connectionId), { timeoutMs: 5000, description: "$disconnect" });
  for (const e of events.filter((x) => x.connectionId === connectionId)) expect(e.authorizer).toEqual({ userId: "user-alice", principalId: "alice" });
});

test("@connections for the real management client: post, get, delete, then GoneException; 128 KB cap; a wrong signature is refused", async () => {
  const { ws, received, connectionId } = await open("bob");
  const client = management();
  await client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: '{"hello":"✨"}' }));
  await waitFor(() => received.includes('{"hello":"✨"}'), { timeoutMs: 5000, description: "the posted message" });
  expect((await client.send(new GetConnectionCommand({ ConnectionId: connectionId }))).Identity?.SourceIp).toBe("127.0.0.1");
  await expect(client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: "x".repeat(WEBSOCKET_LIMITS.messageBytes + 1) }))).rejects.toBeInstanceOf(PayloadTooLargeException);
  await expect(management({ ...CREDENTIALS, secretAccessKey: "wrong" }).send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: "x" }))).rejects.toMatchObject({ name: "ForbiddenException" });
  const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
  await client.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
  expect(await closed).toBe(1000);
  await expect(client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: "late" }))).rejects.toBeInstanceOf(GoneException);
  client.destroy();
});

test("an idle connection is closed with 1001 after the idle timeout", async () => {
  const { ws } = await open("carol");
  const code = await new Promise<number>((resolve) => ws.once("close", (c) => resolve(c)));
  expect(code).toBe(1001);
});
