/**
 * Brings the relay's failed records back soon. SQS keeps a record reported as failed hidden for the rest of its
 * visibility timeout (6x the function timeout: minutes), and on a FIFO queue that freezes the session's stream; so the
 * relay shortens it with ChangeMessageVisibility: a backoff growing with the event's age, best effort (a failure
 * here only means the record waits the full timeout, as it would anyway).
 */
import { ChangeMessageVisibilityBatchCommand, SQSClient, type SQSClientConfig } from "@aws-sdk/client-sqs";
import type { SQSRecord } from "aws-lambda";
import type { RuntimeLogger } from "../shared/telemetry";
import { createQueueUrls, type QueueUrls } from "./queueUrls";

/** Shortest backoff: a fresh event is retried after 2 s. */
export const RETRY_MIN_SECONDS = 2;
/** Longest backoff a failed record gets: after an outage the stream resumes within this. */
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

/**
 * The visibility timeout for a failed record whose event has waited `ageSeconds` since it was queued: a quarter of
 * that wait, between 2 and 30 s. Measured in time, not receives: a record held back behind a failed one is received
 * without being tried, and a receive count would make it wait (and dead-letter) for nothing.
 */
export function retryDelaySeconds(ageSeconds: number): number {
  const age = Number.isFinite(ageSeconds) && ageSeconds > 0 ? ageSeconds : 0;
  return Math.min(RETRY_MAX_SECONDS, Math.max(RETRY_MIN_SECONDS, Math.ceil(age / 4)));
}

/** Seconds since the record's event was queued (SQS's SentTimestamp); 0 when unknown. */
export function recordAgeSeconds(record: SQSRecord, now: number): number {
  const sent = Number(record.attributes?.SentTimestamp);
  return Number.isFinite(sent) && sent > 0 ? Math.max(0, (now - sent) / 1000) : 0;
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
  /** Shared queue URL lookups (default: a cache of its own). */
  queueUrls?: QueueUrls;
}

/** Sets the visibility of failed records; never throws. */
export type RedeliveryScheduler = (delays: RetryDelay[]) => Promise<void>;

export function createRedeliveryScheduler({ sqs, logger, callTimeoutMs = 2000, queueUrls }: RedeliveryOptions): RedeliveryScheduler {
  const urls = queueUrls ?? createQueueUrls({ sqs, logger, callTimeoutMs });
  return async (delays) => {
    const byQueue = new Map<string, RetryDelay[]>();
    for (const d of delays) byQueue.set(d.record.eventSourceARN, [...(byQueue.get(d.record.eventSourceARN) ?? []), d]);
    for (const [arn, items] of byQueue) {
      try {
        const url = await urls.urlOf(arn);
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
