/**
 * Brings the relay's failed records back soon. SQS keeps a record reported as failed hidden for the rest of its
 * visibility timeout (6x the function timeout: minutes), and on a FIFO queue that freezes the session's stream; so the
 * relay shortens it with ChangeMessageVisibility: a backoff growing with the receive count, best effort (a failure
 * here only means the record waits the full timeout, as it would anyway).
 */
import { ChangeMessageVisibilityBatchCommand, GetQueueUrlCommand, SQSClient, type SQSClientConfig } from "@aws-sdk/client-sqs";
import type { SQSRecord } from "aws-lambda";
import type { RuntimeLogger } from "../shared/telemetry";

/** Seconds per receive so far: 2 s after the first failure, 4 s after the second, ... */
export const RETRY_STEP_SECONDS = 2;
/** Longest backoff a failed record gets. */
export const RETRY_MAX_SECONDS = 30;
/** ChangeMessageVisibilityBatch takes at most this many entries. */
const MAX_BATCH_ENTRIES = 10;

/**
 * The relay's SQS client. `useQueueUrlAsEndpoint: false`: calls go to the configured endpoint (the regional default,
 * or AWS_ENDPOINT_URL_SQS locally), not to the QueueUrl's host, which a local stand-in names `sqs.<region>.localhost`.
 */
export function createRelaySqsClient(config: SQSClientConfig = {}): SQSClient {
  return new SQSClient({ ...config, useQueueUrlAsEndpoint: false });
}

/** The visibility timeout for a record that failed on its `receiveCount`-th receive: 2 s x receive count, capped at 30 s. */
export function retryDelaySeconds(receiveCount: number): number {
  const n = Number.isFinite(receiveCount) && receiveCount >= 1 ? Math.floor(receiveCount) : 1;
  return Math.min(RETRY_MAX_SECONDS, RETRY_STEP_SECONDS * n);
}

export interface QueueArnParts {
  region: string;
  account: string;
  name: string;
}

/** `arn:<partition>:sqs:<region>:<account>:<name>`, or undefined for anything else. */
export function parseQueueArn(arn: string): QueueArnParts | undefined {
  const match = /^arn:[^:]+:sqs:([^:]+):(\d{12}):([^:]+)$/.exec(arn);
  return match ? { region: match[1]!, account: match[2]!, name: match[3]! } : undefined;
}

/** The public AWS form of a queue's URL; only a fallback (a local stand-in uses another form). */
export function awsQueueUrl({ region, account, name }: QueueArnParts): string {
  return `https://sqs.${region}.amazonaws.com/${account}/${name}`;
}

export interface RetryDelay {
  record: SQSRecord;
  /** Visibility timeout to set, from now. */
  delaySeconds: number;
}

export interface RedeliveryOptions {
  sqs: SQSClient;
  logger: RuntimeLogger;
  /** Bound on each SQS call, so this never eats into the invocation's time (default 2000 ms). */
  callTimeoutMs?: number;
}

/** Sets the visibility of failed records; never throws. */
export type RedeliveryScheduler = (delays: RetryDelay[]) => Promise<void>;

export function createRedeliveryScheduler({ sqs, logger, callTimeoutMs = 2000 }: RedeliveryOptions): RedeliveryScheduler {
  // Queue URLs by ARN: GetQueueUrl gives the right form on AWS and locally alike; asked once per queue.
  const urls = new Map<string, string>();

  async function queueUrl(arn: string): Promise<string | undefined> {
    const known = urls.get(arn);
    if (known) return known;
    const parts = parseQueueArn(arn);
    if (!parts) return undefined;
    try {
      const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: parts.name, QueueOwnerAWSAccountId: parts.account }), {
        abortSignal: AbortSignal.timeout(callTimeoutMs),
      });
      if (QueueUrl) {
        urls.set(arn, QueueUrl);
        return QueueUrl;
      }
    } catch (error) {
      logger.warn("GetQueueUrl failed; using the queue's AWS URL form", { queueArn: arn, error });
    }
    // Not cached: the next failure asks GetQueueUrl again.
    return awsQueueUrl(parts);
  }

  return async (delays) => {
    const byQueue = new Map<string, RetryDelay[]>();
    for (const d of delays) byQueue.set(d.record.eventSourceARN, [...(byQueue.get(d.record.eventSourceARN) ?? []), d]);
    for (const [arn, items] of byQueue) {
      try {
        const url = await queueUrl(arn);
        if (!url) continue;
        for (let i = 0; i < items.length; i += MAX_BATCH_ENTRIES) {
          const entries = items.slice(i, i + MAX_BATCH_ENTRIES).map(({ record, delaySeconds }, n) => ({ Id: String(i + n), ReceiptHandle: record.receiptHandle, VisibilityTimeout: delaySeconds }));
          const result = await sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: url, Entries: entries }), { abortSignal: AbortSignal.timeout(callTimeoutMs) });
          if (result.Failed?.length) logger.warn("some failed records keep their full visibility timeout", { queueArn: arn, failed: result.Failed });
        }
      } catch (error) {
        logger.warn("could not shorten the visibility of failed records; they wait the full timeout", { queueArn: arn, error });
      }
    }
  };
}
