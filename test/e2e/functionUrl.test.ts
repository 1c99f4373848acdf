/**
 * End to end against `npm start` as a child process (one stack), over the Function URL transport: the streamed text is
 * the final's content byte for byte, and the same record replays it; a stop through stopGeneration and a stop by
 * disconnecting both end the model call; no, bad or expired tokens are refused with 401 before any model call; the
 * limits refuse with 429 as sendQuery does; each user receives only their own answer; `npm run chat --transport`.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { FunctionUrlError, streamFromFunctionUrl } from "../../client/functionUrlStream";
import { graphqlRequest, type GraphQLResponse } from "../../client/graphql";
import type { FunctionUrlRequest } from "../../contracts/functionUrl";
import { MESSAGE_QUERY, STOP_GENERATION_MUTATION } from "../../contracts/graphqlOperations";
import type { MessageState, StopGenerationResult } from "../../contracts/messageState";
import { finalTail, parseEvent, type FinalEvent, type StreamEvent } from "../../contracts/streamEvents";
import { answerFor } from "../../local/bedrock";
import { requestToken } from "../../local/issuer/tokenCli";
import { LocalStackDriver, newSessionId } from "../support/localStackDriver";
import { runChat as runCli } from "../support/chatCli";
import { startStackProcess, type StackProcess } from "../support/localStackProcess";
import { waitFor } from "../support/waitFor";

jest.setTimeout(60_000);

let stack: StackProcess;
let driver: LocalStackDriver;
let url: string;

beforeAll(async () => {
  // 80 tokens/s: a default answer (about 100 tokens) takes about 1.3 s, a 2,000-token one 25 s, long enough to stop.
  stack = await startStackProcess(["--first-token-ms", "50", "--tokens-per-second", "80", "--config-overrides", JSON.stringify({ limits: { max_concurrent_generations_per_user: 2 } })]);
  driver = new LocalStackDriver(stack);
  url = stack.ready.endpoints.functionUrl!;
});
afterAll(async () => {
  await driver?.close();
  await stack?.stop();
});

/** One answer read over the Function URL: every event in arrival order; `until` may stop reading early (a disconnect). */
async function ask(token: string, request: FunctionUrlRequest, until?: (events: StreamEvent[]) => boolean): Promise<StreamEvent[]> {
  const events: StreamEvent[] = [];
  const controller = new AbortController();
  try {
    for await (const event of streamFromFunctionUrl(url, token, request, { signal: controller.signal })) {
      events.push(event);
      if (until?.(events)) controller.abort();
    }
  } catch (e) {
    if (!controller.signal.aborted) throw e;
  }
  return events;
}

const finalOf = (events: StreamEvent[]) => events.find((e): e is FinalEvent => e.action === "final_response");
/** The chunks' text in sequence order, the final's tail included (envelope version 2). */
function streamedText(events: StreamEvent[]): string {
  const final = finalOf(events);
  const chunks = events.flatMap((e) => (e.action === "on_new_llm_token" ? [e.data.token] : []));
  const tail = final && finalTail(final.data);
  return [...chunks, ...(tail ? [tail] : [])].sort((a, b) => a.sequenceNumber - b.sequenceNumber).map((c) => c.value).join("");
}
const gql = <T>(token: string, document: string, variables: Record<string, unknown>) =>
  graphqlRequest(stack.ready.endpoints.graphqlUrl, document, variables, { authorization: token }) as Promise<GraphQLResponse<T>>;
const record = async (token: string, sessionId: string, messageId: string) => (await gql<{ message: MessageState | null }>(token, MESSAGE_QUERY, { sessionId, messageId })).data?.message;
const modelRequest = async (prompt: string) => (await driver.bedrockRequests()).find((r) => r.prompt === prompt);

it("the streamed text is the final's content byte for byte (quotes, backslashes, newlines, emoji), and message(...) replays it", async () => {
  const token = await requestToken(stack.ready.endpoints.issuerUrl, "alice", undefined, "access");
  const request = { sessionId: newSessionId("furl"), messageId: randomUUID(), prompt: "Stream me a tricky answer" };
  const events = await ask(token, request);
  const final = finalOf(events)!;
  const expected = answerFor(request.prompt, driver.defaultModelId).join("");
  expect([final.data.content, streamedText(events)]).toEqual([expected, expected]);
  for (const needle of ['"', "\\", "\n"]) expect(expected).toContain(needle);
  expect(expected).toMatch(/\p{Extended_Pictographic}/u);
  expect(events.every((e) => e.data.messageId === request.messageId && e.data.sessionId === request.sessionId)).toBe(true);
  // The same durable record as every other path: the replay ends with the same final.
  const replay = (await record(token, request.sessionId, request.messageId))!;
  expect(replay.status).toBe("COMPLETE");
  expect((parseEvent(replay.events.at(-1)!) as FinalEvent).data.content).toBe(expected);
});

it("stopGeneration stops it: the model stream is cancelled and the final holds exactly what was streamed", async () => {
  const token = await driver.token("alice");
  const request = { sessionId: newSessionId("furl-stop"), messageId: randomUUID(), prompt: "Stop me over the URL [[length:2000]]" };
  let stopped: Promise<GraphQLResponse<{ stopGeneration: StopGenerationResult }>> | undefined;
  const events = await ask(token, request, (seen) => {
    if (seen.length === 2) stopped = gql(token, STOP_GENERATION_MUTATION, { sessionId: request.sessionId, messageId: request.messageId });
    return false;
  });
  expect((await stopped)?.data?.stopGeneration.stopped).toBe(true);
  const final = finalOf(events)!;
  expect(final.data.stopReason).toBe("stopped");
  expect(final.data.content).toBe(streamedText(events));
  expect(answerFor(request.prompt, driver.defaultModelId).join("").startsWith(final.data.content)).toBe(true);
  expect((await modelRequest(request.prompt))?.aborted).toBe(true);
  expect((await record(token, request.sessionId, request.messageId))?.status).toBe("STOPPED");
});

it("a disconnect stops it the same way: the record ends STOPPED and the model stream is cancelled", async () => {
  const token = await driver.token("alice");
  const request = { sessionId: newSessionId("furl-drop"), messageId: randomUUID(), prompt: "Drop me over the URL [[length:2000]]" };
  const events = await ask(token, request, (seen) => seen.length === 2);
  expect(finalOf(events)).toBeUndefined();
  const ended = await waitFor(
    async () => {
      const state = await record(token, request.sessionId, request.messageId);
      return state?.status === "STOPPED" && state;
    },
    { timeoutMs: 10_000, description: "the record STOPPED" },
  );
  expect(parseEvent(ended.events.at(-1)!)).toMatchObject({ action: "final_response", data: { stopReason: "stopped" } });
  expect((await modelRequest(request.prompt))?.aborted).toBe(true);
});

it("no token, a bad token and an expired token get 401 before anything runs: no record, no model call", async () => {
  await fetch(new URL("/_local/requests", stack.ready.endpoints.bedrock), { method: "DELETE" });
  const valid = await driver.token("alice");
  const forged = `${valid.slice(0, -6)}${valid.slice(-6) === "AAAAAA" ? "BBBBBB" : "AAAAAA"}`;
  const expired = await driver.token("alice", -60);
  const request = { sessionId: newSessionId("furl-401"), messageId: randomUUID(), prompt: "Never generate this" };
  const refused: [string, string][] = [];
  for (const authorization of [undefined, `Bearer ${forged}`, expired]) {
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) }, body: JSON.stringify(request) });
    expect(res.status).toBe(401);
    const body = (await res.json()) as { error: { type: string; message: string } };
    refused.push([body.error.type, body.error.message]);
  }
  expect(refused).toEqual([
    ["UnauthorizedException", "Valid authorization header not provided."],
    ["UnauthorizedException", "You are not authorized to make this call."],
    ["UnauthorizedException", "Token has expired."],
  ]);
  expect(await driver.bedrockRequests()).toEqual([]);
  expect(await record(valid, request.sessionId, request.messageId)).toBeNull();
});

it("the limits refuse with 429 LimitExceeded, the same refusal sendQuery gives, and nothing is generated for it", async () => {
  const token = await driver.token("carol");
  // Two answers hold carol's two slots while they stream (read on, not left: leaving would be a disconnect).
  const busy = [0, 1].map((i) => {
    const controller = new AbortController();
    let streaming!: () => void;
    const started = new Promise<void>((resolve) => (streaming = resolve));
    const request = { sessionId: newSessionId(`furl-limit-${i}`), prompt: `Keep a slot busy ${i} [[length:2000]]` };
    const read = (async () => {
      for await (const _ of streamFromFunctionUrl(url, token, request, { signal: controller.signal })) streaming();
    })().catch(() => undefined);
    return { controller, started, read };
  });
  await Promise.all(busy.map((b) => b.started));
  const refused = await ask(token, { sessionId: newSessionId("furl-limit"), prompt: "A third at once" }).catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(FunctionUrlError);
  expect(refused).toMatchObject({ status: 429, type: "LimitExceeded", info: { limit: "concurrency" } });
  const viaAppSync = await driver.sendQuery(token, { sessionId: newSessionId("furl-limit-gql"), prompt: "A third at once" });
  expect(viaAppSync.errors?.[0]).toMatchObject({ errorType: "LimitExceeded", message: (refused as FunctionUrlError).message });
  expect(await modelRequest("A third at once")).toBeUndefined();
  for (const b of busy) b.controller.abort();
  await Promise.all(busy.map((b) => b.read));
  // The two disconnected answers stop and free their slots.
  await waitFor(async () => !(await driver.sendQuery(token, { sessionId: newSessionId("furl-limit-after"), messageId: randomUUID(), prompt: "free again [[length:3]]" })).errors, { timeoutMs: 10_000, description: "a slot free again" });
});

it("each user receives only their own answer, and cannot read or stop the other's", async () => {
  const [alice, bob] = await Promise.all([driver.token("alice"), driver.token("bob")]);
  const sessionId = newSessionId("furl-iso");
  const asks = [alice, bob].map((token, i) => ({ token, request: { sessionId, messageId: randomUUID(), prompt: `Only for user ${i}` } }));
  const answers = await Promise.all(asks.map(({ token, request }) => ask(token, request)));
  const users = answers.map((events) => new Set(events.map((e) => e.userId)));
  expect(users[0].size).toBe(1);
  expect(users[1].size).toBe(1);
  expect([...users[0]]).not.toEqual([...users[1]]);
  asks.forEach(({ request }, i) => {
    expect(answers[i].every((e) => e.data.messageId === request.messageId)).toBe(true);
    expect(finalOf(answers[i])!.data.content).toBe(answerFor(request.prompt, driver.defaultModelId).join(""));
  });
  expect(await record(bob, sessionId, asks[0].request.messageId)).toBeNull();
  expect((await gql<{ stopGeneration: StopGenerationResult }>(bob, STOP_GENERATION_MUTATION, { sessionId, messageId: asks[0].request.messageId })).data?.stopGeneration.stopped).toBe(false);
});

describe("npm run chat --transport", () => {
  let configFile: string;
  beforeAll(() => {
    configFile = path.join(mkdtempSync(path.join(tmpdir(), "chat-furl-")), "client-config.json");
    writeFileSync(configFile, JSON.stringify(stack.ready.clientConfig));
  });
  const runChat = (args: string[]) => runCli(configFile, args);

  it("function-url prints the exact answer and its summary; --direct is AppSync's only", async () => {
    const prompt = "hello over the Function URL";
    const [ok, direct] = await Promise.all([runChat([prompt, "--transport", "function-url"]), runChat([prompt, "--transport", "function-url", "--direct"])]);
    expect([ok.code, ok.stderr]).toEqual([0, expect.stringMatching(/path\s+function-url/)]);
    const text = answerFor(prompt, driver.defaultModelId).join("");
    expect(ok.stdout).toBe(text.endsWith("\n") ? text : `${text}\n`);
    expect([direct.code, direct.stderr]).toEqual([2, expect.stringContaining("--transport appsync only")]);
  });
});
