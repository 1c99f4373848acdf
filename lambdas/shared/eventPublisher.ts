/** The one interface every event sink implements: the AppSync publisher (direct), the topic publisher (queued), the worker's delivery router. */
import type { StreamEvent } from "./envelope";

export interface EventPublisher {
  /** Resolves once the event is accepted by the sink; rejects when it is not (after the sink's own retries). */
  publish(event: StreamEvent): Promise<void>;
}
