/**
 * `npm run bootstrap:synth -- [env-or-account ...] [--github-repository owner/name] [--state-in-bucket] [--existing-oidc-provider]`
 * Synthesizes one bootstrap stack per AWS account of the named environments (all deployed ones by default) into
 * cdktf.out/bootstrap/stacks/<project>-bootstrap-<account>/. `npm run bootstrap -- plan|apply` runs terraform on it.
 */
import * as path from "node:path";
import { App } from "cdktf";
import { deployedEnvironmentNames, ENVIRONMENTS_DIR, loadEnvironment } from "../config/load";
import { EnvironmentConfig } from "../config/schema";
import { answeredHelp, optionValue, positionals } from "../scripts/cli";
import { copyLockFile } from "../scripts/terraform";
import { AccountBootstrap, bootstrapStackName, GithubRepository, planAccounts, resolveGithubRepository } from "./config";
import { BootstrapStack } from "./stack";

export const BOOTSTRAP_OUTDIR = path.resolve(__dirname, "..", "cdktf.out", "bootstrap");

export const BOOTSTRAP_SYNTH_USAGE = `Usage: npm run bootstrap:synth -- [<env-or-account-id> ...] [options]

Synthesizes the bootstrap stack of each AWS account of the named environments (default: every deployed one) into
cdktf.out/bootstrap/stacks/<project>-bootstrap-<account>/, covering every deployed environment in that account.
No AWS access; \`npm run bootstrap -- plan|apply <env-or-account-id>\` runs terraform on it.

  --github-repository <owner/name>  the repository whose workflows may assume the roles (default: GITHUB_REPOSITORY,
                                    else this clone's origin remote)
  --existing-oidc-provider          the account already has GitHub's OIDC provider
  --state-in-bucket                 keep the stack's own state in the state bucket (after the first apply)
  -h, --help                        this text`;

/**
 * The accounts of the named environments or account ids (every deployed one's when none), each with every deployed
 * environment in it: a bootstrap stack serves them all, and leaving one out would plan to destroy its roles.
 */
export async function accountsOf(targets: string[], github: GithubRepository, dir = ENVIRONMENTS_DIR): Promise<AccountBootstrap[]> {
  return planAccounts(await environmentsOfAccounts(targets, dir), github);
}

/** The deployed environments in the accounts of the named environments or account ids (all of them when none). */
export async function environmentsOfAccounts(targets: string[], dir = ENVIRONMENTS_DIR): Promise<EnvironmentConfig[]> {
  const configs = await Promise.all(deployedEnvironmentNames(dir).map((n) => loadEnvironment(n, dir)));
  const ids = targets.map((t) => {
    const id = /^\d{12}$/.test(t) ? t : configs.find((c) => c.name === t)?.account_id;
    if (!id || !configs.some((c) => c.account_id === id)) throw new Error(`${t} is neither a deployed environment (${configs.map((c) => c.name).join(", ")}) nor the account of one`);
    return id;
  });
  return configs.filter((c) => !ids.length || ids.includes(c.account_id));
}

export interface BootstrapSynthOptions {
  accounts: AccountBootstrap[];
  outdir?: string;
  stateInBucket?: boolean;
  existingOidcProvider?: boolean;
}

/** Synthesizes the stacks; returns each stack's directory (holding cdk.tf.json). */
export function synthesizeBootstrap(opts: BootstrapSynthOptions): string[] {
  const outdir = opts.outdir ?? BOOTSTRAP_OUTDIR;
  const app = new App({ outdir });
  for (const account of opts.accounts) new BootstrapStack(app, { account, stateInBucket: opts.stateInBucket, existingOidcProvider: opts.existingOidcProvider });
  app.synth();
  const dirs = opts.accounts.map((a) => path.join(outdir, "stacks", bootstrapStackName(a)));
  dirs.forEach(copyLockFile);
  return dirs;
}

async function main(argv: string[]): Promise<void> {
  const accounts = await accountsOf(positionals(argv, ["--github-repository"]), resolveGithubRepository(optionValue(argv, "--github-repository")));
  const dirs = synthesizeBootstrap({ accounts, stateInBucket: argv.includes("--state-in-bucket"), existingOidcProvider: argv.includes("--existing-oidc-provider") });
  accounts.forEach((a, i) => {
    console.log(`synthesized ${path.relative(process.cwd(), dirs[i])} (account ${a.accountId}: buckets ${a.stateBuckets.join(", ")}; deploy roles ${a.roles.map((r) => r.arn).join(", ")}; plan roles ${a.roles.map((r) => r.planRoleArn).join(", ")}; trusts ${a.github.owner}/${a.github.repo})`);
  });
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  if (!answeredHelp(argv, BOOTSTRAP_SYNTH_USAGE, ["--github-repository", "--state-in-bucket", "--existing-oidc-provider"])) {
    main(argv).catch((e) => {
      console.error((e as Error).message);
      process.exitCode = 1;
    });
  }
}
