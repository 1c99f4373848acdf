/**
 * `npm run bench [-- --quick] [--out <dir>]`: the six delivery modes (one message per token, the fixed window and the
 * reading-pace window, each queued and direct) side by side on the local stack (in this process): latency, request
 * counts and cost per token, long answers, a simulated reader, CPU per token, a concurrency sweep, capacity on paper,
 * stop and replay, the two ingresses (queue and async) side by side, the four transports' paths side by side, Lambda
 * bundle size and init, synth and offline
 * plan times; the targets, with the ones the local stand-ins cannot measure modelled apart, and the batching mode
 * that meets them. Writes BENCHMARKS.md and
 * bench/results.json (or both into --out); --quick writes into a new temporary folder unless --out is given, so the
 * committed figures stay those of a full run. Every load loop is bounded in count and time: the full run takes about
 * twelve minutes, --quick about two.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { benchBundles, benchPlans, benchSynth, REPO_ROOT } from "./artifacts";
import { loadPrices, PRICES_PATH } from "./cost";
import { benchDelivery, type DeliveryPlan } from "./delivery";
import { benchIngress, ingressModelledOnAws, ingressTargets, type IngressPlan } from "./ingress";
import { benchLifecycleOnLocalStack, lifecycleTargets } from "./lifecycle";
import { benchLimitChecksOnLocalStack } from "./limits";
import { renderMarkdown, type BenchResults } from "./report";
import { benchTransports, type TransportPlan } from "./transports";
import { chooseDefault, judgeTargets, loadPublishedLatency, modelledTargets, PUBLISHED_LATENCY_PATH } from "./targets";
import { answeredHelp } from "../scripts/cli";

export const BENCH_USAGE = `Usage: npm run bench [-- --quick] [--out <dir>]

Benchmarks the delivery modes and the two ingresses on the local stack (no AWS), Lambda bundles, synth and offline
plans, and writes BENCHMARKS.md and results.json. A full run (about 12 minutes) writes them to the repository (BENCHMARKS.md,
bench/results.json); --quick (about a minute, fewer and shorter streams, no plans) writes them into a new temporary
folder, whose path it prints.

  --quick       the short run
  --out <dir>   write both files into this folder instead
  -h, --help    this text`;

export interface BenchOptions {
  quick: boolean;
  /** Directory for BENCHMARKS.md and results.json; default: the repo root and bench/, or a new temporary folder for --quick. */
  outDir?: string;
  log?: (line: string) => void;
}

export const MODEL_PACE = { firstTokenMs: 300, tokensPerSecond: 80 } as const;

function deliveryPlan(quick: boolean, startedAt: number): DeliveryPlan {
  return quick
    ? {
        ...MODEL_PACE,
        mainStreams: 1,
        mainTokens: 60,
        // Just past the 2 s opening at the model pace, so the reading-pace window grows once.
        longTokens: 180,
        longDeadlineMs: 10_000,
        cpuTokens: 30,
        sweepLevels: [1],
        requiredSweepLevels: [1],
        sweepTokens: 30,
        // Roomy: npm test runs the quick bench beside other suites, and a late answer there is load, not a finding.
        batchDeadlineMs: 20_000,
        drainTimeoutMs: 5_000,
        deadlineAt: startedAt + 40_000,
        workerConcurrency: 10,
        relayConcurrency: 5,
      }
    : {
        ...MODEL_PACE,
        // A typical chat answer (about 5 s at the model pace): per-message overhead (first chunk, final) weighs as in use.
        mainStreams: 3,
        mainTokens: 400,
        // The long answer: 25 s at the model pace, where the reading-pace window has grown.
        longTokens: 2000,
        longDeadlineMs: 45_000,
        cpuTokens: 400,
        sweepLevels: [1, 2, 5, 10, 25, 50, 100],
        requiredSweepLevels: [1, 25, 100],
        sweepTokens: 40,
        batchDeadlineMs: 12_000,
        drainTimeoutMs: 10_000,
        deadlineAt: startedAt + 360_000,
        workerConcurrency: 40,
        relayConcurrency: 5,
      };
}

/** Where the run writes: --out, else a new temporary folder for --quick, else the committed files. */
export function outputPaths(o: Pick<BenchOptions, "quick" | "outDir">): { markdownPath: string; jsonPath: string } {
  const outDir = o.outDir ?? (o.quick ? mkdtempSync(path.join(os.tmpdir(), "bench-quick-")) : undefined);
  if (!outDir) return { markdownPath: path.join(REPO_ROOT, "BENCHMARKS.md"), jsonPath: path.join(REPO_ROOT, "bench", "results.json") };
  mkdirSync(outDir, { recursive: true });
  return { markdownPath: path.join(outDir, "BENCHMARKS.md"), jsonPath: path.join(outDir, "results.json") };
}

type Measured = Pick<BenchResults, "delivery" | "lifecycle" | "limits" | "ingress" | "transports" | "bundles" | "synth" | "plans">;

/** The four delivery paths: the same answers on each, one stack with every transport (bench/transports.ts). */
function transportPlan(quick: boolean): TransportPlan {
  return quick ? { ...MODEL_PACE, tokens: 60, streams: 2, streamDeadlineMs: 10_000 } : { ...MODEL_PACE, tokens: 400, streams: 10, streamDeadlineMs: 20_000 };
}

/** The two ingresses: the same answers on each, one stack each (bench/ingress.ts). */
function ingressPlan(quick: boolean): IngressPlan {
  return quick
    ? { ...MODEL_PACE, tokens: 50, staggeredStreams: 5, staggerMs: 1_000, burstStreams: 5, streamDeadlineMs: 8_000, deadlineAt: Date.now() + 18_000, workerConcurrency: 10 }
    : // One every 1.5 s: a 400-token answer takes about 5.3 s at the model pace, so a few are in flight at once.
      { ...MODEL_PACE, tokens: 400, staggeredStreams: 30, staggerMs: 1_500, burstStreams: 30, streamDeadlineMs: 15_000, deadlineAt: Date.now() + 110_000, workerConcurrency: 40 };
}

/** Every measurement of the run, in order: delivery modes, bundles, synth, and (full runs only) offline plans. */
async function measure(o: BenchOptions, startedAt: number, prices: ReturnType<typeof loadPrices>, log: (line: string) => void): Promise<Measured> {
  log(`bench${o.quick ? " (quick)" : ""}: delivery modes on the local stack`);
  const delivery = await benchDelivery(deliveryPlan(o.quick, startedAt), prices, log);
  log("bench: stop and replay");
  const lifecycle = await benchLifecycleOnLocalStack(
    o.quick ? { stops: 2, replays: 1, tokens: 120, deadlineAt: Date.now() + 20_000 } : { stops: 6, replays: 3, tokens: 400, deadlineAt: Date.now() + 60_000 },
    MODEL_PACE,
    prices,
  );
  log("bench: limit checks on sendQuery");
  const limits = await benchLimitChecksOnLocalStack(o.quick ? { samples: 40, users: 5, deadlineAt: Date.now() + 10_000 } : { samples: 400, users: 20, deadlineAt: Date.now() + 30_000 });
  log("bench: ingress, queue vs async");
  const ingress = await benchIngress(ingressPlan(o.quick), prices, log);
  log("bench: transports side by side");
  const transports = await benchTransports(transportPlan(o.quick), prices, log);
  log("bench: Lambda bundles");
  const bundles = await benchBundles(o.quick ? 2 : 7);
  log("bench: synth");
  const synth = await benchSynth();
  if (o.quick) return { delivery, lifecycle, limits, ingress, transports, bundles, synth, plans: { skipped: "quick mode" } };
  log("bench: offline plans");
  return { delivery, lifecycle, limits, ingress, transports, bundles, synth, plans: await benchPlans(60_000) };
}

function machineOf(loadAverageStart: number[]): BenchResults["machine"] {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model ?? "unknown",
    cores: cpus.length,
    memoryGb: os.totalmem() / 1024 ** 3,
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    loadAverageStart,
    loadAverageEnd: os.loadavg(),
  };
}

function pricesOf(prices: ReturnType<typeof loadPrices>): BenchResults["prices"] {
  const sources = [prices.appsync, prices.sns, prices.sqs, prices.lambda, prices.dynamodb].map((s) => s.sources[0]!.url);
  return { file: path.relative(REPO_ROOT, PRICES_PATH), region: prices.region, dateRead: prices.dateRead, sources };
}

/** Runs the benchmarks and writes BENCHMARKS.md and results.json (outputPaths); returns the results and both paths. */
export async function runBench(o: BenchOptions): Promise<{ results: BenchResults; markdownPath: string; jsonPath: string }> {
  const startedAt = Date.now();
  // Each line says when it happened, so a slow step shows.
  const log = o.log ?? ((line: string) => process.stderr.write(`[${((Date.now() - startedAt) / 1000).toFixed(0).padStart(3)} s] ${line}\n`));
  const loadAverageStart = os.loadavg();
  const prices = loadPrices();
  const measured = await measure(o, startedAt, prices, log);
  const targets = [...judgeTargets(measured.delivery, measured.bundles), ...lifecycleTargets(measured.lifecycle), ...(measured.ingress ? ingressTargets(measured.ingress) : [])];
  const published = loadPublishedLatency();
  const ingress = measured.ingress && { ...measured.ingress, modelledOnAws: ingressModelledOnAws(measured.ingress, published) };
  const results: BenchResults = {
    schemaVersion: 2,
    generatedAt: new Date().toISOString(),
    quick: o.quick,
    command: o.quick ? "npm run bench -- --quick" : "npm run bench",
    durationMs: Date.now() - startedAt,
    machine: machineOf(loadAverageStart),
    prices: pricesOf(prices),
    delivery: measured.delivery,
    lifecycle: measured.lifecycle,
    limits: measured.limits,
    ingress,
    transports: measured.transports,
    targets,
    modelledOnAws: { source: published.source, dateRead: published.dateRead, file: path.relative(REPO_ROOT, PUBLISHED_LATENCY_PATH), targets: modelledTargets(measured.delivery, published) },
    defaultChoice: chooseDefault(targets),
    bundles: measured.bundles,
    synth: measured.synth,
    plans: measured.plans,
  };
  const { markdownPath, jsonPath } = outputPaths(o);
  writeFileSync(jsonPath, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(markdownPath, renderMarkdown(results));
  log(`bench: wrote ${markdownPath} and ${jsonPath} in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
  return { results, markdownPath, jsonPath };
}

if (require.main === module && !answeredHelp(process.argv.slice(2), BENCH_USAGE, ["--quick", "--out"])) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const { values } = parseArgs({ args: process.argv.slice(2), options: { quick: { type: "boolean" }, out: { type: "string" } }, strict: true });
  runBench({ quick: !!values.quick, outDir: values.out ? path.resolve(values.out) : undefined }).then(
    ({ results }) => {
      for (const t of results.targets) process.stderr.write(`${t.status}  ${t.target}: ${t.measured}\n`);
      process.stderr.write(`default batching mode by this run: ${results.defaultChoice.mode} (${results.defaultChoice.reason})\n`);
      // Handles the stack leaves behind (keep-alive sockets, SDK agents) must not keep the process alive.
      process.exit(0);
    },
    (e: unknown) => {
      process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}
