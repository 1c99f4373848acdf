/**
 * `npm run bench [-- --quick] [--out <dir>]`: the four delivery modes side by side on the local stack (in this
 * process), request counts and cost per token, a concurrency sweep, capacity on paper, Lambda bundle size and init,
 * synth and offline plan times. Writes BENCHMARKS.md and bench/results.json (or both into --out).
 * Every load loop is bounded in count and time: the full run takes a few minutes, --quick under one.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { benchBundles, benchPlans, benchSynth, REPO_ROOT } from "./artifacts";
import { loadPrices, PRICES_PATH } from "./cost";
import { benchDelivery, type DeliveryPlan } from "./delivery";
import { renderMarkdown, type BenchResults } from "./report";
import { judgeTargets } from "./targets";

export interface BenchOptions {
  quick: boolean;
  /** Directory for BENCHMARKS.md and results.json; default: the repo root and bench/. */
  outDir?: string;
  log?: (line: string) => void;
}

export const MODEL_PACE = { firstTokenMs: 300, tokensPerSecond: 80 } as const;

function deliveryPlan(quick: boolean, startedAt: number): DeliveryPlan {
  return quick
    ? { ...MODEL_PACE, mainStreams: 2, mainTokens: 60, sweepLevels: [1, 3], requiredSweepLevels: [1, 3], sweepTokens: 30, batchDeadlineMs: 10_000, drainTimeoutMs: 5_000, deadlineAt: startedAt + 30_000, workerConcurrency: 10, relayConcurrency: 5 }
    : {
        ...MODEL_PACE,
        // A typical chat answer (about 5 s at the model pace): per-message overhead (first chunk, final) weighs as in use.
        mainStreams: 3,
        mainTokens: 400,
        sweepLevels: [1, 2, 5, 10, 25, 50, 100],
        requiredSweepLevels: [1, 25, 100],
        sweepTokens: 40,
        batchDeadlineMs: 12_000,
        drainTimeoutMs: 10_000,
        deadlineAt: startedAt + 170_000,
        workerConcurrency: 40,
        relayConcurrency: 5,
      };
}

export async function runBench(o: BenchOptions): Promise<{ results: BenchResults; markdownPath: string; jsonPath: string }> {
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const startedAt = Date.now();
  const loadAverageStart = os.loadavg();
  const prices = loadPrices();

  log(`bench${o.quick ? " (quick)" : ""}: delivery modes on the local stack`);
  const delivery = await benchDelivery(deliveryPlan(o.quick, startedAt), prices, log);
  log("bench: Lambda bundles");
  const bundles = await benchBundles(o.quick ? 3 : 7);
  log("bench: synth");
  const synth = await benchSynth();
  let plans: BenchResults["plans"];
  if (o.quick) plans = { skipped: "quick mode" };
  else {
    log("bench: offline plans");
    plans = await benchPlans(60_000);
  }

  const cpus = os.cpus();
  const results: BenchResults = {
    schemaVersion: 1,
    generatedAt: new Date().toISOString(),
    quick: o.quick,
    command: o.quick ? "npm run bench -- --quick" : "npm run bench",
    durationMs: Date.now() - startedAt,
    machine: {
      cpuModel: cpus[0]?.model ?? "unknown",
      cores: cpus.length,
      memoryGb: os.totalmem() / 1024 ** 3,
      node: process.version,
      platform: `${os.platform()} ${os.release()} ${os.arch()}`,
      loadAverageStart,
      loadAverageEnd: os.loadavg(),
    },
    prices: {
      file: path.relative(REPO_ROOT, PRICES_PATH),
      region: prices.region,
      dateRead: prices.dateRead,
      sources: [prices.appsync, prices.sns, prices.sqs, prices.lambda].map((s) => s.sources[0]!.url),
    },
    delivery,
    targets: judgeTargets(delivery, bundles),
    bundles,
    synth,
    plans,
  };
  const markdownPath = o.outDir ? path.join(o.outDir, "BENCHMARKS.md") : path.join(REPO_ROOT, "BENCHMARKS.md");
  const jsonPath = o.outDir ? path.join(o.outDir, "results.json") : path.join(REPO_ROOT, "bench", "results.json");
  if (o.outDir) mkdirSync(o.outDir, { recursive: true });
  writeFileSync(jsonPath, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(markdownPath, renderMarkdown(results));
  log(`bench: wrote ${markdownPath} and ${jsonPath} in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
  return { results, markdownPath, jsonPath };
}

if (require.main === module) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const { values } = parseArgs({ args: process.argv.slice(2), options: { quick: { type: "boolean" }, out: { type: "string" } }, strict: true });
  runBench({ quick: !!values.quick, outDir: values.out ? path.resolve(values.out) : undefined }).then(
    ({ results }) => {
      for (const t of results.targets) process.stderr.write(`${t.status}  ${t.target}: ${t.measured}\n`);
      // Handles the stack leaves behind (keep-alive sockets, SDK agents) must not keep the process alive.
      process.exit(0);
    },
    (e: unknown) => {
      process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}
