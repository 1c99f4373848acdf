/** The reading-pace window on its own: its bounds hold for every input (property-style, seeded), and a few worked cases. */
import { seeded } from "../../local/bedrock/answer";
import { READER_MARGIN_MS, READING_PACE_WARMUP_MS, readingPaceFlushAt, type PaceState, type ReadingPaceSettings } from "../../lambdas/stream-worker/readingPace";

/** (t + w) - t is w only up to rounding. */
const EPSILON = 1e-6;
const DEFAULTS: ReadingPaceSettings = { maxDelayMs: 250, readingTokensPerSecond: 15, maxWindowMs: 1000 };

/** 5,000 random inputs over the configurable ranges (config/rules.ts), the same ones on every run. */
function samples(seed: number, count = 5000): { state: PaceState; s: ReadingPaceSettings; leadMs: number }[] {
  const rand = seeded(seed);
  const int = (min: number, max: number) => min + Math.floor(rand() * (max - min + 1));
  return Array.from({ length: count }, () => {
    const maxDelayMs = int(0, 1000);
    const s = { maxDelayMs, readingTokensPerSecond: int(1, 100), maxWindowMs: int(maxDelayMs, 5000) };
    const state = { sinceFirstTokenMs: rand() < 0.3 ? int(0, READING_PACE_WARMUP_MS) : int(0, 60_000), deliveredTokens: int(1, 4000), bufferedTokens: int(1, 200) };
    return { state, s, leadMs: (state.deliveredTokens * 1000) / s.readingTokensPerSecond - state.sinceFirstTokenMs };
  });
}

describe("readingPaceFlushAt", () => {
  const cases = samples(18);

  it("never flushes before the chunk started, nor after its window cap", () => {
    for (const { state, s } of cases) {
      const at = readingPaceFlushAt(state, s);
      const cap = state.sinceFirstTokenMs < READING_PACE_WARMUP_MS ? s.maxDelayMs : s.maxWindowMs;
      expect([state, s, at >= state.sinceFirstTokenMs && at <= state.sinceFirstTokenMs + cap]).toEqual([state, s, true]);
    }
  });

  it("keeps the first 2 s within max_delay_ms, and after them never sends more often than the fixed window", () => {
    for (const { state, s } of cases) {
      const waited = readingPaceFlushAt(state, s) - state.sinceFirstTokenMs;
      const ok = state.sinceFirstTokenMs < READING_PACE_WARMUP_MS ? waited <= s.maxDelayMs + EPSILON : waited >= s.maxDelayMs - EPSILON;
      expect([state, s, ok]).toEqual([state, s, true]);
    }
  });

  it("sends the chunk while the reader still has half its lead and the margin in hand (or at once), unless that is the fixed window's floor", () => {
    for (const { state, s, leadMs } of cases) {
      const waited = readingPaceFlushAt(state, s) - state.sinceFirstTokenMs;
      const wanted = Math.min(leadMs / 2, leadMs - READER_MARGIN_MS);
      const floor = state.sinceFirstTokenMs >= READING_PACE_WARMUP_MS && wanted < s.maxDelayMs;
      const inHand = Math.min(leadMs, Math.max(leadMs / 2, READER_MARGIN_MS));
      if (leadMs > 0 && !floor) expect([state, s, leadMs - waited >= inHand - EPSILON]).toEqual([state, s, true]);
      if (leadMs <= 0) expect([state, s, Math.abs(waited - s.maxDelayMs) < EPSILON]).toEqual([state, s, true]);
    }
  });

  // Not across a lead of zero: a reader who has already caught up gets the fixed window (one message per token would
  // be the only cure, at the seeds' cost), one who is about to run out gets the chunk early.
  it("grows with the lead: once the reader is ahead, more text delivered never brings the flush earlier", () => {
    for (const { state, s } of cases.filter((c) => c.leadMs > 0)) {
      const later = readingPaceFlushAt({ ...state, deliveredTokens: state.deliveredTokens + 50 }, s);
      expect([state, s, later >= readingPaceFlushAt(state, s)]).toEqual([state, s, true]);
    }
  });

  it("has nothing to flush when nothing is buffered", () => {
    expect(readingPaceFlushAt({ sinceFirstTokenMs: 3000, deliveredTokens: 10, bufferedTokens: 0 }, DEFAULTS)).toBe(Number.POSITIVE_INFINITY);
  });

  it("at 80 tokens/s: at once at the very start (the reader would run out), max_delay_ms in the opening, the cap after it", () => {
    // One token delivered: a reader finishes it at 67 ms, less than the margin ahead of the second delta, so it goes at once.
    expect(readingPaceFlushAt({ sinceFirstTokenMs: 12.5, deliveredTokens: 1, bufferedTokens: 1 }, DEFAULTS)).toBe(12.5);
    // Four tokens by 50 ms: the reader has 217 ms left; the chunk leaves with half of it in hand.
    expect(readingPaceFlushAt({ sinceFirstTokenMs: 50, deliveredTokens: 4, bufferedTokens: 1 }, DEFAULTS)).toBeCloseTo(50 + (4000 / 15 - 50) / 2);
    expect(readingPaceFlushAt({ sinceFirstTokenMs: 1000, deliveredTokens: 80, bufferedTokens: 1 }, DEFAULTS)).toBe(1250);
    // 2.5 s in, 200 tokens delivered: a reader needs 13.3 s for them, so the window is the cap.
    expect(readingPaceFlushAt({ sinceFirstTokenMs: 2500, deliveredTokens: 200, bufferedTokens: 1 }, DEFAULTS)).toBe(3500);
    // A slow model the reader has caught up with: the fixed window.
    expect(readingPaceFlushAt({ sinceFirstTokenMs: 5000, deliveredTokens: 50, bufferedTokens: 1 }, DEFAULTS)).toBe(5250);
  });
});
