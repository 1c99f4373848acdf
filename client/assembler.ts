/**
 * Client-side ordering for one answer. Events can arrive out of order (the queued path gives no global order across
 * relay batches), twice (at-least-once delivery) or not at all (a publish that failed for good). The assembler keeps a
 * reorder buffer keyed by `sequenceNumber`, shows only the contiguous prefix and drops duplicates. When
 * `final_response` arrives and every chunk 0..lastSequenceNumber is there, the streamed text stands (it is the whole
 * answer, even when the final `content` was truncated to fit the event size limit); with gaps, a complete `content`
 * fills them, and a truncated one is used only where it covers more than the streamed prefix. A final that carries the
 * tail (envelope version 2, contracts/streamEvents.ts) adds it as chunk `lastSequenceNumber` before any of that.
 * A final whose stopReason is guardrail_intervened replaces the streamed text with its content (the guardrail's safe text).
 * Envelope version 3: every event's `eventSequence` is tracked too, so a gap in any kind (a tool notice, a reasoning
 * chunk) is seen and the replay continues after the contiguous prefix of every kind; tool calls and the live reasoning
 * are kept apart from the text (agentActivity.ts); events of kinds it does not know never reach it (parseKnownEvent).
 * Pure TypeScript with no DOM or Node imports: the web console, the CLI, the bench and the tests share it.
 */
import { GUARDRAIL_INTERVENED_REASON } from "../contracts/messageState";
import { EVENT_ACTIONS, finalTail, type ErrorEvent, type FinalEvent, type Reference, type StreamEvent, type TokenEvent } from "../contracts/streamEvents";
import { AgentActivity, type ToolActivity } from "./agentActivity";
import { SequenceTracker } from "./sequenceTracker";

export type { ToolActivity } from "./agentActivity";

/** One token chunk as it arrived, for latency charts. */
export interface ChunkArrival {
  sequenceNumber: number;
  /** Milliseconds on the clock the assembler was given (performance.now() in a browser, by default Date.now()). */
  receivedAt: number;
  /** UTF-16 length of the chunk's text. */
  chars: number;
  /** The chunk came inside the final event (its tail), not as a token event of its own. */
  inFinal?: true;
}

export interface AssemblerError {
  /** Safe to show to users (the producers never put internal error text here). */
  message: string;
  code: string;
  retryable: boolean;
}

/** What `accept` did with an event; useful for counters and tests. */
export type AcceptOutcome =
  | "appended" // extended the visible text (possibly releasing buffered chunks)
  | "buffered" // ahead of a gap: held until the gap fills or the final event arrives
  | "duplicate" // this sequence number was already seen: dropped
  | "stale" // from a superseded run, or after the answer finished: dropped
  | "final"
  | "error"
  | "other-message"; // belongs to another messageId

export interface AssemblerOptions {
  /** Clock for arrival timestamps; default Date.now. */
  now?: () => number;
}

export class MessageAssembler {
  readonly messageId: string;
  private readonly now: () => number;
  private runId: string | undefined;
  private readonly supersededRuns = new Set<string>();
  /** Text of the contiguous prefix 0..nextSequence-1. */
  private prefix = "";
  private nextSequence = 0;
  /** Chunks that arrived ahead of a gap, by sequence number. */
  private readonly ahead = new Map<number, string>();
  private readonly seen = new Set<number>();
  private readonly arrivalLog: ChunkArrival[] = [];
  private finalData: FinalEvent["data"] | undefined;
  private terminalAt: number | undefined;
  private failure: AssemblerError | undefined;
  private duplicates = 0;
  private missingAtFinal: number[] = [];
  /** The run's eventSequence numbers (version 3), every kind. */
  private readonly events = new SequenceTracker();
  /** Per chunk of the contiguous prefix, in order: its eventSequence (version 3) and the prefix's length after it. */
  private readonly prefixChunks: { eventSequence?: number; end: number }[] = [];
  private readonly chunkEvents = new Map<number, number>();
  private readonly activity = new AgentActivity();

  constructor(messageId: string, options: AssemblerOptions = {}) {
    this.messageId = messageId;
    this.now = options.now ?? Date.now;
  }

  /** Feeds one parsed event (see `parseEvent`). `receivedAt` defaults to the assembler's clock. */
  accept(event: StreamEvent, receivedAt: number = this.now()): AcceptOutcome {
    if (event.data.messageId !== this.messageId) return "other-message";
    if (event.action === EVENT_ACTIONS.error) return this.acceptError(event.data, receivedAt);
    if (event.action === EVENT_ACTIONS.final) return this.acceptFinal(event.data, receivedAt);
    if (event.action === EVENT_ACTIONS.token) return this.acceptToken(event.data.token, receivedAt, event.data.eventSequence);
    return this.acceptAgentEvent(event);
  }

  /** A tool_action or reasoning chunk: kept apart from the text; a newer run replaces the older one's, as for tokens. */
  private acceptAgentEvent(event: Exclude<StreamEvent, TokenEvent | FinalEvent | ErrorEvent>): AcceptOutcome {
    const { runId, eventSequence } = event.data;
    if (this.done ? runId !== this.runId : !this.joinRun(runId)) return "stale";
    if (!this.events.add(eventSequence)) {
      this.duplicates++;
      return "duplicate";
    }
    return event.action === EVENT_ACTIONS.toolAction ? this.activity.acceptTool(event.data) : this.activity.acceptReasoning(event.data);
  }

  /** Follows `runId`: false for a superseded run; a newer run than the current one drops the current one's events. */
  private joinRun(runId: string): boolean {
    if (this.supersededRuns.has(runId)) return false;
    // A new run of the same message (the producer restarted generation): its numbering starts again.
    if (this.runId !== undefined && runId !== this.runId) this.supersede();
    this.runId = runId;
    return true;
  }

  private acceptError(data: ErrorEvent["data"], receivedAt: number): AcceptOutcome {
    if (this.done) return "stale";
    this.failure = { message: data.message, code: data.code, retryable: data.retryable };
    this.terminalAt = receivedAt;
    return "error";
  }

  private acceptFinal(data: FinalEvent["data"], receivedAt: number): AcceptOutcome {
    if (this.done) return this.finalData ? "duplicate" : "stale";
    const finalRun = data.runId;
    if (finalRun !== undefined && this.supersededRuns.has(finalRun)) return "stale";
    // The final of a newer run whose chunks have not arrived yet: the older run's chunks are not part of it.
    if (finalRun !== undefined && this.runId !== undefined && finalRun !== this.runId) this.supersede();
    if (finalRun !== undefined) this.runId = finalRun;
    const tail = finalTail(data);
    if (tail?.eventSequence !== undefined) {
      this.events.add(tail.eventSequence);
      this.chunkEvents.set(tail.sequenceNumber, tail.eventSequence);
    }
    if (tail && !this.seen.has(tail.sequenceNumber)) this.addChunk(tail.sequenceNumber, tail.value, receivedAt, true);
    if (data.eventSequence !== undefined) this.events.add(data.eventSequence);
    this.finalData = data;
    this.terminalAt = receivedAt;
    this.missingAtFinal = [];
    for (let n = 0; n <= data.lastSequenceNumber; n++) if (!this.seen.has(n)) this.missingAtFinal.push(n);
    // A truncated final cannot fill gaps: keep what is buffered so late chunks can still complete the text.
    if (!data.truncated || this.missingAtFinal.length === 0) this.ahead.clear();
    return "final";
  }

  private acceptToken({ runId, sequenceNumber, value }: TokenEvent["data"]["token"], receivedAt: number, eventSequence?: number): AcceptOutcome {
    if (this.done && !this.awaitsLateChunk(runId, sequenceNumber)) return "stale";
    if (!this.joinRun(runId)) return "stale";
    if (eventSequence !== undefined) {
      this.events.add(eventSequence);
      this.chunkEvents.set(sequenceNumber, eventSequence);
    }
    if (this.seen.has(sequenceNumber)) {
      this.duplicates++;
      return "duplicate";
    }
    if (this.finalData) this.missingAtFinal = this.missingAtFinal.filter((n) => n !== sequenceNumber);
    return this.addChunk(sequenceNumber, value, receivedAt);
  }

  /** A chunk not seen before: into the prefix when it is the next one (releasing what waited behind it), else held. */
  private addChunk(sequenceNumber: number, value: string, receivedAt: number, inFinal?: true): AcceptOutcome {
    this.seen.add(sequenceNumber);
    this.arrivalLog.push({ sequenceNumber, receivedAt, chars: value.length, ...(inFinal ? { inFinal } : {}) });
    if (sequenceNumber !== this.nextSequence) {
      this.ahead.set(sequenceNumber, value);
      return "buffered";
    }
    this.appendToPrefix(value);
    for (let next = this.ahead.get(this.nextSequence); next !== undefined; next = this.ahead.get(this.nextSequence)) {
      this.ahead.delete(this.nextSequence);
      this.appendToPrefix(next);
    }
    return "appended";
  }

  private appendToPrefix(value: string): void {
    this.prefix += value;
    this.prefixChunks.push({ eventSequence: this.chunkEvents.get(this.nextSequence), end: this.prefix.length });
    this.nextSequence++;
  }

  /** After a truncated final, a chunk of the same run that the final announced but that had not arrived still counts (queued delivery gives no order across batches). */
  private awaitsLateChunk(runId: string, sequenceNumber: number): boolean {
    return this.finalData?.truncated === true && (this.runId === undefined || runId === this.runId) && this.missingAtFinal.includes(sequenceNumber);
  }

  /** Drops the current run's chunks: a newer run of the message replaces it. */
  private supersede(): void {
    if (this.runId !== undefined) this.supersededRuns.add(this.runId);
    this.resetRun();
  }

  private resetRun(): void {
    this.prefix = "";
    this.nextSequence = 0;
    this.ahead.clear();
    this.seen.clear();
    this.arrivalLog.length = 0;
    this.events.clear();
    this.activity.clear();
    this.prefixChunks.length = 0;
    this.chunkEvents.clear();
  }

  /**
   * The text to show: the contiguous prefix while streaming; once final, the streamed text when no chunk is missing,
   * else the final `content` (when that was truncated, whichever of it and the streamed prefix is longer). A message a
   * guardrail ended shows its `content`, the guardrail's safe text, whatever was streamed before it.
   */
  get text(): string {
    const final = this.finalData;
    if (!final) return this.prefix;
    if (final.stopReason === GUARDRAIL_INTERVENED_REASON) return final.content;
    if (final.lastSequenceNumber >= 0 && this.missingAtFinal.length === 0) return this.prefix;
    if (!final.truncated) return final.content;
    return final.content.length > this.prefix.length ? final.content : this.prefix;
  }

  /** True when the answer is final but the text shown is not all of it: chunks are missing and the final content was truncated. */
  get incomplete(): boolean {
    const final = this.finalData;
    return final?.truncated === true && this.missingAtFinal.length > 0;
  }

  /** Reasoning text, shown apart from the answer: streamed live (version 3), the final's whole reasoningContent once it arrived. */
  get reasoning(): string {
    return this.finalData?.reasoningContent ?? this.activity.reasoning;
  }

  /** The message's tool calls (version 3) in invocation order, each with the latest status it reached. */
  get toolActivities(): ToolActivity[] {
    return this.activity.toolActivities;
  }

  /**
   * Where in the text an event of the run sits: the length of the streamed text the producer sent before it (the
   * text chunks with a lower eventSequence), so a page can show a tool call's notice between the text before and after.
   */
  textOffsetAt(eventSequence: number): number {
    let offset = 0;
    for (const chunk of this.prefixChunks) {
      if (chunk.eventSequence === undefined || chunk.eventSequence > eventSequence) break;
      offset = chunk.end;
    }
    return offset;
  }

  /** The sources the tools' results named (final_response.references), once the final arrived. */
  get references(): Reference[] {
    return this.finalData?.references ?? [];
  }

  /** True while something is missing before what arrived: a token chunk, or (version 3) an event of any kind. */
  get hasGap(): boolean {
    return this.ahead.size > 0 || this.events.aheadCount > 0;
  }

  /** Distinct events of the current run seen so far (version 3 producers; 0 for older ones). */
  get eventCount(): number {
    return this.events.contiguousThrough + 1 + this.events.aheadCount;
  }

  /** True once a final or error event arrived: nothing more will change. */
  get done(): boolean {
    return this.finalData !== undefined || this.failure !== undefined;
  }

  get error(): AssemblerError | undefined {
    return this.failure;
  }

  /** The final event's data (usage, stopReason, lastSequenceNumber), once it arrived. */
  get final(): FinalEvent["data"] | undefined {
    return this.finalData;
  }

  /** Distinct token chunks received in the current run (duplicates not counted; the tail a final carried included). */
  get chunkCount(): number {
    return this.arrivalLog.length;
  }

  /**
   * What a replay asks to continue after: the contiguous prefix of the run's eventSequence (version 3: every kind), or
   * of the token chunks from an older producer; -1 before the first.
   */
  get contiguousThrough(): number {
    return this.events.started ? this.events.contiguousThrough : this.nextSequence - 1;
  }

  /** The generation run the chunks so far belong to, once one arrived. */
  get currentRunId(): string | undefined {
    return this.runId;
  }

  /** Chunks held back behind a gap right now. */
  get bufferedCount(): number {
    return this.ahead.size;
  }

  get duplicateCount(): number {
    return this.duplicates;
  }

  /** Sequence numbers the final event announced but that never arrived; the final content filled them in unless it was truncated (see `incomplete`). */
  get missingSequenceNumbers(): readonly number[] {
    return this.missingAtFinal;
  }

  /** Every distinct chunk in arrival order, with its arrival time. */
  get arrivals(): readonly ChunkArrival[] {
    return this.arrivalLog;
  }

  /** Arrival time of the first chunk (any sequence number), or undefined before one arrived. */
  get firstChunkAt(): number | undefined {
    return this.arrivalLog[0]?.receivedAt;
  }

  /** Arrival time of the final or error event, or undefined while streaming. */
  get finishedAt(): number | undefined {
    return this.terminalAt;
  }

  /** Gaps between consecutive arrivals in milliseconds (arrival order); length chunkCount - 1. */
  interArrivalMs(): number[] {
    const gaps: number[] = [];
    for (let i = 1; i < this.arrivalLog.length; i++) gaps.push(this.arrivalLog[i].receivedAt - this.arrivalLog[i - 1].receivedAt);
    return gaps;
  }
}
