/**
 * The four delivery modes side by side, on the local stack run in this process: one stack per batching setting
 * (max_delay_ms 0 = one message per token, and local.tfvars' coalescing defaults), with DIRECT or QUEUED chosen per
 * request (local.tfvars sets client_delivery_choice). Same prompts and stand-in pace for every mode.
 */
import * as os from "node:os";
import * as v8 from "node:v8";
import { runInNewContext } from "node:vm";
import { performance } from "node:perf_hooks";
import { PurgeQueueCommand } from "@aws-sdk/client-sqs";
import type { StandInRequest } from "../local/bedrock";
import { startLocalStack, type LocalStack } from "../local/stack";
import { attachCounters, awsRequests, diffCounters, type AwsRequests, type CounterDelta, type StackCounters } from "./counters";
import { costPerMillionTokens, type CostBreakdown, type PriceTable } from "./cost";
import { tokenLatencies } from "./latency";
import { round, summarize, type Summary } from "./stats";
import { runStreams, type Delivery, type StreamRun } from "./streams";

export interface ModeSpec {
  id: "queued-per-token" | "direct-per-token" | "queued-coalesced" | "direct-coalesced";
  label: string;
  delivery: Delivery;
  coalesced: boolean;
}

export const MODES: readonly ModeSpec[] = [
  { id: "queued-per-token", label: "queued, one message per token (the seeds' design)", delivery: "QUEUED", coalesced: false },
  { id: "direct-per-token", label: "directSend, one message per token (the directSend PR)", delivery: "DIRECT", coalesced: false },
  { id: "queued-coalesced", label: "queued, coalesced (our defaults)", delivery: "QUEUED", coalesced: true },
  { id: "direct-coalesced", label: "directSend, coalesced (our defaults)", delivery: "DIRECT", coalesced: true },
];

export interface DeliveryPlan {
  firstTokenMs: number;
  tokensPerSecond: number;
  /** Streams, one after another (so the figures are not the local machine's saturation), and answer length of the run the per-mode figures come from. */
  mainStreams: number;
  mainTokens: number;
  /** Concurrent streams per level, ascending. Levels in between the required ones stop at the first level past 2x. */
  sweepLevels: number[];
  /** Levels always run (time budget permitting), past 2x or not: the 1 / 25 / 100. */
  requiredSweepLevels: number[];
  sweepTokens: number;
  /** Per batch of streams. */
  batchDeadlineMs: number;
  /** Longest wait for the queues to empty after a batch; then they are purged (and the mode says so). */
  drainTimeoutMs: number;
  /** Sweep levels not started by then are skipped (and reported as skipped). */
  deadlineAt: number;
  /**
   * Stream-worker pollers (Lambda scales out on the work queue). Keep it under ~45: the local pollers share one SQS
   * client (50 sockets), and more long-polling workers would starve the relay's receives.
   */
  workerConcurrency: number;
  relayConcurrency: number;
}

export interface BatchFigures {
  streams: number;
  completed: number;
  errors: string[];
  outputTokens: number;
  chunks: number;
  latencyMs: Summary;
  ttftMs: Summary;
  undeliveredTokens: number;
  textMatches: boolean;
  /** Measured stand-in pace, tokens per second per stream. */
  measuredTokensPerSecond: number;
  /** Sum over streams of first-to-last token emission (+ one token interval). */
  streamSeconds: number;
  realtimeUpdates: number;
  wallMs: number;
}

export interface SweepPoint {
  streams: number;
  skipped?: string;
  completed?: number;
  p50Ms?: number;
  p99Ms?: number;
  wallMs?: number;
  withinTwiceSingle?: boolean;
}

export interface ModeResult {
  id: ModeSpec["id"];
  label: string;
  delivery: Delivery;
  maxDelayMs: number;
  maxChars: number;
  main: BatchFigures;
  /** 1-minute load average of the machine just before and after the main run (other work shares the 2 cores). */
  loadAverage: { before: number; after: number };
  counters: CounterDelta;
  requests: AwsRequests;
  per1kTokens: Record<"appsyncMutations" | "appsyncRealtimeUpdates" | "snsPublishes" | "sqsRequests" | "lambdaInvocations", number>;
  costPerMillionTokens: CostBreakdown;
  publishesPerStreamSecond: number;
  /** Concurrent streams one API carries at the inbound-message quota, at this mode's mutation rate. */
  capacityStreamsPerApi: number;
  sweep: SweepPoint[];
  /** Largest sweep level whose p99 stayed within 2x the single-stream p99 (all streams completed). */
  sustainedStreams: number;
  sustainedNote: string;
  /** Queue backlogs that did not drain in time and were purged so the next batch starts clean. */
  purges: string[];
}

export interface DeliveryResults {
  plan: Omit<DeliveryPlan, "deadlineAt">;
  modes: ModeResult[];
  memoryMb: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// A full collection before each measured batch, so one batch's garbage is not collected during the next one's timing.
v8.setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as (() => void) | undefined;
function collectGarbage(): void {
  if (typeof gc === "function") gc();
}

/** Waits (bounded) until every invocation has finished, so durations and counters of a batch are complete. */
async function drained(counters: StackCounters, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end && !counters.settled()) await sleep(10);
}

/**
 * Waits (bounded) for both queues to empty and every invocation to finish, so a backlog from an overloaded batch
 * cannot leak into the next one; past the bound the queues are purged. Returns what was purged, if anything.
 */
async function settleQueues(stack: LocalStack, counters: StackCounters, timeoutMs: number): Promise<string | undefined> {
  const end = Date.now() + timeoutMs;
  const empty = async () => {
    const d = await stack.messaging.depths();
    return { ok: d.work.visible + d.work.inFlight + d.outbound.visible + d.outbound.inFlight === 0, d };
  };
  for (;;) {
    const { ok, d } = await empty();
    if (ok && counters.settled()) return undefined;
    if (Date.now() > end) {
      const what = `work ${d.work.visible + d.work.inFlight}, outbound ${d.outbound.visible + d.outbound.inFlight} messages`;
      const sqs = stack.messaging.clients.sqs;
      await Promise.all([stack.messaging.queues.work.url, stack.messaging.queues.outbound.url].map((QueueUrl) => sqs.send(new PurgeQueueCommand({ QueueUrl }))));
      await drained(counters, timeoutMs);
      return what;
    }
    await sleep(50);
  }
}

function analyse(stack: LocalStack, runs: StreamRun[], tokensPerSecond: number, wallMs: number): BatchFigures {
  const byPrompt = new Map<string, StandInRequest>(stack.bedrock.log.requests.map((r) => [r.prompt, r]));
  const latencies: number[] = [];
  const ttft: number[] = [];
  let outputTokens = 0;
  let chunks = 0;
  let undelivered = 0;
  let textMatches = true;
  let streamSeconds = 0;
  let paceTokens = 0;
  let paceSeconds = 0;
  let realtimeUpdates = 0;
  for (const r of runs) {
    const emitted = byPrompt.get(r.prompt);
    realtimeUpdates += r.payloadBytes.reduce((n, b) => n + Math.max(1, Math.ceil(b / 5120)), 0);
    chunks += r.chunks.length;
    if (!emitted || !emitted.tokens.length) {
      textMatches = false;
      continue;
    }
    outputTokens += emitted.tokens.length;
    const t = tokenLatencies(emitted.tokens, r.chunks);
    latencies.push(...t.latencies);
    undelivered += t.undelivered;
    if (r.completed && !t.textMatches) textMatches = false;
    const first = Math.min(...r.chunks.map((c) => c.receivedAt));
    if (r.chunks.length) ttft.push(first - r.sentAt);
    const span = (emitted.tokens[emitted.tokens.length - 1]!.at - emitted.tokens[0]!.at) / 1000;
    streamSeconds += span + 1 / tokensPerSecond;
    if (emitted.tokens.length > 1) {
      paceTokens += emitted.tokens.length - 1;
      paceSeconds += span;
    }
  }
  return {
    streams: runs.length,
    completed: runs.filter((r) => r.completed).length,
    errors: runs.filter((r) => r.error).map((r) => `${r.sessionId}: ${r.error}`),
    outputTokens,
    chunks,
    latencyMs: summarize(latencies),
    ttftMs: summarize(ttft),
    undeliveredTokens: undelivered,
    textMatches,
    measuredTokensPerSecond: paceSeconds > 0 ? paceTokens / paceSeconds : Number.NaN,
    streamSeconds,
    realtimeUpdates,
    wallMs,
  };
}

async function batch(
  stack: LocalStack,
  counters: StackCounters,
  plan: DeliveryPlan,
  o: { count: number; tokens: number; delivery: Delivery; tag: string; sequential?: boolean },
): Promise<{ figures: BatchFigures; runs: StreamRun[] }> {
  stack.bedrock.log.requests.length = 0;
  const started = performance.now();
  const runs: StreamRun[] = [];
  if (o.sequential) {
    for (let i = 0; i < o.count; i++) runs.push(...(await runStreams(stack, { ...o, count: 1, tag: `${o.tag}-s${i}`, deadlineMs: plan.batchDeadlineMs })));
  } else runs.push(...(await runStreams(stack, { ...o, deadlineMs: plan.batchDeadlineMs })));
  const wallMs = performance.now() - started;
  await drained(counters);
  return { figures: analyse(stack, runs, plan.tokensPerSecond, wallMs), runs };
}

function per1k(n: number, tokens: number): number {
  return tokens > 0 ? (n * 1000) / tokens : Number.NaN;
}

async function measureMode(stack: LocalStack, counters: StackCounters, spec: ModeSpec, plan: DeliveryPlan, prices: PriceTable, log: (s: string) => void): Promise<ModeResult> {
  const memoryMb = stack.config.lambda.memory_mb;
  // Warm-up (not measured): first calls pay for JIT, connection set-up and lazy module paths.
  await batch(stack, counters, plan, { count: 2, tokens: 10, delivery: spec.delivery, tag: `${spec.id}-warm` });

  const purges: string[] = [];
  const settle = async (after: string) => {
    const purged = await settleQueues(stack, counters, plan.drainTimeoutMs);
    if (purged) purges.push(`after ${after}: purged ${purged}`);
  };
  await settle("warm-up");
  collectGarbage();
  const before = counters.snapshot();
  const loadBefore = os.loadavg()[0]!;
  const main = await batch(stack, counters, plan, { count: plan.mainStreams, tokens: plan.mainTokens, delivery: spec.delivery, tag: spec.id, sequential: true });
  await settle("the main run");
  const delta = diffCounters(before, counters.snapshot());
  const loadAverage = { before: loadBefore, after: os.loadavg()[0]! };
  const f = main.figures;
  if (delta.failedRecords || delta.handlerErrors) f.errors.push(`${delta.failedRecords} failed records, ${delta.handlerErrors} handler errors: SNS/SQS counts include retries`);
  const requests = awsRequests(delta, f.realtimeUpdates, memoryMb);
  const publishesPerStreamSecond = f.streamSeconds > 0 ? delta.publishResponse / f.streamSeconds : Number.NaN;
  log(`  ${spec.id} (main): ${f.completed}/${f.streams} streams, ${f.outputTokens} tokens, ${delta.publishResponse} publishResponse, p50 ${round(f.latencyMs.p50)} ms, p99 ${round(f.latencyMs.p99)} ms`);

  return {
    id: spec.id,
    label: spec.label,
    delivery: spec.delivery,
    maxDelayMs: stack.config.batching.max_delay_ms,
    maxChars: stack.config.batching.max_chars,
    main: f,
    loadAverage,
    counters: delta,
    requests,
    per1kTokens: {
      appsyncMutations: per1k(requests.appsyncMutations, f.outputTokens),
      appsyncRealtimeUpdates: per1k(requests.appsyncRealtimeUpdates, f.outputTokens),
      snsPublishes: per1k(requests.snsPublishes, f.outputTokens),
      sqsRequests: per1k(requests.sqsRequests, f.outputTokens),
      lambdaInvocations: per1k(requests.lambdaInvocations, f.outputTokens),
    },
    costPerMillionTokens: costPerMillionTokens(requests, f.outputTokens, prices, stack.config.queue.fifo),
    publishesPerStreamSecond,
    capacityStreamsPerApi: Math.floor(prices.appsyncInboundMessagesPerSecond.value / publishesPerStreamSecond),
    sweep: [],
    sustainedStreams: 0,
    sustainedNote: "",
    purges,
  };
}

/** Concurrency sweep for one mode, after every mode's main run on this stack (so no sweep's garbage or backlog touches a main run). */
async function sweepMode(stack: LocalStack, counters: StackCounters, spec: ModeSpec, result: ModeResult, plan: DeliveryPlan, log: (s: string) => void): Promise<void> {
  const f = result.main;
  const settle = async (after: string) => {
    const purged = await settleQueues(stack, counters, plan.drainTimeoutMs);
    if (purged) result.purges.push(`after ${after}: purged ${purged}`);
  };
  const sweep: SweepPoint[] = [];
  // The single-stream p99 comes from the main run (streams one after another, many more tokens than one sweep stream).
  const single: number | undefined = f.completed === f.streams ? f.latencyMs.p99 : undefined;
  let sustained = 0;
  let passedAt: number | undefined;
  for (const level of plan.sweepLevels) {
    if (passedAt !== undefined && !plan.requiredSweepLevels.includes(level)) {
      sweep.push({ streams: level, skipped: `not run: ${passedAt} streams already passed 2x` });
      continue;
    }
    if (Date.now() > plan.deadlineAt) {
      sweep.push({ streams: level, skipped: "not run: time budget spent" });
      continue;
    }
    collectGarbage();
    const s = await batch(stack, counters, plan, { count: level, tokens: plan.sweepTokens, delivery: spec.delivery, tag: `${spec.id}-c${level}` });
    await settle(`${level} streams`);
    const g = s.figures;
    const within = single !== undefined && g.completed === level && g.latencyMs.p99 <= 2 * single;
    sweep.push({ streams: level, completed: g.completed, p50Ms: g.latencyMs.p50, p99Ms: g.latencyMs.p99, wallMs: g.wallMs, withinTwiceSingle: within });
    log(`  ${spec.id} (sweep) ${level} streams: ${g.completed}/${level} completed, p99 ${round(g.latencyMs.p99)} ms${within ? "" : " (past 2x)"}`);
    // Sustained means this level and every level before it stayed within 2x.
    if (within && passedAt === undefined) sustained = level;
    else passedAt ??= level;
  }
  const note =
    single === undefined
      ? "no single-stream baseline"
      : passedAt === undefined
        ? `>= ${sustained} (every level run stayed within 2x of ${round(single)} ms)`
        : `${sustained} (${passedAt} streams passed 2x of ${round(single)} ms)`;

  result.sweep = sweep;
  result.sustainedStreams = sustained;
  result.sustainedNote = note;
}

export async function benchDelivery(plan: DeliveryPlan, prices: PriceTable, log: (s: string) => void): Promise<DeliveryResults> {
  const results: ModeResult[] = [];
  let memoryMb = 0;
  for (const coalesced of [false, true]) {
    const stack = await startLocalStack({
      configOverrides: coalesced ? {} : { batching: { max_delay_ms: 0 } },
      bedrock: { firstTokenMs: plan.firstTokenMs, tokensPerSecond: plan.tokensPerSecond },
      writeClientConfig: false,
      retryDelaySeconds: 1,
      workerConcurrency: plan.workerConcurrency,
      relayConcurrency: plan.relayConcurrency,
    });
    memoryMb = stack.config.lambda.memory_mb;
    log(`stack up: max_delay_ms ${stack.config.batching.max_delay_ms}, max_chars ${stack.config.batching.max_chars}`);
    const counters = attachCounters(stack);
    try {
      const specs = MODES.filter((m) => m.coalesced === coalesced);
      const measured: ModeResult[] = [];
      for (const spec of specs) measured.push(await measureMode(stack, counters, spec, plan, prices, log));
      for (const [i, spec] of specs.entries()) await sweepMode(stack, counters, spec, measured[i]!, plan, log);
      results.push(...measured);
    } finally {
      counters.detach();
      await stack.stop();
    }
  }
  const order = MODES.map((m) => m.id);
  results.sort((a, b) => order.indexOf(a.id) - order.indexOf(b.id));
  const { deadlineAt: _deadline, ...rest } = plan;
  return { plan: rest, modes: results, memoryMb };
}
