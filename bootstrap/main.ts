/**
 * `npm run bootstrap:synth -- [env ...] [--github-repository owner/name] [--state-in-bucket] [--existing-oidc-provider]`
 * Synthesizes one bootstrap stack per AWS account of the named environments (all deployed ones by default) into
 * cdktf.out/bootstrap/stacks/<project>-bootstrap-<account>/. Apply it with the account's admin credentials (README).
 */
import * as path from "node:path";
import { App } from "cdktf";
import { AccountBootstrap, bootstrapStackName, loadAccounts, resolveGithubRepository } from "./config";
import { BootstrapStack } from "./stack";

export const BOOTSTRAP_OUTDIR = path.resolve(__dirname, "..", "cdktf.out", "bootstrap");

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
  return opts.accounts.map((a) => path.join(outdir, "stacks", bootstrapStackName(a)));
}

async function main(argv: string[]): Promise<void> {
  let repository: string | undefined;
  const envs: string[] = [];
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--github-repository") repository = argv[++i];
    else if (argv[i] === "--state-in-bucket" || argv[i] === "--existing-oidc-provider") flags.add(argv[i]);
    else if (argv[i].startsWith("--")) throw new Error(`unknown option ${argv[i]}`);
    else envs.push(argv[i]);
  }
  const accounts = await loadAccounts(envs.length ? envs : undefined, resolveGithubRepository(repository));
  const dirs = synthesizeBootstrap({ accounts, stateInBucket: flags.has("--state-in-bucket"), existingOidcProvider: flags.has("--existing-oidc-provider") });
  accounts.forEach((a, i) => {
    console.error(`synthesized ${path.relative(process.cwd(), dirs[i])} (account ${a.accountId}: buckets ${a.stateBuckets.join(", ")}; deploy roles ${a.roles.map((r) => r.arn).join(", ")}; plan roles ${a.roles.map((r) => r.planRoleArn).join(", ")}; trusts ${a.github.owner}/${a.github.repo})`);
  });
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e) => {
    console.error((e as Error).message);
    process.exitCode = 1;
  });
}
