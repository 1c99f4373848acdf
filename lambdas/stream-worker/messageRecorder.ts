/**
 * Keeps the durable record of one run's message (lambdas/shared/messageStore.ts) beside the live stream: each streamed
 * event (token and reasoning chunks, tool notices) is stored in the background as it is sent, under its eventSequence, never awaited by the delivery path, and the message is ended with
 * its final_response or error event once every token write has settled. A failed write is counted and logged; the
 * stream goes on.
 */
import type { MessageStatus } from "../../contracts/messageState";
import { serializeEvent, type ReasoningEvent, type StreamEvent, type TokenEvent, type ToolActionEvent } from "../../contracts/streamEvents";
import type { MessageRef, MessageStart, MessageStore } from "../shared/messageStore";
import type { RuntimeLogger, RuntimeMetrics } from "../shared/telemetry";

export interface MessageRecorderOptions {
  store: MessageStore;
  ref: MessageRef;
  runId: string;
  logger: RuntimeLogger;
  metrics: RuntimeMetrics;
}

export class MessageRecorder {
  private readonly pending = new Set<Promise<void>>();
  private writes = 0;

  constructor(private readonly options: MessageRecorderOptions) {}

  /** Items written for this message (streamed events and the end), for the bench and the summary. */
  get itemsWritten(): number {
    return this.writes;
  }

  /** Marks the record STREAMING for this run; see MessageStore.start. */
  start(): Promise<MessageStart> {
    return this.options.store.start(this.options.ref, this.options.runId);
  }

  /** Stores a streamed event in the background, at its eventSequence: the JSON is the one the subscription carries. */
  recordEvent(event: TokenEvent | ReasoningEvent | ToolActionEvent): void {
    const { store, ref, runId } = this.options;
    const at = event.data.eventSequence ?? (event.action === "on_new_llm_token" ? event.data.token.sequenceNumber : 0);
    const write = store
      .appendEvent(ref, runId, at, serializeEvent(event))
      .then(() => void this.writes++)
      .catch((error) => this.failed("token event", error))
      .finally(() => this.pending.delete(write));
    this.pending.add(write);
  }

  /** Waits for the event writes, then ends the record with `status` and the final or error event. */
  async end(status: MessageStatus, endEvent: StreamEvent): Promise<void> {
    await Promise.all(this.pending);
    try {
      await this.options.store.end(this.options.ref, this.options.runId, status, serializeEvent(endEvent));
      this.writes++;
    } catch (error) {
      this.failed("end of message", error);
    }
  }

  private failed(what: string, error: unknown): void {
    this.options.metrics.countError("RECORD_WRITE_FAILED");
    this.options.logger.error(`message record write failed (${what}); the live stream is unaffected`, { ...this.options.ref, runId: this.options.runId, error });
  }
}
