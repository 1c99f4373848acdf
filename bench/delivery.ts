/**
 * The delivery modes side by side, on the local stack run in this process: one stack per batching setting (one
 * message per token as the seeds did, the fixed window, the reading-pace window), with DIRECT or QUEUED chosen per
 * request (local.tfvars sets client_delivery_choice). Same prompts and stand-in pace for every mode. Per mode: a main
 * run of typical answers (latency, requests, cost), a CPU run with the meter on, a long answer where it matters, and
 * a concurrency sweep.
 */
import * as os from "node:os";
import * as v8 from "node:v8";
import { runInNewContext } from "node:vm";
import { performance } from "node:perf_hooks";
import { PurgeQueueCommand } from "@aws-sdk/client-sqs";
import type { BatchingMode } from "../contracts/runtimeSettings";
import { startLocalStack, type LocalStack } from "../local/stack";
import { attachCounters, awsRequests, diffCounters, type AwsRequests, type CounterDelta, type StackCounters } from "./counters";
import { costPerMillionTokens, type CostBreakdown, type PriceTable } from "./cost";
import { createCpuMeter, type CpuMeter, type Metered } from "./cpu";
import { batchFigures, type BatchFigures } from "./figures";
import type { ReaderFigures } from "./reader";
import { round } from "./stats";
import { runStreams, type Delivery, type StreamRun } from "./streams";

export type { BatchFigures } from "./figures";

/** How a stack times its chunks: one message per token (max_delay_ms 0), the fixed window, the reading-pace window. */
export type BatchingKind = "per-token" | "fixed" | "reading_pace";

export interface ModeSpec {
  id: "queued-per-token" | "direct-per-token" | "queued-fixed" | "direct-fixed" | "queued-reading-pace" | "direct-reading-pace";
  label: string;
  delivery: Delivery;
  batching: BatchingKind;
  /** Runs a long answer too (plan.longTokens): the reading-pace modes (their target), and references on the direct path. */
  long: boolean;
  /** Runs the concurrency sweep; not the reading-pace modes, whose short sweep answers end inside the 2 s opening, where they batch as the fixed window. */
  sweep: boolean;
}

export const MODES: readonly ModeSpec[] = [
  { id: "queued-per-token", label: "queued, one message per token (the seeds' design)", delivery: "QUEUED", batching: "per-token", long: false, sweep: true },
  { id: "direct-per-token", label: "directSend, one message per token (the directSend PR)", delivery: "DIRECT", batching: "per-token", long: true, sweep: true },
  { id: "queued-fixed", label: "queued, fixed window", delivery: "QUEUED", batching: "fixed", long: false, sweep: true },
  { id: "direct-fixed", label: "directSend, fixed window", delivery: "DIRECT", batching: "fixed", long: true, sweep: true },
  { id: "queued-reading-pace", label: "queued, reading pace", delivery: "QUEUED", batching: "reading_pace", long: true, sweep: false },
  { id: "direct-reading-pace", label: "directSend, reading pace", delivery: "DIRECT", batching: "reading_pace", long: true, sweep: false },
];

/** Each stack's overrides of local.tfvars; max_tokens above the long answer, so the stand-in never stops it early. */
const STACK_OVERRIDES: Record<BatchingKind, object> = {
  "per-token": { batching: { mode: "fixed", max_delay_ms: 0 }, generation: { max_tokens: 4096 } },
  fixed: { batching: { mode: "fixed" }, generation: { max_tokens: 4096 } },
  reading_pace: { batching: { mode: "reading_pace" }, generation: { max_tokens: 4096 } },
};

export interface DeliveryPlan {
  firstTokenMs: number;
  tokensPerSecond: number;
  /** Streams, one after another (so the figures are not the local machine's saturation), and answer length of the run the per-mode figures come from. */
  mainStreams: number;
  mainTokens: number;
  /** One answer this long per mode with `long` (the 2,000-token target), and how long it may take. */
  longTokens: number;
  longDeadlineMs: number;
  /** One answer this long per mode with the CPU meter on. */
  cpuTokens: number;
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

export interface SweepPoint {
  streams: number;
  skipped?: string;
  completed?: number;
  p50Ms?: number;
  p99Ms?: number;
  wallMs?: number;
  withinTwiceSingle?: boolean;
}

/** The long answer of a mode: its AppSync mutations, as the gateway counted them, and the reader's figures. */
export interface LongFigures {
  tokens: number;
  completed: boolean;
  textMatches: boolean;
  errors: string[];
  /** publishResponse + sendQuery. */
  appsyncMutations: number;
  mutationsPer1kTokens: number;
  reader: ReaderFigures;
  openingLatencyMs: BatchFigures["openingLatencyMs"];
}

/** CPU ms per 1,000 output tokens in the metered handlers (bench/cpu.ts), from one answer of plan.cpuTokens. */
export interface CpuFigures {
  tokens: number;
  msPer1kTokens: Record<Metered, number>;
}

export interface ModeResult {
  id: ModeSpec["id"];
  label: string;
  delivery: Delivery;
  batching: BatchingKind;
  mode: BatchingMode;
  maxDelayMs: number;
  maxChars: number;
  maxWindowMs: number;
  readingTokensPerSecond: number;
  main: BatchFigures;
  long?: LongFigures;
  cpu: CpuFigures;
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

async function batch(
  stack: LocalStack,
  counters: StackCounters,
  plan: DeliveryPlan,
  o: { count: number; tokens: number; delivery: Delivery; tag: string; sequential?: boolean; deadlineMs?: number },
): Promise<{ figures: BatchFigures; runs: StreamRun[] }> {
  stack.bedrock.log.requests.length = 0;
  const started = performance.now();
  const runs: StreamRun[] = [];
  const deadlineMs = o.deadlineMs ?? plan.batchDeadlineMs;
  if (o.sequential) {
    for (let i = 0; i < o.count; i++) runs.push(...(await runStreams(stack, { ...o, count: 1, tag: `${o.tag}-s${i}`, deadlineMs })));
  } else runs.push(...(await runStreams(stack, { ...o, deadlineMs })));
  const wallMs = performance.now() - started;
  await drained(counters);
  const pace = { tokensPerSecond: plan.tokensPerSecond, readingTokensPerSecond: stack.config.batching.reading_tokens_per_second };
  return { figures: batchFigures(stack.bedrock.log.requests, runs, pace, wallMs), runs };
}

function per1k_(n: number, tokens: number): number {
  return tokens > 0 ? (n * 1000) / tokens : Number.NaN;
}

/** What one stack's measurements share. */
interface StackRun {
  stack: LocalStack;
  counters: StackCounters;
  meter: CpuMeter;
  plan: DeliveryPlan;
  prices: PriceTable;
  log: (s: string) => void;
}

/** Waits for the queues to drain (or purges them, noting it in `purges`) so the next batch starts clean. */
async function settle(run: StackRun, purges: string[], after: string): Promise<void> {
  const purged = await settleQueues(run.stack, run.counters, run.plan.drainTimeoutMs);
  if (purged) purges.push(`after ${after}: purged ${purged}`);
}

/** The main run: typical answers one after another, after an unmeasured warm-up; the figures and the requests they cost. */
async function mainRun(run: StackRun, spec: ModeSpec, purges: string[]): Promise<{ figures: BatchFigures; delta: CounterDelta; loadAverage: ModeResult["loadAverage"] }> {
  const { stack, counters, plan } = run;
  // Warm-up (not measured): first calls pay for JIT, connection set-up and lazy module paths.
  await batch(stack, counters, plan, { count: 2, tokens: 10, delivery: spec.delivery, tag: `${spec.id}-warm` });
  await settle(run, purges, "warm-up");
  collectGarbage();
  const before = counters.snapshot();
  const loadBefore = os.loadavg()[0]!;
  const main = await batch(stack, counters, plan, { count: plan.mainStreams, tokens: plan.mainTokens, delivery: spec.delivery, tag: spec.id, sequential: true });
  await settle(run, purges, "the main run");
  const delta = diffCounters(before, counters.snapshot());
  const f = main.figures;
  if (delta.failedRecords || delta.handlerErrors) f.errors.push(`${delta.failedRecords} failed records, ${delta.handlerErrors} handler errors: SNS/SQS counts include retries`);
  run.log(`  ${spec.id} (main): ${f.completed}/${f.streams} streams, ${f.outputTokens} tokens, ${delta.publishResponse} publishResponse, p50 ${round(f.latencyMs.p50)} ms, p99 ${round(f.latencyMs.p99)} ms`);
  return { figures: f, delta, loadAverage: { before: loadBefore, after: os.loadavg()[0]! } };
}

/** One answer with the CPU meter on: the handlers' CPU per 1,000 output tokens. */
async function cpuRun(run: StackRun, spec: ModeSpec, purges: string[]): Promise<CpuFigures> {
  collectGarbage();
  run.meter.start();
  const { figures } = await batch(run.stack, run.counters, run.plan, { count: 1, tokens: run.plan.cpuTokens, delivery: spec.delivery, tag: `${spec.id}-cpu` });
  const ms = run.meter.stop();
  await settle(run, purges, "the CPU run");
  const per1k = (v: number) => per1k_(v, figures.outputTokens);
  return { tokens: figures.outputTokens, msPer1kTokens: { streamWorker: per1k(ms.streamWorker), outboundRelay: per1k(ms.outboundRelay) } };
}

/** One long answer: its AppSync mutations per 1,000 tokens and the reader's figures over it. */
async function longRun(run: StackRun, spec: ModeSpec, purges: string[]): Promise<LongFigures> {
  const { stack, counters, plan } = run;
  collectGarbage();
  const before = counters.snapshot();
  const { figures: f } = await batch(stack, counters, plan, { count: 1, tokens: plan.longTokens, delivery: spec.delivery, tag: `${spec.id}-long`, deadlineMs: plan.longDeadlineMs });
  await settle(run, purges, "the long answer");
  const d = diffCounters(before, counters.snapshot());
  const appsyncMutations = d.publishResponse + d.sendQuery;
  run.log(`  ${spec.id} (long): ${f.outputTokens} tokens, ${appsyncMutations} mutations, reader starved ${round(f.reader.starvedMs)} ms`);
  return {
    tokens: f.outputTokens,
    completed: f.completed === f.streams,
    textMatches: f.textMatches,
    errors: f.errors,
    appsyncMutations,
    mutationsPer1kTokens: per1k_(appsyncMutations, f.outputTokens),
    reader: f.reader,
    openingLatencyMs: f.openingLatencyMs,
  };
}

async function measureMode(run: StackRun, spec: ModeSpec): Promise<ModeResult> {
  const { stack, prices } = run;
  const b = stack.config.batching;
  const purges: string[] = [];
  const { figures: f, delta, loadAverage } = await mainRun(run, spec, purges);
  const requests = awsRequests(delta, f.realtimeUpdates, stack.config.lambda.memory_mb);
  const publishesPerStreamSecond = f.streamSeconds > 0 ? delta.publishResponse / f.streamSeconds : Number.NaN;
  const cpu = await cpuRun(run, spec, purges);
  return {
    id: spec.id,
    label: spec.label,
    delivery: spec.delivery,
    batching: spec.batching,
    mode: b.mode,
    maxDelayMs: b.max_delay_ms,
    maxChars: b.max_chars,
    maxWindowMs: b.max_window_ms,
    readingTokensPerSecond: b.reading_tokens_per_second,
    main: f,
    cpu,
    loadAverage,
    counters: delta,
    requests,
    per1kTokens: {
      appsyncMutations: per1k_(requests.appsyncMutations, f.outputTokens),
      appsyncRealtimeUpdates: per1k_(requests.appsyncRealtimeUpdates, f.outputTokens),
      snsPublishes: per1k_(requests.snsPublishes, f.outputTokens),
      sqsRequests: per1k_(requests.sqsRequests, f.outputTokens),
      lambdaInvocations: per1k_(requests.lambdaInvocations, f.outputTokens),
    },
    costPerMillionTokens: costPerMillionTokens(requests, f.outputTokens, prices, stack.config.queue.fifo),
    publishesPerStreamSecond,
    capacityStreamsPerApi: Math.floor(prices.appsyncInboundMessagesPerSecond.value / publishesPerStreamSecond),
    sweep: [],
    sustainedStreams: 0,
    sustainedNote: spec.sweep ? "" : "not swept: its short sweep answers end inside the 2 s opening, batched as the fixed window",
    purges,
  };
}

/** Concurrency sweep for one mode, after every mode's main run on this stack (so no sweep's garbage or backlog touches a main run). */
async function sweepMode(run: StackRun, spec: ModeSpec, result: ModeResult): Promise<void> {
  const { stack, counters, plan } = run;
  const f = result.main;
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
    await settle(run, result.purges, `${level} streams`);
    const g = s.figures;
    const within = single !== undefined && g.completed === level && g.latencyMs.p99 <= 2 * single;
    sweep.push({ streams: level, completed: g.completed, p50Ms: g.latencyMs.p50, p99Ms: g.latencyMs.p99, wallMs: g.wallMs, withinTwiceSingle: within });
    run.log(`  ${spec.id} (sweep) ${level} streams: ${g.completed}/${level} completed, p99 ${round(g.latencyMs.p99)} ms${within ? "" : " (past 2x)"}`);
    // Sustained means this level and every level before it stayed within 2x.
    if (within && passedAt === undefined) sustained = level;
    else passedAt ??= level;
  }
  result.sweep = sweep;
  result.sustainedStreams = sustained;
  result.sustainedNote =
    single === undefined
      ? "no single-stream baseline"
      : passedAt === undefined
        ? `>= ${sustained} (every level run stayed within 2x of ${round(single)} ms)`
        : `${sustained} (${passedAt} streams passed 2x of ${round(single)} ms)`;
}

/** Every mode of one batching setting on its own stack: main and CPU runs first, then the long answers, then the sweeps. */
async function measureStack(kind: BatchingKind, plan: DeliveryPlan, prices: PriceTable, log: (s: string) => void): Promise<{ results: ModeResult[]; memoryMb: number }> {
  const meter = createCpuMeter();
  const stack = await startLocalStack({
    configOverrides: STACK_OVERRIDES[kind],
    bedrock: { firstTokenMs: plan.firstTokenMs, tokensPerSecond: plan.tokensPerSecond },
    writeClientConfig: false,
    retryDelaySeconds: 1,
    workerConcurrency: plan.workerConcurrency,
    relayConcurrency: plan.relayConcurrency,
    instrument: (name, handler) => meter.instrument(name, handler),
  });
  const b = stack.config.batching;
  log(`stack up: ${kind}: mode ${b.mode}, max_delay_ms ${b.max_delay_ms}, max_chars ${b.max_chars}, reading_tokens_per_second ${b.reading_tokens_per_second}, max_window_ms ${b.max_window_ms}`);
  const counters = attachCounters(stack);
  const run: StackRun = { stack, counters, meter, plan, prices, log };
  try {
    const specs = MODES.filter((m) => m.batching === kind);
    const results: ModeResult[] = [];
    for (const spec of specs) results.push(await measureMode(run, spec));
    for (const [i, spec] of specs.entries()) if (spec.long) results[i]!.long = await longRun(run, spec, results[i]!.purges);
    for (const [i, spec] of specs.entries()) if (spec.sweep) await sweepMode(run, spec, results[i]!);
    return { results, memoryMb: stack.config.lambda.memory_mb };
  } finally {
    counters.detach();
    await stack.stop();
  }
}

export async function benchDelivery(plan: DeliveryPlan, prices: PriceTable, log: (s: string) => void): Promise<DeliveryResults> {
  const results: ModeResult[] = [];
  let memoryMb = 0;
  for (const kind of ["per-token", "fixed", "reading_pace"] as const) {
    const measured = await measureStack(kind, plan, prices, log);
    results.push(...measured.results);
    memoryMb = measured.memoryMb;
  }
  const { deadlineAt: _deadline, ...rest } = plan;
  return { plan: rest, modes: results, memoryMb };
}
