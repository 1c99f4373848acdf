/**
 * End to end, faults against `npm start` run as a child process: failed publishes are retried without loss or
 * duplicates; a throttled generation ends in one error event and is never generated twice; a relay record that fails
 * is the only one retried; a poison record reaches the outbound DLQ; and a direct send whose publishes are rejected
 * falls back to the queue and is delivered whole, once, when publishes succeed again.
 */
import { randomUUID } from "node:crypto";
import { PublishCommand } from "@aws-sdk/client-sns";
import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { answerFor, FAULTS } from "../../local/bedrock";
import { subjectFor } from "../../local/issuer";
import { expectExactAnswer, LocalStackDriver, newSessionId, type Delivery } from "../support/localStackDriver";
import { startStackProcess, type StackProcess } from "../support/localStackProcess";
import { waitFor } from "../support/waitFor";

jest.setTimeout(60_000);

let stack: StackProcess;
let driver: LocalStackDriver;

beforeAll(async () => {
  // Failed work records come back after 1 s (not the 360 s visibility timeout), so SQS-level retries fit in a test;
  // failed relay records come back after the relay's own backoff (a quarter of the event's age, 2-30 s), as deployed.
  // The relay's shortest retry window (30 s), so an event that can never be published settles within a test.
  stack = await startStackProcess(["--first-token-ms", "20", "--tokens-per-second", "400", "--retry-delay-seconds", "1", "--config-overrides", JSON.stringify({ queue: { relay_retry_seconds: 30 } })]);
  driver = new LocalStackDriver(stack);
});
afterAll(async () => {
  await driver?.close();
  await stack?.stop();
});
afterEach(async () => {
  await driver.faults({ clear: true });
  driver.closeSessions();
});

const expected = (prompt: string) => answerFor(prompt, driver.defaultModelId).join("");

/** Opens a session for `user` and sends the prompt; the caller waits for the end. */
async function start(user: string, prompt: string, delivery: Delivery, sessionId = newSessionId(user)) {
  const token = await driver.token(user);
  const recorder = await driver.openSession(token, sessionId);
  const messageId = randomUUID();
  const sent = await driver.sendQuery(token, { sessionId, messageId, prompt, delivery });
  expect(sent.errors).toBeUndefined();
  return { recorder, messageId, sessionId, token, prompt };
}

describe("the gateway fails N publishes: they are retried and nothing is lost or duplicated", () => {
  it.each<[Delivery, number, boolean]>([
    ["DIRECT", 3, false], // within the worker's own 4 attempts
    ["DIRECT", 2, true], // 200 OK carrying `errors` counts as a failure too
    ["QUEUED", 6, false], // more than one publish's 4 attempts, spread over the relay's concurrent invocations
  ])("%s, %i failures (graphqlErrors: %s)", async (delivery, n, graphqlErrors) => {
    const sessionId = newSessionId(`fail${n}`);
    await driver.faults({ failPublishes: n, sessionId, graphqlErrors });
    const before = await driver.gatewayStats();
    const prompt = `Retry ${n} failed publishes on ${delivery}`;
    const answer = await driver.ask("alice", { sessionId, prompt, delivery });
    expectExactAnswer(answer, expected(prompt));
    const after = await driver.gatewayStats();
    expect(after.faultedPublishes - before.faultedPublishes).toBe(n);
    // Each event delivered exactly once: nothing published twice after a failure.
    expect(after.deliveries - before.deliveries).toBe(answer.recorder.events.length);
    expect((await driver.depths()).outbound.dead).toBe(0);
  });
});

describe("throttling mid-stream", () => {
  it.each<Delivery>(["DIRECT", "QUEUED"])("%s: one error event, one generation, and a redelivered request is not re-run", async (delivery) => {
    const prompt = `Throttle me on ${delivery} ${FAULTS.throttleMidStream}`;
    const s = await start("alice", prompt, delivery);
    await s.recorder.waitForEnd(s.messageId);
    const errors = s.recorder.errors(s.messageId);
    expect(errors).toHaveLength(1);
    expect(errors[0].data).toMatchObject({ code: "THROTTLED", retryable: true });
    expect(errors[0].data.message).not.toMatch(/Scripted fault|Exception/);
    expect(s.recorder.finals(s.messageId)).toEqual([]);
    // Tokens that reached the user before the fault are a prefix of the answer, numbered from 0.
    const streamed = driver.answerOf(s.recorder, s.messageId).streamedText;
    expect(expected(prompt).startsWith(streamed)).toBe(true);

    // The work message was consumed (deleted), not left for SQS to redeliver into a second generation.
    const drained = await driver.waitForQueuesDrained();
    expect(drained.work.dead).toBe(0);
    const generations = async () => (await driver.bedrockRequests()).filter((r) => r.prompt === prompt);
    expect(await generations()).toHaveLength(1);

    // Sending the same message id again is refused (it would never be answered).
    const again = await driver.sendQuery(s.token, { sessionId: s.sessionId, messageId: s.messageId, prompt, delivery });
    expect(again.errors?.[0]).toMatchObject({ errorType: "ValidationError" });
    // The same work request delivered again (SNS and SQS are at-least-once): no second generation.
    const request = { sessionId: s.sessionId, messageId: s.messageId, userId: subjectFor("alice"), prompt, modelId: driver.defaultModelId, requestedAt: new Date().toISOString(), delivery: delivery === "DIRECT" ? "direct" : "queued" };
    await driver.sns.send(new PublishCommand({ TopicArn: driver.ready.topics.inboundArn, Message: JSON.stringify(request) }));
    await driver.waitForQueuesDrained();
    expect(await generations()).toHaveLength(1);
    expect((await driver.depths()).work.dead).toBe(0);
  });
});

describe("other Bedrock failures", () => {
  it.each<[keyof typeof FAULTS, string, boolean]>([
    ["validation", "INVALID_REQUEST", false],
    ["accessDenied", "ACCESS_DENIED", false],
    ["streamError", "MODEL_STREAM_ERROR", true],
  ])("%s: one user-safe error event with code %s, no final, one generation", async (fault, code, retryable) => {
    const prompt = `Fail with ${FAULTS[fault]}`;
    const s = await start("alice", prompt, "DIRECT");
    await s.recorder.waitForEnd(s.messageId);
    expect(s.recorder.errors(s.messageId).map((e) => e.data)).toEqual([expect.objectContaining({ code, retryable })]);
    expect(s.recorder.errors(s.messageId)[0].data.message).not.toMatch(/Scripted fault|Exception|stand-in/);
    expect(s.recorder.finals(s.messageId)).toEqual([]);
    expect((await driver.waitForQueuesDrained()).work.dead).toBe(0);
    expect((await driver.bedrockRequests()).filter((r) => r.prompt === prompt)).toHaveLength(1);
  });
});

describe("the relay fails one record", () => {
  it.each<[number, 401 | 500, string]>([
    [1, 401, "not retryable: the relay reports just this record, SQS brings it back"],
    [4, 500, "retryable: retried by the publisher, and by SQS when one event takes all 4"],
  ])("%i x HTTP %i (%s): only that record is retried; every other session is unaffected; the victim gets everything once", async (failures, status) => {
    const victim = newSessionId("victim");
    await driver.faults({ failPublishes: failures, sessionId: victim, status });
    const before = await driver.gatewayStats();
    const sessions = await Promise.all(
      ["victim", "other1", "other2", "other3"].map((label, i) => start(`relay${i}`, `Relay test for ${label}`, "QUEUED", i === 0 ? victim : newSessionId(label))),
    );
    await Promise.all(sessions.map((s) => s.recorder.waitForEnd(s.messageId)));
    for (const s of sessions) expectExactAnswer(driver.answerOf(s.recorder, s.messageId), expected(s.prompt));
    const after = await driver.gatewayStats();
    expect(after.faultedPublishes - before.faultedPublishes).toBe(failures);
    const received = sessions.reduce((n, s) => n + s.recorder.events.length, 0);
    expect(after.deliveries - before.deliveries).toBe(received);
    expect((await driver.waitForQueuesDrained()).outbound.dead).toBe(0);
  });

  // Held-back records spend nothing (the relay's budget is in time), so a failing session never drags others to the DLQ.
  it("a session whose publishes keep failing does not dead-letter other sessions' events", async () => {
    const victim = `aaaa-${randomUUID().slice(0, 13)}`; // sorts first in the relay's batch order
    await driver.faults({ failPublishes: 10_000, sessionId: victim, status: 500 });
    const victimRun = await start("relay-victim", "Persistent failure victim", "QUEUED", victim);
    const neighbours = await Promise.all([1, 2, 3].map((i) => start(`neighbour${i}`, `Neighbour ${i} of a failing session`, "QUEUED", `zzzz-${randomUUID().slice(0, 13)}`)));
    // Settled: every record was either published or, past the relay's 30 s window (this file's setting), dead-lettered
    // (the victim's stream together: about 35 s on a quiet machine; the bound leaves room for a busy one).
    await driver.waitForQueuesDrained(90_000);
    expect(victimRun.recorder.events).toEqual([]);
    for (const s of neighbours) expectExactAnswer(driver.answerOf(s.recorder, s.messageId), expected(s.prompt));
    // The start and the 90 s drain bound, with room to spare.
  }, 150_000);

  it("a poison record reaches the outbound DLQ while good traffic flows", async () => {
    const poison = `{"action":"on_new_llm_token", not json ${randomUUID()}`;
    const deadBefore = (await driver.depths()).outbound.dead;
    await driver.sns.send(new PublishCommand({ TopicArn: driver.ready.topics.outboundArn, Message: poison }));
    const prompt = "Good traffic beside a poison record";
    const answer = await driver.ask("alice", { sessionId: newSessionId("beside-poison"), prompt, delivery: "QUEUED" });
    expectExactAnswer(answer, expected(prompt));
    await waitFor(async () => (await driver.depths()).outbound.dead > deadBefore, { timeoutMs: 20_000, intervalMs: 200, description: "the poison record in the outbound DLQ" });
    // Each receive hides what it got for a while, so successive receives walk through the DLQ.
    await waitFor(
      async () => {
        const { Messages } = await driver.sqs.send(new ReceiveMessageCommand({ QueueUrl: driver.ready.queues.outbound.dlqUrl, MaxNumberOfMessages: 10 }));
        return (Messages ?? []).some((m) => m.Body === poison);
      },
      { timeoutMs: 10_000, description: "the poison record's body in the outbound DLQ" },
    );
    const depths = await driver.waitForQueuesDrained();
    expect(depths.outbound).toMatchObject({ visible: 0, inFlight: 0 });
  });

  it("a malformed work request reaches the work DLQ instead of being dropped, and starts no generation", async () => {
    const poison = JSON.stringify({ sessionId: "not a valid id", prompt: `poison ${randomUUID()}` });
    const deadBefore = (await driver.depths()).work.dead;
    const generationsBefore = (await driver.bedrockRequests()).length;
    await driver.sns.send(new PublishCommand({ TopicArn: driver.ready.topics.inboundArn, Message: poison }));
    await waitFor(async () => (await driver.depths()).work.dead > deadBefore, { timeoutMs: 20_000, intervalMs: 200, description: "the malformed request in the work DLQ" });
    expect((await driver.bedrockRequests()).length).toBe(generationsBefore);
  });
});

describe("directSend while the gateway rejects the worker's publishes", () => {
  it("falls back to the queue after its retries, and the relay delivers everything once publishes succeed again", async () => {
    const deadBefore = (await driver.depths()).outbound.dead;
    await driver.faults({ rejectPublishes: true, status: 500 });
    const before = await driver.gatewayStats();
    const prompt = `Fall back to the queue ${"[[length:80]]"}`;
    const s = await start("alice", prompt, "DIRECT");
    // The worker gave up on direct publishes: events now sit in (or move through) the outbound queue.
    await waitFor(
      async () => {
        const d = await driver.depths();
        return d.outbound.visible + d.outbound.inFlight > 0;
      },
      { timeoutMs: 15_000, intervalMs: 25, description: "events in the outbound queue" },
    );
    const rejected = await driver.gatewayStats();
    expect(rejected.faultedPublishes - before.faultedPublishes).toBeGreaterThanOrEqual(4); // the worker's attempts
    expect(s.recorder.events).toEqual([]);
    await driver.faults({ rejectPublishes: false });

    await s.recorder.waitForEnd(s.messageId, 30_000);
    expectExactAnswer(driver.answerOf(s.recorder, s.messageId), expected(prompt));
    expect(driver.answerOf(s.recorder, s.messageId).chunks.length).toBeGreaterThan(1);
    const depths = await driver.waitForQueuesDrained();
    expect(depths.outbound.dead).toBe(deadBefore);
    expect((await driver.bedrockRequests()).filter((r) => r.prompt === prompt)).toHaveLength(1);
  });
});
