/**
 * An SQS event source mapping for the local stack: long-polls a queue, invokes a Lambda handler with real SQS event
 * records and a Lambda-like context, deletes what succeeded and leaves the rest to come back (partial batch
 * responses honoured). fauxqs does not trigger Lambdas, so this stands in for the Lambda service's poller.
 */
import { randomBytes, randomUUID } from "node:crypto";
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  Message,
  MessageAttributeValue,
  ReceiveMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import type { Context, SQSBatchResponse, SQSEvent, SQSMessageAttributes, SQSRecord } from "aws-lambda";

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void | unknown>;

export interface EventSourcePollerOptions {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  region: string;
  /** Records per invocation, 1-10 (as an SQS event source mapping without a batching window beyond 10). */
  batchSize: number;
  handler: SqsHandler;
  functionName: string;
  /** Gather records for up to this long before invoking with a partial batch (MaximumBatchingWindowInSeconds). */
  maxBatchingWindowMs?: number;
  /**
   * Make failed records visible again after this many seconds instead of after the queue's visibility timeout.
   * AWS waits the full timeout (360 s in local.tfvars); tests and the local stack cannot, so they shorten it.
   * Redrive still counts receives, so the DLQ behaviour is unchanged.
   */
  retryDelaySeconds?: number;
  /** Concurrent invocations (Lambda scales out on standard queues; FIFO groups stay sequential regardless). Default 5. */
  concurrency?: number;
  /** ReportBatchItemFailures on the mapping; without it a returned batchItemFailures is ignored. Default true. */
  reportBatchItemFailures?: boolean;
  /** The function's timeout: context.getRemainingTimeInMillis() counts down from it, and a longer run fails the batch. Default 60 s. */
  timeoutMs?: number;
  memoryLimitInMB?: number;
  /** Long-poll wait; short so that stop() returns within about a second. Default 1. */
  waitTimeSeconds?: number;
  /** Errors thrown by the handler and receive/delete errors (the poller keeps going); default: console.error. */
  onError?: (error: unknown) => void;
}

export interface BatchOutcome {
  event: SQSEvent;
  /** messageIds deleted from the queue. */
  succeeded: string[];
  /** messageIds left to come back (all of them when the handler threw). */
  failed: string[];
  error?: unknown;
  result?: unknown;
  durationMs: number;
}

export interface EventSourcePollerStats {
  invocations: number;
  records: number;
  deleted: number;
  failedRecords: number;
  handlerErrors: number;
  inFlight: number;
}

export interface EventSourcePoller {
  readonly stats: EventSourcePollerStats;
  /** Called after every invocation; returns an unsubscribe function. */
  onBatch(listener: (outcome: BatchOutcome) => void): () => void;
  /** Stops polling and waits for in-flight invocations to finish. */
  stop(): Promise<void>;
}

function toLambdaAttributes(attrs: Record<string, MessageAttributeValue> | undefined): SQSMessageAttributes {
  const out: SQSMessageAttributes = {};
  for (const [name, v] of Object.entries(attrs ?? {})) {
    out[name] = {
      dataType: v.DataType ?? "String",
      stringValue: v.StringValue,
      binaryValue: v.BinaryValue ? Buffer.from(v.BinaryValue).toString("base64") : undefined,
      stringListValues: v.StringListValues ?? [],
      binaryListValues: (v.BinaryListValues ?? []).map((b) => Buffer.from(b).toString("base64")),
    };
  }
  return out;
}

/** One SQS record exactly as Lambda delivers it. */
export function toSqsRecord(m: Message, queueArn: string, region: string): SQSRecord {
  const a = m.Attributes ?? {};
  const attributes: SQSRecord["attributes"] = {
    ApproximateReceiveCount: a.ApproximateReceiveCount ?? "1",
    SentTimestamp: a.SentTimestamp ?? String(Date.now()),
    SenderId: a.SenderId ?? queueArn.split(":")[4],
    ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
  };
  if (a.SequenceNumber) attributes.SequenceNumber = a.SequenceNumber;
  if (a.MessageGroupId) attributes.MessageGroupId = a.MessageGroupId;
  if (a.MessageDeduplicationId) attributes.MessageDeduplicationId = a.MessageDeduplicationId;
  if (a.AWSTraceHeader) attributes.AWSTraceHeader = a.AWSTraceHeader;
  const record: SQSRecord = {
    messageId: m.MessageId!,
    receiptHandle: m.ReceiptHandle!,
    body: m.Body ?? "",
    attributes,
    messageAttributes: toLambdaAttributes(m.MessageAttributes),
    md5OfBody: m.MD5OfBody ?? "",
    eventSource: "aws:sqs",
    eventSourceARN: queueArn,
    awsRegion: region,
  };
  if (m.MD5OfMessageAttributes) record.md5OfMessageAttributes = m.MD5OfMessageAttributes;
  return record;
}

export interface LambdaContextOptions {
  functionName: string;
  region: string;
  accountId: string;
  /** The function's timeout, for getRemainingTimeInMillis(). Default 60 s. */
  timeoutMs?: number;
  memoryLimitInMB?: number;
}

/** A context object shaped like Lambda's, with the deadline starting now (also used for the gateway's sendQuery invocations). */
export function createLambdaContext(o: LambdaContextOptions): Context {
  const deadline = Date.now() + (o.timeoutMs ?? 60000);
  const day = new Date().toISOString().slice(0, 10).replace(/-/g, "/");
  const unsupported = () => {
    throw new Error("callback-style completion is not supported; return a promise");
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: o.functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:${o.region}:${o.accountId}:function:${o.functionName}`,
    memoryLimitInMB: String(o.memoryLimitInMB ?? 512),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${o.functionName}`,
    logStreamName: `${day}/[$LATEST]${randomBytes(16).toString("hex")}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
}

/** Which records failed, as Lambda reads a partial batch response: an unknown or empty id fails the whole batch. */
export function failedIds(records: SQSRecord[], result: unknown, reportBatchItemFailures: boolean): string[] {
  const all = records.map((r) => r.messageId);
  if (!reportBatchItemFailures || result === null || typeof result !== "object" || !("batchItemFailures" in result)) return [];
  const failures = (result as SQSBatchResponse).batchItemFailures;
  if (!Array.isArray(failures)) return all;
  const ids = failures.map((f) => f?.itemIdentifier);
  if (ids.some((id) => typeof id !== "string" || !all.includes(id))) return all;
  return all.filter((id) => ids.includes(id));
}

export function startEventSourcePoller(o: EventSourcePollerOptions): EventSourcePoller {
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1 || o.batchSize > 10) throw new Error(`batchSize must be 1-10, got ${o.batchSize}`);
  const accountId = o.queueArn.split(":")[4] ?? "000000000000";
  const concurrency = o.concurrency ?? 5;
  const waitTimeSeconds = o.waitTimeSeconds ?? 1;
  const timeoutMs = o.timeoutMs ?? 60000;
  const report = o.reportBatchItemFailures ?? true;
  const onError = o.onError ?? ((e: unknown) => console.error(`[poller ${o.functionName}]`, e));
  const stats: EventSourcePollerStats = { invocations: 0, records: 0, deleted: 0, failedRecords: 0, handlerErrors: 0, inFlight: 0 };
  const listeners = new Set<(outcome: BatchOutcome) => void>();
  let stopping = false;

  const receive = async (max: number, wait: number): Promise<Message[]> => {
    const res = await o.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: o.queueUrl,
        MaxNumberOfMessages: max,
        WaitTimeSeconds: wait,
        MessageSystemAttributeNames: ["All"],
        MessageAttributeNames: ["All"],
      }),
    );
    return res.Messages ?? [];
  };

  const changeVisibility = async (messages: Message[], seconds: number) => {
    if (!messages.length) return;
    await o.sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: o.queueUrl,
        Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: seconds })),
      }),
    );
  };

  const invoke = async (messages: Message[]) => {
    const event: SQSEvent = { Records: messages.map((m) => toSqsRecord(m, o.queueArn, o.region)) };
    const started = Date.now();
    stats.invocations++;
    stats.records += messages.length;
    stats.inFlight++;
    let result: unknown;
    let error: unknown;
    let threw = false;
    let timer: NodeJS.Timeout | undefined;
    try {
      const running = Promise.resolve().then(() => o.handler(event, createLambdaContext({ ...o, timeoutMs, accountId })));
      // Like Lambda, a run past the function's timeout fails the whole batch; the promise cannot be killed, only ignored.
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${o.functionName}: Task timed out after ${timeoutMs / 1000} seconds`)), timeoutMs);
      });
      running.catch(() => undefined);
      result = await Promise.race([running, timedOut]);
    } catch (e) {
      threw = true;
      error = e;
      stats.handlerErrors++;
      // Lambda logs a thrown error as the invocation's error; so does the poller.
      onError(e);
    } finally {
      clearTimeout(timer);
      stats.inFlight--;
    }
    const failed = threw ? event.Records.map((r) => r.messageId) : failedIds(event.Records, result, report);
    const done = messages.filter((m) => !failed.includes(m.MessageId!));
    const retry = messages.filter((m) => failed.includes(m.MessageId!));
    try {
      if (done.length) {
        await o.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: o.queueUrl, Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
      }
      if (o.retryDelaySeconds !== undefined) await changeVisibility(retry, o.retryDelaySeconds);
    } catch (e) {
      onError(e);
    }
    stats.deleted += done.length;
    stats.failedRecords += retry.length;
    const outcome: BatchOutcome = { event, succeeded: done.map((m) => m.MessageId!), failed, error, result, durationMs: Date.now() - started };
    for (const l of listeners) {
      try {
        l(outcome);
      } catch (e) {
        onError(e);
      }
    }
  };

  const loop = async () => {
    while (!stopping) {
      let batch: Message[];
      try {
        batch = await receive(o.batchSize, waitTimeSeconds);
        const windowEnd = Date.now() + (o.maxBatchingWindowMs ?? 0);
        // Within the batching window, short polls top the batch up (a long poll could not be cut at the window's end).
        while (batch.length && batch.length < o.batchSize && Date.now() < windowEnd && !stopping) {
          const more = await receive(o.batchSize - batch.length, 0);
          if (more.length) batch.push(...more);
          else await new Promise((r) => setTimeout(r, Math.min(10, windowEnd - Date.now())));
        }
      } catch (e) {
        if (stopping) break;
        onError(e);
        await new Promise((r) => setTimeout(r, 250));
        continue;
      }
      if (!batch.length) continue;
      if (stopping) {
        // Received while stopping: hand the messages straight back rather than hide them for a visibility timeout.
        await changeVisibility(batch, 0).catch(onError);
        break;
      }
      await invoke(batch);
    }
  };

  const loops = Array.from({ length: concurrency }, () => loop());
  return {
    stats,
    onBatch(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async stop() {
      stopping = true;
      await Promise.all(loops);
    },
  };
}
