/**
 * The worker's two ingresses. Queued: each SQS record's body is one work request (raw SNS delivery), and only records
 * that could not be handled are reported back (a malformed body, or a run whose message record could not be ended), so
 * SQS retries just those and then dead-letters them. Async: the event is the work request itself (send-query's Event
 * invocation), validated by the same schema; a failure throws, so Lambda retries it and then sends it to the
 * on-failure destination. Either way each request is generated at most once per messageId (Powertools idempotency).
 */
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import { IdempotencyConfig, makeIdempotent } from "@aws-lambda-powertools/idempotency";
import type { BasePersistenceLayer } from "@aws-lambda-powertools/idempotency/persistence";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { workRequestSchema, type WorkRequest } from "../../contracts/workRequest";
import { generationDeadlines } from "./deadlines";
import { runGeneration, type GenerationDeps, type GenerationOptions, type GenerationSummary } from "./generation";

/** Parses a record body into a work request; throws (so the record fails and eventually dead-letters) when malformed. */
export function parseWorkRequest(body: string): WorkRequest {
  return workRequestSchema.parse(JSON.parse(body));
}

export interface StreamWorkerOptions {
  generation: GenerationDeps;
  /** The idempotency store (DynamoDB in Lambda and locally). */
  persistenceStore: BasePersistenceLayer;
  /** How long a finished message is remembered (default 3600 s). */
  idempotencyExpirySeconds?: number;
  /** Time kept back before the Lambda's deadline to end the message with an error event: Bedrock is aborted then (default 6000 ms). */
  shutdownMarginMs?: number;
  /**
   * Time kept back after which no publish starts and in-flight ones stop (default 3000 ms; at most shutdownMarginMs):
   * enough for the history and idempotency writes, so the invocation never times out and SQS never re-runs the message.
   */
  publishMarginMs?: number;
}

/** An SQS batch (queued ingress) answers with its failures; a work request (async ingress) with what became of it. */
export type StreamWorkerHandler = {
  (event: SQSEvent, context: Context): Promise<SQSBatchResponse>;
  (event: unknown, context: Context): Promise<SQSBatchResponse | GenerationSummary>;
};

/** An SQS event source's batch, as opposed to an async invocation's payload (a work request has no Records). */
export function isSqsEvent(event: unknown): event is SQSEvent {
  return typeof event === "object" && event !== null && Array.isArray((event as { Records?: unknown }).Records);
}

export function createStreamWorker(options: StreamWorkerOptions): StreamWorkerHandler {
  // Keyed on the messageId, scoped to its user and session: a client-chosen id can never suppress someone else's message.
  const config = new IdempotencyConfig({ eventKeyJmesPath: "[userId, sessionId, messageId]", expiresAfterSeconds: options.idempotencyExpirySeconds ?? 3600 });
  // Only the first argument (the request) is hashed into the idempotency key.
  const generate = (request: WorkRequest, deadlines: GenerationOptions = {}): Promise<GenerationSummary> => runGeneration(request, options.generation, deadlines);
  const generateOnce = makeIdempotent(generate, { persistenceStore: options.persistenceStore, config });
  // The async ingress's record is not tied to the invocation: an attempt that crashed leaves it in progress for the
  // whole expiry, longer than Lambda's retries (config/rules.ts asyncRetryWindowProblem), so a retry meets it and fails
  // into the on-failure destination instead of generating a second time over what already streamed.
  const expirySeconds = options.idempotencyExpirySeconds ?? 3600;
  const asyncConfig = new IdempotencyConfig({ eventKeyJmesPath: "[userId, sessionId, messageId]", expiresAfterSeconds: expirySeconds });
  // Said outright rather than left out (Powertools warns without a context): in progress for the record's whole life.
  asyncConfig.registerLambdaContext({ getRemainingTimeInMillis: () => expirySeconds * 1000 } as Context);
  const generateOnceAsync = makeIdempotent(generate, { persistenceStore: options.persistenceStore, config: asyncConfig });
  const withDeadlines = (once: typeof generateOnce, request: WorkRequest, context?: Context): Promise<GenerationSummary> => {
    const remaining = context?.getRemainingTimeInMillis?.();
    return remaining === undefined ? once(request) : once(request, generationDeadlines(remaining, options));
  };
  const parsed = (body: () => unknown, where: Record<string, unknown>): WorkRequest => {
    try {
      return workRequestSchema.parse(body());
    } catch (error) {
      options.generation.metrics.countError("MALFORMED_REQUEST");
      options.generation.logger.error("malformed work request; reported as failed so it reaches the DLQ", { ...where, error });
      throw error;
    }
  };
  const handleRecord = (record: SQSRecord, context?: Context): Promise<GenerationSummary> =>
    withDeadlines(generateOnce, parsed(() => JSON.parse(record.body), { sqsMessageId: record.messageId }), context);

  return (async (event: unknown, context: Context) => {
    if (!isSqsEvent(event)) return withDeadlines(generateOnceAsync, parsed(() => event, { ingress: "async", awsRequestId: context?.awsRequestId }), context);
    // Lets an in-progress record expire with this invocation, so a timed-out attempt can be taken over by a redelivery.
    config.registerLambdaContext(context);
    // Sequential: on a FIFO queue the next message of a session must see the previous turn in history.
    // Always answer with batchItemFailures (never throw on a full failure): the same contract for Lambda and the local poller.
    // A processor per invocation: it holds the batch's state, and the local poller may run invocations side by side.
    return processPartialResponse(event, handleRecord, new BatchProcessor(EventType.SQS), { context, processInParallel: false, throwOnFullBatchFailure: false });
  }) as StreamWorkerHandler;
}
