/**
 * fauxqs with the deployed topology. Under jest fauxqs runs in a child process (jest cannot import the ESM-only
 * package in process); the SNS/SQS clients talk to it over HTTP either way.
 */
import { PublishCommand } from "@aws-sdk/client-sns";
import { DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { resourceNames } from "../../../config/names";
import { LocalMessaging, startMessaging } from "../../../local/messaging";
import { localConfig } from "./localConfig";

let messaging: LocalMessaging | undefined;
afterEach(async () => {
  await messaging?.close();
  messaging = undefined;
});

async function receiveOne(m: LocalMessaging, queueUrl: string, visibility?: number) {
  const res = await m.clients.sqs.send(
    new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 2, MaxNumberOfMessages: 1, VisibilityTimeout: visibility, MessageSystemAttributeNames: ["All"] }),
  );
  return res.Messages?.[0];
}

test("the inbound topic delivers the raw message to the work queue, the outbound topic to the outbound queue", async () => {
  const config = await localConfig();
  messaging = await startMessaging(config);
  const names = resourceNames(config);
  expect(messaging.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect(messaging.topics.inboundArn).toBe(`arn:aws:sns:us-east-1:000000000000:${names.inboundTopic}`);
  expect(messaging.queues.work.arn).toBe(`arn:aws:sqs:us-east-1:000000000000:${names.workQueue}`);

  const body = JSON.stringify({ prompt: 'line 1\nline "2" \\ ✨' });
  await messaging.clients.sns.send(new PublishCommand({ TopicArn: messaging.topics.inboundArn, Message: body }));
  expect((await receiveOne(messaging, messaging.queues.work.url))?.Body).toBe(body);

  await messaging.clients.sns.send(new PublishCommand({ TopicArn: messaging.topics.outboundArn, Message: "out" }));
  expect((await receiveOne(messaging, messaging.queues.outbound.url))?.Body).toBe("out");
  // Nothing crossed over: the outbound message did not reach the work queue.
  const stray = await messaging.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: messaging.queues.work.url, WaitTimeSeconds: 0, VisibilityTimeout: 0 }));
  expect(stray.Messages).toBeUndefined();
});

test("queues carry the configured visibility timeout and redrive policy; the outbound one a backstop above the relay's retry window", async () => {
  const config = await localConfig({ queue: { max_receive_count: 5, visibility_timeout_seconds: 400, relay_retry_seconds: 60 } });
  messaging = await startMessaging(config);
  // 60 s of retries at most every 2 s: 30 receives, plus the work queue's 5.
  for (const [q, maxReceiveCount] of [[messaging.queues.work, 5], [messaging.queues.outbound, 35]] as const) {
    const { Attributes } = await messaging.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: q.url, AttributeNames: ["All"] }));
    expect(Attributes?.VisibilityTimeout).toBe("400");
    expect(JSON.parse(Attributes!.RedrivePolicy!)).toEqual({ deadLetterTargetArn: q.dlqArn, maxReceiveCount });
  }
});

test("a message received max_receive_count times without being deleted moves to the DLQ", async () => {
  const config = await localConfig({ queue: { max_receive_count: 2 } });
  messaging = await startMessaging(config);
  const { work } = messaging.queues;
  await messaging.clients.sqs.send(new SendMessageCommand({ QueueUrl: work.url, MessageBody: "poison" }));
  expect((await receiveOne(messaging, work.url, 0))?.Attributes?.ApproximateReceiveCount).toBe("1");
  expect((await receiveOne(messaging, work.url, 0))?.Attributes?.ApproximateReceiveCount).toBe("2");
  const third = await messaging.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: work.url, WaitTimeSeconds: 0 }));
  expect(third.Messages).toBeUndefined();
  expect((await messaging.depths()).work).toEqual({ visible: 0, inFlight: 0, dead: 1 });
  expect((await receiveOne(messaging, work.dlqUrl))?.Body).toBe("poison");
});

test("FIFO: .fifo names, per-group order through topic and queue, deduplication by id", async () => {
  const config = await localConfig({ queue: { fifo: true } });
  messaging = await startMessaging(config);
  expect(messaging.topics.inboundArn).toMatch(/\.fifo$/);
  expect(messaging.queues.work.url).toMatch(/\.fifo$/);
  expect(messaging.queues.work.dlqUrl).toMatch(/\.fifo$/);
  const { sns, sqs } = messaging.clients;
  const sent: Record<string, string[]> = { "session-a": [], "session-b": [] };
  for (let i = 0; i < 6; i++) {
    for (const group of Object.keys(sent)) {
      const body = `${group}:${i}`;
      sent[group].push(body);
      await sns.send(new PublishCommand({ TopicArn: messaging.topics.inboundArn, Message: body, MessageGroupId: group, MessageDeduplicationId: body }));
    }
  }
  // A retried publish with the same deduplication id is not delivered twice.
  await sns.send(new PublishCommand({ TopicArn: messaging.topics.inboundArn, Message: "session-a:0", MessageGroupId: "session-a", MessageDeduplicationId: "session-a:0" }));

  const got: Record<string, string[]> = { "session-a": [], "session-b": [] };
  const deadline = Date.now() + 10000;
  while (got["session-a"].length + got["session-b"].length < 12 && Date.now() < deadline) {
    const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: messaging.queues.work.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: ["All"] }));
    for (const m of res.Messages ?? []) {
      got[m.Attributes!.MessageGroupId!].push(m.Body!);
      await sqs.send(new DeleteMessageCommand({ QueueUrl: messaging.queues.work.url, ReceiptHandle: m.ReceiptHandle }));
    }
  }
  expect(got).toEqual(sent);
  const rest = await sqs.send(new ReceiveMessageCommand({ QueueUrl: messaging.queues.work.url, WaitTimeSeconds: 0 }));
  expect(rest.Messages).toBeUndefined();
});
