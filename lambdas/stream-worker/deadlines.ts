/**
 * A generation's deadlines from its Lambda's remaining time: the model call is aborted `shutdownMarginMs` before the
 * end (so the message still ends with an error event), and no publish starts `publishMarginMs` before it (enough for
 * the history and record writes), so the invocation never runs into its timeout. The worker and the Function URL's
 * function both take them.
 */
import type { GenerationOptions } from "./generation";

export interface DeadlineMargins {
  /** Time kept back before the deadline to end the message with an error event: the model call is aborted then (default 6000 ms). */
  shutdownMarginMs?: number;
  /** Time kept back after which no publish starts and in-flight ones stop (default 3000 ms; at most shutdownMarginMs). */
  publishMarginMs?: number;
}

export const DEFAULT_SHUTDOWN_MARGIN_MS = 6000;
export const DEFAULT_PUBLISH_MARGIN_MS = 3000;

/** The abort and publishing signals for a run with `remainingMs` left; none when the remaining time is unknown. */
export function generationDeadlines(remainingMs: number | undefined, margins: DeadlineMargins = {}): GenerationOptions {
  if (remainingMs === undefined) return {};
  const marginMs = margins.shutdownMarginMs ?? DEFAULT_SHUTDOWN_MARGIN_MS;
  const publishMarginMs = Math.min(marginMs, margins.publishMarginMs ?? DEFAULT_PUBLISH_MARGIN_MS);
  const generateMs = Math.max(1000, remainingMs - marginMs);
  return {
    abortSignal: AbortSignal.timeout(generateMs),
    publishSignal: AbortSignal.timeout(Math.max(generateMs, remainingMs - publishMarginMs)),
  };
}
