/** The issue's targets, judged as ratios within one run. Each says PASS or MISS and, when missed, why. */
import type { BundleFigures } from "./artifacts";
import type { DeliveryResults, ModeResult } from "./delivery";
import { round } from "./stats";

export interface TargetResult {
  target: string;
  measured: string;
  status: "PASS" | "MISS";
  reason?: string;
  /** Set when a latency figure is within this machine's run-to-run noise of its limit, either way. */
  note?: string;
}

/** p99 on this shared machine moved by about this much between otherwise identical runs. */
export const LATENCY_NOISE_MS = 15;

export const BUNDLE_ZIP_LIMIT_BYTES = 300 * 1024;
export const BUNDLE_INIT_LIMIT_MS = 150;
export const MUTATION_RATIO_LIMIT = 1 / 20;
export const LATENCY_SLACK_MS = 25;
export const DIRECT_TO_QUEUED_P50_LIMIT = 1 / 3;

function mode(d: DeliveryResults, id: ModeResult["id"]): ModeResult | undefined {
  return d.modes.find((m) => m.id === id);
}

export function judgeTargets(d: DeliveryResults, bundles: BundleFigures[]): TargetResult[] {
  const out: TargetResult[] = [];
  const tps = d.plan.tokensPerSecond;
  for (const path of ["queued", "direct"] as const) {
    const perToken = mode(d, `${path}-per-token`);
    const coalesced = mode(d, `${path}-coalesced`);
    if (!perToken || !coalesced) continue;
    const ratio = coalesced.counters.publishResponse / coalesced.main.outputTokens / (perToken.counters.publishResponse / perToken.main.outputTokens);
    const windowMs = coalesced.maxDelayMs;
    // A chunk opens on a delta and closes windowMs later, so it holds about 1 + rate * window tokens.
    const bestRatio = 1 / (1 + (tps * windowMs) / 1000);
    const neededWindow = Math.ceil(((1 / MUTATION_RATIO_LIMIT - 1) * 1000) / tps);
    out.push({
      target: `${path}: coalesced AppSync mutations <= 1/20 of one-per-token, at ${tps} tokens/s`,
      measured: `1/${round(1 / ratio, 1)} (${round(coalesced.per1kTokens.appsyncMutations, 1)} vs ${round(perToken.per1kTokens.appsyncMutations, 1)} per 1,000 tokens)`,
      status: ratio <= MUTATION_RATIO_LIMIT ? "PASS" : "MISS",
      reason:
        ratio <= MUTATION_RATIO_LIMIT
          ? undefined
          : bestRatio > MUTATION_RATIO_LIMIT
            ? `max_delay_ms ${windowMs} at ${tps} tokens/s holds about ${round(1 + (tps * windowMs) / 1000, 1)} tokens a chunk, so the best possible ratio is about 1/${round(1 / bestRatio, 1)}; 1/20 needs max_delay_ms >= ${neededWindow} at this rate (or a faster model), which adds that much latency`
            : `steady-state chunks hold about ${round(1 + (tps * windowMs) / 1000, 1)} tokens (1/${round(1 / bestRatio, 1)}), but every message also pays a first chunk sent at once (time to first token), a final event and a partly filled last chunk; over ${round(coalesced.main.outputTokens / coalesced.main.streams, 0)}-token answers that overhead takes the ratio to 1/${round(1 / ratio, 1)}; longer answers approach the steady state`,
    });
  }
  for (const id of ["queued-coalesced", "direct-coalesced"] as const) {
    const m = mode(d, id);
    if (!m) continue;
    const limit = m.maxDelayMs + LATENCY_SLACK_MS;
    const p99 = m.main.latencyMs.p99;
    const perToken = mode(d, id.replace("coalesced", "per-token") as ModeResult["id"]);
    out.push({
      target: `${id}: p99 token delivery latency <= max_delay_ms + ${LATENCY_SLACK_MS} ms (${limit} ms)`,
      measured: `${round(p99)} ms${perToken ? ` (one-per-token on the same path: ${round(perToken.main.latencyMs.p99)} ms)` : ""}`,
      status: p99 <= limit ? "PASS" : "MISS",
      reason: p99 <= limit ? undefined : `the path itself adds ${round(p99 - m.maxDelayMs)} ms at p99 on this shared 2-core machine (gateway, handlers, fauxqs and the stand-in share one event loop)`,
      note: Math.abs(p99 - limit) <= LATENCY_NOISE_MS ? `within ${LATENCY_NOISE_MS} ms of the limit: run-to-run noise on this machine can flip it` : undefined,
    });
  }
  for (const kind of ["per-token", "coalesced"] as const) {
    const direct = mode(d, `direct-${kind}`);
    const queued = mode(d, `queued-${kind}`);
    if (!direct || !queued) continue;
    const ratio = direct.main.latencyMs.p50 / queued.main.latencyMs.p50;
    out.push({
      target: `${kind}: directSend p50 <= 1/3 of queued p50`,
      measured: `${round(direct.main.latencyMs.p50)} ms vs ${round(queued.main.latencyMs.p50)} ms (ratio ${round(ratio, 2)})`,
      status: ratio <= DIRECT_TO_QUEUED_P50_LIMIT ? "PASS" : "MISS",
      reason:
        ratio <= DIRECT_TO_QUEUED_P50_LIMIT
          ? undefined
          : kind === "coalesced"
            ? `both wait for the ${direct.maxDelayMs} ms coalescing window (about half of it at p50), which dominates; the queue hop adds ${round(queued.main.latencyMs.p50 - direct.main.latencyMs.p50)} ms`
            : `locally the queue hop is cheap (fauxqs in the same process, no network); it adds ${round(queued.main.latencyMs.p50 - direct.main.latencyMs.p50)} ms at p50`,
      note:
        Math.abs(ratio - DIRECT_TO_QUEUED_P50_LIMIT) <= 0.1
          ? "within 0.1 of the limit: queued p50 is only a few ms here and moved by several ms between runs on this machine"
          : undefined,
    });
  }
  for (const b of bundles) {
    const sizeOk = b.zippedBytes <= BUNDLE_ZIP_LIMIT_BYTES;
    const initOk = b.initMs.median <= BUNDLE_INIT_LIMIT_MS;
    const problems = [
      sizeOk ? "" : `zipped ${round(b.zippedBytes / 1024)} KB is over 300 KB`,
      initOk ? "" : `module init ${round(b.initMs.median)} ms (median) is over 150 ms on this shared machine; the bundle's module scope loads the SDK clients and Powertools`,
    ].filter(Boolean);
    out.push({
      target: `${b.name} bundle: <= 300 KB zipped, init <= 150 ms`,
      measured: `${round(b.zippedBytes / 1024)} KB, ${round(b.initMs.median)} ms`,
      status: sizeOk && initOk ? "PASS" : "MISS",
      reason: problems.length ? problems.join("; ") : undefined,
    });
  }
  return out;
}
