/**
 * End to end, the API Gateway WebSocket transport against `npm start` as a child process (its stand-in runs the real
 * authorizer, route function and worker): a missing or bad token is refused at $connect before any model call; the
 * streamed text equals final_response.content byte for byte; stopGeneration over the socket stops the model; two users
 * connected at once each get only their own events (on every connection of theirs); a connection that went away
 * without $disconnect gets GoneException, loses its item, and the message still completes and replays; and
 * `npm run chat -- "prompt" --transport websocket` prints the exact answer.
 */
import { runChat as runCli } from "../support/chatCli";
import { randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { DynamoDBClient, QueryCommand } from "@aws-sdk/client-dynamodb";
import WebSocket from "ws";
import { graphqlRequest, type GraphQLResponse } from "../../client/graphql";
import type { WebSocketConstructor } from "../../client/realtime";
import { WebsocketStream, type WebsocketStreamOptions } from "../../client/websocketStream";
import { MESSAGE_QUERY } from "../../contracts/graphqlOperations";
import type { MessageState } from "../../contracts/messageState";
import { parseEvent } from "../../contracts/streamEvents";
import { CONNECTIONS_TABLE } from "../../contracts/tables";
import { answerFor } from "../../local/bedrock";
import type { WebsocketApiStats } from "../../local/websocket";
import { expectExactAnswer, LocalStackDriver, newSessionId, SessionRecorder } from "../support/localStackDriver";
import { startStackProcess, type StackProcess } from "../support/localStackProcess";
import { waitFor } from "../support/waitFor";

jest.setTimeout(40_000);

let stack: StackProcess;
let driver: LocalStackDriver;
const streams: WebsocketStream[] = [];

beforeAll(async () => {
  stack = await startStackProcess(["--first-token-ms", "50", "--tokens-per-second", "100"]);
  driver = new LocalStackDriver(stack);
});
afterAll(async () => {
  for (const s of streams) s.close();
  await driver?.close();
  await stack?.stop();
});

const url = () => stack.ready.endpoints.websocketUrl!;
const expected = (prompt: string) => answerFor(prompt, driver.defaultModelId).join("");

/** Opens a connection as `user` and records every event it receives. */
async function connect(user: string, options: Partial<WebsocketStreamOptions> = {}): Promise<{ stream: WebsocketStream; recorder: SessionRecorder; token: string }> {
  const token = options.token ?? (await driver.token(user));
  let stream: WebsocketStream | undefined;
  const recorder = new SessionRecorder(`ws-${user}`, { close: () => stream?.close() });
  stream = await WebsocketStream.open({ websocketUrl: url(), token, WebSocketImpl: WebSocket as unknown as WebSocketConstructor, onEvent: (e) => recorder.record(e), ...options });
  streams.push(stream);
  return { stream, recorder, token };
}

async function standInStats(): Promise<WebsocketApiStats> {
  return (await (await fetch(new URL("/_local/stats", stack.ready.endpoints.websocketManagement))).json()) as WebsocketApiStats;
}

const record = (token: string, sessionId: string, messageId: string) =>
  graphqlRequest(stack.ready.endpoints.graphqlUrl, MESSAGE_QUERY, { sessionId, messageId }, { authorization: token }) as Promise<GraphQLResponse<{ message: MessageState | null }>>;

test("a missing, bad, expired or forged token is refused at $connect (401/403), and no model is ever called", async () => {
  const refused = (options: Partial<WebsocketStreamOptions>) => connect("alice", options).then(() => "accepted", (e: Error) => e.message);
  const expired = await driver.token("alice", -60);
  expect(await refused({ token: "", tokenIn: "query" })).toMatch(/401/);
  expect(await refused({ token: "not-a-jwt" })).toMatch(/403/);
  expect(await refused({ token: "not-a-jwt", tokenIn: "query" })).toMatch(/403/);
  expect(await refused({ token: expired })).toMatch(/403/);
  const forged = (await driver.token("alice")).replace(/\.[^.]+$/, ".c2lnbmF0dXJl");
  expect(await refused({ token: forged })).toMatch(/403/);
  expect(await standInStats()).toMatchObject({ refused: { "401": 1, "403": 4 }, connects: 0, messages: 0 });
  expect(await driver.bedrockRequests()).toEqual([]);
});

test("the streamed text equals final_response.content byte for byte (quotes, backslashes, newlines, emoji); ping answers pong", async () => {
  const { stream, recorder } = await connect("alice");
  await stream.ping();
  const prompt = `Show me "quotes", \\backslashes\\ and a newline\nover the WebSocket ✨🚀`;
  expect(expected(prompt)).toMatch(/["\\\n]/);
  const sessionId = newSessionId("ws-exact");
  const messageId = randomUUID();
  expect(await stream.sendQuery({ sessionId, messageId, prompt })).toEqual({ type: "ack", action: "sendQuery", sessionId, messageId });
  await recorder.waitForEnd(messageId);
  const answer = driver.answerOf(recorder, messageId);
  expectExactAnswer(answer, expected(prompt));
  expect(answer.tokens.length).toBeGreaterThan(1);
  expect(recorder.events.every((e) => parseEvent(JSON.stringify(e)) && e.userId === recorder.events[0].userId)).toBe(true);
});

test("stopGeneration over the socket stops the model; the final holds exactly what was streamed", async () => {
  const { stream, recorder } = await connect("alice");
  const sessionId = newSessionId("ws-stop");
  const messageId = randomUUID();
  const prompt = "Stop me halfway over the WebSocket [[length:400]]";
  await stream.sendQuery({ sessionId, messageId, prompt });
  await waitFor(() => recorder.tokens(messageId).length >= 2, { timeoutMs: 15_000, description: "two chunks" });
  expect(await stream.stopGeneration(sessionId, messageId)).toEqual({ type: "ack", action: "stopGeneration", sessionId, messageId, stopped: true });
  await recorder.waitForEnd(messageId);
  const final = recorder.finals(messageId)[0]!;
  expect(final.data.stopReason).toBe("stopped");
  const streamed = recorder.assemble(messageId).text;
  expect(final.data.content).toBe(streamed);
  expect(expected(prompt).startsWith(streamed) && streamed.length < expected(prompt).length).toBe(true);
  expect((await driver.bedrockRequests()).find((r) => r.prompt === prompt)?.aborted).toBe(true);
  expect((await stream.stopGeneration(sessionId, messageId)).stopped).toBe(false);
});

test("two users at once: each user's connections (both of alice's) get all of that user's events and none of the other's", async () => {
  const [alice1, alice2, bob] = await Promise.all([connect("alice"), connect("alice", { tokenIn: "query" }), connect("bob", { tokenIn: "query" })]);
  // The same session and message ids for both users: still two separate messages.
  const sessionId = newSessionId("ws-isolation");
  const messageId = randomUUID();
  const prompts = { alice: "Alice asks over the WebSocket", bob: "Bob asks over the WebSocket" };
  await Promise.all([alice1.stream.sendQuery({ sessionId, messageId, prompt: prompts.alice }), bob.stream.sendQuery({ sessionId, messageId, prompt: prompts.bob })]);
  await Promise.all([alice1.recorder.waitForEnd(messageId), alice2.recorder.waitForEnd(messageId), bob.recorder.waitForEnd(messageId)]);
  expectExactAnswer(driver.answerOf(alice1.recorder, messageId), expected(prompts.alice));
  expectExactAnswer(driver.answerOf(alice2.recorder, messageId), expected(prompts.alice));
  expectExactAnswer(driver.answerOf(bob.recorder, messageId), expected(prompts.bob));
  const usersOf = (r: SessionRecorder) => [...new Set(r.events.map((e) => e.userId))];
  expect(usersOf(alice1.recorder)).toEqual(usersOf(alice2.recorder));
  expect(usersOf(bob.recorder)).toHaveLength(1);
  expect(usersOf(bob.recorder)[0]).not.toBe(usersOf(alice1.recorder)[0]);
});

test("a connection gone without $disconnect gets GoneException and loses its item; the message still completes and replays", async () => {
  const fault = await fetch(new URL("/_local/faults", stack.ready.endpoints.websocketManagement), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ loseDisconnects: 1 }) });
  expect(fault.status).toBe(200);
  const leaving = await connect("carol");
  const staying = await connect("carol");
  const goneBefore = (await standInStats()).posts.gone;
  const sessionId = newSessionId("ws-gone");
  const messageId = randomUUID();
  const prompt = "Answer me after I leave [[length:150]]";
  await leaving.stream.sendQuery({ sessionId, messageId, prompt });
  await waitFor(() => leaving.recorder.tokens(messageId).length >= 1, { timeoutMs: 15_000, description: "a first chunk" });
  leaving.stream.close();
  await staying.recorder.waitForEnd(messageId);
  expectExactAnswer(driver.answerOf(staying.recorder, messageId), expected(prompt));
  expect((await standInStats()).posts.gone).toBeGreaterThan(goneBefore);
  const dynamo = new DynamoDBClient({ region: stack.ready.region, endpoint: stack.ready.endpoints.dynamodb, credentials: stack.ready.credentials });
  try {
    const userId = staying.recorder.events[0].userId;
    const rows = await dynamo.send(new QueryCommand({ TableName: stack.ready.tables.connections, KeyConditionExpression: "#u = :u", ExpressionAttributeNames: { "#u": CONNECTIONS_TABLE.partitionKey }, ExpressionAttributeValues: { ":u": { S: userId } } }));
    expect(rows.Items).toHaveLength(1);
  } finally {
    dynamo.destroy();
  }
  const replay = (await record(leaving.token, sessionId, messageId)).data!.message!;
  expect(replay.status).toBe("COMPLETE");
  const replayed = new SessionRecorder(sessionId, { close: () => {} });
  for (const e of replay.events) replayed.record(parseEvent(e));
  expect(replayed.assemble(messageId).text).toBe(expected(prompt));
});

test("npm run chat -- prompt --transport websocket prints the exact answer; a refused query exits 1 with its error", async () => {
  const configFile = path.join(mkdtempSync(path.join(tmpdir(), "chat-ws-e2e-")), "client-config.json");
  writeFileSync(configFile, JSON.stringify(stack.ready.clientConfig));
  expect(stack.ready.clientConfig.websocketUrl).toBe(url());
  const runChat = (args: string[]) => runCli(configFile, ["--transport", "websocket", ...args]);
  const prompt = 'the CLI over the WebSocket: "quoted" \\ ✨';
  const [ok, refused] = await Promise.all([runChat([prompt, "--user", "dave"]), runChat(["hello", "--model", "no.such-model-v1:0"])]);
  expect(ok.stderr).not.toMatch(/^chat:/m);
  expect([ok.code, ok.stdout]).toEqual([0, expected(prompt).endsWith("\n") ? expected(prompt) : `${expected(prompt)}\n`]);
  expect(ok.stderr).toMatch(/path\s+websocket/);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/^chat: sendQuery was refused: ValidationError: modelId must be one of/m);
});
