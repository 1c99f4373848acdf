/**
 * The reading-pace window (`batching.mode = "reading_pace"`): when the chunk that starts now is flushed, from how far
 * the delivered text is ahead of a reader who reads `readingTokensPerSecond` from the message's first token. A model
 * writes 50-100 tokens a second and a person reads 5-15, so after the opening the delivered text is seconds ahead and
 * a message every max_delay_ms buys nothing the reader can see. One pure function, tested on its own; TokenCoalescer
 * arms its timer with it.
 */

/** The opening of an answer stays as live as the fixed window: a chunk started in the first 2 s waits at most max_delay_ms. */
export const READING_PACE_WARMUP_MS = 2000;

/** The batching keys the window reads (config: batching.max_delay_ms, reading_tokens_per_second, max_window_ms). */
export interface ReadingPaceSettings {
  maxDelayMs: number;
  readingTokensPerSecond: number;
  maxWindowMs: number;
}

/** Where the message stands when a chunk starts. */
export interface PaceState {
  /** When the chunk's oldest buffered text arrived, in ms since the message's first token. */
  sinceFirstTokenMs: number;
  /** Tokens (model deltas) handed out so far, the first one included. */
  deliveredTokens: number;
  /** Tokens waiting in the chunk. */
  bufferedTokens: number;
}

/**
 * The chunk's flush time, in ms since the message's first token. The reader's lead is how long it still reads the
 * delivered text (deliveredTokens at its pace, minus the time gone):
 * - nothing buffered: never (Infinity);
 * - no lead (the reader has caught up): max_delay_ms after the chunk started, as the fixed window;
 * - a lead: after half of it, so the chunk lands while the reader still has text; at most max_delay_ms in the first
 *   2 s (the opening stays live), and after them between max_delay_ms and max_window_ms.
 */
export function readingPaceFlushAt(state: PaceState, s: ReadingPaceSettings): number {
  const t = state.sinceFirstTokenMs;
  if (state.bufferedTokens <= 0) return Number.POSITIVE_INFINITY;
  const leadMs = (state.deliveredTokens * 1000) / s.readingTokensPerSecond - t;
  if (leadMs <= 0) return t + s.maxDelayMs;
  if (t < READING_PACE_WARMUP_MS) return t + Math.min(s.maxDelayMs, leadMs / 2);
  return t + Math.min(s.maxWindowMs, Math.max(s.maxDelayMs, leadMs / 2));
}
