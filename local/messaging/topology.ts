/**
 * Creates the deployed stack's messaging topology through the SNS/SQS APIs (so it works against any endpoint):
 * inbound topic -> work queue (+ DLQ), outbound topic -> outbound queue (+ DLQ), raw message delivery, redrive after
 * queue.max_receive_count (the outbound queue: the relay's backstop, see config/messaging.ts), the configured visibility timeout, and FIFO everywhere when queue.fifo;
 * with ingress = "async" also the worker's on-failure queue.
 */
import { CreateTopicCommand, SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { CONTENT_BASED_DEDUPLICATION, DLQ_RETENTION_SECONDS, FIFO_QUEUE_SETTINGS, RAW_MESSAGE_DELIVERY, outboundMaxReceiveCount, redrivePolicy } from "../../config/messaging";
import { resourceNames } from "../../config/names";
import type { EnvironmentConfig } from "../../config/schema";

export interface QueuePair {
  url: string;
  arn: string;
  dlqUrl: string;
  dlqArn: string;
  /** The queue's name (ends in .fifo when FIFO). */
  name: string;
}

export interface MessagingTopology {
  topics: { inboundArn: string; outboundArn: string };
  queues: { work: QueuePair; outbound: QueuePair };
  /** The worker's on-failure destination; only with ingress = "async" (a standard queue, as Lambda requires). */
  asyncFailures?: { url: string; arn: string; name: string };
}

async function createQueue(sqs: SQSClient, name: string, attributes: Record<string, string>): Promise<{ url: string; arn: string }> {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }));
  return { url: QueueUrl!, arn: Attributes!.QueueArn! };
}

export async function provisionTopology(config: EnvironmentConfig, clients: { sns: SNSClient; sqs: SQSClient }): Promise<MessagingTopology> {
  const { sns, sqs } = clients;
  const names = resourceNames(config);
  const fifoQueue: Record<string, string> = config.queue.fifo
    ? {
        FifoQueue: "true",
        ContentBasedDeduplication: String(CONTENT_BASED_DEDUPLICATION),
        DeduplicationScope: FIFO_QUEUE_SETTINGS.deduplicationScope,
        FifoThroughputLimit: FIFO_QUEUE_SETTINGS.fifoThroughputLimit,
      }
    : {};
  const fifoTopic: Record<string, string> = config.queue.fifo ? { FifoTopic: "true", ContentBasedDeduplication: String(CONTENT_BASED_DEDUPLICATION) } : {};

  const pair = async (queueName: string, dlqName: string, maxReceiveCount: number): Promise<QueuePair> => {
    const dlq = await createQueue(sqs, dlqName, { ...fifoQueue, MessageRetentionPeriod: String(DLQ_RETENTION_SECONDS) });
    const queue = await createQueue(sqs, queueName, {
      ...fifoQueue,
      VisibilityTimeout: String(config.queue.visibility_timeout_seconds),
      RedrivePolicy: redrivePolicy(dlq.arn, maxReceiveCount),
    });
    // The deployed DLQ also gets a RedriveAllowPolicy (byQueue); fauxqs rejects that attribute, and nothing here depends on it.
    return { url: queue.url, arn: queue.arn, dlqUrl: dlq.url, dlqArn: dlq.arn, name: queueName };
  };

  const topic = async (name: string, queueArn: string): Promise<string> => {
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: name, Attributes: fifoTopic }));
    await sns.send(new SubscribeCommand({ TopicArn, Protocol: "sqs", Endpoint: queueArn, Attributes: { RawMessageDelivery: String(RAW_MESSAGE_DELIVERY) }, ReturnSubscriptionArn: true }));
    return TopicArn!;
  };

  const work = await pair(names.workQueue, names.workDeadLetterQueue, config.queue.max_receive_count);
  const outbound = await pair(names.outboundQueue, names.outboundDeadLetterQueue, outboundMaxReceiveCount(config.queue.relay_retry_seconds, config.queue.max_receive_count));
  const inboundArn = await topic(names.inboundTopic, work.arn);
  const outboundArn = await topic(names.outboundTopic, outbound.arn);
  const asyncFailures =
    config.ingress === "async" ? { ...(await createQueue(sqs, names.asyncFailureQueue, { MessageRetentionPeriod: String(DLQ_RETENTION_SECONDS) })), name: names.asyncFailureQueue } : undefined;
  return { topics: { inboundArn, outboundArn }, queues: { work, outbound }, ...(asyncFailures ? { asyncFailures } : {}) };
}
