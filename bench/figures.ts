/**
 * The figures of one batch of streams, from what the subscribers received and what the Bedrock stand-in emitted (one
 * process, one clock): token delivery latency (all tokens, and those of each answer's first 2 s), time to first token,
 * the simulated reader's starvation and lead, exactness, the stand-in's pace and the real-time updates.
 */
import type { StandInRequest } from "../local/bedrock";
import { READING_PACE_WARMUP_MS } from "../lambdas/stream-worker/readingPace";
import { tokenLatencies } from "./latency";
import { readStream, worstOf, type ReaderFigures } from "./reader";
import { summarize, type Summary } from "./stats";
import type { StreamRun } from "./streams";

/** The opening whose delivery latency is judged against max_delay_ms (the reading-pace window's own opening). */
export const OPENING_MS = READING_PACE_WARMUP_MS;

export interface BatchFigures {
  streams: number;
  completed: number;
  errors: string[];
  outputTokens: number;
  chunks: number;
  latencyMs: Summary;
  /** Tokens written in the first 2 s after each answer's first token. */
  openingLatencyMs: Summary;
  ttftMs: Summary;
  /** The first token's own delivery latency (stand-in emission to the subscriber): the part of TTFT batching could change. */
  firstTokenLatencyMs: Summary;
  /** A reader at the stack's batching.reading_tokens_per_second from each answer's first token. */
  reader: ReaderFigures;
  undeliveredTokens: number;
  textMatches: boolean;
  /** Measured stand-in pace, tokens per second per stream. */
  measuredTokensPerSecond: number;
  /** Sum over streams of first-to-last token emission (+ one token interval). */
  streamSeconds: number;
  realtimeUpdates: number;
  wallMs: number;
}

/** One stream's share of the figures. */
interface StreamShare {
  latencies: number[];
  opening: number[];
  reader: ReaderFigures;
  undelivered: number;
  textMatches: boolean;
  spanSeconds: number;
}

function streamShare(emitted: StandInRequest["tokens"], run: StreamRun, readingTokensPerSecond: number): StreamShare {
  const t = tokenLatencies(emitted, run.chunks);
  const first = emitted[0]!.at;
  const emittedAt = emitted.map((e) => e.at);
  const deliveredAt = t.latencies.map((l, i) => emittedAt[i]! + l);
  return {
    latencies: t.latencies,
    opening: t.latencies.filter((_, i) => emittedAt[i]! - first < OPENING_MS),
    reader: readStream(emittedAt, deliveredAt, readingTokensPerSecond),
    undelivered: t.undelivered,
    textMatches: !run.completed || t.textMatches,
    spanSeconds: (emitted[emitted.length - 1]!.at - first) / 1000,
  };
}

/** The batch's figures; `requests` is the stand-in's log (emission times by prompt). */
export function batchFigures(requests: readonly StandInRequest[], runs: StreamRun[], pace: { tokensPerSecond: number; readingTokensPerSecond: number }, wallMs: number): BatchFigures {
  const byPrompt = new Map<string, StandInRequest>(requests.map((r) => [r.prompt, r]));
  const shares: StreamShare[] = [];
  const ttft: number[] = [];
  let outputTokens = 0;
  let realtimeUpdates = 0;
  let textMatches = true;
  let pacedTokens = 0;
  for (const r of runs) {
    realtimeUpdates += r.payloadBytes.reduce((n, b) => n + Math.max(1, Math.ceil(b / 5120)), 0);
    const emitted = byPrompt.get(r.prompt)?.tokens;
    if (!emitted?.length) {
      textMatches = false;
      continue;
    }
    outputTokens += emitted.length;
    pacedTokens += emitted.length - 1;
    const share = streamShare(emitted, r, pace.readingTokensPerSecond);
    shares.push(share);
    textMatches &&= share.textMatches;
    if (r.chunks.length) ttft.push(Math.min(...r.chunks.map((c) => c.receivedAt)) - r.sentAt);
  }
  const paceSeconds = shares.reduce((n, s) => n + s.spanSeconds, 0);
  return {
    streams: runs.length,
    completed: runs.filter((r) => r.completed).length,
    errors: runs.filter((r) => r.error).map((r) => `${r.sessionId}: ${r.error}`),
    outputTokens,
    chunks: runs.reduce((n, r) => n + r.chunks.length, 0),
    latencyMs: summarize(shares.flatMap((s) => s.latencies)),
    openingLatencyMs: summarize(shares.flatMap((s) => s.opening)),
    ttftMs: summarize(ttft),
    firstTokenLatencyMs: summarize(shares.flatMap((sh) => sh.latencies.slice(0, 1))),
    reader: worstOf(shares.map((s) => s.reader)),
    undeliveredTokens: shares.reduce((n, s) => n + s.undelivered, 0),
    textMatches,
    measuredTokensPerSecond: paceSeconds > 0 ? pacedTokens / paceSeconds : Number.NaN,
    streamSeconds: paceSeconds + shares.length / pace.tokensPerSecond,
    realtimeUpdates,
    wallMs,
  };
}
