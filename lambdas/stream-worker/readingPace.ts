/**
 * The reading-pace window (`batching.mode = "reading_pace"`): when the chunk that starts now is flushed, from how far
 * the delivered text is ahead of a reader who reads `readingTokensPerSecond` from the message's first token. A model
 * writes 50-100 tokens a second and a person reads 5-15, so after the opening the delivered text is seconds ahead and
 * a message every max_delay_ms buys nothing the reader can see. One pure function, tested on its own; TokenCoalescer
 * arms its timer with it.
 */

/** The opening of an answer stays as live as the fixed window: a chunk started in the first 2 s waits at most max_delay_ms. */
export const READING_PACE_WARMUP_MS = 2000;

/**
 * A chunk leaves while the reader still has at least this much text in hand (or at once when it has less): room for
 * the delivery path's jitter between two chunks. It only binds in the opening; afterwards the lead is seconds.
 */
export const READER_MARGIN_MS = 100;

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
 * - a lead: once half of it is read, keeping READER_MARGIN_MS in hand, so the chunk lands while the reader still has
 *   text; in the first 2 s at most max_delay_ms (the opening stays live, and goes out early when the reader would run
 *   out), after them between max_delay_ms and max_window_ms (never more messages than the fixed window).
 */
export function readingPaceFlushAt(state: PaceState, s: ReadingPaceSettings): number {
  const t = state.sinceFirstTokenMs;
  if (state.bufferedTokens <= 0) return Number.POSITIVE_INFINITY;
  const leadMs = (state.deliveredTokens * 1000) / s.readingTokensPerSecond - t;
  if (leadMs <= 0) return t + s.maxDelayMs;
  const wait = Math.min(leadMs / 2, leadMs - READER_MARGIN_MS);
  if (t < READING_PACE_WARMUP_MS) return t + Math.min(s.maxDelayMs, Math.max(0, wait));
  return t + Math.min(s.maxWindowMs, Math.max(s.maxDelayMs, wait));
}
