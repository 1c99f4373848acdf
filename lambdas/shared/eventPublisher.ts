/** The one interface every event sink implements: the AppSync publisher (direct), the topic publisher (queued), the worker's delivery router. */
import type { StreamEvent } from "../../contracts/streamEvents";

export interface PublishOptions {
  /** Once it fires no attempt or retry starts, and an attempt in flight is cancelled (e.g. the Lambda's deadline). */
  signal?: AbortSignal;
  /** At most this many attempts for this event (the sink's own setting when absent or larger). */
  maxAttempts?: number;
}

export interface EventPublisher {
  /** Resolves once the event is accepted by the sink; rejects when it is not (after the sink's own retries). */
  publish(event: StreamEvent, options?: PublishOptions): Promise<void>;
}
