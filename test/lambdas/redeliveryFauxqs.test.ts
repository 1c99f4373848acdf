/** The relay's redelivery backoff against fauxqs, the local SQS (its own file: aws-sdk-client-mock would mock every SQSClient). */
import { PublishCommand } from "@aws-sdk/client-sns";
import { ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { loadEnvironment } from "../../config/load";
import { serializeEvent, type StreamEvent, type TokenEvent } from "../../contracts/streamEvents";
import { createDeadLetterMover } from "../../lambdas/outbound-relay/deadLetters";
import { createQueueUrls } from "../../lambdas/outbound-relay/queueUrls";
import { createRedeliveryScheduler, createRelaySqsClient } from "../../lambdas/outbound-relay/redelivery";
import { relayBatch } from "../../lambdas/outbound-relay/relay";
import { startMessaging, type LocalMessaging } from "../../local/messaging";
import { sqsEvent, sqsRecord } from "../support/sqsRecords";
import { recordingPublisher, recordingTelemetry } from "./support/workerFixtures";

const token = (sessionId: string, sequenceNumber: number): StreamEvent => ({
  action: "on_new_llm_token",
  userId: "user-1",
  timestamp: "2026-01-01T00:00:00.000Z",
  data: { sessionId, messageId: "message-0001", token: { runId: "run-1", sequenceNumber, value: `v${sequenceNumber}` } },
});

describe("relay redelivery backoff against fauxqs (the local SQS)", () => {
  let messaging: LocalMessaging;
  beforeAll(async () => {
    messaging = await startMessaging(await loadEnvironment("local"));
  });
  afterAll(async () => messaging?.close());

  it("a failed record is visible again after its backoff, though the queue's visibility timeout is minutes", async () => {
    const { sqs } = messaging.clients;
    const { url, arn } = messaging.queues.outbound;
    const isFifo = url.endsWith(".fifo");
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: serializeEvent(token("session-live", 0)), ...(isFifo ? { MessageGroupId: "g", MessageDeduplicationId: "d" } : {}) }));
    const first = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 2, VisibilityTimeout: 600, MessageSystemAttributeNames: ["All"] }));
    const m = first.Messages![0]!;
    const rec = sqsRecord({ body: m.Body!, messageId: m.MessageId!, receiptHandle: m.ReceiptHandle!, eventSourceARN: arn, region: messaging.region });
    const { logger, metrics, logs } = recordingTelemetry();
    // The client as the handler builds it, its endpoint from AWS_ENDPOINT_URL_SQS as in the local stack (fauxqs's queue
    // URLs name sqs.<region>.localhost, which does not resolve).
    const saved = { endpoint: process.env.AWS_ENDPOINT_URL_SQS, region: process.env.AWS_REGION };
    process.env.AWS_ENDPOINT_URL_SQS = messaging.endpoint;
    process.env.AWS_REGION = messaging.region;
    const client = createRelaySqsClient({ credentials: { accessKeyId: "a", secretAccessKey: "b" } });
    try {
      const started = Date.now();
      const result = await relayBatch(sqsEvent(rec), { publisher: recordingPublisher(() => new Error("down")), logger, metrics, redelivery: createRedeliveryScheduler({ sqs: client, logger }) });
      expect(result.batchItemFailures).toHaveLength(1);
      expect(logs.filter((l) => l.level === "warn")).toEqual([]);
      let again: string | undefined;
      while (!again && Date.now() - started < 10_000) {
        const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 1, MessageSystemAttributeNames: ["All"] }));
        again = res.Messages?.[0]?.Attributes?.ApproximateReceiveCount;
      }
      expect(again).toBe("2");
      // 2 s for the first receive: not sooner.
      expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    } finally {
      client.destroy();
      for (const [key, value] of [["AWS_ENDPOINT_URL_SQS", saved.endpoint], ["AWS_REGION", saved.region]] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });

  it("an event still failing after the retry window goes to the queue's own DLQ (its RedrivePolicy), not back to the queue", async () => {
    const { sqs } = messaging.clients;
    const { url, arn, dlqUrl } = messaging.queues.outbound;
    const isFifo = url.endsWith(".fifo");
    // An answer with emoji: fauxqs's SendMessage refuses characters beyond the BMP, so the relay escapes them.
    const base = token("session-old", 0) as TokenEvent;
    const event: TokenEvent = { ...base, data: { ...base.data, token: { ...base.data.token, value: "done 🚀👩‍👩‍👧" } } };
    const body = serializeEvent(event);
    // Through the outbound topic, as the worker publishes (fauxqs's SendMessage would refuse the emoji itself).
    await messaging.clients.sns.send(new PublishCommand({ TopicArn: messaging.topics.outboundArn, Message: body, ...(isFifo ? { MessageGroupId: "g2", MessageDeduplicationId: "d2" } : {}) }));
    const m = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 2, MessageSystemAttributeNames: ["All"] }))).Messages![0]!;
    const sentAt = Number(m.Attributes!.SentTimestamp);
    const rec = sqsRecord({ body: m.Body!, messageId: m.MessageId!, receiptHandle: m.ReceiptHandle!, eventSourceARN: arn, region: messaging.region, sentAt, ...(isFifo ? { messageGroupId: "g2" } : {}) });
    const { logger, metrics } = recordingTelemetry();
    const client = createRelaySqsClient({ credentials: { accessKeyId: "a", secretAccessKey: "b" }, endpoint: messaging.endpoint, region: messaging.region });
    try {
      const queueUrls = createQueueUrls({ sqs: client, logger, callTimeoutMs: 2000 });
      const deps = { publisher: recordingPublisher(() => new Error("down")), logger, metrics, retryWindowSeconds: 60, deadLetters: createDeadLetterMover({ sqs: client, queueUrls, logger }) };
      // Younger than the window: reported for another try.
      expect((await relayBatch(sqsEvent(rec), { ...deps, now: () => sentAt + 59_000 })).batchItemFailures).toHaveLength(1);
      // Past it: moved to the DLQ, so not reported (SQS deletes it from the queue).
      expect((await relayBatch(sqsEvent(rec), { ...deps, now: () => sentAt + 61_000 })).batchItemFailures).toEqual([]);
      const dead = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, WaitTimeSeconds: 2 }));
      expect(dead.Messages?.map((d) => JSON.parse(d.Body!))).toEqual([event]);
    } finally {
      client.destroy();
    }
  });
});
