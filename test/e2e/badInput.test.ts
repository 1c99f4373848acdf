/**
 * End to end, bad input against `npm start` run as a child process: an oversize prompt, an unknown model and a
 * malformed session or message id each get a GraphQL error, and nothing reaches the queues: the first (and only)
 * request the worker ever sends to Bedrock is the good one sent after them.
 */
import { randomUUID } from "node:crypto";
import { loadEnvironment } from "../../config/load";
import { answerFor } from "../../local/bedrock";
import { expectExactAnswer, LocalStackDriver, newSessionId, type SendQueryInput } from "../support/localStackDriver";
import { startStackProcess, type StackProcess } from "../support/localStackProcess";

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

it("refuses each bad request with a GraphQL error and queues nothing; the next good request is the first one generated", async () => {
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

  // The longest allowed prompt is fine, and it is the first request the worker ever sends to Bedrock.
  const prompt = `${"y".repeat(maxPromptChars - 20)} the good one`.padEnd(maxPromptChars, "!");
  expect(prompt).toHaveLength(maxPromptChars);
  const answer = await driver.ask("alice", { sessionId, messageId: randomUUID(), prompt });
  expectExactAnswer(answer, answerFor(prompt, driver.defaultModelId).join(""));
  const drained = await driver.waitForQueuesDrained();
  expect(drained.work.dead).toBe(0);
  expect((await driver.bedrockRequests()).map((r) => r.prompt)).toEqual([prompt]);
});
