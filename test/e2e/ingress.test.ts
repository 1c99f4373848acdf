/**
 * End to end on both ingresses, against `npm start` and `npm start -- --config-overrides '{"ingress":"async"}'` run as
 * child processes side by side: the same streaming fidelity, stop and isolation whichever way the request reaches the
 * worker; a duplicate of a work request is never generated again; and on the async ingress a worker that crashes on
 * every attempt reaches the on-failure queue (with its request), while a retry after a crash once the answer streamed
 * only meets the idempotency record.
 */
import { randomUUID } from "node:crypto";
import { PublishCommand } from "@aws-sdk/client-sns";
import { graphqlRequest, type GraphQLResponse } from "../../client/graphql";
import { MESSAGE_QUERY, STOP_GENERATION_MUTATION } from "../../contracts/graphqlOperations";
import type { MessageState, StopGenerationResult } from "../../contracts/messageState";
import { answerFor } from "../../local/bedrock";
import { subjectFor } from "../../local/issuer";
import { expectExactAnswer, LocalStackDriver, newSessionId } from "../support/localStackDriver";
import { startStackProcess, type StackProcess } from "../support/localStackProcess";
import { waitFor } from "../support/waitFor";

jest.setTimeout(90_000);

type Ingress = "queue" | "async";
const stacks = {} as Record<Ingress, StackProcess>;
const drivers = {} as Record<Ingress, LocalStackDriver>;

beforeAll(async () => {
  // 100 tokens/s: a 400-token answer takes about 4 s, long enough to stop it on the way. Retries 200 ms apart locally.
  const pacing = ["--first-token-ms", "20", "--tokens-per-second", "100", "--retry-delay-seconds", "1", "--async-retry-delay-ms", "200"];
  const [queued, async] = await Promise.all([startStackProcess(pacing), startStackProcess([...pacing, "--config-overrides", JSON.stringify({ ingress: "async" })])]);
  Object.assign(stacks, { queue: queued, async });
  for (const ingress of ["queue", "async"] as const) drivers[ingress] = new LocalStackDriver(stacks[ingress]);
});
afterAll(async () => {
  await Promise.all(Object.values(drivers).map((d) => d.close()));
  await Promise.all(Object.values(stacks).map((s) => s.stop()));
});
afterEach(async () => {
  for (const d of Object.values(drivers)) d.closeSessions();
  await drivers.async?.asyncFaults({ clear: true });
});

const gql = <T>(driver: LocalStackDriver, token: string, document: string, variables: Record<string, unknown>) =>
  graphqlRequest(driver.ready.endpoints.graphqlUrl, document, variables, { authorization: token }) as Promise<GraphQLResponse<T>>;
const messageOf = (driver: LocalStackDriver, token: string, sessionId: string, messageId: string) =>
  gql<{ message: MessageState | null }>(driver, token, MESSAGE_QUERY, { sessionId, messageId });
const generationsOf = async (driver: LocalStackDriver, prompt: string) => (await driver.bedrockRequests()).filter((r) => r.prompt === prompt);

test("each stack runs the ingress it was started with", () => {
  expect([drivers.queue.ready.ingress, drivers.async.ready.ingress]).toEqual(["queue", "async"]);
  expect(drivers.queue.ready.endpoints.lambda).toBeUndefined();
  expect(drivers.async.ready.endpoints.lambda).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
});

describe.each<Ingress>(["queue", "async"])("ingress %s", (ingress) => {
  const driver = () => drivers[ingress];
  const expected = (prompt: string) => answerFor(prompt, driver().defaultModelId).join("");

  it("streams exactly the stand-in's text, numbered from 0, for 3 concurrent sessions", async () => {
    const prompts = [0, 1, 2].map((i) => `Ingress ${ingress}, question ${i}`);
    const answers = await Promise.all(prompts.map((prompt, i) => driver().ask(`ingress${i}`, { sessionId: newSessionId(`${ingress}${i}`), prompt })));
    answers.forEach((a, i) => expectExactAnswer(a, expected(prompts[i])));
    for (const prompt of prompts) expect(await generationsOf(driver(), prompt)).toHaveLength(1);
    // Nothing went through the work queue on the async ingress.
    if (ingress === "async") expect((await driver().depths()).work).toMatchObject({ visible: 0, inFlight: 0, dead: 0 });
  });

  it("stopGeneration ends the message with exactly what was streamed", async () => {
    const token = await driver().token("alice");
    const sessionId = newSessionId(`stop-${ingress}`);
    const recorder = await driver().openSession(token, sessionId);
    const messageId = randomUUID();
    const prompt = `Stop me on the ${ingress} ingress [[length:400]]`;
    expect((await driver().sendQuery(token, { sessionId, messageId, prompt })).errors).toBeUndefined();
    await waitFor(() => recorder.tokens(messageId).length >= 2, { timeoutMs: 20_000, description: "two chunks" });
    const stopped = await gql<{ stopGeneration: StopGenerationResult }>(driver(), token, STOP_GENERATION_MUTATION, { sessionId, messageId });
    expect(stopped.data?.stopGeneration.stopped).toBe(true);
    await recorder.waitForEnd(messageId);
    const final = recorder.finals(messageId)[0]!;
    expect(final.data.stopReason).toBe("stopped");
    expect(final.data.content).toBe(recorder.assemble(messageId).text);
    expect(final.data.content.length).toBeLessThan(expected(prompt).length);
    // The record ends right after the final goes out (messageRecorder.ts): wait for it, bounded.
    await waitFor(async () => (await messageOf(driver(), token, sessionId, messageId)).data?.message?.status === "STOPPED", { timeoutMs: 5_000, description: "the record STOPPED" });
  });

  it("another user subscribed to the same session receives nothing", async () => {
    const sessionId = newSessionId(`private-${ingress}`);
    const bob = await driver().openSession(await driver().token("bob"), sessionId);
    const prompt = `Only alice reads this, ${ingress} ingress`;
    const answer = await driver().ask("alice", { sessionId, prompt });
    expectExactAnswer(answer, expected(prompt));
    expect(bob.events).toEqual([]);
    expect(answer.recorder.events.every((e) => e.userId === subjectFor("alice"))).toBe(true);
  });

  it("the same work request delivered again is not generated again", async () => {
    const sessionId = newSessionId(`dup-${ingress}`);
    const prompt = `Duplicate me on the ${ingress} ingress`;
    const answer = await driver().ask("alice", { sessionId, prompt });
    expectExactAnswer(answer, expected(prompt));
    const request = { sessionId, messageId: answer.messageId, userId: subjectFor("alice"), prompt, modelId: driver().defaultModelId, requestedAt: new Date().toISOString() };
    if (ingress === "queue") {
      await driver().sns.send(new PublishCommand({ TopicArn: driver().ready.topics.inboundArn, Message: JSON.stringify(request) }));
      await driver().waitForQueuesDrained();
    } else {
      const before = await driver().asyncStats();
      await driver().invokeWorker(request);
      // Accepted and run once, successfully: the idempotency record answered it.
      await waitFor(async () => (await driver().asyncStats()).attempts > before.attempts, { timeoutMs: 10_000, description: "the duplicate's attempt" });
      expect((await driver().asyncStats()).failedAttempts).toBe(before.failedAttempts);
    }
    expect(await generationsOf(driver(), prompt)).toHaveLength(1);
    expect(answer.recorder.events.filter((e) => e.action === "final_response")).toHaveLength(1);
  });
});

describe("the async ingress's failures", () => {
  const driver = () => drivers.async;

  it("a worker that crashes on every attempt reaches the on-failure queue with its request; nothing is generated, the message stays QUEUED", async () => {
    const token = await driver().token("carol");
    const sessionId = newSessionId("crash");
    const messageId = randomUUID();
    const prompt = `Crash the worker ${randomUUID()}`;
    const before = await driver().asyncStats();
    // local.tfvars keeps Lambda's 2 retries: 3 attempts, each crashing.
    await driver().asyncFaults({ crash: "before", count: 3 });
    expect((await driver().sendQuery(token, { sessionId, messageId, prompt })).errors).toBeUndefined();
    const records = await waitFor(
      async () => {
        const found = (await driver().asyncFailureRecords()).filter((r) => r.requestPayload.messageId === messageId);
        return found.length > 0 && found;
      },
      { timeoutMs: 20_000, intervalMs: 200, description: "the crashed invocation in the on-failure queue" },
    );
    expect(records).toHaveLength(1);
    expect(records[0].requestContext).toMatchObject({ condition: "RetriesExhausted", approximateInvokeCount: 3 });
    expect(records[0].requestPayload).toMatchObject({ sessionId, messageId, userId: subjectFor("carol"), prompt });
    expect(records[0].responsePayload?.errorMessage).toMatch(/Runtime exited/);
    expect((await driver().asyncStats()).failedAttempts - before.failedAttempts).toBe(3);
    expect(await generationsOf(driver(), prompt)).toEqual([]);
    expect((await messageOf(driver(), token, sessionId, messageId)).data?.message?.status).toBe("QUEUED");
  });

  it("a crash after the answer streamed is retried, and the retry only meets the idempotency record", async () => {
    const before = await driver().asyncStats();
    await driver().asyncFaults({ crash: "after", count: 1 });
    const prompt = `Crash after streaming ${randomUUID()}`;
    const answer = await driver().ask("dave", { sessionId: newSessionId("crash-after"), prompt });
    expectExactAnswer(answer, answerFor(prompt, driver().defaultModelId).join(""));
    await waitFor(async () => (await driver().asyncStats()).attempts - before.attempts >= 2, { timeoutMs: 10_000, description: "the retry" });
    const after = await driver().asyncStats();
    expect([after.failedAttempts - before.failedAttempts, after.deadLettered - before.deadLettered]).toEqual([1, 0]);
    expect(await generationsOf(driver(), prompt)).toHaveLength(1);
    expect(answer.recorder.events.filter((e) => e.action === "final_response")).toHaveLength(1);
  });
});
