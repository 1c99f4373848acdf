import { ChangeMessageVisibilityBatchCommand, GetQueueUrlCommand, SQSClient } from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import type { StreamEvent } from "../../contracts/streamEvents";
import { parseQueueArn } from "../../lambdas/outbound-relay/queueUrls";
import { RELAY_MIN_BACKOFF_SECONDS, outboundMaxReceiveCount } from "../../config/messaging";
import { createRedeliveryScheduler, RETRY_MIN_SECONDS, retryDelaySeconds } from "../../lambdas/outbound-relay/redelivery";
import { relayBatch } from "../../lambdas/outbound-relay/relay";
import { sqsEvent, sqsRecord } from "../support/sqsRecords";
import { recordingPublisher, recordingTelemetry } from "./support/workerFixtures";

const QUEUE_ARN = "arn:aws:sqs:eu-west-1:123456789012:llm-outbound";
const token = (sessionId: string, sequenceNumber: number): StreamEvent => ({
  action: "on_new_llm_token",
  userId: "user-1",
  timestamp: "2026-01-01T00:00:00.000Z",
  data: { sessionId, messageId: "message-0001", token: { runId: "run-1", sequenceNumber, value: `v${sequenceNumber}` } },
});

const NOW = Date.parse("2026-12-01T12:00:00Z");
/** A record whose event was queued `ageSeconds` before NOW. */
const record = (body: StreamEvent | string, ageSeconds: number, eventSourceARN = QUEUE_ARN) => sqsRecord({ body, sentAt: NOW - ageSeconds * 1000, receiveCount: 1 + Math.floor(ageSeconds / 2), eventSourceARN });

describe("relay redelivery backoff", () => {
  const sqsMock = mockClient(SQSClient);
  const sqs = new SQSClient({ region: "eu-west-1" });
  beforeEach(() => {
    sqsMock.reset();
    sqsMock.on(GetQueueUrlCommand).resolves({ QueueUrl: "http://sqs.eu-west-1.localhost:9999/123456789012/llm-outbound" });
    sqsMock.on(ChangeMessageVisibilityBatchCommand).resolves({ Successful: [], Failed: [] });
  });

  it("a quarter of the event's age so far, between 2 and 30 s, whatever its receive count", () => {
    expect([0, 4, 8, 10, 24, 60, 120, 500].map(retryDelaySeconds)).toEqual([2, 2, 2, 3, 6, 15, 30, 30]);
    expect(retryDelaySeconds(Number.NaN)).toBe(2);
    // The outbound queue's receive backstop assumes this shortest backoff: 120 s of retries hold at most 60 receives.
    expect(RELAY_MIN_BACKOFF_SECONDS).toBe(RETRY_MIN_SECONDS);
    expect(outboundMaxReceiveCount(120, 3)).toBe(63);
    expect(parseQueueArn(QUEUE_ARN)).toEqual({ region: "eu-west-1", account: "123456789012", name: "llm-outbound" });
    expect(parseQueueArn("arn:aws:sns:eu-west-1:123456789012:topic")).toBeUndefined();
  });

  it("the records the relay reports as failed come back after the backoff, not the queue's visibility timeout; published ones are untouched", async () => {
    const failing = [record(token("session-aaaa", 0), 24), record(token("session-aaaa", 1), 4)];
    const fine = record(token("session-bbbb", 0), 1);
    const poison = record("{ not an event", 2);
    const sink = recordingPublisher((e) => (e.data.sessionId === "session-aaaa" ? new Error("appsync down") : undefined));
    const { logger, metrics } = recordingTelemetry();
    const redelivery = createRedeliveryScheduler({ sqs, logger });
    const result = await relayBatch(sqsEvent(failing[0]!, fine, poison, failing[1]!), { publisher: sink, logger, metrics, redelivery, now: () => NOW });
    expect(result.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual([failing[0]!.messageId, failing[1]!.messageId, poison.messageId].sort());

    expect(sqsMock.commandCalls(GetQueueUrlCommand).map((c) => c.args[0].input)).toEqual([{ QueueName: "llm-outbound", QueueOwnerAWSAccountId: "123456789012" }]);
    const [change] = sqsMock.commandCalls(ChangeMessageVisibilityBatchCommand).map((c) => c.args[0].input);
    expect(change!.QueueUrl).toBe("http://sqs.eu-west-1.localhost:9999/123456789012/llm-outbound");
    const byHandle = Object.fromEntries(change!.Entries!.map((e) => [e.ReceiptHandle, e.VisibilityTimeout]));
    // A malformed record can never succeed: straight back, so its receives take it to the DLQ quickly. The record held
    // back behind a failed one comes back with it, whatever its own age.
    expect(byHandle).toEqual({ [failing[0]!.receiptHandle]: 6, [failing[1]!.receiptHandle]: 6, [poison.receiptHandle]: 0 });

    // The queue URL is asked once per queue, not per invocation.
    await relayBatch(sqsEvent(record(token("session-aaaa", 2), 200)), { publisher: sink, logger, metrics, redelivery, now: () => NOW });
    expect(sqsMock.commandCalls(GetQueueUrlCommand)).toHaveLength(1);
    expect(sqsMock.commandCalls(ChangeMessageVisibilityBatchCommand)[1]!.args[0].input.Entries![0]!.VisibilityTimeout).toBe(30);
  });

  it("is best effort: SQS errors are logged and the batch result stands; without GetQueueUrl the AWS URL form is used", async () => {
    sqsMock.on(GetQueueUrlCommand).rejects(Object.assign(new Error("not authorized to perform sqs:GetQueueUrl"), { name: "AccessDenied" }));
    sqsMock.on(ChangeMessageVisibilityBatchCommand).rejects(new Error("sqs down"));
    const failing = record(token("session-aaaa", 0), 1);
    const sink = recordingPublisher(() => new Error("appsync down"));
    const { logger, metrics, logs } = recordingTelemetry();
    const result = await relayBatch(sqsEvent(failing), { publisher: sink, logger, metrics, redelivery: createRedeliveryScheduler({ sqs, logger }) });
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: failing.messageId }] });
    expect(sqsMock.commandCalls(ChangeMessageVisibilityBatchCommand)[0]!.args[0].input.QueueUrl).toBe("https://sqs.eu-west-1.amazonaws.com/123456789012/llm-outbound");
    expect(logs.filter((l) => l.level === "warn").map((l) => l.message)).toEqual([expect.stringMatching(/GetQueueUrl/), expect.stringMatching(/full timeout/)]);
  });

  it("splits more than 10 failed records into batches of 10 and touches nothing when all succeed", async () => {
    const records = Array.from({ length: 12 }, (_, i) => record(token(`session-${String(i).padStart(4, "0")}`, 0), 1));
    const { logger, metrics } = recordingTelemetry();
    const redelivery = createRedeliveryScheduler({ sqs, logger });
    await relayBatch(sqsEvent(...records), { publisher: recordingPublisher(() => new Error("down")), logger, metrics, redelivery });
    expect(sqsMock.commandCalls(ChangeMessageVisibilityBatchCommand).map((c) => c.args[0].input.Entries!.length)).toEqual([10, 2]);
    sqsMock.resetHistory();
    await relayBatch(sqsEvent(record(token("session-ok00", 0), 1)), { publisher: recordingPublisher(), logger, metrics, redelivery });
    expect(sqsMock.calls()).toHaveLength(0);
  });
});
