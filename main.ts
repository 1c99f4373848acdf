/**
 * The CDKTF app: one self-contained PlatformStack per deployed environment, synthesized into cdktf.out/stacks/<stack>/.
 * `npx tsx main.ts [env...]` (or STACK_ENV=<env>) synthesizes only those; a bad config fails that environment only.
 */
import * as path from "node:path";
import { App } from "cdktf";
import { ConfigError, deployedEnvironmentNames, ENVIRONMENTS_DIR, loadEnvironment } from "./config/load";
import { stackName } from "./config/schema";
import { PlatformStack } from "./modules/platformStack";

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

function tfvarsPath(dir: string, name: string): string {
  return path.relative(process.cwd(), path.join(dir, `${name}.tfvars`));
}

export async function synthesize(opts: SynthOptions = {}): Promise<SynthResult> {
  const dir = opts.environmentsDir ?? ENVIRONMENTS_DIR;
  const names = opts.environments?.length ? opts.environments : deployedEnvironmentNames(dir);
  const app = new App({ outdir: opts.outdir, skipValidation: false });
  const result: SynthResult = { synthesized: [], failed: {} };
  for (const name of names) {
    let config;
    try {
      config = await loadEnvironment(name, dir);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      result.failed[name] = e.message;
      continue;
    }
    try {
      new PlatformStack(app, { config });
      result.synthesized.push(stackName(config));
    } catch (e) {
      // A construct's range check (e.g. the Lambda environment size): drop the half-built stack so nothing is written.
      app.node.tryRemoveChild(stackName(config));
      result.failed[name] = `${tfvarsPath(dir, name)}: ${(e as Error).message}`;
    }
  }
  app.synth();
  return result;
}

function requestedEnvironments(argv: string[]): string[] {
  const fromArgs = argv.filter((a) => !a.startsWith("-"));
  if (fromArgs.length) return fromArgs;
  return process.env.STACK_ENV ? process.env.STACK_ENV.split(",").filter(Boolean) : [];
}

if (require.main === module) {
  const started = Date.now();
  synthesize({ environments: requestedEnvironments(process.argv.slice(2)) })
    .then((r) => {
      for (const s of r.synthesized) console.error(`synthesized ${s}`);
      for (const [env, message] of Object.entries(r.failed)) console.error(`FAILED ${env}:\n${message}`);
      console.error(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      if (Object.keys(r.failed).length) process.exitCode = 1;
    })
    .catch((e) => {
      console.error(e);
      process.exitCode = 1;
    });
}
