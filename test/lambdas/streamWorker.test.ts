import { DynamoDBPersistenceLayer } from "@aws-lambda-powertools/idempotency/dynamodb";
import { BedrockRuntimeClient, ConverseStreamCommand } from "@aws-sdk/client-bedrock-runtime";
import { mockClient } from "aws-sdk-client-mock";
import type { Context } from "aws-lambda";
import type { EventPublisher } from "../../lambdas/shared/eventPublisher";
import type { HistoryStore } from "../../lambdas/stream-worker/history";
import { createStreamWorker } from "../../lambdas/stream-worker/worker";
import { sqsEvent, sqsRecord } from "../support/sqsRecords";
import { converseStream, recordingPublisher, recordingTelemetry, request, settings, textStream, tokens } from "./support/workerFixtures";
import { startTestDynamo, type TestDynamo } from "./support/testDynamo";

const bedrockMock = mockClient(BedrockRuntimeClient);
let dynamo: TestDynamo;

beforeAll(async () => (dynamo = await startTestDynamo()));
afterAll(() => dynamo.close());
beforeEach(() => bedrockMock.reset());

async function newWorker(shutdownMarginMs?: number, extra: { publishMarginMs?: number; queue?: EventPublisher; history?: HistoryStore } = {}) {
  const tableName = await dynamo.idempotencyTable();
  const telemetry = recordingTelemetry();
  const queue = recordingPublisher();
  const bedrock = new BedrockRuntimeClient({ region: "us-east-1" });
  const worker = createStreamWorker({
    persistenceStore: new DynamoDBPersistenceLayer({ tableName, awsSdkV3Client: dynamo.client }),
    generation: { bedrock, settings, direct: recordingPublisher(), queue: extra.queue ?? queue, history: extra.history, logger: telemetry.logger, metrics: telemetry.metrics },
    shutdownMarginMs,
    publishMarginMs: extra.publishMarginMs,
  });
  return { worker, queue, errorCodes: telemetry.errorCodes };
}

const context = {
  functionName: "stream-worker",
  awsRequestId: "req-1",
  getRemainingTimeInMillis: () => 60_000,
} as unknown as Context;

const workRecord = (body: string, messageId: string) => sqsRecord({ body, messageId, eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:work" });

describe("stream-worker", () => {
  it("a redelivered work request (same messageId) does not call Bedrock again or publish again", async () => {
    bedrockMock.on(ConverseStreamCommand).callsFake(async () => ({ stream: converseStream(textStream(["Hello", " there"])) }));
    const { worker, queue } = await newWorker();
    const body = JSON.stringify(request);

    expect(await worker(sqsEvent(workRecord(body, "sqs-1")), context)).toEqual({ batchItemFailures: [] });
    const afterFirst = queue.events.length;
    expect(tokens(queue.events).map((t) => t.value)).toEqual(["Hello", " there"]);

    // SQS redelivers the same message (e.g. the first invocation's delete was lost).
    expect(await worker(sqsEvent(workRecord(body, "sqs-1")), context)).toEqual({ batchItemFailures: [] });
    expect(bedrockMock.commandCalls(ConverseStreamCommand)).toHaveLength(1);
    expect(queue.events).toHaveLength(afterFirst);

    // A different messageId is a new generation.
    await worker(sqsEvent(workRecord(JSON.stringify({ ...request, messageId: "message-0002" }), "sqs-2")), context);
    expect(bedrockMock.commandCalls(ConverseStreamCommand)).toHaveLength(2);
  });

  it("a failed generation is not re-run on redelivery: the error event was sent once and the record is not reported", async () => {
    bedrockMock.on(ConverseStreamCommand).rejects(Object.assign(new Error("Too many requests"), { name: "ThrottlingException" }));
    const { worker, queue } = await newWorker();
    const body = JSON.stringify(request);
    expect(await worker(sqsEvent(workRecord(body, "sqs-1")), context)).toEqual({ batchItemFailures: [] });
    expect(await worker(sqsEvent(workRecord(body, "sqs-1")), context)).toEqual({ batchItemFailures: [] });
    expect(bedrockMock.commandCalls(ConverseStreamCommand)).toHaveLength(1);
    expect(queue.events.map((e) => e.action)).toEqual(["error"]);
  });

  it("a run that cannot begin (history unreadable) ends with one error event and is not left to SQS: no failure reported, no second run", async () => {
    const history = { loadConversation: () => Promise.reject(new Error("history table unreachable")) } as unknown as HistoryStore;
    const { worker, queue, errorCodes } = await newWorker(undefined, { history });
    const body = JSON.stringify(request);
    expect(await worker(sqsEvent(workRecord(body, "sqs-1")), context)).toEqual({ batchItemFailures: [] });
    expect(await worker(sqsEvent(workRecord(body, "sqs-1")), context)).toEqual({ batchItemFailures: [] });
    expect(queue.events.map((e) => e.action)).toEqual(["error"]);
    expect(errorCodes).toEqual(["INTERNAL_ERROR"]);
    expect(bedrockMock.commandCalls(ConverseStreamCommand)).toHaveLength(0);
  });

  it("a batch of only a malformed record returns it as a failure (no throw) and counts the error", async () => {
    const { worker, errorCodes } = await newWorker();
    expect(await worker(sqsEvent(workRecord('{"sessionId":"x"}', "sqs-only")), context)).toEqual({ batchItemFailures: [{ itemIdentifier: "sqs-only" }] });
    expect(errorCodes).toEqual(["MALFORMED_REQUEST"]);
    expect(bedrockMock.commandCalls(ConverseStreamCommand)).toHaveLength(0);
  });

  it("the same messageId from another user or session is a different message", async () => {
    bedrockMock.on(ConverseStreamCommand).callsFake(async () => ({ stream: converseStream(textStream(["ok"])) }));
    const { worker } = await newWorker();
    await worker(sqsEvent(workRecord(JSON.stringify(request), "sqs-1")), context);
    await worker(sqsEvent(workRecord(JSON.stringify({ ...request, userId: "someone-else" }), "sqs-2")), context);
    await worker(sqsEvent(workRecord(JSON.stringify({ ...request, sessionId: "session-0002" }), "sqs-3")), context);
    expect(bedrockMock.commandCalls(ConverseStreamCommand)).toHaveLength(3);
  });

  it("invocations running side by side (as the local poller may run them) keep their own batch results", async () => {
    bedrockMock.on(ConverseStreamCommand).callsFake(async () => ({ stream: converseStream(textStream(["a", "b", "c"])) }));
    const { worker } = await newWorker();
    const [good, bad] = await Promise.all([
      worker(sqsEvent(workRecord(JSON.stringify({ ...request, messageId: "message-par1" }), "sqs-good")), context),
      worker(sqsEvent(workRecord("nope", "sqs-bad")), context),
    ]);
    expect(good).toEqual({ batchItemFailures: [] });
    expect(bad).toEqual({ batchItemFailures: [{ itemIdentifier: "sqs-bad" }] });
  });

  it("ends a generation that would outlive the Lambda with an error event before the deadline", async () => {
    bedrockMock.on(ConverseStreamCommand).callsFake(async () => ({
      stream: (async function* () {
        for (let i = 0; ; i++) {
          await new Promise((r) => setTimeout(r, 100));
          yield { contentBlockDelta: { contentBlockIndex: 0, delta: { text: `t${i} ` } } };
        }
      })(),
    }));
    const { worker, queue } = await newWorker(4000);
    const started = Date.now();
    // 5 s left, 4 s kept back: the generation is cut after about 1 s.
    const result = await worker(sqsEvent(workRecord(JSON.stringify(request), "sqs-slow")), { ...context, getRemainingTimeInMillis: () => 5000 } as Context);
    expect(result).toEqual({ batchItemFailures: [] });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(queue.events.at(-1)).toMatchObject({ action: "error", data: { code: "MODEL_TIMEOUT" } });
    expect(queue.events.length).toBeGreaterThan(1);
  });

  it("with the sink down (every publish hangs), stops publishing at the publishing deadline and returns before the Lambda would time out", async () => {
    bedrockMock.on(ConverseStreamCommand).callsFake(async () => ({
      stream: (async function* () {
        for (let i = 0; ; i++) {
          await new Promise((r) => setTimeout(r, 50));
          yield { contentBlockDelta: { contentBlockIndex: 0, delta: { text: `t${i} ` } } };
        }
      })(),
    }));
    let started = 0;
    let startedAfterDeadline = 0;
    let deadlineFired = false;
    const hanging: EventPublisher = {
      publish(_event, options) {
        started++;
        if (deadlineFired) startedAfterDeadline++;
        options?.signal?.addEventListener("abort", () => (deadlineFired = true), { once: true });
        return new Promise<void>(() => {});
      },
    };
    // 5 s left: Bedrock is aborted at 1 s (4 s kept back), publishing stops at 2 s (3 s kept back).
    const { worker, errorCodes } = await newWorker(4000, { publishMarginMs: 3000, queue: hanging });
    const t0 = Date.now();
    const result = await worker(sqsEvent(workRecord(JSON.stringify(request), "sqs-down")), { ...context, getRemainingTimeInMillis: () => 5000 } as Context);
    const elapsed = Date.now() - t0;
    expect(result).toEqual({ batchItemFailures: [] });
    expect(elapsed).toBeGreaterThanOrEqual(1900);
    expect(elapsed).toBeLessThan(3500);
    expect(started).toBe(1);
    expect(startedAfterDeadline).toBe(0);
    // The hung token, the chunks behind it and the error event: all counted lost to the deadline.
    expect(errorCodes.filter((c) => c === "DEADLINE").length).toBeGreaterThan(2);
    expect(errorCodes).toContain("MODEL_TIMEOUT");
  });

  it("handles N records: reports only the malformed ones and generates the rest", async () => {
    bedrockMock.on(ConverseStreamCommand).callsFake(async () => ({ stream: converseStream(textStream(["ok"])) }));
    const { worker, queue } = await newWorker();
    const result = await worker(
      sqsEvent(
        workRecord(JSON.stringify({ ...request, messageId: "message-000a" }), "sqs-a"),
        workRecord("{not json", "sqs-bad-json"),
        workRecord(JSON.stringify({ ...request, messageId: "bad id!" }), "sqs-bad-id"),
        workRecord(JSON.stringify({ ...request, messageId: "message-000b" }), "sqs-b"),
      ),
      context,
    );
    expect(result.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(["sqs-bad-id", "sqs-bad-json"]);
    expect(bedrockMock.commandCalls(ConverseStreamCommand)).toHaveLength(2);
    const finals = queue.events.filter((e) => e.action === "final_response").map((e) => e.data.messageId);
    expect(finals).toEqual(["message-000a", "message-000b"]);
  });
});
