/**
 * The targets, judged as ratios within one run: each says PASS or MISS and, when missed, why. Targets the
 * local stand-ins cannot measure (the queue hop is in-process here) are modelled on AWS's published figures in a table
 * of their own (modelledTargets), never mixed with the measured ones. chooseDefault picks the shipped batching mode.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import type { BatchingMode } from "../contracts/runtimeSettings";
import type { BundleFigures } from "./artifacts";
import type { DeliveryResults, ModeResult } from "./delivery";
import { worstOf } from "./reader";
import { round } from "./stats";

export interface TargetResult {
  target: string;
  measured: string;
  status: "PASS" | "MISS";
  reason?: string;
  /** Set when a latency figure is within this machine's run-to-run noise of its limit, either way. */
  note?: string;
  /** The batching mode the target judges, when it judges one (chooseDefault reads it). */
  mode?: BatchingMode;
}

/** A target modelled on AWS's published figures instead of measured: the local queue hop is a few ms in one process. */
export interface ModelledTarget {
  target: string;
  measuredLocally: string;
  published: string;
  modelled: string;
  status: "PASS (modelled)" | "MISS (modelled)";
}

export interface DefaultChoice {
  mode: BatchingMode;
  reason: string;
}

/** p99 on this shared machine moved by about this much between otherwise identical runs. */
export const LATENCY_NOISE_MS = 15;
/**
 * The first token's delivery (p50) may differ from one-per-token's by this much and count as unchanged: the part of
 * time to first token that batching could change. The client-side TTFT around it (sendQuery, the work queue, the
 * stand-in's 300 ms) moved by up to about 40 ms between modes in one run on this machine.
 */
export const TTFT_NOISE_MS = 25;

export const BUNDLE_ZIP_LIMIT_BYTES = 300 * 1024;
export const BUNDLE_INIT_LIMIT_MS = 150;
export const TYPICAL_RATIO_LIMIT = 1 / 20;
export const LONG_RATIO_LIMIT = 1 / 50;
export const LATENCY_SLACK_MS = 25;
export const DIRECT_TO_QUEUED_P50_LIMIT = 1 / 3;

const PATHS = ["queued", "direct"] as const;
const CANDIDATES = [
  { mode: "fixed", id: "fixed" },
  { mode: "reading_pace", id: "reading-pace" },
] as const;

function mode(d: DeliveryResults, id: ModeResult["id"]): ModeResult | undefined {
  return d.modes.find((m) => m.id === id);
}

/** Each candidate default mode on each path, with the one-per-token mode of that path. */
function candidates(d: DeliveryResults): { m: ModeResult; perToken: ModeResult; path: (typeof PATHS)[number]; mode: BatchingMode }[] {
  return PATHS.flatMap((p) =>
    CANDIDATES.flatMap((c) => {
      const m = mode(d, `${p}-${c.id}`);
      const perToken = mode(d, `${p}-per-token`);
      return m && perToken ? [{ m, perToken, path: p, mode: c.mode }] : [];
    }),
  );
}

/** 400-token answers, either candidate as the default: AppSync mutations at most 1/20 of one per token. */
function typicalRatioTargets(d: DeliveryResults): TargetResult[] {
  return candidates(d).map(({ m, perToken, path: p, mode: bm }) => {
    const ratio = m.per1kTokens.appsyncMutations / perToken.per1kTokens.appsyncMutations;
    const perChunk = 1 + (d.plan.tokensPerSecond * m.maxDelayMs) / 1000;
    return {
      target: `${p}, ${round(m.main.outputTokens / m.main.streams, 0)}-token answers, ${bm} as the default: AppSync mutations <= 1/20 of one-per-token`,
      measured: `1/${round(1 / ratio, 1)} (${round(m.per1kTokens.appsyncMutations, 1)} vs ${round(perToken.per1kTokens.appsyncMutations, 1)} per 1,000 tokens)`,
      status: ratio <= TYPICAL_RATIO_LIMIT ? "PASS" : "MISS",
      reason:
        ratio <= TYPICAL_RATIO_LIMIT
          ? undefined
          : bm === "fixed"
            ? `a ${m.maxDelayMs} ms window holds about ${round(perChunk, 1)} tokens at ${d.plan.tokensPerSecond} tokens/s, and each answer also pays its first chunk (sent at once for time to first token) and sendQuery, so the fixed window cannot reach 1/20 at this pace`
            : "the window did not grow enough after the opening at this pace",
      mode: bm,
    };
  });
}

/** 2,000-token answers in reading_pace: at most 1/50 of one per token (one per token measured on the direct path: its count does not depend on the path). */
function longRatioTargets(d: DeliveryResults): TargetResult[] {
  const ref = mode(d, "direct-per-token")?.long;
  return PATHS.flatMap((p) => {
    const m = mode(d, `${p}-reading-pace`);
    if (!m?.long || !ref) return [];
    const ratio = m.long.mutationsPer1kTokens / ref.mutationsPer1kTokens;
    const ok = ratio <= LONG_RATIO_LIMIT && m.long.completed && m.long.textMatches;
    return [
      {
        target: `${p}, ${d.plan.longTokens}-token answers, reading_pace: AppSync mutations <= 1/50 of one-per-token`,
        measured: `1/${round(1 / ratio, 1)} (${round(m.long.mutationsPer1kTokens, 1)} vs ${round(ref.mutationsPer1kTokens, 1)} per 1,000 tokens; ${m.long.appsyncMutations} mutations for ${m.long.tokens} tokens)`,
        status: ok ? "PASS" : "MISS",
        reason: ok ? undefined : !m.long.completed || !m.long.textMatches ? "the long answer did not arrive whole" : `max_chars ${m.maxChars} or max_window_ms ${m.maxWindowMs} caps the chunks at this pace`,
        mode: "reading_pace",
      },
    ];
  });
}

/** Time to first token unchanged within noise: the first delta is sent at once in every mode, so its own delivery matches one-per-token's. */
function ttftTargets(d: DeliveryResults): TargetResult[] {
  return candidates(d).map(({ m, perToken, path: p, mode: bm }) => {
    const delta = m.main.firstTokenLatencyMs.p50 - perToken.main.firstTokenLatencyMs.p50;
    const sign = (v: number) => `${v >= 0 ? "+" : ""}${round(v)}`;
    return {
      target: `${p}, ${bm}: time to first token unchanged (the first token's delivery p50 within ${TTFT_NOISE_MS} ms of one-per-token)`,
      measured: `first token delivered in ${round(m.main.firstTokenLatencyMs.p50)} ms vs ${round(perToken.main.firstTokenLatencyMs.p50)} ms (${sign(delta)} ms); TTFT at the client ${round(m.main.ttftMs.p50)} ms vs ${round(perToken.main.ttftMs.p50)} ms (${sign(m.main.ttftMs.p50 - perToken.main.ttftMs.p50)} ms)`,
      status: Math.abs(delta) <= TTFT_NOISE_MS ? "PASS" : "MISS",
      reason: Math.abs(delta) <= TTFT_NOISE_MS ? undefined : "the first chunk left later than the first delta, or this machine's load moved between the runs",
      mode: bm,
    };
  });
}

/**
 * The first 2 s of an answer delivered within max_delay_ms + 25 ms at p99, as the fixed window does, beyond the path's
 * own hop: the bound is the coalescer's, and the local queued hop (fauxqs and a poller sharing one event loop, p50
 * tens of ms under one message per token) is the stand-in's, not AWS's. The hop is one-per-token's p50 on the path.
 */
function openingTargets(d: DeliveryResults): TargetResult[] {
  return candidates(d).map(({ m, perToken, path: p, mode: bm }) => {
    const limit = m.maxDelayMs + LATENCY_SLACK_MS;
    const p99 = m.main.openingLatencyMs.p99;
    const hop = perToken.main.openingLatencyMs.p50;
    const added = p99 - hop;
    return {
      target: `${p}, ${bm}: tokens of the first 2 s delivered within max_delay_ms + ${LATENCY_SLACK_MS} ms at p99 (${limit} ms) beyond the path's hop`,
      measured: `${round(added)} ms (p99 ${round(p99)} ms less the hop's ${round(hop)} ms, one-per-token p50; one-per-token p99 ${round(perToken.main.openingLatencyMs.p99)} ms)`,
      status: added <= limit ? "PASS" : "MISS",
      reason: added <= limit ? undefined : `chunks of the opening waited ${round(added - m.maxDelayMs)} ms past max_delay_ms at p99 on this shared 2-core machine (gateway, handlers, fauxqs and the stand-in share one event loop)`,
      note: Math.abs(added - limit) <= LATENCY_NOISE_MS ? `within ${LATENCY_NOISE_MS} ms of the limit: run-to-run noise on this machine can flip it` : undefined,
      mode: bm,
    };
  });
}

/** A reader at reading_tokens_per_second from the first token never waits while the model has written more (main and long answers). */
function starvationTargets(d: DeliveryResults): TargetResult[] {
  return candidates(d).map(({ m, path: p, mode: bm }) => {
    const r = worstOf([m.main.reader, ...(m.long ? [m.long.reader] : [])]);
    const starved = r.starvedMs > 0;
    return {
      target: `${p}, ${bm}: a reader at ${m.readingTokensPerSecond} tokens/s from the first token is never starved`,
      measured: `starved ${round(r.starvedMs)} ms (longest wait ${round(r.worstWaitMs)} ms); produced text at most ${r.worstLeadTokens} tokens / ${round(r.worstLeadMs)} ms ahead of delivered`,
      status: starved ? "MISS" : "PASS",
      reason: starved ? (bm === "fixed" ? "the first chunk is one token, read in a fraction of the first window; the fixed window sends the next only max_delay_ms later" : "a chunk left later than the reader ran out of text") : undefined,
      mode: bm,
    };
  });
}

function bundleTargets(bundles: BundleFigures[]): TargetResult[] {
  return bundles.map((b) => {
    const sizeOk = b.zippedBytes <= BUNDLE_ZIP_LIMIT_BYTES;
    const initOk = b.initMs.median <= BUNDLE_INIT_LIMIT_MS;
    const problems = [
      sizeOk ? "" : `zipped ${round(b.zippedBytes / 1024)} KB is over 300 KB`,
      initOk ? "" : `module init ${round(b.initMs.median)} ms (median) is over 150 ms on this shared machine; the bundle's module scope loads the SDK clients and Powertools`,
    ].filter(Boolean);
    return {
      target: `${b.name} bundle: <= 300 KB zipped, init <= 150 ms`,
      measured: `${round(b.zippedBytes / 1024)} KB, ${round(b.initMs.median)} ms`,
      status: sizeOk && initOk ? "PASS" : "MISS",
      reason: problems.length ? problems.join("; ") : undefined,
    };
  });
}

/** Every measured target of the run. */
export function judgeTargets(d: DeliveryResults, bundles: BundleFigures[]): TargetResult[] {
  return [...typicalRatioTargets(d), ...longRatioTargets(d), ...ttftTargets(d), ...openingTargets(d), ...starvationTargets(d), ...bundleTargets(bundles)];
}

export interface PublishedHop {
  label: string;
  p50Ms: number;
  p99Ms: number;
}

export interface PublishedLatency {
  dateRead: string;
  source: string;
  hops: Record<"snsFifoToSqsFifoToLambda" | "sqsStandardToLambda" | "snsStandardToLambdaAsync" | "stepFunctionsExpressToLambdaAsync" | "stepFunctionsExpressToLambdaSync", PublishedHop>;
  /** What the source does not publish, said where the figures are used. */
  notFound?: string;
}

export const PUBLISHED_LATENCY_PATH = path.join(__dirname, "published-latency.json");

export function loadPublishedLatency(file = PUBLISHED_LATENCY_PATH): PublishedLatency {
  return JSON.parse(readFileSync(file, "utf8")) as PublishedLatency;
}

/**
 * "directSend p50 at most 1/3 of queued p50", modelled: locally the queue hop is fauxqs in the same process (a few
 * ms); on AWS it is SNS -> SQS -> Lambda. Modelled queued p50 = the local direct p50 (the worker's own work and the
 * AppSync leg, which both paths share) + the published hop's p50 (FIFO, as staging and prod deliver).
 */
export function modelledTargets(d: DeliveryResults, published = loadPublishedLatency()): ModelledTarget[] {
  const hop = published.hops.snsFifoToSqsFifoToLambda;
  const kinds = [
    { id: "per-token", label: "one message per token" },
    { id: "fixed", label: "fixed window" },
    { id: "reading-pace", label: "reading pace" },
  ] as const;
  return kinds.flatMap((k) => {
    const direct = mode(d, `direct-${k.id}`);
    const queued = mode(d, `queued-${k.id}`);
    if (!direct || !queued) return [];
    const modelledQueued = direct.main.latencyMs.p50 + hop.p50Ms;
    const ratio = direct.main.latencyMs.p50 / modelledQueued;
    return [
      {
        target: `${k.label}: directSend p50 <= 1/3 of queued p50`,
        measuredLocally: `direct ${round(direct.main.latencyMs.p50)} ms, queued ${round(queued.main.latencyMs.p50)} ms (local hop ${round(queued.main.latencyMs.p50 - direct.main.latencyMs.p50)} ms)`,
        published: `${hop.label}: p50 ${hop.p50Ms} ms, p99 ${hop.p99Ms} ms`,
        modelled: `direct ${round(direct.main.latencyMs.p50)} ms vs queued ${round(modelledQueued)} ms (ratio ${round(ratio, 2)})`,
        status: ratio <= DIRECT_TO_QUEUED_P50_LIMIT ? "PASS (modelled)" : "MISS (modelled)",
      },
    ];
  });
}

/** reading_pace when it meets every target that judges it; otherwise fixed, naming what reading_pace missed. */
export function chooseDefault(targets: readonly TargetResult[]): DefaultChoice {
  const judged = targets.filter((t) => t.mode === "reading_pace");
  const missed = judged.filter((t) => t.status === "MISS");
  if (judged.length && !missed.length) return { mode: "reading_pace", reason: `reading_pace meets every target that judges it (${judged.length} of ${judged.length})` };
  return { mode: "fixed", reason: judged.length ? `reading_pace missed: ${missed.map((t) => t.target).join("; ")}` : "reading_pace was not measured" };
}
