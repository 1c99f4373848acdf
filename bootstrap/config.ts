/**
 * What the bootstrap stack creates in one AWS account, derived from the environments' tfvars (config/load.ts), so the
 * state bucket and the deploy role are exactly the ones the platform stacks and the workflows use.
 * One account can host several environments: they share the account's OIDC provider and (usually) one state bucket
 * and one deploy role named by their `assume_role_arn`.
 */
import { execFileSync } from "node:child_process";
import { deployedEnvironmentNames, loadEnvironment } from "../config/load";
import { EnvironmentConfig, stackName, stateKey } from "../config/schema";
import { partitionOf } from "../modules/arns";

/** The GitHub repository whose workflows may assume the deploy role. */
export interface GithubRepository {
  owner: string;
  repo: string;
}

export interface BootstrapEnvironment {
  name: string;
  region: string;
  /** `<project>-<env>`: every resource the platform stack names starts with it. */
  prefix: string;
  stateBucket: string;
  /** The environment's state object key, `<key_prefix>/<env>/platform.tfstate`. */
  stateKey: string;
  /** cognito.existing_user_pool_id: the deploy role adds the app client to this pool, which the stack does not own. */
  existingUserPoolId?: string;
  /** waf.rate_limit_per_5_minutes: the stack creates a web ACL for the API, and logs it. */
  createsWebAcl: boolean;
  /** waf.web_acl_arn: the deploy role associates the API with this web ACL, which the stack does not own. */
  existingWebAclArn?: string;
  /** tools.lambdas[].lambda_arn: the team's tool Lambdas the worker invokes, which the stack does not own. */
  toolLambdaArns: string[];
}

export interface DeployRole {
  /** Name without path, e.g. `llm-stream-deploy`. */
  name: string;
  /** IAM path, `/` unless the ARN has one. */
  path: string;
  arn: string;
  /** Its read-only twin for pull-request plans and drift checks: `<name>-plan`, same path. */
  planRoleName: string;
  planRoleArn: string;
  environments: BootstrapEnvironment[];
}

export interface AccountBootstrap {
  accountId: string;
  project: string;
  partition: string;
  /** The region of the state bucket(s); the bootstrap stack's provider region. */
  region: string;
  stateBuckets: string[];
  roles: DeployRole[];
  github: GithubRepository;
}

export class BootstrapConfigError extends Error {}

const REPOSITORY = /^([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)$/;

export function parseGithubRepository(value: string): GithubRepository {
  const m = REPOSITORY.exec(value.trim());
  if (!m) throw new BootstrapConfigError(`GitHub repository must look like owner/name, got ${JSON.stringify(value)}`);
  return { owner: m[1], repo: m[2].replace(/\.git$/, "") };
}

/**
 * The repository: `--github-repository`, else GITHUB_REPOSITORY (set in every Actions run), else this clone's origin remote.
 * Not a tfvars key: it belongs to the repository, not to an environment.
 */
export function resolveGithubRepository(flag?: string, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): GithubRepository {
  if (flag) return parseGithubRepository(flag);
  if (env.GITHUB_REPOSITORY) return parseGithubRepository(env.GITHUB_REPOSITORY);
  let url = "";
  try {
    url = execFileSync("git", ["remote", "get-url", "origin"], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    // no git or no origin: the error below says what to pass instead
  }
  const m = /github\.com[:/]([^/]+\/[^/]+?)(?:\.git)?$/.exec(url);
  if (!m) throw new BootstrapConfigError("cannot tell the GitHub repository: pass --github-repository owner/name (or set GITHUB_REPOSITORY)");
  return parseGithubRepository(m[1]);
}

/** The read-only plan role's name: the deploy role's name plus `-plan`. */
export const planRoleNameOf = (deployRoleName: string) => `${deployRoleName}-plan`;

/** The plan role's ARN, derived from an environment's assume_role_arn. */
export const planRoleArnOf = (deployRoleArn: string) => `${deployRoleArn}-plan`;

const ROLE_ARN = /^arn:(aws[a-z-]*):iam::(\d{12}):role(\/(?:[\w+=,.@-]+\/)*)?([\w+=,.@-]+)$/;

/** Groups validated environment configs by account. Throws BootstrapConfigError naming the environment for anything CI could not deploy. */
export function planAccounts(configs: EnvironmentConfig[], github: GithubRepository): AccountBootstrap[] {
  const accounts = new Map<string, AccountBootstrap>();
  for (const c of configs) {
    const file = `environments/${c.name}.tfvars`;
    if (c.state.backend !== "s3") throw new BootstrapConfigError(`${file}: state.backend must be "s3" for an environment deployed from CI`);
    if (!c.assume_role_arn) throw new BootstrapConfigError(`${file}: assume_role_arn is required: it names the deploy role the bootstrap stack creates`);
    const m = ROLE_ARN.exec(c.assume_role_arn);
    if (!m) throw new BootstrapConfigError(`${file}: assume_role_arn is not a role ARN: ${c.assume_role_arn}`);
    if (m[2] !== c.account_id) throw new BootstrapConfigError(`${file}: assume_role_arn is in account ${m[2]}, but account_id is ${c.account_id}`);

    let account = accounts.get(c.account_id);
    if (!account) {
      account = { accountId: c.account_id, project: c.project, partition: partitionOf(c.state.region), region: c.state.region, stateBuckets: [], roles: [], github };
      accounts.set(c.account_id, account);
    }
    // One provider region per bootstrap stack keeps it a single-provider stack (and the offline recipe simple).
    if (c.state.region !== account.region) throw new BootstrapConfigError(`${file}: state.region ${c.state.region} differs from ${account.region} used by another environment in account ${c.account_id}`);
    if (c.project !== account.project) throw new BootstrapConfigError(`${file}: project ${c.project} differs from ${account.project} used by another environment in account ${c.account_id}`);
    if (!account.stateBuckets.includes(c.state.bucket)) account.stateBuckets.push(c.state.bucket);

    let role = account.roles.find((r) => r.arn === c.assume_role_arn);
    if (!role) {
      const planRoleName = planRoleNameOf(m[4]);
      if (planRoleName.length > 64) throw new BootstrapConfigError(`${file}: the role name in assume_role_arn must be at most 59 characters (its plan role adds "-plan")`);
      role = { name: m[4], path: m[3] ?? "/", arn: c.assume_role_arn, planRoleName, planRoleArn: planRoleArnOf(c.assume_role_arn), environments: [] };
      account.roles.push(role);
    }
    role.environments.push({
      name: c.name,
      region: c.region,
      prefix: stackName(c),
      stateBucket: c.state.bucket,
      stateKey: stateKey(c),
      existingUserPoolId: c.cognito.existing_user_pool_id,
      createsWebAcl: c.waf?.rate_limit_per_5_minutes !== undefined,
      existingWebAclArn: c.waf?.web_acl_arn,
      toolLambdaArns: [...new Set(c.tools.lambdas.map((l) => l.lambda_arn))],
    });
  }
  for (const account of accounts.values()) refuseOverlappingPrefixes(account);
  for (const account of accounts.values()) {
    for (const role of account.roles) {
      for (const roleName of [role.name, role.planRoleName]) {
        // The deploy role manages `<prefix>-*` roles and policies: its own (and its plan role's) must never match.
        const owner = account.roles.flatMap((r) => r.environments).find((e) => roleName.startsWith(`${e.prefix}-`));
        if (owner) throw new BootstrapConfigError(`environments/${role.environments[0].name}.tfvars: the role ${roleName} (from assume_role_arn) must not start with "${owner.prefix}-": the deploy role manages every role and policy named so, and could rewrite its own`);
      }
    }
  }
  return [...accounts.values()];
}

/**
 * Name-scoped permissions (`<prefix>-*`) cannot tell two environments of one account apart when one's prefix begins with
 * the other's plus a dash (`llm-stream-dev-*` also matches `llm-stream-dev-eu-work`): refused, naming both.
 */
function refuseOverlappingPrefixes(account: AccountBootstrap): void {
  const envs = account.roles.flatMap((r) => r.environments);
  for (const e of envs) {
    const other = envs.find((o) => o !== e && e.prefix.startsWith(`${o.prefix}-`));
    if (other) {
      throw new BootstrapConfigError(
        `environments/${e.name}.tfvars: its resources (${e.prefix}-*) would match ${other.prefix}-*, the names environment ${other.name} in account ${account.accountId} is scoped to: rename one of them`,
      );
    }
  }
}

/** Loads the named environments (all deployed ones by default) and groups them by account. */
export async function loadAccounts(envNames: string[] = deployedEnvironmentNames(), github: GithubRepository): Promise<AccountBootstrap[]> {
  const configs = await Promise.all(envNames.map((n) => loadEnvironment(n)));
  return planAccounts(configs, github);
}

/** The bootstrap stack's name for an account. */
export function bootstrapStackName(a: AccountBootstrap): string {
  return `${a.project}-bootstrap-${a.accountId}`;
}
