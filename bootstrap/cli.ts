/**
 * `npm run bootstrap -- plan|apply <account-id-or-env> [options]`: the account's bootstrap stack through terraform with
 * the project's CLI config (provider mirror when present, no checkpoint) and the committed provider lock file.
 * `plan` synthesizes the stack for every deployed environment in the account and saves bootstrap.tfplan; `apply`
 * applies exactly that saved plan. See the README's "Add an account and environment".
 */
import { existsSync, readdirSync, renameSync, rmSync } from "node:fs";
import * as path from "node:path";
import { answeredHelp, optionValue, positionals } from "../scripts/cli";
import { copyLockFile, OFFLINE_OVERRIDE_FILE, terraformEnvironment, terraformOk, writeOfflineOverride } from "../scripts/terraform";
import { AccountBootstrap, bootstrapStackName, planAccounts, resolveGithubRepository } from "./config";
import { accountsOf, BOOTSTRAP_OUTDIR, environmentsOfAccounts, synthesizeBootstrap } from "./main";

export const BOOTSTRAP_USAGE = `Usage: npm run bootstrap -- plan|apply <account-id-or-env> [options]

  plan    synthesizes the account's bootstrap stack (state bucket, GitHub OIDC provider, each environment's
          permissions boundary, deploy and plan roles) for every deployed environment in that account, runs
          terraform init and plan, and saves cdktf.out/bootstrap/stacks/<project>-bootstrap-<account>/bootstrap.tfplan
  apply   applies exactly that saved plan

Needs the account's admin credentials, except plan --offline (fake credentials, no AWS: shows what it would create).

  --github-repository <owner/name>  the repository whose workflows may assume the roles (default: GITHUB_REPOSITORY,
                                    else this clone's origin remote)
  --existing-oidc-provider          the account already has GitHub's OIDC provider
  --state-in-bucket                 keep this stack's state in the state bucket (after the first apply); plan moves
                                    a local state there (terraform init -migrate-state)
  --offline                         plan only: local backend and fake credentials
  -h, --help                        this text`;

const OPTIONS = ["--github-repository", "--existing-oidc-provider", "--state-in-bucket", "--offline"];
const PLAN_FILE = "bootstrap.tfplan";

export interface BootstrapArgs {
  action: "plan" | "apply";
  /** A 12-digit account id or an environment name. */
  target: string;
  githubRepository?: string;
  existingOidcProvider: boolean;
  stateInBucket: boolean;
  offline: boolean;
}

export function parseBootstrapArgs(argv: string[]): BootstrapArgs {
  const [action, target, ...rest] = positionals(argv, ["--github-repository"]);
  if ((action !== "plan" && action !== "apply") || !target || rest.length) throw new Error(BOOTSTRAP_USAGE);
  const offline = argv.includes("--offline");
  if (offline && action === "apply") throw new Error("apply --offline would apply to nothing: --offline is for plan only");
  return { action, target, githubRepository: optionValue(argv, "--github-repository"), existingOidcProvider: argv.includes("--existing-oidc-provider"), stateInBucket: argv.includes("--state-in-bucket"), offline };
}

/** Local state files of a stack that now keeps its state in the bucket: what `init -migrate-state` moves. */
const localStates = (stackDir: string) => readdirSync(stackDir).filter((f) => /^terraform\..+\.tfstate$/.test(f) && f !== "terraform.offline.tfstate");

/** Renames the migrated local state, so no later run copies it over the bucket's newer state again. */
function setAsideMigrated(stackDir: string): string {
  const files = localStates(stackDir);
  for (const f of files) renameSync(path.join(stackDir, f), path.join(stackDir, `${f}.migrated`));
  return `the local copy is now ${files.map((f) => `${f}.migrated`).join(", ")}: delete it once a plan shows no changes`;
}

async function plan(args: BootstrapArgs, account: AccountBootstrap, tfEnv: NodeJS.ProcessEnv): Promise<string> {
  const [stackDir] = synthesizeBootstrap({ accounts: [account], stateInBucket: args.stateInBucket, existingOidcProvider: args.existingOidcProvider });
  copyLockFile(stackDir);
  if (args.offline) writeOfflineOverride(stackDir);
  else rmSync(path.join(stackDir, OFFLINE_OVERRIDE_FILE), { force: true });

  const run = { cwd: stackDir, env: tfEnv, echo: true, timeoutMs: 30 * 60_000 };
  const migrate = args.stateInBucket && !args.offline && localStates(stackDir).length > 0;
  // -force-copy: moving the local state into the bucket is what --state-in-bucket asks for.
  await terraformOk(["init", "-input=false", ...(migrate ? ["-migrate-state", "-force-copy"] : ["-reconfigure"])], run);
  if (migrate) console.log(`moved the state into s3://${account.stateBuckets[0]}; ${setAsideMigrated(stackDir)}`);
  await terraformOk(["plan", "-input=false", `-out=${PLAN_FILE}`], run).catch((e: Error) => {
    // terraform saves even a failed plan (as incomplete): leave nothing for apply to find.
    rmSync(path.join(stackDir, PLAN_FILE), { force: true });
    throw new Error(`${e.message}\n(plan reads the account: it needs the account's admin credentials, or --offline)`);
  });
  return args.offline ? "planned offline (fake credentials): to create it, plan again without --offline with the account's admin credentials" : `review the plan, then: npm run bootstrap -- apply ${args.target}`;
}

async function apply(args: BootstrapArgs, tfEnv: NodeJS.ProcessEnv): Promise<string> {
  // The stack's name needs only the account and project; the repository shapes trust policies, already in the plan.
  const [account] = planAccounts(await environmentsOfAccounts([args.target]), { owner: "-", repo: "-" });
  const stackDir = path.join(BOOTSTRAP_OUTDIR, "stacks", bootstrapStackName(account));
  if (!existsSync(path.join(stackDir, PLAN_FILE))) throw new Error(`no saved plan in ${path.relative(process.cwd(), stackDir)}: run \`npm run bootstrap -- plan ${args.target}\` first`);
  if (existsSync(path.join(stackDir, OFFLINE_OVERRIDE_FILE))) throw new Error(`the saved plan was made --offline: run \`npm run bootstrap -- plan ${args.target}\` with the account's admin credentials first`);
  await terraformOk(["apply", "-input=false", PLAN_FILE], { cwd: stackDir, env: tfEnv, echo: true, timeoutMs: 30 * 60_000 });
  return `applied; after the first apply, keep the state in the bucket: npm run bootstrap -- plan ${args.target} --state-in-bucket`;
}

async function main(args: BootstrapArgs): Promise<void> {
  const tfEnv = terraformEnvironment(path.join(BOOTSTRAP_OUTDIR, ".terraform-cli"));
  if (args.action === "apply") return console.log(await apply(args, tfEnv));
  const [account] = await accountsOf([args.target], resolveGithubRepository(args.githubRepository));
  console.log(await plan(args, account, tfEnv));
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  if (!answeredHelp(argv, BOOTSTRAP_USAGE, OPTIONS)) {
    Promise.resolve()
      .then(() => main(parseBootstrapArgs(argv)))
      .catch((e: Error) => {
        console.error(e.message);
        process.exitCode = 1;
      });
  }
}
