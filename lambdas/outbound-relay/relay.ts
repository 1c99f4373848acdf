/**
 * The outbound queue consumer: publishes each queued event to AppSync with the same signed publisher the worker uses.
 * A batch is ordered by session, message and event sequence (final/error last); failures are reported per record
 * (ReportBatchItemFailures) so only those are retried and poison records reach the DLQ; a transient failure holds back
 * the rest of that session only. On a FIFO queue, once a record of a message group fails, every later record of that
 * group is reported too, so order holds across batches. Failed records come back after a short backoff (see
 * redelivery.ts) instead of the queue's long visibility timeout, and the records held back behind them come back
 * with them. The retry budget is measured in time: an event still failing `retryWindowSeconds` after it was queued
 * is moved to the DLQ by the relay itself (deadLetters.ts), and so are the events of its message held back behind it
 * that are past the window too; being held back costs a record nothing.
 *
 * Hand-rolled on purpose, not Powertools' `SqsFifoPartialProcessor({ skipGroupOnError })`, which takes records in
 * arrival order and knows only FIFO message groups. This relay also: reorders a batch by session, message and
 * sequence number (final/error last), since a standard queue hands a message's events over in any order;
 * holds back the rest of a session after a transient failure on standard (non-FIFO) queues too; watches the
 * invocation deadline and reports what it cannot publish in time; and sets a visibility backoff on the records it
 * reports. "Simplifying" it to the processor loses the order of a stream.
 */
import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { EVENT_ACTIONS, parseEvent, type StreamEvent } from "../../contracts/streamEvents";
import type { EventPublisher } from "../shared/eventPublisher";
import type { RuntimeLogger, RuntimeMetrics } from "../shared/telemetry";
import { AppSyncPublishError } from "../shared/appsyncPublisher";
import type { DeadLetterMover } from "./deadLetters";
import { recordAgeSeconds, retryDelaySeconds, type RedeliveryScheduler, type RetryDelay } from "./redelivery";

export interface RelayDeps {
  publisher: EventPublisher;
  logger: RuntimeLogger;
  metrics: RuntimeMetrics;
  /** Milliseconds left in this invocation (Lambda's context.getRemainingTimeInMillis); unbounded when absent. */
  remainingTimeMs?: () => number;
  /** Shortens the failed records' visibility timeout; absent = they wait the queue's full timeout. */
  redelivery?: RedeliveryScheduler;
  /** How long an event may keep failing before it is dead-lettered; with `deadLetters`. Absent: SQS's receive count decides. */
  retryWindowSeconds?: number;
  /** Moves expired records to the DLQ. */
  deadLetters?: DeadLetterMover;
  /** Clock (ms), for tests. */
  now?: () => number;
}

/** Time one publish may take with all its retries (the publisher's total budget) plus a margin to answer SQS. */
export const PUBLISH_TIME_RESERVE_MS = 10_000;

interface Parsed {
  record: SQSRecord;
  event: StreamEvent;
  /** Position in the batch as delivered. */
  arrival: number;
  /** FIFO message group, undefined on a standard queue. */
  group?: string;
}

/**
 * Position of an event within its message: its eventSequence (envelope version 3: every kind, the end last); from an
 * older producer tokens by sequence number, the final or error event after all of them.
 */
function rank(event: StreamEvent): number {
  if (event.data.eventSequence !== undefined) return event.data.eventSequence;
  return event.action === EVENT_ACTIONS.token ? event.data.token.sequenceNumber : Number.MAX_SAFE_INTEGER;
}

/** Orders a batch: sessions together, messages in the order they first appear, events by rank; stable otherwise. */
export function orderForPublishing<T extends { event: StreamEvent; arrival: number }>(items: T[]): T[] {
  const messageOrder = new Map<string, number>();
  for (const { event } of items) if (!messageOrder.has(event.data.messageId)) messageOrder.set(event.data.messageId, messageOrder.size);
  return [...items].sort(
    (a, b) =>
      a.event.data.sessionId.localeCompare(b.event.data.sessionId) ||
      messageOrder.get(a.event.data.messageId)! - messageOrder.get(b.event.data.messageId)! ||
      rank(a.event) - rank(b.event) ||
      a.arrival - b.arrival,
  );
}

const fifoGroup = (record: SQSRecord): string | undefined => record.attributes?.MessageGroupId || undefined;

/**
 * Relays one batch: parses every record, publishes the events in order and reports the records that failed or were
 * held back, after asking for their visibility backoff.
 */
export async function relayBatch(batch: SQSEvent, deps: RelayDeps): Promise<SQSBatchResponse> {
  const failed = new FailedRecords();
  const { parsed, blockedFrom } = parseRecords(batch, deps, failed);
  const { relayed, expired } = await publishInOrder(parsed, blockedFrom, deps, failed);
  deps.metrics.addMetric("EventsRelayed", "Count", relayed);
  await deadLetterExpired(expired, deps, failed);
  if (failed.delays.length && deps.redelivery) await deps.redelivery(failed.delays);
  return { batchItemFailures: failed.items };
}

/** Moves the expired records to the DLQ (and so off the queue); what could not be moved is reported for another try. */
async function deadLetterExpired(expired: SQSRecord[], deps: RelayDeps, failed: FailedRecords): Promise<void> {
  if (!expired.length || !deps.deadLetters) return;
  const left = await deps.deadLetters(expired);
  const moved = expired.length - left.length;
  if (moved) {
    deps.metrics.addMetric("EventsDeadLettered", "Count", moved);
    deps.logger.error("events still failing after the retry window were moved to the DLQ; clients reach them through Query.message", { moved, retryWindowSeconds: deps.retryWindowSeconds });
  }
  for (const record of left) failed.add(record, retryDelaySeconds(recordAgeSeconds(record, (deps.now ?? Date.now)())));
}

/** The records reported back to SQS, each with the visibility backoff it gets. */
class FailedRecords {
  readonly items: SQSBatchItemFailure[] = [];
  readonly delays: RetryDelay[] = [];

  /** Reports `record`; it comes back after `delaySeconds`. */
  add(record: SQSRecord, delaySeconds: number): void {
    this.items.push({ itemIdentifier: record.messageId });
    this.delays.push({ record, delaySeconds });
  }
}

interface ParsedBatch {
  parsed: Parsed[];
  /** FIFO groups blocked from a given arrival position on (a malformed record there). */
  blockedFrom: Map<string, number>;
}

/** Parses every record; a malformed one is reported at once (no backoff) and blocks the later records of its FIFO group. */
function parseRecords(batch: SQSEvent, { logger, metrics }: RelayDeps, failed: FailedRecords): ParsedBatch {
  const parsed: Parsed[] = [];
  const blockedFrom = new Map<string, number>();
  batch.Records.forEach((record, arrival) => {
    const group = fifoGroup(record);
    try {
      parsed.push({ record, event: parseEvent(record.body), arrival, group });
    } catch (error) {
      metrics.countError("MALFORMED_EVENT");
      logger.error("malformed event; reported as failed so it reaches the DLQ", { sqsMessageId: record.messageId, error });
      // It can never succeed: no reason to wait before the receives that take it to the DLQ.
      failed.add(record, 0);
      if (group !== undefined && !blockedFrom.has(group)) blockedFrom.set(group, arrival);
    }
  });
  return { parsed, blockedFrom };
}

/** What one pass over the batch leaves: how many went out, and the failed records past their retry window. */
interface PublishOutcome {
  relayed: number;
  expired: SQSRecord[];
}

/**
 * Publishes the events in order, one at a time. A failure holds back the rest of its session (and FIFO group), which
 * come back with the failed record; the deadline holds back the rest of the batch.
 */
async function publishInOrder(parsed: Parsed[], blockedFrom: Map<string, number>, deps: RelayDeps, failed: FailedRecords): Promise<PublishOutcome> {
  const now = (deps.now ?? Date.now)();
  const failedGroups = new Set<string>();
  // A transient failure holds back the rest of its session (its order holds) but never another session's events;
  // a permanent rejection does not, or the session's later events would follow it to the DLQ. Value: their backoff.
  // Keyed by user and session: session ids are the clients' own, so two users may share one.
  const failedSessions = new Map<string, number>();
  // Messages whose event just failed past the window: their held-back events past it too go to the DLQ with it, not
  // one per backoff (up to 30 s each), which would keep a dead stream in the queue for minutes. A later message of the
  // session still gets its own try.
  const expiredMessages = new Set<string>();
  const pastWindow = (record: SQSRecord) => deps.retryWindowSeconds !== undefined && recordAgeSeconds(record, now) >= deps.retryWindowSeconds;
  const outOfTime = () => (deps.remainingTimeMs?.() ?? Infinity) < PUBLISH_TIME_RESERVE_MS;
  const outcome: PublishOutcome = { relayed: 0, expired: [] };
  for (const { record, event, group, arrival } of orderForPublishing(parsed)) {
    const session = sessionKey(event);
    const message = `${session}\u0000${event.data.messageId}`;
    const backoff = retryDelaySeconds(recordAgeSeconds(record, now));
    const groupBlocked = group !== undefined && (failedGroups.has(group) || (blockedFrom.get(group) ?? Infinity) < arrival);
    if (expiredMessages.has(message) && pastWindow(record)) {
      outcome.expired.push(record);
      continue;
    }
    // Out of time (e.g. a long AppSync outage): leave the rest for SQS to redeliver rather than be cut off mid-batch.
    if (groupBlocked || failedSessions.has(session) || outOfTime()) {
      failed.add(record, failedSessions.get(session) ?? backoff);
      continue;
    }
    const error = await publishOne(record, event, deps);
    if (error === undefined) {
      outcome.relayed++;
      continue;
    }
    const retryable = !(error instanceof AppSyncPublishError) || error.retryable;
    const expired = pastWindow(record);
    if (expired) outcome.expired.push(record);
    else failed.add(record, backoff);
    if (retryable && expired) expiredMessages.add(message);
    if (retryable) failedSessions.set(session, backoff);
    if (group !== undefined) failedGroups.add(group);
  }
  return outcome;
}

/** A session as the relay holds it back: its user's and its own id. */
const sessionKey = (event: StreamEvent): string => `${event.userId}\u0000${event.data.sessionId}`;

/** Publishes one event; returns the error when it failed (counted and logged). */
async function publishOne(record: SQSRecord, event: StreamEvent, { publisher, logger, metrics }: RelayDeps): Promise<unknown> {
  try {
    await publisher.publish(event);
    return undefined;
  } catch (error) {
    metrics.countError("RELAY_PUBLISH_FAILED");
    logger.error("event could not be published; reported for retry", { sqsMessageId: record.messageId, sessionId: event.data.sessionId, messageId: event.data.messageId, action: event.action, error });
    return error ?? new Error("publish failed");
  }
}
