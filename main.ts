/**
 * The CDKTF app: one self-contained PlatformStack per deployed environment, synthesized into cdktf.out/stacks/<stack>/.
 * `npx tsx main.ts [env...]` (or STACK_ENV=<env>) synthesizes only those; a bad config fails that environment only.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import * as path from "node:path";
import { App } from "cdktf";
import { ConfigError, deployedEnvironmentNames, ENVIRONMENTS_DIR, loadEnvironment } from "./config/load";
import { EnvironmentConfig, stackName } from "./config/schema";
import { OUTPUTS, PlatformStack } from "./modules/platformStack";
import { answeredHelp } from "./scripts/cli";
import { copyLockFile } from "./scripts/terraform";

export interface SynthResult {
  /** Stack names written. */
  synthesized: string[];
  /** Environment name -> error message (ConfigError: `<file>: <key> ...`). */
  failed: Record<string, string>;
}

export interface SynthOptions {
  /** Environments to synthesize; all deployed ones when empty. */
  environments?: string[];
  /** Output directory; cdktf's default (CDKTF_OUTDIR or cdktf.out) when absent. */
  outdir?: string;
  /** Directory of the tfvars files. */
  environmentsDir?: string;
}

export const SYNTH_USAGE = `Usage: npm run synth [-- <env> ...]

Synthesizes each named environment (default: every deployed one, environments/*.tfvars but example and local) into
cdktf.out/stacks/<project>-<env>/ (CDKTF_OUTDIR moves cdktf.out). An environment's previous output is removed first,
so a failed environment leaves nothing behind. STACK_ENV=<env>[,<env>] names environments too.

  -h, --help   this text`;

function tfvarsPath(dir: string, name: string): string {
  return path.relative(process.cwd(), path.join(dir, `${name}.tfvars`));
}

/**
 * The stack directories an earlier synth wrote for the environment, found by the `environment` output each stack
 * declares: they are found even when the config no longer parses, or its project changed since.
 */
function previousOutputs(outdir: string, name: string): string[] {
  const stacks = path.join(outdir, "stacks");
  if (!existsSync(stacks)) return [];
  return readdirSync(stacks).filter((stack) => {
    try {
      const json = JSON.parse(readFileSync(path.join(stacks, stack, "cdk.tf.json"), "utf8")) as { output?: Record<string, { value?: unknown }> };
      return json.output?.[OUTPUTS.environment]?.value === name;
    } catch {
      return false; // not a platform stack's output, or no cdk.tf.json
    }
  });
}

/** The environment's config, or its problems as the message synth reports. */
async function loadOrReport(name: string, dir: string): Promise<EnvironmentConfig | string> {
  try {
    return await loadEnvironment(name, dir);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return e.message;
  }
}

/** Adds one environment's stack to the app after removing its previous output; records a failure instead of throwing. */
async function addEnvironment(app: App, name: string, dir: string, result: SynthResult): Promise<void> {
  const config = await loadOrReport(name, dir);
  const stale = [...previousOutputs(app.outdir, name), ...(typeof config === "string" ? [] : [stackName(config)])];
  for (const stack of stale) rmSync(path.join(app.outdir, "stacks", stack), { recursive: true, force: true });
  if (typeof config === "string") {
    result.failed[name] = config;
    return;
  }
  const stack = stackName(config);
  try {
    new PlatformStack(app, { config });
    result.synthesized.push(stack);
  } catch (e) {
    // A construct's range check (e.g. the Lambda environment size): drop the half-built stack so nothing is written.
    app.node.tryRemoveChild(stack);
    result.failed[name] = `${tfvarsPath(dir, name)}: ${(e as Error).message}`;
  }
}

/** Synthesizes the environments into `<outdir>/stacks/<stack>/`, each with the provider lock file; see SynthResult. */
export async function synthesize(opts: SynthOptions = {}): Promise<SynthResult> {
  const dir = opts.environmentsDir ?? ENVIRONMENTS_DIR;
  const names = opts.environments?.length ? opts.environments : deployedEnvironmentNames(dir);
  const app = new App({ outdir: opts.outdir, skipValidation: false });
  const result: SynthResult = { synthesized: [], failed: {} };
  for (const name of names) await addEnvironment(app, name, dir, result);
  app.synth();
  for (const stack of result.synthesized) copyLockFile(path.join(app.outdir, "stacks", stack));
  return result;
}

function requestedEnvironments(argv: string[]): string[] {
  const fromArgs = argv.filter((a) => !a.startsWith("-"));
  if (fromArgs.length) return fromArgs;
  return process.env.STACK_ENV ? process.env.STACK_ENV.split(",").filter(Boolean) : [];
}

/** Progress on stdout (cdktf-cli shows an app's stderr as [ERROR]); failures on stderr. */
function report(r: SynthResult, started: number): void {
  for (const s of r.synthesized) console.log(`synthesized ${s}`);
  for (const [env, message] of Object.entries(r.failed)) console.error(`FAILED ${env}:\n${message}`);
  console.log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (Object.keys(r.failed).length) process.exitCode = 1;
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  const started = Date.now();
  if (!answeredHelp(argv, SYNTH_USAGE, [])) {
    synthesize({ environments: requestedEnvironments(argv) }).then(
      (r) => report(r, started),
      (e) => {
        console.error(e);
        process.exitCode = 1;
      },
    );
  }
}
