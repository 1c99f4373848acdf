/** Topic and queue settings shared by the deployed stack (modules/messaging.ts) and the local one (local/messaging/topology.ts). */

/** DLQs keep failed messages for the longest time SQS allows (14 days), for inspection and redrive. */
export const DLQ_RETENTION_SECONDS = 14 * 24 * 3600;

/** FIFO topics and queues: the publishers always send a deduplication id (messageId + sequence number), so content-based deduplication stays off. */
export const CONTENT_BASED_DEDUPLICATION = false;

/** FIFO queues in high-throughput mode: deduplication and throughput per MessageGroupId (= sessionId). */
export const FIFO_QUEUE_SETTINGS = { deduplicationScope: "messageGroup", fifoThroughputLimit: "perMessageGroupId" } as const;

/** Raw delivery: the consumer reads the publisher's body and attributes, not an SNS envelope. */
export const RAW_MESSAGE_DELIVERY = true;

/** The queue's RedrivePolicy attribute: after maxReceiveCount receives a message moves to the DLQ. */
export function redrivePolicy(deadLetterTargetArn: string, maxReceiveCount: number): string {
  return JSON.stringify({ deadLetterTargetArn, maxReceiveCount });
}

/**
 * The outbound queue's maxReceiveCount: only a backstop (e.g. for a record that crashes the relay), since the relay
 * dead-letters by time (queue.relay_retry_seconds). A record can be received at most once per RELAY_MIN_BACKOFF_SECONDS
 * (the relay's shortest backoff, RETRY_MIN_SECONDS in lambdas/outbound-relay/redelivery.ts; a test keeps them equal)
 * while it waits, so the window holds that many receives, plus queue.max_receive_count after it. Capped at SQS's
 * 1,000, still far above the real count: the backoff grows to 30 s, so even a 3,600 s window holds about 130 receives.
 */
export const RELAY_MIN_BACKOFF_SECONDS = 2;
export function outboundMaxReceiveCount(relayRetrySeconds: number, maxReceiveCount: number): number {
  return Math.min(1000, Math.ceil(relayRetrySeconds / RELAY_MIN_BACKOFF_SECONDS) + maxReceiveCount);
}
