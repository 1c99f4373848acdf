/** The one interface every event sink implements: the AppSync publisher (direct), the topic publisher (queued), the worker's delivery router. */
import type { StreamEvent } from "./envelope";

export interface EventPublisher {
  /** Resolves once the event is accepted by the sink; rejects when it is not (after the sink's own retries). */
  publish(event: StreamEvent): Promise<void>;
}

/** The narrow logging surface the runtime modules need; a Powertools Logger fits it. */
export interface RuntimeLogger {
  debug(message: string, ...extra: unknown[]): void;
  info(message: string, ...extra: unknown[]): void;
  warn(message: string, ...extra: unknown[]): void;
  error(message: string, ...extra: unknown[]): void;
}

/** Discards everything: the default where a caller passes no logger. */
export const silentLogger: RuntimeLogger = { debug() {}, info() {}, warn() {}, error() {} };
