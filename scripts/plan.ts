/**
 * `npm run plan -- <env> [--offline [--base [<git-ref>]]]`: synthesizes the environment, then terraform init, plan -out
 * and show -json into cdktf.out/plans/<env>.json, and prints the plan. --offline plans with a local backend and fake
 * credentials (no AWS); --base plans offline against the state the environment at <git-ref> would leave (planBase.ts).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { synthesize } from "../main";
import { SESSION_OVERRIDE_FILE } from "../bootstrap/ciRole";
import { ENVIRONMENTS_DIR, loadEnvironment } from "../config/load";
import { stackName } from "../config/schema";
import { answeredHelp, positionals } from "./cli";
import { baseStateOf, resolveBase } from "./planBase";
import { OFFLINE_OVERRIDE_FILE, OFFLINE_STATE_FILE, planToJson, terraformEnvironment, terraformOk, writeOfflineOverride } from "./terraform";

const ROOT = path.resolve(__dirname, "..");
const OUT = path.join(ROOT, "cdktf.out");
const TIMEOUT_MS = 30 * 60_000;

export const PLAN_USAGE = `Usage: npm run plan -- <env> [--offline [--base [<git-ref>]]]

Synthesizes environments/<env>.tfvars, runs terraform init and plan in cdktf.out/stacks/<project>-<env>/, prints the
plan and writes it as JSON to cdktf.out/plans/<env>.json (then: npm run plan-summary -- cdktf.out/plans/<env>.json).

  (no option)         the real S3 backend and your AWS credentials: the diff against what is deployed
  --offline           a local backend and fake credentials: no AWS account, no network (every resource is new)
  --base [<git-ref>]  with --offline: the diff against <env> as it is at <git-ref>, synthesized by that commit's own
                      code (default: the merge base of HEAD with main); an environment new since then plans against
                      nothing. Also --base=<git-ref>.
  -h, --help          this text

Terraform's output is plain (-no-color) unless stdout is a terminal.`;

export interface PlanArgs {
  env: string;
  offline: boolean;
  /** Plan against this git ref's state ("" = the default base); absent: no base. */
  base?: string;
}

/** Parses the command line; throws a message with the usage for anything it cannot use. */
export function parsePlanArgs(argv: string[]): PlanArgs {
  const inline = argv.find((a) => a.startsWith("--base="));
  const i = argv.indexOf("--base");
  const next = i >= 0 ? argv[i + 1] : undefined;
  const refAfterFlag = next !== undefined && !next.startsWith("-") && positionals(argv).length > 1 ? next : undefined;
  const base = inline !== undefined ? inline.slice("--base=".length) : i >= 0 ? (refAfterFlag ?? "") : undefined;
  const envs = positionals(argv).filter((a) => a !== refAfterFlag);
  if (envs.length !== 1) throw new Error(`name one environment\n${PLAN_USAGE}`);
  const offline = argv.includes("--offline");
  if (base !== undefined && !offline) throw new Error("--base needs --offline: a plan against the real backend already shows the diff against what is deployed");
  return { env: envs[0], offline, base };
}

/** Files in a stack directory that are not synth output and outlive a new synth. */
const KEPT_FILES = [
  // Written by `ci-role --session-override` between the workflows' synth and plan steps: the plan must keep using the job's session.
  SESSION_OVERRIDE_FILE,
];

/** Synthesizes the one environment (synth removes its previous output, but not KEPT_FILES); returns its stack directory. */
export async function synthesizeStack(env: string, outdir = OUT, environmentsDir = ENVIRONMENTS_DIR): Promise<string> {
  const stackDir = path.join(outdir, "stacks", stackName(await loadEnvironment(env, environmentsDir)));
  const kept = KEPT_FILES.filter((f) => existsSync(path.join(stackDir, f))).map((f) => [f, readFileSync(path.join(stackDir, f))] as const);
  const synth = await synthesize({ environments: [env], outdir, environmentsDir });
  if (synth.failed[env]) throw new Error(synth.failed[env]);
  for (const [f, content] of kept) writeFileSync(path.join(stackDir, f), content);
  return stackDir;
}

/** The settled offline state of the base, or undefined (no --base, or the environment is new since the base). */
async function baseState(args: PlanArgs, tfEnv: NodeJS.ProcessEnv): Promise<string | undefined> {
  if (args.base === undefined) return undefined;
  const base = resolveBase(ROOT, args.base || undefined);
  console.error(`base: ${args.env} at ${base.sha.slice(0, 12)} (${base.description}), synthesized by that commit's code`);
  const state = await baseStateOf({ root: ROOT, env: args.env, base, tfEnv });
  if (!state) console.error(`base: environments/${args.env}.tfvars does not exist at ${base.sha.slice(0, 12)}: planning against an empty state`);
  return state;
}

/** The offline override and the base's state, or neither for the real backend. */
function prepareBackend(stackDir: string, offline: boolean, state: string | undefined): void {
  if (!offline) return rmSync(path.join(stackDir, OFFLINE_OVERRIDE_FILE), { force: true });
  writeOfflineOverride(stackDir);
  if (state) writeFileSync(path.join(stackDir, OFFLINE_STATE_FILE), state);
}

function writePlanJson(env: string, json: string): string {
  const file = path.join(OUT, "plans", `${env}.json`);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, json);
  return path.relative(process.cwd(), file);
}

async function main(args: PlanArgs): Promise<void> {
  const stackDir = await synthesizeStack(args.env);
  const tfEnv = terraformEnvironment(path.join(OUT, ".terraform-cli"));
  const state = await baseState(args, tfEnv);
  prepareBackend(stackDir, args.offline, state);
  const run = { env: tfEnv, echo: true, timeoutMs: TIMEOUT_MS };
  // -reconfigure: switching between the real and the offline backend must not try to migrate state.
  await terraformOk(["init", "-reconfigure", "-input=false"], { ...run, cwd: stackDir });
  // A base state holds stand-ins: refreshing them would ask AWS about resources that do not exist.
  const file = writePlanJson(args.env, await planToJson(stackDir, { ...run, refresh: state ? false : undefined }));
  console.error(`plan JSON: ${file}\nsummary:   npm run plan-summary -- ${file}`);
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  if (!answeredHelp(argv, PLAN_USAGE, ["--offline", "--base"])) {
    Promise.resolve()
      .then(() => main(parsePlanArgs(argv)))
      .catch((e: Error) => {
        console.error(e.message);
        process.exitCode = 1;
      });
  }
}
