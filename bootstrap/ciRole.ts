/**
 * The workflows' view of an environment's roles, read from its tfvars (so CI never repeats an ARN):
 *   npm run --silent ci-role -- <env>                  deploy role ARN (assume_role_arn)
 *   npm run --silent ci-role -- <env> --plan           read-only plan role ARN (`<assume_role_arn>-plan`)
 *   npm run --silent ci-role -- <env> --github-output  deploy-role-arn=, plan-role-arn=, region=, stack-dir= lines for $GITHUB_OUTPUT
 *   npm run --silent ci-role -- <env> --session-override
 *       after synth: makes the stack's provider use the job's own OIDC session instead of assuming the deploy role,
 *       so a plan made with the read-only plan role stays read-only.
 */
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { ENVIRONMENTS_DIR, loadEnvironment } from "../config/load";
import { EnvironmentConfig, stackName } from "../config/schema";
import { answeredHelp } from "../scripts/cli";
import { planRoleArnOf } from "./config";

export const CI_ROLE_USAGE = `Usage: npm run --silent ci-role -- <env> [--plan | --github-output | --session-override]

The workflows' view of an environment's roles, read from environments/<env>.tfvars (no AWS access):
  (no option)         the deploy role ARN (assume_role_arn)
  --plan              the read-only plan role ARN (<assume_role_arn>-plan)
  --github-output     deploy-role-arn=, plan-role-arn=, region=, stack-dir= lines for $GITHUB_OUTPUT
  --session-override  after synth: the stack's provider uses the job's own session instead of assuming the deploy
                      role (so a plan made with the plan role stays read-only)
  -h, --help          this text`;

export const STACKS_DIR = path.join("cdktf.out", "stacks");
export const SESSION_OVERRIDE_FILE = "zz_ci_session_override.tf.json";

function deployRoleOf(c: EnvironmentConfig): string {
  if (!c.assume_role_arn) throw new Error(`environments/${c.name}.tfvars: assume_role_arn is required to deploy from CI`);
  return c.assume_role_arn;
}

/** What `ci-role` prints for an environment (of `dir`, default environments/). */
export async function ciRoleOutput(env: string, mode: "deploy" | "plan" | "github-output", dir = ENVIRONMENTS_DIR): Promise<string> {
  const c = await loadEnvironment(env, dir);
  const deploy = deployRoleOf(c);
  if (mode === "deploy") return `${deploy}\n`;
  if (mode === "plan") return `${planRoleArnOf(deploy)}\n`;
  return [`deploy-role-arn=${deploy}`, `plan-role-arn=${planRoleArnOf(deploy)}`, `region=${c.region}`, `stack-dir=${path.join(STACKS_DIR, stackName(c))}`, ""].join("\n");
}

/** The override: an empty dynamic block removes the provider's assume_role (the same technique as the offline override). */
export function sessionOverride(): object {
  return { provider: { aws: { dynamic: { assume_role: { for_each: [], content: {} } } } } };
}

/** Writes the session override into the environment's synthesized stack under `root`; returns its path. */
export async function writeSessionOverride(env: string, root = process.cwd()): Promise<string> {
  const c = await loadEnvironment(env);
  const file = path.join(root, STACKS_DIR, stackName(c), SESSION_OVERRIDE_FILE);
  writeFileSync(file, JSON.stringify(sessionOverride(), null, 2) + "\n");
  return file;
}

if (require.main === module && !answeredHelp(process.argv.slice(2), CI_ROLE_USAGE, ["--plan", "--github-output", "--session-override"])) {
  const args = process.argv.slice(2);
  const envs = args.filter((a) => !a.startsWith("--"));
  const run = async (): Promise<string> => {
    if (envs.length !== 1) throw new Error(CI_ROLE_USAGE);
    if (args.includes("--session-override")) return `wrote ${path.relative(process.cwd(), await writeSessionOverride(envs[0]))}\n`;
    return ciRoleOutput(envs[0], args.includes("--github-output") ? "github-output" : args.includes("--plan") ? "plan" : "deploy");
  };
  run().then(
    (out) => process.stdout.write(out),
    (e) => {
      console.error((e as Error).message);
      process.exitCode = 1;
    },
  );
}
