/**
 * `npm run plan -- <env> [--offline]`: synthesizes the environment, then terraform init, plan -out and show -json into
 * cdktf.out/plans/<env>.json, and prints the plan. --offline plans with a local backend and fake credentials (no AWS).
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { synthesize } from "../main";
import { loadEnvironment } from "../config/load";
import { stackName } from "../config/schema";
import { OFFLINE_OVERRIDE_FILE, terraform, terraformEnvironment, writeOfflineOverride } from "./terraform";

const OUT = path.resolve(__dirname, "..", "cdktf.out");

async function main(argv: string[]): Promise<number> {
  const offline = argv.includes("--offline");
  const envs = argv.filter((a) => !a.startsWith("-"));
  if (envs.length !== 1) {
    console.error("usage: npm run plan -- <env> [--offline]");
    return 2;
  }
  const [env] = envs;
  const synth = await synthesize({ environments: [env], outdir: OUT });
  if (synth.failed[env]) {
    console.error(synth.failed[env]);
    return 1;
  }
  const config = await loadEnvironment(env);
  const stackDir = path.join(OUT, "stacks", stackName(config));
  const tfEnv = terraformEnvironment(path.join(OUT, ".terraform-cli"));
  if (offline) writeOfflineOverride(stackDir);
  else rmSync(path.join(stackDir, OFFLINE_OVERRIDE_FILE), { force: true });

  const run = async (args: string[], echo = true) => {
    const r = await terraform(args, { cwd: stackDir, env: tfEnv, echo, timeoutMs: 30 * 60_000 });
    if (r.code !== 0) throw new Error(`terraform ${args[0]} failed (exit ${r.code})${echo ? "" : `\n${r.stderr}`}`);
    return r;
  };
  // -reconfigure: switching between the real and the offline backend must not try to migrate state.
  await run(["init", "-reconfigure", "-input=false"]);
  await run(["plan", "-input=false", "-out=plan.tfplan"]);
  const shown = await run(["show", "-json", "plan.tfplan"], false);
  const plans = path.join(OUT, "plans");
  mkdirSync(plans, { recursive: true });
  const file = path.join(plans, `${env}.json`);
  writeFileSync(file, shown.stdout);
  console.error(`plan JSON: ${path.relative(process.cwd(), file)}`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (e) => {
    console.error((e as Error).message);
    process.exitCode = 1;
  },
);
