/**
 * `npm run --silent deploy-role -- <env> [--github-output]`: prints the environment's deploy role ARN (its
 * `assume_role_arn`) for the workflows' OIDC login, or `role-arn=...` and `region=...` lines for $GITHUB_OUTPUT.
 */
import { loadEnvironment } from "../config/load";

export async function deployRoleOutput(env: string, githubOutput: boolean): Promise<string> {
  const c = await loadEnvironment(env);
  if (!c.assume_role_arn) throw new Error(`environments/${env}.tfvars: assume_role_arn is required to deploy from CI`);
  return githubOutput ? `role-arn=${c.assume_role_arn}\nregion=${c.region}\n` : `${c.assume_role_arn}\n`;
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const envs = args.filter((a) => !a.startsWith("--"));
  if (envs.length !== 1) {
    console.error("usage: npm run --silent deploy-role -- <env> [--github-output]");
    process.exit(2);
  }
  deployRoleOutput(envs[0], args.includes("--github-output")).then(
    (out) => process.stdout.write(out),
    (e) => {
      console.error((e as Error).message);
      process.exitCode = 1;
    },
  );
}
