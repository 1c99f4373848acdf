/**
 * Build-side figures: each Lambda bundle's zipped size (built by the infra's own bundleHandler, so the options are
 * the deployed ones) and cold module-init time (median over fresh `node` processes with a Lambda-like environment),
 * synth time for all environments, and offline plan time per environment.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { deployedEnvironmentNames, loadEnvironment } from "../config/load";
import { functionUrlSettingsFor, runtimeSettingsFor } from "../config/runtime";
import { resourceNames } from "../config/names";
import { functionUrlVariables, observabilityVariables, runtimeVariables, tokenVariables, websocketVariables } from "../contracts/runtimeSettings";
import { bundleHandler } from "../modules/bundle";
import { median } from "./stats";

export const REPO_ROOT = path.resolve(__dirname, "..");
export const FUNCTIONS = ["send-query", "message-control", "stream-worker", "outbound-relay", "url-stream", "websocket-authorizer", "websocket-routes"] as const;

export interface BundleFigures {
  name: (typeof FUNCTIONS)[number];
  bytes: number;
  zippedBytes: number;
  initMs: { median: number; samples: number[] };
}

type ZipCtor = new (options?: object) => NodeJS.ReadableStream & { directory(dir: string, dest: string | false): void; finalize(): Promise<void> };

/** Zips a directory in memory as the deployment package would be (archiver, as TerraformAsset uses) and returns its size. */
async function zippedSize(dir: string): Promise<number> {
  // archiver 8 is ESM-only and untyped: a variable specifier keeps tsc from resolving it; tsx/node load it natively.
  const specifier = "archiver";
  const { ZipArchive } = (await import(specifier)) as { ZipArchive: ZipCtor };
  const zip = new ZipArchive({ zlib: { level: 9 } });
  let size = 0;
  const done = new Promise<void>((resolve, reject) => {
    zip.on("data", (c: Buffer) => void (size += c.length));
    zip.on("end", () => resolve());
    zip.on("error", reject);
  });
  zip.directory(dir, false);
  await zip.finalize();
  await done;
  return size;
}

/**
 * The variables Lambda and our stacks set (fake ARNs and credentials), so module scope runs as it does in AWS; the
 * transports' own (token issuer, WebSocket endpoint and table, answer cap) for every function, as only they read them.
 */
async function lambdaEnvironment(functionName: string): Promise<Record<string, string>> {
  const config = await loadEnvironment(deployedEnvironmentNames()[0]!);
  const names = resourceNames(config);
  const arn = (service: string, name: string) => `arn:aws:${service}:${config.region}:${config.account_id}:${name}`;
  const settings = runtimeSettingsFor(config, {
    appsyncEndpoint: `https://example1234567890abcdef.appsync-api.${config.region}.amazonaws.com/graphql`,
    inboundTopicArn: arn("sns", names.inboundTopic),
    outboundTopicArn: arn("sns", names.outboundTopic),
    idempotencyTableName: names.idempotencyTable,
    historyTableName: names.historyTable,
    messagesTableName: names.messagesTable,
    usageTableName: names.usageTable,
  });
  const pool = { issuerUrl: `https://cognito-idp.${config.region}.amazonaws.com/${config.region}_BenchPool1`, clientId: "benchclientid" };
  const transports = {
    ...tokenVariables({ jwtIssuer: pool.issuerUrl, jwtClientId: pool.clientId }),
    ...websocketVariables({ websocketEndpoint: `https://abc123.execute-api.${config.region}.amazonaws.com/${config.name}`, connectionsTableName: names.connectionsTable }),
    ...functionUrlVariables(settings, functionUrlSettingsFor(config, pool)),
  };
  return {
    PATH: process.env.PATH ?? "",
    AWS_REGION: config.region,
    AWS_DEFAULT_REGION: config.region,
    AWS_LAMBDA_FUNCTION_NAME: functionName,
    AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(config.lambda.memory_mb),
    AWS_EXECUTION_ENV: "AWS_Lambda_nodejs22.x",
    AWS_ACCESS_KEY_ID: "AKIDBENCHFAKE",
    AWS_SECRET_ACCESS_KEY: "bench-fake-secret",
    AWS_SESSION_TOKEN: "bench-fake-session",
    ...observabilityVariables({ serviceName: functionName, metricsNamespace: config.project }),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    ...runtimeVariables(settings),
    ...transports,
  };
}

// Lambda's Node.js runtime defines the awslambda global (response streaming) before a function's code loads.
const INIT_PROBE = `const { performance } = require("node:perf_hooks");
globalThis.awslambda = { streamifyResponse: (h) => h, HttpResponseStream: { from: (s) => s } };
const t = performance.now();
require(process.argv[1]);
process.stdout.write(JSON.stringify({ initMs: performance.now() - t }));`;

function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs: number }): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(cmd, args, { cwd: opts.cwd ?? REPO_ROOT, env: opts.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => void (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => void (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: performance.now() - started });
    });
  });
}

export async function benchBundles(initRuns: number): Promise<BundleFigures[]> {
  const out: BundleFigures[] = [];
  for (const name of FUNCTIONS) {
    const dir = bundleHandler(path.join(REPO_ROOT, "lambdas", name, "handler.ts"));
    const bytes = readdirSync(dir).reduce((n, f) => n + statSync(path.join(dir, f)).size, 0);
    const env = await lambdaEnvironment(name);
    const samples: number[] = [];
    for (let i = 0; i < initRuns; i++) {
      const r = await run(process.execPath, ["-e", INIT_PROBE, path.join(dir, "index.js")], { env, timeoutMs: 20_000 });
      if (r.code !== 0) throw new Error(`${name}: loading the bundle failed (exit ${r.code}): ${r.stderr.slice(0, 500)}`);
      samples.push((JSON.parse(r.stdout) as { initMs: number }).initMs);
    }
    out.push({ name, bytes, zippedBytes: await zippedSize(dir), initMs: { median: median(samples), samples } });
  }
  return out;
}

export interface TimedCommand {
  command: string;
  ms: number;
  ok: boolean;
  detail?: string;
}

const TSX = path.join(REPO_ROOT, "node_modules", ".bin", "tsx");

/** `npm run synth` (tsx main.ts) for every deployed environment, into a temporary CDKTF_OUTDIR so the repo's cdktf.out is untouched. */
export async function benchSynth(): Promise<TimedCommand & { environments: string[] }> {
  const outdir = mkdtempSync(path.join(os.tmpdir(), "bench-synth-"));
  try {
    const r = await run(TSX, ["main.ts"], { env: { ...process.env, CDKTF_OUTDIR: outdir }, timeoutMs: 120_000 });
    return { command: "npm run synth", ms: r.ms, ok: r.code === 0, detail: r.code === 0 ? undefined : r.stderr.slice(-500), environments: deployedEnvironmentNames() };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** `npm run plan -- <env> --offline` per deployed environment (synth + terraform init/plan/show with fake credentials). */
export async function benchPlans(timeoutMs: number): Promise<(TimedCommand & { environment: string })[]> {
  const out: (TimedCommand & { environment: string })[] = [];
  for (const env of deployedEnvironmentNames()) {
    const r = await run(TSX, ["scripts/plan.ts", env, "--offline"], { timeoutMs });
    out.push({ environment: env, command: `npm run plan -- ${env} --offline`, ms: r.ms, ok: r.code === 0, detail: r.code === 0 ? undefined : r.stderr.slice(-500) });
  }
  return out;
}
