/**
 * One generation: Bedrock ConverseStream for a work request, deltas coalesced into token events, delivered direct or
 * queued, ended by a final_response or an error event, the exchange written to history. Generation failures are
 * reported to the user and returned, never thrown, so a failed answer is not re-run by SQS.
 *
 * `runGeneration` is the sequence; its parts live apart: toolLoop.ts runs the model's rounds (converseStream.ts reads
 * each round's deltas; tools/ offers and runs the tools between rounds), tokenCoalescer.ts cuts the text and, in a
 * second instance, the reasoning into chunks (readingPace.ts times them in reading-pace mode; the text's last chunk
 * rides in the final_response), messageEmitter.ts numbers, stamps and sends the events under the publishing deadline
 * through deliveryRouter.ts, messageRecorder.ts keeps the durable record beside the stream, stopWatch.ts turns a
 * stopGeneration into an abort of the model call, history.ts loads and saves the conversation, usageRecorder.ts keeps
 * the user's generation slot and usage row, guardrail.ts finds the safe text of a message a guardrail ended, and
 * answerCap.ts ends an answer at its byte cap (the Function URL's).
 */
import { randomUUID } from "node:crypto";
import type { BedrockRuntimeClient, Message } from "@aws-sdk/client-bedrock-runtime";
import { GUARDRAIL_INTERVENED_REASON, MAX_BYTES_REASON, STOPPED_REASON, type MessageStatus } from "../../contracts/messageState";
import { serializeEvent } from "../../contracts/streamEvents";
import type { WorkRequest } from "../../contracts/workRequest";
import type { RuntimeSettings } from "../../contracts/runtimeSettings";
import type { EventPublisher } from "../shared/eventPublisher";
import type { MessageRef, MessageStart, MessageStore } from "../shared/messageStore";
import type { RuntimeLogger, RuntimeMetrics } from "../shared/telemetry";
import type { UsageTable } from "../shared/usageTable";
import { AnswerCap } from "./answerCap";
import { createDeliveryRouter, type DeliveryMode, type DeliveryRouter } from "./deliveryRouter";
import { internalFailure, mapGenerationError } from "./generationErrors";
import { guardrailSafeText } from "./guardrail";
import type { HistoryStore } from "./history";
import { MessageEmitter } from "./messageEmitter";
import { MessageRecorder } from "./messageRecorder";
import { watchForStop } from "./stopWatch";
import { TokenCoalescer } from "./tokenCoalescer";
import { emptyAnswer, runAgentLoop, type LoopAnswer } from "./toolLoop";
import type { ToolRegistry } from "./tools/toolRegistry";
import { UsageRecorder } from "./usageRecorder";

/** The runtime settings a generation reads. */
export type GenerationSettings = Pick<
  RuntimeSettings,
  | "directSend"
  | "fallbackToQueue"
  | "batchMode"
  | "batchMaxDelayMs"
  | "batchMaxChars"
  | "batchReadingTokensPerSecond"
  | "batchMaxWindowMs"
  | "maxTokens"
  | "temperature"
  | "systemPrompt"
  | "guardrailId"
  | "guardrailVersion"
  | "guardrailStreamMode"
  | "generationSlotSeconds"
>;

/** Clients, sinks and telemetry of a generation, passed in (the handler builds them; tests pass fakes). */
export interface GenerationDeps {
  bedrock: BedrockRuntimeClient;
  settings: GenerationSettings;
  /** SigV4 publisher to AppSync. */
  direct: EventPublisher;
  /** Outbound topic publisher. */
  queue: EventPublisher;
  /** PostToConnection to the user's WebSocket connections; absent where the websocket transport is off. */
  websocket?: EventPublisher;
  /** Absent when history is disabled. */
  history?: HistoryStore;
  /** The tools the model may call (tools/toolRegistry.ts); absent = none offered. */
  tools?: ToolRegistry;
  /** The durable message records (replay, stop); absent only in tests of generation alone. */
  messages?: MessageStore;
  /** The per-user slots and usage rows; absent only in tests of generation alone. */
  usage?: UsageTable;
  /** How often a streaming message's stop flag is read (default STOP_POLL_INTERVAL_MS). */
  stopPollIntervalMs?: number;
  /** An answer's cap in UTF-8 bytes (the Function URL's): past it the model call is aborted and the answer ends with stopReason max_bytes. Absent: no cap. */
  maxAnswerBytes?: number;
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
  /** `skipped`: the message had already ended (its record says so), nothing was generated again. */
  outcome: "completed" | "stopped" | "failed" | "skipped";
  errorCode?: string;
  delivery: DeliveryMode;
  fellBackToQueue: boolean;
  chunksPublished: number;
  eventsLost: number;
  lastSequenceNumber: number;
}

/** The deadlines of one run, from the Lambda's remaining time (see worker.ts). */
export interface GenerationOptions {
  /** Aborts the Bedrock call (e.g. shortly before the Lambda times out), so the message still ends with an error event. */
  abortSignal?: AbortSignal;
  /**
   * The publishing deadline (set it to fire after `abortSignal`, leaving time for the error event): once it fires no
   * publish starts, one in flight stops with its retries, and the events not sent are counted lost (`DEADLINE`).
   */
  publishSignal?: AbortSignal;
}

/**
 * Runs one generation: loads the session's history, streams the model's answer as coalesced token events, ends the
 * message with a final_response or an error event, writes the exchange to history and returns the summary.
 * Generation failures are reported to the user and in the summary, never thrown; a run that cannot begin (its record
 * or history unreadable) ends the message with an error too, and throws (sending nothing) only when it cannot end the
 * record either.
 */
export async function runGeneration(request: WorkRequest, deps: GenerationDeps, options: GenerationOptions = {}): Promise<GenerationSummary> {
  const run = startRun(request, deps, options);
  let start: MessageStart;
  let history: Message[];
  try {
    start = (await run.recorder?.start()) ?? "generate";
    if (start === "ended") {
      await run.usage?.release();
      return skipRun(run);
    }
    await run.usage?.refresh();
    // A message stopped while queued ends stopped without the model, so without its history.
    history = start === "stopped" ? [] : await loadHistory(run);
  } catch (error) {
    return abandonRun(run, error);
  }
  const coalescers = coalescersFor(run);
  const streamed = start === "stopped" ? stoppedAnswer() : await generateAnswer(run, history, coalescers, options.abortSignal);
  const chunks = await flushChunks(coalescers, streamed.failure === undefined);
  const answer = await settleAnswer(run, streamed);
  const errorCode = await endMessage(run, answer, unsentTailDropped(answer, chunks));
  deps.metrics.addMetric("ChunksPublished", "Count", run.emitter.chunksPublished);
  await saveHistory(run, answer, errorCode);
  return finishRun(run, answer, errorCode, chunks.lastSequenceNumber);
}

/** What every step of one run shares. */
interface GenerationRun {
  request: WorkRequest;
  deps: GenerationDeps;
  now: () => number;
  /** When the run started (ms): time to first token and the duration count from here. */
  started: number;
  delivery: DeliveryMode;
  router: DeliveryRouter;
  emitter: MessageEmitter;
  /** The message, as its durable record is keyed. */
  ref: MessageRef;
  /** Absent when no message records are kept. */
  recorder?: MessageRecorder;
  /** Absent when no usage table is given. */
  usage?: UsageRecorder;
}

/** The answer as the rounds produced it, up to the failure that ended it early (if any): see toolLoop.ts. */
type Answer = LoopAnswer;

/** The message's two coalescers, in the environment's batching mode: the text's chunks and the reasoning's go to the emitter. */
interface Coalescers {
  text: TokenCoalescer;
  reasoning: TokenCoalescer;
}

/** Reasoning is coalesced under the same latency bound as the text, numbered on its own. */
function coalescersFor(run: GenerationRun): Coalescers {
  const s = run.deps.settings;
  const options = {
    maxDelayMs: s.batchMaxDelayMs,
    maxChars: s.batchMaxChars,
    readingPace: s.batchMode === "reading_pace" ? { readingTokensPerSecond: s.batchReadingTokensPerSecond, maxWindowMs: s.batchMaxWindowMs } : undefined,
  };
  return {
    text: new TokenCoalescer({ ...options, onChunk: (text, sequenceNumber) => run.emitter.token(text, sequenceNumber) }),
    reasoning: new TokenCoalescer({ ...options, onChunk: (text, index) => run.emitter.reasoning(text, index) }),
  };
}

/** Picks the delivery (websocket for the WebSocket route's requests, else the request's choice, else DIRECT_SEND) and builds the message's router and emitter. */
function startRun(request: WorkRequest, deps: GenerationDeps, options: GenerationOptions): GenerationRun {
  const { settings, logger, metrics } = deps;
  const now = deps.now ?? Date.now;
  const started = now();
  const delivery: DeliveryMode = request.transport ?? request.delivery ?? (settings.directSend ? "direct" : "queued");
  const router = createDeliveryRouter({ mode: delivery, direct: deps.direct, queue: deps.queue, websocket: deps.websocket, fallbackToQueue: settings.fallbackToQueue, logger, metrics });
  // A fresh id per run: a rerun of the message (e.g. after a timed-out attempt) is told apart by clients and FIFO dedup.
  const runId = (deps.newRunId ?? randomUUID)();
  const ref: MessageRef = { userId: request.userId, sessionId: request.sessionId, messageId: request.messageId };
  const recorder = deps.messages ? new MessageRecorder({ store: deps.messages, ref, runId, logger, metrics }) : undefined;
  const emitter = new MessageEmitter({ request, runId, router, publishSignal: options.publishSignal, recorder, logger, metrics, now });
  const usage = deps.usage ? new UsageRecorder({ table: deps.usage, request, slotSeconds: settings.generationSlotSeconds, logger, metrics, now }) : undefined;
  return { request, deps, now, started, delivery, router, emitter, ref, recorder, usage };
}

/**
 * Streams the model's answer, tool rounds included; a stopGeneration seen meanwhile aborts the model call and makes the
 * answer a stopped one, and an answer reaching its byte cap (when there is one) ends as a max_bytes one.
 */
async function generateAnswer(run: GenerationRun, history: Message[], coalescers: Coalescers, abortSignal?: AbortSignal): Promise<Answer> {
  const { request, deps } = run;
  const stop = deps.messages ? watchForStop(deps.messages, run.ref, deps.logger, deps.stopPollIntervalMs) : undefined;
  const cap = deps.maxAnswerBytes === undefined ? undefined : new AnswerCap(deps.maxAnswerBytes);
  const signals = [abortSignal, stop?.signal, cap?.signal].filter((s): s is AbortSignal => s !== undefined);
  const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
  const turn = { modelId: request.modelId, history, prompt: request.prompt };
  try {
    const answer = await runAgentLoop(loopDeps(run, coalescers, cap), turn, signal);
    if (cap?.reached) {
      deps.metrics.addMetric("AnswersCapped", "Count", 1);
      return endedEarly(answer, MAX_BYTES_REASON);
    }
    if (!stop?.stopped || answer.stopReason !== "unknown") return answer;
    deps.metrics.addMetric("GenerationsStopped", "Count", 1);
    return endedEarly(answer, STOPPED_REASON);
  } finally {
    stop?.dispose();
  }
}

/** An answer we ended before the model did (stopped, or at its cap): what was streamed, with `stopReason`. */
function endedEarly(answer: Answer, stopReason: string): Answer {
  // Bedrock sends no usage for a cancelled stream: the text deltas received stand in for the output tokens.
  return { ...answer, failure: undefined, stopReason, usage: { inputTokens: answer.usage.inputTokens, outputTokens: answer.textDeltas } };
}

/** What the agent loop uses of the run: the model, the tools, the coalescers, the emitter's tool notices, the telemetry. */
function loopDeps(run: GenerationRun, coalescers: Coalescers, cap: AnswerCap | undefined): Parameters<typeof runAgentLoop>[0] {
  const { deps, request } = run;
  return {
    bedrock: deps.bedrock,
    settings: deps.settings,
    tools: deps.tools,
    ...coalescers,
    cap,
    toolAction: (action) => run.emitter.toolAction(action),
    context: { userId: request.userId, sessionId: request.sessionId },
    now: run.now,
    onFirstText: () => deps.metrics.addMetric("TimeToFirstToken", "Milliseconds", run.now() - run.started),
    logger: deps.logger,
    metrics: deps.metrics,
  };
}

/** The answer of a message stopped before its generation began: empty, nothing asked of the model. */
function stoppedAnswer(): Answer {
  return { ...emptyAnswer(), stopReason: STOPPED_REASON };
}

/** The session's earlier turns, none when history is off. A read failure throws (the run is abandoned). */
async function loadHistory({ request, deps }: GenerationRun): Promise<Message[]> {
  return deps.history ? deps.history.loadConversation(request.userId, request.sessionId, request.messageId, { withTools: (deps.tools?.names.length ?? 0) > 0 }) : [];
}

/**
 * Before the end goes out: a message a guardrail ended gets the guardrail's safe text as its content, and the
 * message's usage is added and its slot released (usageRecorder.ts).
 */
async function settleAnswer({ deps, usage }: GenerationRun, answer: Answer): Promise<Answer> {
  const intervened = answer.failure === undefined && answer.stopReason === GUARDRAIL_INTERVENED_REASON;
  if (intervened) deps.metrics.addMetric("GuardrailInterventions", "Count", 1);
  const settled = intervened ? { ...answer, content: await guardrailSafeText(deps.bedrock, deps.settings, answer.content, deps.logger) } : answer;
  await usage?.settle(settled.usage, intervened);
  return settled;
}

/** The kept last chunk of a message a guardrail ended may hold the blocked text: it is dropped, never sent. */
function unsentTailDropped(answer: Answer, chunks: ChunksEnd): ChunksEnd {
  const intervened = answer.failure === undefined && answer.stopReason === GUARDRAIL_INTERVENED_REASON;
  return intervened && chunks.tail !== undefined ? { lastSequenceNumber: chunks.lastSequenceNumber - 1 } : chunks;
}

/** How the chunks ended: the last sequence number, and the last chunk when the final is to carry it. */
interface ChunksEnd {
  lastSequenceNumber: number;
  tail?: string;
}

/**
 * Sends what is still buffered, the reasoning first; with `keepTail` (a final will follow) the text's last chunk is
 * kept for the final to carry.
 */
async function flushChunks({ text, reasoning }: Coalescers, keepTail: boolean): Promise<ChunksEnd> {
  // What was generated before a failure still goes out first, so the user sees it followed by the error.
  // A chunk that could not be sent was already counted lost by the emitter.
  await reasoning.end().catch(() => undefined);
  await text.end({ keepTail }).catch(() => undefined);
  return { lastSequenceNumber: text.lastSequenceNumber, tail: text.keptTail?.value };
}

/** Ends the message, live and in its record: the error event of a failed stream (returns its code), else the final_response. */
async function endMessage({ deps, emitter, recorder }: GenerationRun, answer: Answer, chunks: ChunksEnd): Promise<string | undefined> {
  if (answer.failure !== undefined) {
    const mapped = mapGenerationError(answer.failure);
    deps.metrics.countError(mapped.code);
    deps.logger.error("generation failed", { ...emitter.ids, code: mapped.code, error: answer.failure });
    const event = await emitter.error(mapped);
    await recorder?.end("FAILED", event);
    return mapped.code;
  }
  const { content, reasoning, usage, stopReason, references } = answer;
  const status: MessageStatus = stopReason === STOPPED_REASON ? "STOPPED" : "COMPLETE";
  const event = await emitter.final({ content, reasoningContent: reasoning || undefined, usage, stopReason, references, ...chunks });
  await recorder?.end(status, event);
  deps.metrics.addMetric("OutputTokens", "Count", usage.outputTokens);
  return undefined;
}

/** Writes the exchange to history when it is on; a failure is counted and logged, never thrown. */
async function saveHistory({ request, deps, emitter }: GenerationRun, answer: Answer, errorCode: string | undefined): Promise<void> {
  if (!deps.history) return;
  const { content, reasoning, usage, stopReason, messages } = answer;
  try {
    await deps.history.saveExchange(request, { content, reasoningContent: reasoning || undefined, usage, stopReason, errorCode, completedAt: emitter.timestamp(), messages });
  } catch (error) {
    // The answer already reached the user; a missing history item must not re-run the generation.
    deps.metrics.countError("HISTORY_WRITE_FAILED");
    deps.logger.error("history write failed", { ...emitter.ids, error });
  }
}

/**
 * A run that could not begin, after the SDK's own retries: its record is ended FAILED (a never-started one too, so the
 * id stays used and a resend is refused, as for any used id), then the error event goes out and the slot is released,
 * now rather than on SQS's redelivery minutes later, long after the client stopped waiting. When the record cannot be
 * ended (unwritable, or another run's) nothing is sent and `error` is thrown, so SQS (or Lambda's async retries) run it
 * again and the message keeps one ending.
 */
async function abandonRun(run: GenerationRun, error: unknown): Promise<GenerationSummary> {
  const { deps, emitter, ref } = run;
  const failure = internalFailure();
  deps.metrics.countError(failure.code);
  deps.logger.error("the generation could not begin; the message ends with an error", { ...emitter.ids, error });
  const event = emitter.stampError(failure);
  const ended = deps.messages ? await deps.messages.abandon(ref, emitter.ids.runId, serializeEvent(event)).catch((recordError: unknown) => recordError) : true;
  if (ended !== true) {
    const why = ended === false ? "another run owns it or it has ended" : ended;
    deps.logger.error("the message record could not be ended either; the run is thrown for a retry", { ...emitter.ids, why });
    throw error;
  }
  await Promise.all([emitter.sendEnd(event), run.usage?.release()]);
  return finishRun(run, { ...emptyAnswer(), failure: error }, failure.code, -1);
}

/** A message whose record says it has ended (a late redelivery): nothing is generated or sent again. */
function skipRun(run: GenerationRun): GenerationSummary {
  const summary: GenerationSummary = {
    messageId: run.request.messageId,
    runId: run.emitter.ids.runId,
    outcome: "skipped",
    delivery: run.delivery,
    fellBackToQueue: false,
    chunksPublished: 0,
    eventsLost: 0,
    lastSequenceNumber: -1,
  };
  run.deps.logger.warn("message already ended; not generated again", { ...summary, sessionId: run.request.sessionId });
  return summary;
}

/** Builds the run's summary and logs it. */
function finishRun(run: GenerationRun, answer: Answer, errorCode: string | undefined, lastSequenceNumber: number): GenerationSummary {
  const { request, emitter } = run;
  const summary: GenerationSummary = {
    messageId: request.messageId,
    runId: emitter.ids.runId,
    outcome: answer.failure !== undefined ? "failed" : answer.stopReason === STOPPED_REASON ? "stopped" : "completed",
    ...(errorCode ? { errorCode } : {}),
    delivery: run.delivery,
    fellBackToQueue: run.router.fellBack,
    chunksPublished: emitter.chunksPublished,
    eventsLost: emitter.eventsLost,
    lastSequenceNumber,
  };
  run.deps.logger.info("generation finished", { ...summary, sessionId: request.sessionId, durationMs: run.now() - run.started });
  return summary;
}
