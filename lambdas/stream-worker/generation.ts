/**
 * One generation: Bedrock ConverseStream for a work request, deltas coalesced into token events, delivered direct or
 * queued, ended by a final_response or an error event, the exchange written to history. Generation failures are
 * reported to the user and returned, never thrown, so a failed answer is not re-run by SQS.
 */
import { randomUUID } from "node:crypto";
import { ConverseStreamCommand, type BedrockRuntimeClient, type ConverseStreamOutput, type Message } from "@aws-sdk/client-bedrock-runtime";
import type { StreamEvent, Usage } from "../../contracts/streamEvents";
import type { WorkRequest } from "../../contracts/workRequest";
import type { RuntimeSettings } from "../../contracts/runtimeSettings";
import type { EventPublisher } from "../shared/eventPublisher";
import type { RuntimeLogger, RuntimeMetrics } from "../shared/telemetry";
import { createDeliveryRouter, type DeliveryMode } from "./deliveryRouter";
import { errorEvent, finalEvent, tokenEvent } from "./events";
import { mapGenerationError } from "./generationErrors";
import type { HistoryStore } from "./history";
import { TokenCoalescer } from "./tokenCoalescer";

export type GenerationSettings = Pick<
  RuntimeSettings,
  "directSend" | "fallbackToQueue" | "batchMaxDelayMs" | "batchMaxChars" | "maxTokens" | "temperature" | "systemPrompt"
>;

export interface GenerationDeps {
  bedrock: BedrockRuntimeClient;
  settings: GenerationSettings;
  /** SigV4 publisher to AppSync. */
  direct: EventPublisher;
  /** Outbound topic publisher. */
  queue: EventPublisher;
  /** Absent when history is disabled. */
  history?: HistoryStore;
  logger: RuntimeLogger;
  metrics: RuntimeMetrics;
  /** Clock (ms), for tests. */
  now?: () => number;
  /** Id of one generation run (default crypto.randomUUID), for tests. */
  newRunId?: () => string;
}

/** What the idempotency record stores for a message: a redelivery returns this instead of generating again. */
export interface GenerationSummary {
  messageId: string;
  /** This run's id, as in its events. */
  runId: string;
  outcome: "completed" | "failed";
  errorCode?: string;
  delivery: DeliveryMode;
  fellBackToQueue: boolean;
  chunksPublished: number;
  eventsLost: number;
  lastSequenceNumber: number;
}

/** A union member of the stream that carries an exception (the SDK usually throws these itself). */
function streamException(item: ConverseStreamOutput): Error | undefined {
  for (const [key, value] of Object.entries(item)) {
    if (key.endsWith("Exception") && value) {
      const error = value instanceof Error ? value : Object.assign(new Error(String((value as { message?: string }).message ?? key)), value);
      if (!error.name || error.name === "Error") error.name = key[0]!.toUpperCase() + key.slice(1);
      return error;
    }
  }
  return undefined;
}

export interface GenerationOptions {
  /** Aborts the Bedrock call (e.g. shortly before the Lambda times out), so the message still ends with an error event. */
  abortSignal?: AbortSignal;
  /**
   * The publishing deadline (set it to fire after `abortSignal`, leaving time for the error event): once it fires no
   * publish starts, one in flight stops with its retries, and the events not sent are counted lost (`DEADLINE`).
   */
  publishSignal?: AbortSignal;
}

/** Resolves `work`, or rejects with the signal's reason as soon as `signal` fires (the work's own outcome is then ignored). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  work.catch(() => {}); // a late rejection after the deadline won the race is expected, not unhandled
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

export async function runGeneration(request: WorkRequest, deps: GenerationDeps, options: GenerationOptions = {}): Promise<GenerationSummary> {
  const { settings, logger, metrics } = deps;
  const now = deps.now ?? Date.now;
  const iso = () => new Date(now()).toISOString();
  const started = now();
  const delivery: DeliveryMode = request.delivery ?? (settings.directSend ? "direct" : "queued");
  const router = createDeliveryRouter({ mode: delivery, direct: deps.direct, queue: deps.queue, fallbackToQueue: settings.fallbackToQueue, logger, metrics });
  // A fresh id per run: a rerun of the message (e.g. after a timed-out attempt) is told apart by clients and FIFO dedup.
  const runId = (deps.newRunId ?? randomUUID)();
  const ids = { sessionId: request.sessionId, messageId: request.messageId, runId };

  let chunksPublished = 0;
  let eventsLost = 0;
  let deadlineLogged = false;
  const publishSignal = options.publishSignal;
  const lostToDeadline = (event: StreamEvent, error?: unknown) => {
    eventsLost++;
    metrics.countError("DEADLINE");
    if (!deadlineLogged) logger.error("publishing deadline reached: this and any later events of the message are not sent", { ...ids, action: event.action, error });
    deadlineLogged = true;
  };
  const emit = async (event: StreamEvent): Promise<boolean> => {
    // Past the deadline a publish would run into the Lambda timeout, and SQS would re-run the whole generation.
    if (publishSignal?.aborted) {
      lostToDeadline(event);
      return false;
    }
    const t0 = now();
    try {
      const published = router.publish(event, { signal: publishSignal });
      // Returns at the deadline even from a sink that ignores the signal.
      await (publishSignal ? untilAborted(published, publishSignal) : published);
      metrics.addMetric("PublishLatency", "Milliseconds", now() - t0);
      return true;
    } catch (error) {
      if (publishSignal?.aborted) {
        lostToDeadline(event, error);
        return false;
      }
      // Nothing left to try for this event: count it and go on, so the rest of the answer still arrives.
      eventsLost++;
      metrics.countError("PUBLISH_FAILED");
      logger.error("event could not be delivered", { ...ids, action: event.action, error });
      return false;
    }
  };

  const coalescer = new TokenCoalescer({
    maxDelayMs: settings.batchMaxDelayMs,
    maxChars: settings.batchMaxChars,
    onChunk: async (text, sequenceNumber) => {
      if (await emit(tokenEvent(request, runId, sequenceNumber, text, iso()))) chunksPublished++;
    },
  });

  const history: Message[] = deps.history ? await deps.history.loadConversation(request.userId, request.sessionId, request.messageId) : [];

  let content = "";
  let reasoning = "";
  let usage: Usage = { inputTokens: 0, outputTokens: 0 };
  let stopReason = "unknown";
  let firstTokenAt: number | undefined;
  let sawMessageStop = false;
  let failure: unknown;
  try {
    const response = await deps.bedrock.send(
      new ConverseStreamCommand({
        modelId: request.modelId,
        messages: [...history, { role: "user", content: [{ text: request.prompt }] }],
        ...(settings.systemPrompt ? { system: [{ text: settings.systemPrompt }] } : {}),
        inferenceConfig: { maxTokens: settings.maxTokens, temperature: settings.temperature },
      }),
      options.abortSignal ? { abortSignal: options.abortSignal } : {},
    );
    if (!response.stream) throw new Error("ConverseStream returned no stream");
    for await (const item of response.stream) {
      options.abortSignal?.throwIfAborted();
      const delta = item.contentBlockDelta?.delta;
      if (delta?.text) {
        if (firstTokenAt === undefined) {
          firstTokenAt = now();
          metrics.addMetric("TimeToFirstToken", "Milliseconds", firstTokenAt - started);
        }
        content += delta.text;
        coalescer.push(delta.text);
      } else if (delta?.reasoningContent?.text) {
        reasoning += delta.reasoningContent.text;
      } else if (item.messageStop) {
        sawMessageStop = true;
        stopReason = item.messageStop.stopReason ?? stopReason;
      } else if (item.metadata?.usage) {
        usage = { inputTokens: item.metadata.usage.inputTokens ?? 0, outputTokens: item.metadata.usage.outputTokens ?? 0 };
      } else {
        const exception = streamException(item);
        if (exception) throw exception;
      }
    }
    // An aborted request can end the stream quietly; so can a dropped connection: neither is a complete answer.
    options.abortSignal?.throwIfAborted();
    if (!sawMessageStop) throw Object.assign(new Error("the stream ended before messageStop"), { name: "ModelStreamErrorException" });
  } catch (error) {
    failure = error;
  }

  // What was generated before a failure still goes out first, so the user sees it followed by the error.
  let lastSequenceNumber: number;
  try {
    lastSequenceNumber = await coalescer.end();
  } catch {
    lastSequenceNumber = coalescer.lastSequenceNumber;
  }

  let errorCode: string | undefined;
  if (failure !== undefined) {
    const mapped = mapGenerationError(failure);
    errorCode = mapped.code;
    metrics.countError(mapped.code);
    logger.error("generation failed", { ...ids, code: mapped.code, error: failure });
    await emit(errorEvent(request, runId, mapped, iso()));
  } else {
    const fitted = finalEvent(request, runId, { content, reasoningContent: reasoning || undefined, usage, stopReason, lastSequenceNumber }, iso());
    if (fitted.trimmed !== "none") logger.warn("final event trimmed to fit the event size limit", { ...ids, trimmed: fitted.trimmed, contentChars: content.length });
    await emit(fitted.event);
    metrics.addMetric("OutputTokens", "Count", usage.outputTokens);
  }
  metrics.addMetric("ChunksPublished", "Count", chunksPublished);

  if (deps.history) {
    try {
      await deps.history.saveExchange(request, { content, reasoningContent: reasoning || undefined, usage, stopReason, errorCode, completedAt: iso() });
    } catch (error) {
      // The answer already reached the user; a missing history item must not re-run the generation.
      metrics.countError("HISTORY_WRITE_FAILED");
      logger.error("history write failed", { ...ids, error });
    }
  }

  const summary: GenerationSummary = {
    messageId: request.messageId,
    runId,
    outcome: failure === undefined ? "completed" : "failed",
    ...(errorCode ? { errorCode } : {}),
    delivery,
    fellBackToQueue: router.fellBack,
    chunksPublished,
    eventsLost,
    lastSequenceNumber,
  };
  logger.info("generation finished", { ...summary, sessionId: request.sessionId, durationMs: now() - started });
  return summary;
}
