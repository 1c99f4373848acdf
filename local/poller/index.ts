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

/** Starts `concurrency` poll loops on the queue at once, as the Lambda service runs an SQS event source mapping. */
export function startEventSourcePoller(o: EventSourcePollerOptions): EventSourcePoller {
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1 || o.batchSize > 10) throw new Error(`batchSize must be 1-10, got ${o.batchSize}`);
  return new EventSourceMapping(o);
}

/** What one handler run came to: its result, or the error it threw or timed out with. */
type HandlerRun = { threw: false; result: unknown } | { threw: true; error: unknown };

/** The running poller: poll loops that receive a batch, invoke the handler, then delete or release its records. */
class EventSourceMapping implements EventSourcePoller {
  readonly stats: EventSourcePollerStats = { invocations: 0, records: 0, deleted: 0, failedRecords: 0, handlerErrors: 0, inFlight: 0 };
  private readonly listeners = new Set<(outcome: BatchOutcome) => void>();
  private readonly accountId: string;
  private readonly timeoutMs: number;
  private readonly onError: (error: unknown) => void;
  private readonly loops: Promise<void>[];
  private stopping = false;

  constructor(private readonly o: EventSourcePollerOptions) {
    this.accountId = o.queueArn.split(":")[4] ?? "000000000000";
    this.timeoutMs = o.timeoutMs ?? 60000;
    this.onError = o.onError ?? ((e: unknown) => console.error(`[poller ${o.functionName}]`, e));
    this.loops = Array.from({ length: o.concurrency ?? 5 }, () => this.pollLoop());
  }

  onBatch(listener: (outcome: BatchOutcome) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
  }

  /** One poll loop: receive a batch, invoke, repeat until stopped; receive errors are reported and retried. */
  private async pollLoop(): Promise<void> {
    while (!this.stopping) {
      let batch: Message[];
      try {
        batch = await this.receiveBatch();
      } catch (e) {
        if (this.stopping) break;
        this.onError(e);
        await new Promise((r) => setTimeout(r, 250));
        continue;
      }
      if (!batch.length) continue;
      if (this.stopping) {
        // Received while stopping: hand the messages straight back rather than hide them for a visibility timeout.
        await this.changeVisibility(batch, 0).catch(this.onError);
        break;
      }
      await this.invoke(batch);
    }
  }

  /** A long poll for up to batchSize records, topped up by short polls within the batching window. */
  private async receiveBatch(): Promise<Message[]> {
    const { batchSize } = this.o;
    const batch = await this.receive(batchSize, this.o.waitTimeSeconds ?? 1);
    const windowEnd = Date.now() + (this.o.maxBatchingWindowMs ?? 0);
    // Short polls, because a long poll could not be cut at the window's end.
    while (batch.length && batch.length < batchSize && Date.now() < windowEnd && !this.stopping) {
      const more = await this.receive(batchSize - batch.length, 0);
      if (more.length) batch.push(...more);
      else await new Promise((r) => setTimeout(r, Math.min(10, windowEnd - Date.now())));
    }
    return batch;
  }

  private async receive(max: number, wait: number): Promise<Message[]> {
    const res = await this.o.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.o.queueUrl,
        MaxNumberOfMessages: max,
        WaitTimeSeconds: wait,
        MessageSystemAttributeNames: ["All"],
        MessageAttributeNames: ["All"],
      }),
    );
    return res.Messages ?? [];
  }

  private async changeVisibility(messages: Message[], seconds: number): Promise<void> {
    if (!messages.length) return;
    await this.o.sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: this.o.queueUrl,
        Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: seconds })),
      }),
    );
  }

  /** One invocation: run the handler on the batch, settle its records, tell the listeners. */
  private async invoke(messages: Message[]): Promise<void> {
    const event: SQSEvent = { Records: messages.map((m) => toSqsRecord(m, this.o.queueArn, this.o.region)) };
    const started = Date.now();
    this.stats.invocations++;
    this.stats.records += messages.length;
    const run = await this.runHandler(event);
    const failed = run.threw ? event.Records.map((r) => r.messageId) : failedIds(event.Records, run.result, this.o.reportBatchItemFailures ?? true);
    const succeeded = await this.settle(messages, failed);
    const outcome: BatchOutcome = {
      event,
      succeeded,
      failed,
      error: run.threw ? run.error : undefined,
      result: run.threw ? undefined : run.result,
      durationMs: Date.now() - started,
    };
    this.notify(outcome);
  }

  /** Runs the handler under the function's timeout; like Lambda, a run past it fails the whole batch. */
  private async runHandler(event: SQSEvent): Promise<HandlerRun> {
    const { functionName } = this.o;
    let timer: NodeJS.Timeout | undefined;
    this.stats.inFlight++;
    try {
      const context = { ...this.o, timeoutMs: this.timeoutMs, accountId: this.accountId };
      const running = Promise.resolve().then(() => this.o.handler(event, createLambdaContext(context)));
      // The promise cannot be killed, only ignored.
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${functionName}: Task timed out after ${this.timeoutMs / 1000} seconds`)), this.timeoutMs);
      });
      running.catch(() => undefined);
      return { threw: false, result: await Promise.race([running, timedOut]) };
    } catch (error) {
      this.stats.handlerErrors++;
      // Lambda logs a thrown error as the invocation's error; so does the poller.
      this.onError(error);
      return { threw: true, error };
    } finally {
      clearTimeout(timer);
      this.stats.inFlight--;
    }
  }

  /** Deletes the records that succeeded and releases the failed ones after retryDelaySeconds; returns the deleted ids. */
  private async settle(messages: Message[], failed: string[]): Promise<string[]> {
    const done = messages.filter((m) => !failed.includes(m.MessageId!));
    const retry = messages.filter((m) => failed.includes(m.MessageId!));
    try {
      if (done.length) {
        const entries = done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! }));
        await this.o.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: this.o.queueUrl, Entries: entries }));
      }
      if (this.o.retryDelaySeconds !== undefined) await this.changeVisibility(retry, this.o.retryDelaySeconds);
    } catch (e) {
      this.onError(e);
    }
    this.stats.deleted += done.length;
    this.stats.failedRecords += retry.length;
    return done.map((m) => m.MessageId!);
  }

  private notify(outcome: BatchOutcome): void {
    for (const listener of this.listeners) {
      try {
        listener(outcome);
      } catch (e) {
        this.onError(e);
      }
    }
  }
}
