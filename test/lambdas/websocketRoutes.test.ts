/**
 * The WebSocket API's functions as API Gateway calls them: the $connect authorizer (the token from the query or the
 * subprotocol, refused with 401 or 403 before anything runs) and the route function (connections recorded under the
 * verified user, the subprotocol selected, sendQuery and stopGeneration answered with one frame each, bad input refused
 * with nothing published or written). dynalite holds the tables; SNS is mocked.
 */
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { resourceNames } from "../../config/names";
import { workRequestSchema } from "../../contracts/workRequest";
import { serverFrameSchema, websocketProtocols, type ServerFrame } from "../../contracts/websocketFrames";
import type { SendQuerySettings } from "../../lambdas/send-query/sendQuery";
import { ConnectionTable } from "../../lambdas/shared/connectionTable";
import { MessageStore } from "../../lambdas/shared/messageStore";
import { silentLogger } from "../../lambdas/shared/telemetry";
import { UsageTable } from "../../lambdas/shared/usageTable";
import { jwksUriOf, UserPoolTokenVerifier } from "../../lambdas/shared/userPoolToken";
import { authorizeConnect, UNAUTHORIZED, type ConnectAuthorizerEvent } from "../../lambdas/websocket-authorizer/authorizer";
import { handleRoute, type WebsocketRouteDeps, type WebsocketRouteEvent } from "../../lambdas/websocket-routes/routes";
import { startDynamo, type LocalDynamo } from "../../local/dynamo";
import { cognitoClaims, startTestSigner, type TestSigner } from "../local/gateway/harness";
import { localConfig } from "../local/services/localConfig";
import { recordingTelemetry } from "./support/workerFixtures";

const snsMock = mockClient(SNSClient);
const MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0";
const METHOD_ARN = "arn:aws:execute-api:us-east-1:000000000000:abc123/live/$connect";
let dynamo: LocalDynamo;
let signer: TestSigner;
let deps: WebsocketRouteDeps;
let connections: ConnectionTable;
let messages: MessageStore;
let counted: () => string[];

beforeAll(async () => {
  const config = await localConfig({ transports: ["appsync", "websocket"] });
  [dynamo, signer] = await Promise.all([startDynamo(config), startTestSigner()]);
  const doc = DynamoDBDocumentClient.from(dynamo.client);
  const names = resourceNames(config);
  connections = new ConnectionTable({ doc, tableName: names.connectionsTable });
  messages = new MessageStore({ doc, tableName: names.messagesTable, ttlDays: 1 });
  const usage = new UsageTable({ doc, tableName: names.usageTable });
  const settings: SendQuerySettings = { inboundTopicArn: "arn:aws:sns:us-east-1:000000000000:inbound", maxPromptChars: 100, defaultModelId: MODEL, allowedModelIds: [MODEL], clientDeliveryChoice: true };
  const limits = { maxConcurrentGenerations: 5, dailyOutputTokens: 100000, maxTokens: 100, generationSlotSeconds: 90 };
  deps = { connections, sendQuery: { sns: new SNSClient({ region: "us-east-1" }), settings, messages, limits: { table: usage, settings: limits } }, control: { messages, usage }, logger: silentLogger, metrics: recordingTelemetry().metrics };
});
afterAll(async () => {
  await Promise.all([dynamo?.close(), signer?.close()]);
});
beforeEach(() => {
  const telemetry = recordingTelemetry();
  deps.metrics = telemetry.metrics;
  counted = () => telemetry.recordedMetrics.map((m) => m.name);
  snsMock.reset();
  snsMock.on(PublishCommand).resolves({ MessageId: "m" });
});

const verifier = () => new UserPoolTokenVerifier({ issuerUrl: signer.issuerUrl, clientId: signer.clientId });
const connectEvent = (over: Partial<ConnectAuthorizerEvent>): ConnectAuthorizerEvent => ({ type: "REQUEST", methodArn: METHOD_ARN, headers: {}, queryStringParameters: null, ...over });

describe("the $connect authorizer", () => {
  it("allows an ID token from the query and an access token from the subprotocol, with the verified sub as userId", async () => {
    const id = await signer.sign(cognitoClaims(signer, "id", "alice"));
    const access = await signer.sign(cognitoClaims(signer, "access", "alice"));
    const fromQuery = await authorizeConnect(connectEvent({ queryStringParameters: { token: id } }), verifier(), silentLogger);
    const fromProtocol = await authorizeConnect(connectEvent({ headers: { "Sec-WebSocket-Protocol": websocketProtocols(access).join(", ") } }), verifier(), silentLogger);
    for (const result of [fromQuery, fromProtocol]) {
      const sub = String(cognitoClaims(signer, "id", "alice").sub);
      expect(result).toEqual({ principalId: sub, context: { userId: sub }, policyDocument: { Version: "2012-10-17", Statement: [{ Action: "execute-api:Invoke", Effect: "Allow", Resource: METHOD_ARN }] } });
    }
  });

  it("no token fails with Unauthorized (API Gateway's 401); a bad, expired or other client's token gets a Deny (403)", async () => {
    await expect(authorizeConnect(connectEvent({}), verifier(), silentLogger)).rejects.toThrow(UNAUTHORIZED);
    // A subprotocol list without llm-stream carries no token the authorizer reads.
    await expect(authorizeConnect(connectEvent({ headers: { "sec-websocket-protocol": "graphql-ws, eyJ" } }), verifier(), silentLogger)).rejects.toThrow(UNAUTHORIZED);
    const expired = await signer.sign(cognitoClaims(signer, "id", "alice", { exp: Math.floor(Date.now() / 1000) - 60 }));
    const otherClient = await signer.sign(cognitoClaims(signer, "id", "alice", { aud: "another-client" }));
    for (const token of ["not-a-jwt", expired, otherClient]) {
      const result = await authorizeConnect(connectEvent({ queryStringParameters: { token } }), verifier(), silentLogger);
      expect(result.policyDocument.Statement[0].Effect).toBe("Deny");
      expect(result.context).toBeUndefined();
    }
  });

  it("finds a Cognito issuer's keys below its path, a local issuer's at its root", () => {
    expect(jwksUriOf("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC")).toBe("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC/.well-known/jwks.json");
    expect(jwksUriOf("http://127.0.0.1:4001/")).toBe("http://127.0.0.1:4001/.well-known/jwks.json");
  });
});

let connectionIds = 0;
const routeEvent = (routeKey: string, userId: string | undefined, body?: unknown, headers?: Record<string, string>): WebsocketRouteEvent => ({
  requestContext: { routeKey, connectionId: `conn-${++connectionIds}`, requestId: `req-${connectionIds}`, authorizer: userId ? { principalId: userId, userId } : null },
  headers,
  body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
});
const frameOf = (r: { body?: string }): ServerFrame => serverFrameSchema.parse(JSON.parse(r.body!));
const published = () => snsMock.commandCalls(PublishCommand).map((c) => workRequestSchema.parse(JSON.parse(c.args[0].input.Message!)));

describe("the route function", () => {
  it("$connect records the connection under the authorizer's user and selects llm-stream; $disconnect removes it", async () => {
    const event = routeEvent("$connect", "user-route-1", undefined, { "Sec-WebSocket-Protocol": "llm-stream, eyJhbGciOi.x.y" });
    expect(await handleRoute(event, deps)).toEqual({ statusCode: 200, headers: { "Sec-WebSocket-Protocol": "llm-stream" } });
    expect(await connections.list("user-route-1")).toEqual([event.requestContext.connectionId]);
    // A token in the query and no subprotocol: nothing to select.
    expect(await handleRoute(routeEvent("$connect", "user-route-1"), deps)).toEqual({ statusCode: 200 });
    await handleRoute({ ...event, requestContext: { ...event.requestContext, routeKey: "$disconnect" } }, deps);
    expect(await connections.list("user-route-1")).toHaveLength(1);
    expect(await handleRoute(routeEvent("$connect", undefined), deps)).toEqual({ statusCode: 401 });
  });

  it("sendQuery hands the work request on marked transport websocket, userId from the authorizer, and acks with the ids", async () => {
    const input = { sessionId: "session-route-1", messageId: "message-route-01", prompt: 'Say "hi" \\ ✨', modelId: MODEL, userId: "mallory" };
    const frame = frameOf(await handleRoute(routeEvent("sendQuery", "user-route-2", { action: "sendQuery", input }), deps));
    expect(frame).toEqual({ type: "ack", action: "sendQuery", sessionId: "session-route-1", messageId: "message-route-01" });
    expect(published()).toEqual([expect.objectContaining({ userId: "user-route-2", sessionId: "session-route-1", messageId: "message-route-01", prompt: input.prompt, transport: "websocket" })]);
    expect(published()[0]).not.toHaveProperty("delivery");
    expect(counted()).toEqual(["QueriesAccepted"]);
  });

  it("bad input is an error frame, and nothing is published or written", async () => {
    const send = async (input: unknown, user = "user-route-3") => frameOf(await handleRoute(routeEvent("sendQuery", user, { action: "sendQuery", input }), deps));
    expect(await send({ sessionId: "session-route-3", prompt: "" })).toMatchObject({ type: "error", errorType: "ValidationError", action: "sendQuery", sessionId: "session-route-3", message: "prompt must not be empty" });
    expect(await send({ sessionId: "session-route-3", prompt: "hi", delivery: "DIRECT" })).toMatchObject({ type: "error", errorType: "ValidationError", message: expect.stringContaining("delivery") });
    expect(await send("not an object")).toMatchObject({ type: "error", errorType: "ValidationError", message: 'the message needs an "input" object' });
    expect(frameOf(await handleRoute(routeEvent("sendQuery", "user-route-3", "{not json"), deps))).toMatchObject({ type: "error", errorType: "ValidationError" });
    expect(await send({ sessionId: "session-route-3", prompt: "hi" }, "")).toMatchObject({ type: "error", errorType: "Unauthorized" });
    expect(published()).toEqual([]);
    expect(await messages.read({ userId: "user-route-3", sessionId: "session-route-3", messageId: "message-route-03" }, -1)).toBeNull();
    // The refusals of send-query's own checks count as the AppSync path counts them; unparsable frames never reach it.
    expect(counted()).toEqual(["RejectedQueries", "RejectedQueries"]);
  });

  it("a failed hand-off is an InternalFailure frame without internal text, and the record is undone", async () => {
    snsMock.on(PublishCommand).rejects(new Error("sns is down: secret detail"));
    const input = { sessionId: "session-route-4", messageId: "message-route-04", prompt: "hi" };
    const frame = frameOf(await handleRoute(routeEvent("sendQuery", "user-route-4", { action: "sendQuery", input }), deps));
    expect(frame).toEqual({ type: "error", action: "sendQuery", sessionId: "session-route-4", messageId: "message-route-04", message: "The request could not be processed", errorType: "InternalFailure" });
    expect(await messages.read({ userId: "user-route-4", ...input }, -1)).toBeNull();
  });

  it("a limit's refusal is a LimitExceeded frame with its errorInfo, counted as RejectedQueries and by the limit", async () => {
    const send = (n: number) => handleRoute(routeEvent("sendQuery", "user-route-6", { action: "sendQuery", input: { sessionId: "session-route-6", messageId: `message-route-6${n}`, prompt: "hi" } }), deps).then(frameOf);
    for (let n = 0; n < 5; n++) expect(await send(n)).toMatchObject({ type: "ack" });
    expect(await send(5)).toMatchObject({ type: "error", errorType: "LimitExceeded", errorInfo: { limit: "concurrency" } });
    expect(counted().slice(-3)).toEqual(["QueriesAccepted", "RejectedQueries", "ConcurrencyRejected"]);
    expect(published()).toHaveLength(5);
  });

  it("stopGeneration flags the caller's own message only; ping answers pong; anything else names the actions", async () => {
    const input = { sessionId: "session-route-5", messageId: "message-route-05" };
    await handleRoute(routeEvent("sendQuery", "user-route-5", { action: "sendQuery", input: { ...input, prompt: "hi" } }), deps);
    const stop = (user: string) => handleRoute(routeEvent("stopGeneration", user, { action: "stopGeneration", input }), deps).then(frameOf);
    expect(await stop("someone-else")).toEqual({ type: "ack", action: "stopGeneration", ...input, stopped: false });
    expect(await stop("user-route-5")).toEqual({ type: "ack", action: "stopGeneration", ...input, stopped: true });
    expect(frameOf(await handleRoute(routeEvent("stopGeneration", "user-route-5", { action: "stopGeneration", input: { sessionId: "x" } }), deps))).toMatchObject({ type: "error", errorType: "ValidationError" });
    expect(frameOf(await handleRoute(routeEvent("ping", "user-route-5", { action: "ping" }), deps))).toEqual({ type: "pong" });
    expect(frameOf(await handleRoute(routeEvent("$default", "user-route-5", { action: "dance" }), deps))).toMatchObject({ type: "error", errorType: "UnsupportedAction", message: expect.stringContaining("sendQuery, stopGeneration, ping") });
  });
});
