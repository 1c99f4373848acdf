/**
 * A simulated reader for one stream: it starts on the first token when that reaches the subscriber and reads the
 * answer in order at a fixed pace (tokens per second). It starves when it has read everything delivered while the
 * model has already written the next token. Pure: the bench and its tests share it.
 */

export interface ReaderFigures {
  /** Time the reader sat with nothing to read while the model had already written more, summed over the stream. */
  starvedMs: number;
  /** The longest such wait. */
  worstWaitMs: number;
  /** The most tokens the model had written that the subscriber did not have yet, at any moment. */
  worstLeadTokens: number;
  /** The longest a token took from the model to the subscriber. */
  worstLeadMs: number;
}

/**
 * The reader's figures for one stream: `emittedAt[i]` is when the model wrote token i, `deliveredAt[i]` when the
 * chunk carrying it reached the subscriber (in order: a token after a gap counts when the gap fills).
 */
export function readStream(emittedAt: readonly number[], deliveredAt: readonly number[], tokensPerSecond: number): ReaderFigures {
  const perToken = 1000 / tokensPerSecond;
  const out: ReaderFigures = { starvedMs: 0, worstWaitMs: 0, worstLeadTokens: 0, worstLeadMs: 0 };
  let free = deliveredAt[0] ?? 0;
  let delivered = 0;
  deliveredAt.forEach((d, i) => {
    const e = emittedAt[i]!;
    // Waiting for token i only counts once the model had written it.
    const wait = d - Math.max(free, e);
    if (wait > 0) {
      out.starvedMs += wait;
      out.worstWaitMs = Math.max(out.worstWaitMs, wait);
    }
    free = Math.max(free, d) + perToken;
    out.worstLeadMs = Math.max(out.worstLeadMs, d - e);
    while (delivered < deliveredAt.length && deliveredAt[delivered]! <= e) delivered++;
    out.worstLeadTokens = Math.max(out.worstLeadTokens, i + 1 - delivered);
  });
  return out;
}

/** The worst of several streams' figures (starvation summed). */
export function worstOf(figures: readonly ReaderFigures[]): ReaderFigures {
  return {
    starvedMs: figures.reduce((n, f) => n + f.starvedMs, 0),
    worstWaitMs: Math.max(0, ...figures.map((f) => f.worstWaitMs)),
    worstLeadTokens: Math.max(0, ...figures.map((f) => f.worstLeadTokens)),
    worstLeadMs: Math.max(0, ...figures.map((f) => f.worstLeadMs)),
  };
}
