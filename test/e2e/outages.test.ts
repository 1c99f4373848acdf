/**
 * AppSync outages against `npm start` on the shipped local settings (queue.relay_retry_seconds = 120), each on its own
 * stack so both run at once: a 60 s outage only delays the stream (nothing reaches a DLQ, the subscriber gets every
 * chunk and the final); a 3-minute outage dead-letters the events the relay could not publish in its window, and the
 * client still ends with the exact text, from the durable record. Real durations: the retry budget is measured in time.
 */
import { randomUUID } from "node:crypto";
import WebSocket from "ws";
import { graphqlRequest } from "../../client/graphql";
import type { WebSocketConstructor } from "../../client/realtime";
import { SessionStream } from "../../client/sessionStream";
import { answerFor } from "../../local/bedrock";
import { expectExactAnswer, LocalStackDriver, newSessionId } from "../support/localStackDriver";
import { startStackProcess, type StackProcess } from "../support/localStackProcess";
import { waitFor } from "../support/waitFor";

jest.setTimeout(6 * 60_000);

const OUTAGE_SHORT_MS = 60_000;
const OUTAGE_LONG_MS = 180_000;
const stacks: StackProcess[] = [];
const drivers: LocalStackDriver[] = [];

beforeAll(async () => {
  const args = ["--first-token-ms", "20", "--tokens-per-second", "200"];
  stacks.push(...(await Promise.all([startStackProcess(args), startStackProcess(args)])));
  drivers.push(...stacks.map((s) => new LocalStackDriver(s)));
}, 180_000);
afterAll(async () => {
  await Promise.all(drivers.map((d) => d.close()));
  await Promise.all(stacks.map((s) => s.stop()));
});

/** Every publishResponse fails (HTTP 500) from now until `ms` from now. */
async function outage(driver: LocalStackDriver, ms: number): Promise<void> {
  await driver.faults({ rejectPublishes: true, status: 500 });
  await new Promise((r) => setTimeout(r, ms)); // the outage's length is the scenario, not a wait for a result
  await driver.faults({ rejectPublishes: false });
}

test.concurrent("a 60 s outage delays the stream and loses nothing: every chunk and the final arrive, no DLQ", async () => {
  const driver = drivers[0]!;
  const token = await driver.token("alice");
  const sessionId = newSessionId("out60");
  const recorder = await driver.openSession(token, sessionId);
  const messageId = randomUUID();
  const prompt = "Ride out a one-minute outage";
  const down = outage(driver, OUTAGE_SHORT_MS);
  expect((await driver.sendQuery(token, { sessionId, messageId, prompt, delivery: "QUEUED" })).errors).toBeUndefined();
  await down;
  // The relay's backoff is a quarter of an event's age, at most 30 s: the stream resumes within that.
  await recorder.waitForEnd(messageId, 45_000);
  expectExactAnswer(driver.answerOf(recorder, messageId), answerFor(prompt, driver.defaultModelId).join(""));
  const depths = await driver.waitForQueuesDrained(30_000);
  expect(depths.outbound.dead + depths.work.dead).toBe(0);
});

test.concurrent("a 3-minute outage dead-letters what the relay could not publish; the client ends with the exact text from the record", async () => {
  const driver = drivers[1]!;
  const token = await driver.token("alice");
  const { graphqlUrl, realtimeUrl } = driver.ready.endpoints;
  const sessionId = newSessionId("out180");
  const recorder = await driver.openSession(token, sessionId);
  const stream = await SessionStream.open({ graphqlUrl, realtimeUrl, sessionId, token: async () => token, WebSocketImpl: WebSocket as unknown as WebSocketConstructor, request: graphqlRequest });
  const messageId = randomUUID();
  const prompt = "Survive a three-minute outage";
  const tracked = stream.track(messageId);
  const down = outage(driver, OUTAGE_LONG_MS);
  expect((await driver.sendQuery(token, { sessionId, messageId, prompt, delivery: "QUEUED" })).errors).toBeUndefined();
  await down;
  await waitFor(async () => (await driver.depths()).outbound.dead > 0, { timeoutMs: 30_000, description: "events in the outbound DLQ" });
  // The live subscription never got the whole answer: the relay gave up on it after its window.
  expect(recorder.ended(messageId)).toBe(false);
  await tracked.ended;
  stream.close();
  expect(tracked.failure).toBeUndefined();
  expect(tracked.assembler.text).toBe(answerFor(prompt, driver.defaultModelId).join(""));
  expect(tracked.assembler.final?.stopReason).toBe("end_turn");
});
