/**
 * End to end, what the platform must refuse, against `npm start` run as a child process:
 * - bad input: an oversize prompt, an unknown model and malformed session or message ids each get a GraphQL error
 *   and nothing reaches the queues (the next good request is the only one the worker sends to Bedrock);
 * - isolation: another user subscribed to alice's session gets nothing;
 * - auth: forged, tampered and expired tokens are refused on HTTP and on the real-time socket; a publishResponse
 *   that is not SigV4-signed with the stack's credentials is refused and reaches no subscriber.
 */
import { randomUUID } from "node:crypto";
import { loadEnvironment } from "../../config/load";
import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from "jose";
import WebSocket from "ws";
import { subscribe, SubscriptionError, type WebSocketConstructor } from "../../client/realtime";
import { AppSyncPublishError, createAppSyncPublisher } from "../../lambdas/shared/appsyncPublisher";
import { PUBLISH_RESPONSE_MUTATION, RECEIVE_MESSAGES_SUBSCRIPTION } from "../../contracts/graphqlOperations";
import { type StreamEvent } from "../../contracts/streamEvents";
import { answerFor } from "../../local/bedrock";
import { subjectFor } from "../../local/issuer";
import { graphqlRequest } from "../../client/graphql";
import { expectExactAnswer, LocalStackDriver, newSessionId, type SendQueryInput } from "../support/localStackDriver";
import { startStackProcess, type StackProcess } from "../support/localStackProcess";
import { waitFor } from "../support/waitFor";

jest.setTimeout(60_000);

let stack: StackProcess;
let driver: LocalStackDriver;
let maxPromptChars: number;

beforeAll(async () => {
  [stack, maxPromptChars] = await Promise.all([
    startStackProcess(["--first-token-ms", "20", "--tokens-per-second", "400", "--retry-delay-seconds", "1"]),
    loadEnvironment("local").then((c) => c.generation.max_prompt_chars),
  ]);
  driver = new LocalStackDriver(stack);
});
afterAll(async () => {
  await driver?.close();
  await stack?.stop();
});
afterEach(() => driver.closeSessions());

it("bad input: each bad request gets a GraphQL error and queues nothing; the next good request is the first one generated", async () => {
  await driver.waitForQueuesDrained();
  const generatedBefore = (await driver.bedrockRequests()).length;
  const token = await driver.token("alice");
  const sessionId = newSessionId("bad-input");
  const bad: [string, Partial<SendQueryInput>, RegExp][] = [
    ["oversize prompt", { prompt: "x".repeat(maxPromptChars + 1) }, new RegExp(`prompt must be at most ${maxPromptChars} characters`)],
    ["unknown model", { modelId: "no.such-model-v1:0" }, /modelId must be one of/],
    ["malformed session id (characters)", { sessionId: "bad session!" }, /sessionId must be 8-64/],
    ["malformed session id (too short)", { sessionId: "short" }, /sessionId must be 8-64/],
    ["malformed session id (path)", { sessionId: "../../etc/passwd" }, /sessionId must be 8-64/],
    ["malformed message id", { messageId: "not a message id" }, /messageId must be 8-64/],
    ["empty prompt", { prompt: "   " }, /prompt must not be empty/],
  ];
  for (const [name, override, message] of bad) {
    const res = await driver.sendQuery(token, { sessionId, prompt: `bad request: ${name}`, ...override });
    expect({ name, status: res.status, data: res.data ?? null }).toEqual({ name, status: 200, data: null });
    expect(res.errors).toHaveLength(1);
    expect(res.errors![0]).toMatchObject({ errorType: "ValidationError", message: expect.stringMatching(message) });
  }
  // Publishing to the inbound topic enqueues synchronously, so anything published would be visible or in flight now.
  expect((await driver.depths()).work).toEqual({ visible: 0, inFlight: 0, dead: 0 });

  // The longest allowed prompt is fine, and it is the first request the worker sends to Bedrock after the bad ones.
  const prompt = `${"y".repeat(maxPromptChars - 20)} the good one`.padEnd(maxPromptChars, "!");
  expect(prompt).toHaveLength(maxPromptChars);
  const answer = await driver.ask("alice", { sessionId, messageId: randomUUID(), prompt });
  expectExactAnswer(answer, answerFor(prompt, driver.defaultModelId).join(""));
  const drained = await driver.waitForQueuesDrained();
  expect(drained.work.dead).toBe(0);
  expect((await driver.bedrockRequests()).slice(generatedBefore).map((r) => r.prompt)).toEqual([prompt]);
});

/** A token with alice's exact header and claims, signed by a key the issuer never saw. */
async function forgedLike(real: string): Promise<string> {
  const { privateKey } = await generateKeyPair("RS256");
  const header = decodeProtectedHeader(real);
  return new SignJWT(decodeJwt(real)).setProtectedHeader({ alg: "RS256", kid: header.kid, typ: header.typ }).sign(privateKey);
}

/** alice's real signature over a payload changed to bob's sub. */
function tamperedToBob(real: string): string {
  const [header, , signature] = real.split(".");
  const payload = Buffer.from(JSON.stringify({ ...decodeJwt(real), sub: subjectFor("bob"), "cognito:username": "bob" })).toString("base64url");
  return `${header}.${payload}.${signature}`;
}

const subscribeWith = (authorization: string, sessionId: string) =>
  subscribe({
    realtimeUrl: driver.ready.endpoints.realtimeUrl,
    graphqlUrl: driver.ready.endpoints.graphqlUrl,
    authorization,
    query: RECEIVE_MESSAGES_SUBSCRIPTION,
    variables: { sessionId },
    WebSocketImpl: WebSocket as unknown as WebSocketConstructor,
    startTimeoutMs: 5000,
    onData: () => undefined,
  });

it("bob, subscribed to alice's sessionId, receives nothing while alice gets her whole answer", async () => {
  const sessionId = newSessionId("alice-private");
  const bob = await driver.openSession(await driver.token("bob"), sessionId);
  const before = await driver.gatewayStats();
  const prompt = "Something only alice should read";
  const answer = await driver.ask("alice", { sessionId, prompt });
  expectExactAnswer(answer, answerFor(prompt, driver.defaultModelId).join(""));
  // The gateway delivers to every matching subscriber before answering the publish, so its count is final here.
  const after = await driver.gatewayStats();
  expect(after.deliveries - before.deliveries).toBe(answer.recorder.events.length);
  expect(bob.events).toEqual([]);
  expect(answer.recorder.events.every((e) => e.userId === subjectFor("alice"))).toBe(true);
});

describe("tokens the issuer did not sign, or that expired", () => {
  let alice: string;
  beforeAll(async () => {
    alice = await driver.token("alice");
  });
  const cases: [string, () => Promise<string>][] = [
    ["forged (same claims and kid, another key)", () => forgedLike(alice)],
    ["tampered (payload changed to bob, alice's signature)", async () => tamperedToBob(alice)],
    ["expired", () => driver.token("alice", -60)],
    ["not a JWT", async () => "not-a-token"],
  ];

  it.each(cases)("%s: sendQuery is refused with 401 and nothing is generated", async (_, make) => {
    const token = await make();
    const before = await driver.bedrockRequests();
    const res = await driver.sendQuery(token, { sessionId: newSessionId("forged"), prompt: `should never run ${randomUUID()}` });
    expect(res.status).toBe(401);
    expect(res.errors?.[0].errorType).toBe("UnauthorizedException");
    expect(res.data ?? null).toBeNull();
    expect(await driver.depths()).toMatchObject({ work: { visible: 0, inFlight: 0 } });
    expect((await driver.bedrockRequests()).length).toBe(before.length);
  });

  it.each(cases)("%s: the real-time connection is refused", async (_, make) => {
    const token = await make();
    await expect(subscribeWith(token, newSessionId("forged"))).rejects.toBeInstanceOf(SubscriptionError);
  });

  it("a genuine token is accepted on both (control)", async () => {
    const sub = await subscribeWith(alice, newSessionId("genuine"));
    sub.close();
    const res = await graphqlRequest(driver.ready.endpoints.graphqlUrl, "query { whoami }", {}, { authorization: alice });
    expect(res).toEqual({ status: 200, data: { whoami: subjectFor("alice") } });
  });
});

describe("publishResponse without a valid SigV4 signature", () => {
  const eventFor = (sessionId: string, userId: string, content: string): StreamEvent => ({
    action: "final_response",
    userId,
    timestamp: new Date().toISOString(),
    data: { sessionId, messageId: randomUUID(), content, usage: { inputTokens: 1, outputTokens: 1 }, stopReason: "end_turn", lastSequenceNumber: -1 },
  });
  const publisherWith = (credentials: { accessKeyId: string; secretAccessKey: string }) =>
    createAppSyncPublisher({ endpoint: driver.ready.endpoints.graphqlUrl, region: driver.ready.region, credentials, maxAttempts: 1 });

  it("is refused (unsigned, user token, wrong secret, unknown key) and reaches no subscriber; a signed one does", async () => {
    const sessionId = newSessionId("spoof");
    const aliceToken = await driver.token("alice");
    const alice = await driver.openSession(aliceToken, sessionId);
    const sub = subjectFor("alice");
    const variables = (content: string) => ({ sessionId, userId: sub, data: JSON.stringify(eventFor(sessionId, sub, content)) });
    const before = await driver.gatewayStats();

    const unsigned = await graphqlRequest(driver.ready.endpoints.graphqlUrl, PUBLISH_RESPONSE_MUTATION, variables("unsigned"));
    expect(unsigned.status).toBe(401);
    const withUserToken = await graphqlRequest(driver.ready.endpoints.graphqlUrl, PUBLISH_RESPONSE_MUTATION, variables("user token"), { authorization: aliceToken });
    expect(withUserToken.errors?.[0]).toMatchObject({ errorType: "Unauthorized" });
    expect(withUserToken.data).toEqual({ publishResponse: null });

    const { credentials } = driver.ready;
    for (const wrong of [
      { accessKeyId: credentials.accessKeyId, secretAccessKey: `${credentials.secretAccessKey}-wrong` },
      { accessKeyId: "AKIDSOMEONEELSE", secretAccessKey: credentials.secretAccessKey },
    ]) {
      const error = await publisherWith(wrong).publish(eventFor(sessionId, sub, "bad signature")).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(AppSyncPublishError);
      expect((error as AppSyncPublishError).status).toBe(401);
    }
    const refused = await driver.gatewayStats();
    expect(refused.deliveries).toBe(before.deliveries);
    expect(refused.rejectedAuth - before.rejectedAuth).toBeGreaterThanOrEqual(3);

    // Control: the stack's own credentials get through, so the refusals above are about the signature.
    await publisherWith(credentials).publish(eventFor(sessionId, sub, "signed"));
    await waitFor(() => alice.events.length === 1, { timeoutMs: 5000, description: "the signed event" });
    expect(alice.events.map((e) => (e.action === "final_response" ? e.data.content : e.action))).toEqual(["signed"]);
  });
});
