/**
 * Emits the events of one message of one run: token and reasoning chunks and tool notices, then the final_response or
 * the error event, stamped with the run's ids and numbered with the message-wide `eventSequence` (envelope version 3)
 * in the order they are handed in, and sent one after another in that order through the delivery router under the
 * publishing deadline. An event that cannot be sent is counted lost (`DEADLINE` past the deadline, else
 * `PUBLISH_FAILED`) and the message goes on, never throws.
 */
import type { ErrorEvent, FinalEvent, ReasoningEvent, StreamEvent, TokenEvent, ToolActionEvent } from "../../contracts/streamEvents";
import type { WorkRequest } from "../../contracts/workRequest";
import type { EventPublisher } from "../shared/eventPublisher";
import type { RuntimeLogger, RuntimeMetrics } from "../shared/telemetry";
import { errorEvent, finalEvent, reasoningEvent, tokenEvent, toolActionEvent, type EventStamp, type FinalContent, type ToolAction } from "./events";
import type { GenerationFailure } from "./generationErrors";
import type { MessageRecorder } from "./messageRecorder";

export interface MessageEmitterOptions {
  request: WorkRequest;
  /** This run's id, carried by every event. */
  runId: string;
  /** Where events go: the message's delivery router. */
  router: EventPublisher;
  /** The publishing deadline: once it fires no publish starts, and one in flight is abandoned. */
  publishSignal?: AbortSignal;
  /** Stores each streamed event in the durable record as it is sent (absent where no record is kept). */
  recorder?: MessageRecorder;
  logger: RuntimeLogger;
  metrics: RuntimeMetrics;
  now: () => number;
}

/** The ids every log line of the run carries. */
export interface RunIds {
  sessionId: string;
  messageId: string;
  runId: string;
}

export class MessageEmitter {
  readonly ids: RunIds;
  private chunks = 0;
  private lost = 0;
  private deadlineLogged = false;
  private nextEventSequence = 0;
  /** The publishes in order: each event goes out once the one before it settled. */
  private sending: Promise<boolean> = Promise.resolve(true);

  constructor(private readonly options: MessageEmitterOptions) {
    this.ids = { sessionId: options.request.sessionId, messageId: options.request.messageId, runId: options.runId };
  }

  /** Token chunks delivered so far. */
  get chunksPublished(): number {
    return this.chunks;
  }

  /** Events of the message that could not be delivered. */
  get eventsLost(): number {
    return this.lost;
  }

  /** The current time as events and history carry it. */
  timestamp(): string {
    return new Date(this.options.now()).toISOString();
  }

  /** Sends one token chunk (the text coalescer's `onChunk`). */
  async token(text: string, sequenceNumber: number): Promise<void> {
    if (await this.streamed(tokenEvent(this.stamp(), sequenceNumber, text))) this.chunks++;
  }

  /** Sends one reasoning chunk (the reasoning coalescer's `onChunk`). */
  async reasoning(text: string, index: number): Promise<void> {
    await this.streamed(reasoningEvent(this.stamp(), index, text));
  }

  /** Sends a tool call's notice: started, then completed or failed. */
  async toolAction(action: ToolAction): Promise<void> {
    await this.streamed(toolActionEvent(this.stamp(), action));
  }

  /**
   * Sends the final_response, cut to fit the event size limit when it must be (logged); returns the event sent. A
   * `tail` rides in the final when the whole final fits (it is still recorded as a token event, so a replay has every
   * chunk); otherwise it goes out as its own token event first. Either way the tail is number eventSequence - 1.
   */
  async final(final: FinalContent): Promise<FinalEvent> {
    const tailStamp = final.tail ? this.stamp() : undefined;
    const stamp = this.stamp();
    let fitted = finalEvent(stamp, final);
    if (tailStamp && fitted.trimmed === "none") this.options.recorder?.recordEvent(tokenEvent(tailStamp, final.lastSequenceNumber, final.tail!));
    else if (tailStamp) {
      if (await this.streamed(tokenEvent(tailStamp, final.lastSequenceNumber, final.tail!))) this.chunks++;
      fitted = finalEvent(stamp, { ...final, tail: undefined });
    }
    if (fitted.trimmed !== "none") this.options.logger.warn("final event trimmed to fit the event size limit", { ...this.ids, trimmed: fitted.trimmed, contentChars: final.content.length });
    await this.enqueue(fitted.event);
    return fitted.event;
  }

  /** Stamps the error event of a run that could not begin, without sending it: its record is ended first (`sendEnd`). */
  stampError(failure: GenerationFailure): ErrorEvent {
    return errorEvent(this.stamp(), failure);
  }

  /** Sends an end event stamped by `stampError`, after every event handed in before it. */
  async sendEnd(event: ErrorEvent): Promise<void> {
    await this.enqueue(event);
  }

  /** Sends the error event of a failed generation; returns the event sent. */
  async error(failure: GenerationFailure): Promise<ErrorEvent> {
    const event = this.stampError(failure);
    await this.sendEnd(event);
    return event;
  }

  /** The next event's stamp: its eventSequence is taken now, so numbers follow the order events are handed in. */
  private stamp(): EventStamp {
    return { request: this.options.request, runId: this.options.runId, eventSequence: this.nextEventSequence++, timestamp: this.timestamp() };
  }

  /** A streamed event (not the end): recorded whether or not the publish succeeds, then sent; false when it was lost. */
  private streamed(event: TokenEvent | ReasoningEvent | ToolActionEvent): Promise<boolean> {
    // Recorded either way: the durable record is the truth a client can always reach.
    this.options.recorder?.recordEvent(event);
    return this.enqueue(event);
  }

  /** Sends `event` after every event handed in before it. */
  private enqueue(event: StreamEvent): Promise<boolean> {
    const sent = this.sending.then(() => this.emit(event));
    this.sending = sent;
    return sent;
  }

  /** Publishes one event; false when it was lost. */
  private async emit(event: StreamEvent): Promise<boolean> {
    const { publishSignal, metrics, now } = this.options;
    // Past the deadline a publish would run into the Lambda timeout, and SQS would re-run the whole generation.
    if (publishSignal?.aborted) return this.lostToDeadline(event);
    const t0 = now();
    try {
      const published = this.options.router.publish(event, { signal: publishSignal });
      // Returns at the deadline even from a sink that ignores the signal.
      await (publishSignal ? untilAborted(published, publishSignal) : published);
      metrics.addMetric("PublishLatency", "Milliseconds", now() - t0);
      return true;
    } catch (error) {
      if (publishSignal?.aborted) return this.lostToDeadline(event, error);
      // Nothing left to try for this event: count it and go on, so the rest of the answer still arrives.
      this.lost++;
      metrics.countError("PUBLISH_FAILED");
      this.options.logger.error("event could not be delivered", { ...this.ids, action: event.action, error });
      return false;
    }
  }

  /** Counts an event lost to the deadline; the first one is logged, later ones only counted. */
  private lostToDeadline(event: StreamEvent, error?: unknown): false {
    this.lost++;
    this.options.metrics.countError("DEADLINE");
    if (!this.deadlineLogged) this.options.logger.error("publishing deadline reached: this and any later events of the message are not sent", { ...this.ids, action: event.action, error });
    this.deadlineLogged = true;
    return false;
  }
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
