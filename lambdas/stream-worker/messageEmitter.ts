/**
 * Emits the events of one message of one run: token chunks, then the final_response or the error event, stamped with
 * the run's ids, sent through the delivery router under the publishing deadline. An event that cannot be sent is
 * counted lost (`DEADLINE` past the deadline, else `PUBLISH_FAILED`) and the message goes on, never throws.
 */
import type { ErrorEvent, FinalEvent, StreamEvent } from "../../contracts/streamEvents";
import type { WorkRequest } from "../../contracts/workRequest";
import type { EventPublisher } from "../shared/eventPublisher";
import type { RuntimeLogger, RuntimeMetrics } from "../shared/telemetry";
import { errorEvent, finalEvent, tokenEvent, type FinalContent } from "./events";
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
  /** Stores each token event in the durable record as it is sent (absent where no record is kept). */
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

  /** Sends one token chunk (the coalescer's `onChunk`). */
  async token(text: string, sequenceNumber: number): Promise<void> {
    const event = tokenEvent(this.options.request, this.options.runId, sequenceNumber, text, this.timestamp());
    // Recorded whether or not the publish succeeds: the durable record is the truth a client can always reach.
    this.options.recorder?.recordToken(event);
    if (await this.emit(event)) this.chunks++;
  }

  /**
   * Sends the final_response, cut to fit the event size limit when it must be (logged); returns the event sent. A
   * `tail` rides in the final when the whole final fits (it is still recorded as a token event, so a replay has every
   * chunk); otherwise it goes out as its own token event first.
   */
  async final(final: FinalContent): Promise<FinalEvent> {
    const { request, runId } = this.options;
    let fitted = finalEvent(request, runId, final, this.timestamp());
    if (final.tail && fitted.trimmed === "none") this.options.recorder?.recordToken(tokenEvent(request, runId, final.lastSequenceNumber, final.tail, this.timestamp()));
    else if (final.tail) {
      await this.token(final.tail, final.lastSequenceNumber);
      fitted = finalEvent(request, runId, { ...final, tail: undefined }, this.timestamp());
    }
    if (fitted.trimmed !== "none") this.options.logger.warn("final event trimmed to fit the event size limit", { ...this.ids, trimmed: fitted.trimmed, contentChars: final.content.length });
    await this.emit(fitted.event);
    return fitted.event;
  }

  /** Sends the error event of a failed generation; returns the event sent. */
  async error(failure: GenerationFailure): Promise<ErrorEvent> {
    const event = errorEvent(this.options.request, this.options.runId, failure, this.timestamp());
    await this.emit(event);
    return event;
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
