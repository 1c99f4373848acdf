/**
 * The account bootstrap stack: synthesized in process from a fixture environment (test/fixtures/environments/queued
 * as "dev"; the team's environments only get the generic first check), its security properties asserted on
 * cdk.tf.json, then terraform validate and an offline plan with the same runner and override as the platform stacks.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { deployedEnvironmentNames, loadEnvironment } from "../../config/load";
import { EnvironmentConfig } from "../../config/schema";
import { BootstrapConfigError, GithubRepository, loadAccounts, planAccounts, resolveGithubRepository } from "../../bootstrap/config";
import { synthesizeBootstrap } from "../../bootstrap/main";
import { ciRoleOutput, sessionOverride } from "../../bootstrap/ciRole";
import { deployPolicies, MANAGED_POLICY_MAX_CHARS, PolicyDocument } from "../../bootstrap/policies";
import { terraform, terraformEnvironment, writeOfflineOverride } from "../../scripts/terraform";
import { summarizePlan } from "../../scripts/plan-summary/summary";
import { FIXTURES_DIR, fixtureNamed } from "../fixtures/environments";

const GITHUB: GithubRepository = { owner: "acme", repo: "llm-stream" };
/** The behaviour tests' account: the queued fixture as environment "dev" (test/fixtures/environments/), not the team's dev. */
const devFixture = () => fixtureNamed("queued", "dev");
type Json = Record<string, any>;

const work = mkdtempSync(path.join(tmpdir(), "bootstrap-test-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const only = (resources: Json, type: string): Json[] => Object.values(resources[type] ?? {});

describe("accounts from the environment configs", () => {
  it("gives every deployed environment a role whose ARN is its assume_role_arn and a bucket that is its state bucket", async () => {
    const names = deployedEnvironmentNames();
    expect(names.length).toBeGreaterThan(0);
    const accounts = await loadAccounts(names, GITHUB);
    for (const name of names) {
      const c = await loadEnvironment(name);
      const account = accounts.find((a) => a.accountId === c.account_id)!;
      expect(account.stateBuckets).toContain(c.state.backend === "s3" && c.state.bucket);
      const role = account.roles.find((r) => r.environments.some((e) => e.name === name))!;
      expect(role.arn).toBe(c.assume_role_arn);
    }
  });

  it("puts two environments of one account under one role and one bucket, each with its own prefix and state key", async () => {
    const dev = await devFixture();
    const qa: EnvironmentConfig = { ...dev, name: "qa" };
    const [account, ...rest] = planAccounts([dev, qa], GITHUB);
    expect(rest).toEqual([]);
    expect(account.stateBuckets).toEqual(["llm-stream-tfstate-111111111111"]);
    expect(account.roles).toHaveLength(1);
    expect(account.roles[0].environments.map((e) => [e.prefix, e.stateKey])).toEqual([
      ["llm-stream-dev", "llm-stream/dev/platform.tfstate"],
      ["llm-stream-qa", "llm-stream/qa/platform.tfstate"],
    ]);
  });

  it("refuses configs CI could not deploy, naming the file", async () => {
    const dev = await devFixture();
    expect(() => planAccounts([{ ...dev, assume_role_arn: undefined }], GITHUB)).toThrow(new BootstrapConfigError("environments/dev.tfvars: assume_role_arn is required: it names the deploy role the bootstrap stack creates"));
    expect(() => planAccounts([{ ...dev, assume_role_arn: "arn:aws:iam::999999999999:role/x" }], GITHUB)).toThrow(/environments\/dev.tfvars: assume_role_arn is in account 999999999999, but account_id is 111111111111/);
    expect(() => planAccounts([{ ...dev, state: { backend: "local" } }], GITHUB)).toThrow(/state.backend must be "s3"/);
  });

  it("takes the repository from the flag, then GITHUB_REPOSITORY", () => {
    expect(resolveGithubRepository("o/r", {})).toEqual({ owner: "o", repo: "r" });
    expect(resolveGithubRepository(undefined, { GITHUB_REPOSITORY: "acme/platform" })).toEqual({ owner: "acme", repo: "platform" });
    expect(() => resolveGithubRepository("not a repo", {})).toThrow(/owner\/name/);
  });

  it("prints the roles for the workflows' OIDC login from the tfvars", async () => {
    const queued = await loadEnvironment("queued", FIXTURES_DIR);
    expect(await ciRoleOutput("queued", "deploy", FIXTURES_DIR)).toBe(`${queued.assume_role_arn}\n`);
    expect(await ciRoleOutput("queued", "plan", FIXTURES_DIR)).toBe(`${queued.assume_role_arn}-plan\n`);
    expect(await ciRoleOutput("queued", "github-output", FIXTURES_DIR)).toBe(
      `deploy-role-arn=${queued.assume_role_arn}\nplan-role-arn=${queued.assume_role_arn}-plan\nregion=us-east-1\nstack-dir=cdktf.out/stacks/llm-stream-queued\n`,
    );
    // CI plans and applies with its own OIDC session: the override removes the provider's assume_role.
    expect(sessionOverride()).toEqual({ provider: { aws: { dynamic: { assume_role: { for_each: [], content: {} } } } } });
  });
});

describe("the synthesized bootstrap stack (dev's account)", () => {
  let stackDir: string;
  let resources: Json;
  beforeAll(async () => {
    const accounts = planAccounts([await devFixture()], GITHUB);
    [stackDir] = synthesizeBootstrap({ accounts, outdir: path.join(work, "out") });
    resources = JSON.parse(readFileSync(path.join(stackDir, "cdk.tf.json"), "utf8")).resource;
  });

  it("makes a versioned, encrypted, private, TLS-only state bucket that terraform will not destroy", () => {
    const [bucket] = only(resources, "aws_s3_bucket");
    expect(bucket.bucket).toBe("llm-stream-tfstate-111111111111");
    expect(bucket.lifecycle).toEqual({ prevent_destroy: true });
    expect(only(resources, "aws_s3_bucket_versioning")[0].versioning_configuration.status).toBe("Enabled");
    expect(only(resources, "aws_s3_bucket_server_side_encryption_configuration")[0].rule[0].apply_server_side_encryption_by_default.sse_algorithm).toBe("AES256");
    expect(only(resources, "aws_s3_bucket_public_access_block")[0]).toMatchObject({ block_public_acls: true, block_public_policy: true, ignore_public_acls: true, restrict_public_buckets: true });
    expect(only(resources, "aws_s3_bucket_ownership_controls")[0].rule.object_ownership).toBe("BucketOwnerEnforced");
    const lifecycle = only(resources, "aws_s3_bucket_lifecycle_configuration")[0].rule[0];
    expect(lifecycle.noncurrent_version_expiration[0].noncurrent_days).toBe(90);
    const policy: PolicyDocument = JSON.parse(only(resources, "aws_s3_bucket_policy")[0].policy);
    const insecure = policy.Statement.find((s) => s.Condition?.Bool?.["aws:SecureTransport"] === "false")!;
    expect(insecure).toMatchObject({ Effect: "Deny", Principal: "*", Resource: ["arn:aws:s3:::llm-stream-tfstate-111111111111", "arn:aws:s3:::llm-stream-tfstate-111111111111/*"] });
  });

  it("registers GitHub's OIDC provider for sts.amazonaws.com", () => {
    const [oidc] = only(resources, "aws_iam_openid_connect_provider");
    expect(oidc.url).toBe("https://token.actions.githubusercontent.com");
    expect(oidc.client_id_list).toEqual(["sts.amazonaws.com"]);
    expect(oidc.thumbprint_list.length).toBeGreaterThan(0);
  });

  const roleNamed = (name: string) => only(resources, "aws_iam_role").find((r) => r.name === name)!;
  const trustOf = (name: string): PolicyDocument => JSON.parse(roleNamed(name).assume_role_policy);
  const policiesOf = (roleName: string): Json[] => only(resources, "aws_iam_policy").filter((p) => p.name.startsWith(`${roleName}-`) && !p.name.slice(roleName.length + 1).includes("-"));
  const statementsOf = (roleName: string) => policiesOf(roleName).flatMap((p) => (JSON.parse(p.policy) as PolicyDocument).Statement);
  const OIDC = { Federated: "arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com" };

  it("lets only this repository's dev deploy job assume the deploy role, by exact subject", () => {
    const role = roleNamed("llm-stream-deploy");
    expect(`arn:aws:iam::111111111111:role${role.path}${role.name}`).toBe("arn:aws:iam::111111111111:role/llm-stream-deploy");
    expect(trustOf("llm-stream-deploy").Statement).toEqual([
      expect.objectContaining({
        Action: ["sts:AssumeRoleWithWebIdentity"],
        Principal: OIDC,
        Condition: { StringEquals: { "token.actions.githubusercontent.com:aud": "sts.amazonaws.com", "token.actions.githubusercontent.com:sub": ["repo:acme/llm-stream:environment:dev"] } },
      }),
    ]);
  });

  it("lets pull requests and main-branch drift checks assume only the read-only plan role", () => {
    expect(trustOf("llm-stream-deploy-plan").Statement).toEqual([
      expect.objectContaining({
        Principal: OIDC,
        Condition: {
          StringEquals: {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": ["repo:acme/llm-stream:pull_request", "repo:acme/llm-stream:ref:refs/heads/main"],
          },
        },
      }),
    ]);
    const statements = statementsOf("llm-stream-deploy-plan");
    expect(statements.length).toBeGreaterThan(5);
    for (const s of statements) {
      for (const a of s.Action) {
        // Reads everywhere; writes only to the S3 lock file that terraform plan takes.
        if (/^[a-z0-9-]+:(Get|Describe|List)/.test(a)) continue;
        expect([a, s.Resource]).toEqual([expect.stringMatching(/^s3:(PutObject|DeleteObject)$/), ["arn:aws:s3:::llm-stream-tfstate-111111111111/llm-stream/dev/platform.tfstate.tflock"]]);
      }
    }
    // What plan refreshes is readable: e.g. the queues and the function configuration.
    expect(statements.find((s) => s.Sid === "Queues")).toMatchObject({ Action: expect.arrayContaining(["sqs:GetQueueAttributes"]), Resource: ["arn:aws:sqs:us-east-1:111111111111:llm-stream-dev-*"] });
    expect(statements.find((s) => s.Sid === "Functions")!.Action).toEqual(expect.arrayContaining(["lambda:GetFunction", "lambda:GetFunctionConfiguration"]));
    // Only the environment's resources, where the service can tell them: APIs, pools and keys by the stack's tags.
    const ours = { StringEquals: { "aws:ResourceTag/Project": "llm-stream", "aws:ResourceTag/Environment": ["dev"] } };
    expect(statements.find((s) => s.Sid === "GraphqlApis")).toMatchObject({ Action: ["appsync:GetGraphqlApi", "appsync:ListTagsForResource"], Condition: ours });
    expect(statements.find((s) => s.Sid === "UserPools")).toMatchObject({ Condition: ours });
    expect(statements.find((s) => s.Sid === "ManageEnvironmentKey")).toMatchObject({ Condition: ours });
    // What AWS cannot scope at all (listings, AppSync's resolvers and data sources) is read account-wide.
    expect(statements.filter((s) => s.Resource === "*" && !s.Condition).map((s) => s.Sid).sort()).toEqual(["FindLogGroups", "GraphqlApiContents", "ListKeyAliases"]);
  });

  it("limits the deploy role to named actions on the environment's resources", () => {
    const policies = only(resources, "aws_iam_policy");
    expect(policiesOf("llm-stream-deploy").map((p) => p.name).sort()).toEqual(["api", "compute", "iam", "messaging", "state", "websocket"].map((c) => `llm-stream-deploy-${c}`));
    // Every policy but the boundary (never attached as a permission policy) is attached to its role.
    expect(only(resources, "aws_iam_role_policy_attachment")).toHaveLength(policies.length - 1);
    for (const p of policies) expect(p.policy.length).toBeLessThanOrEqual(MANAGED_POLICY_MAX_CHARS);
    const statements = statementsOf("llm-stream-deploy");
    for (const s of statements) {
      for (const a of s.Action) expect(a).toMatch(/^[a-z0-9-]+:[A-Za-z]+$/);
    }
    expect(statements.filter((s) => s.Effect !== "Allow").map((s) => [s.Sid, s.Effect])).toEqual([
      ["TrustStaysAsCreated", "Deny"],
      ["BoundaryPoliciesStayAsBootstrapped", "Deny"],
      ["RolesKeepTheirBoundary", "Deny"],
    ]);
    // "*" resources only where AWS has nothing narrower, each commented in bootstrap/policies.ts; creates and triggers
    // are still pinned by a condition, only listings and AppSync's API contents (no condition keys at all) are not.
    const anyResource = statements.filter((s) => s.Resource === "*");
    expect(anyResource.map((s) => s.Sid).sort()).toEqual(["CreateEnvironmentKey", "CreateGraphqlApi", "CreateUserPool", "FindLogGroups", "GraphqlApiContents", "ListKeyAliases", "QueueTriggers"]);
    expect(anyResource.filter((s) => !s.Condition).map((s) => s.Sid).sort()).toEqual(["FindLogGroups", "GraphqlApiContents", "ListKeyAliases"]);
    const byName = (sid: string) => statements.find((s) => s.Sid === sid)!;
    expect(byName("Queues").Resource).toEqual(["arn:aws:sqs:us-east-1:111111111111:llm-stream-dev-*"]);
    expect(byName("Functions").Resource).toEqual(["arn:aws:lambda:us-east-1:111111111111:function:llm-stream-dev-*"]);
    expect(byName("FunctionAndServiceRoles").Resource).toEqual(["arn:aws:iam::111111111111:role/llm-stream-dev-*"]);
    expect(byName("ReadWriteStateAndLock").Resource).toEqual([
      "arn:aws:s3:::llm-stream-tfstate-111111111111/llm-stream/dev/platform.tfstate",
      "arn:aws:s3:::llm-stream-tfstate-111111111111/llm-stream/dev/platform.tfstate.tflock",
    ]);
    expect(byName("QueueTriggers").Condition).toEqual({ ArnLike: { "lambda:FunctionArn": ["arn:aws:lambda:us-east-1:111111111111:function:llm-stream-dev-*"] } });
    expect(byName("PassRolesToLambdaAndAppSync").Condition).toEqual({ StringEquals: { "iam:PassedToService": ["lambda.amazonaws.com", "appsync.amazonaws.com"] } });
    // What carries a generated id (keys, APIs, pools, AppSync's log groups) is the environment's by the stack's tags.
    const ours = (on: string) => ({ StringEquals: { [`aws:${on}/Project`]: "llm-stream", [`aws:${on}/Environment`]: ["dev"] } });
    for (const sid of ["ManageEnvironmentKey", "KeyAliasTargets", "GraphqlApis", "UserPools", "ApiLogGroups"]) expect([sid, byName(sid).Condition]).toEqual([sid, ours("ResourceTag")]);
    for (const sid of ["CreateEnvironmentKey", "CreateGraphqlApi", "CreateUserPool", "CreateApiLogGroups"]) expect([sid, byName(sid).Condition]).toEqual([sid, ours("RequestTag")]);
    expect(byName("KeyAliases").Resource).toEqual(["arn:aws:kms:us-east-1:111111111111:alias/llm-stream-dev"]);
    expect(byName("FunctionLogGroups").Resource).toEqual(["arn:aws:logs:us-east-1:111111111111:log-group:/aws/lambda/llm-stream-dev-*"]);
    expect(byName("FunctionLogGroups").Action).toEqual(expect.arrayContaining(["logs:AssociateKmsKey", "logs:DisassociateKmsKey"]));
    // dev creates its own pool: no grant on any other pool.
    expect(statements.find((s) => s.Sid === "ClientsInExistingUserPools")).toBeUndefined();
  });

  it("never lets the deploy role rewrite a role's trust policy (IAM has no condition key for its principals)", () => {
    const statements = statementsOf("llm-stream-deploy");
    expect(statements.filter((s) => s.Effect === "Allow" && s.Action.includes("iam:UpdateAssumeRolePolicy"))).toEqual([]);
    expect(statements.find((s) => s.Sid === "TrustStaysAsCreated")).toEqual({
      Sid: "TrustStaysAsCreated",
      Effect: "Deny",
      Action: ["iam:UpdateAssumeRolePolicy"],
      Resource: ["arn:aws:iam::111111111111:role/llm-stream-dev-*"],
    });
  });

  const BOUNDARY = "arn:aws:iam::111111111111:policy/llm-stream-dev-boundary";

  it("creates the environment's permissions boundary: only the stack's service calls on its own resources, no IAM", () => {
    const boundary = only(resources, "aws_iam_policy").find((p) => p.name === "llm-stream-dev-boundary")!;
    expect(boundary.path).toBe("/");
    expect(`arn:aws:iam::111111111111:policy${boundary.path}${boundary.name}`).toBe(BOUNDARY);
    const statements = (JSON.parse(boundary.policy) as PolicyDocument).Statement;
    const actions = statements.flatMap((s) => s.Action);
    expect(actions.filter((a) => a.startsWith("iam:") || a.startsWith("sts:") || a.includes("*"))).toEqual([]);
    expect(new Set(actions.map((a) => a.split(":")[0]))).toEqual(new Set(["logs", "xray", "sns", "sqs", "dynamodb", "bedrock", "appsync", "lambda", "kms", "execute-api"]));
    for (const s of statements) expect(s.Effect).toBe("Allow");
    // Names carry the environment prefix wherever the ARN has a name; "*" only for X-Ray, which has no resources.
    expect(statements.filter((s) => s.Resource === "*").map((s) => s.Sid)).toEqual(["WriteTraces"]);
    const byName = (sid: string) => statements.find((s) => s.Sid === sid)!;
    expect(byName("PublishToOwnTopics").Resource).toEqual(["arn:aws:sns:us-east-1:111111111111:llm-stream-dev-*"]);
    expect(byName("ConsumeOwnQueues").Resource).toEqual(["arn:aws:sqs:us-east-1:111111111111:llm-stream-dev-*"]);
    // SendMessage: the relay moves events past their retry window to its own DLQ (its role policy names that DLQ only).
    expect(byName("ConsumeOwnQueues").Action).toEqual(["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl", "sqs:SendMessage"]);
    expect(byName("OwnTableItems").Resource).toEqual(["arn:aws:dynamodb:us-east-1:111111111111:table/llm-stream-dev-*"]);
    // Every table action a function's role policy uses: message-control's Query and UpdateItem on the message records among them.
    expect(byName("OwnTableItems").Action).toEqual(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query"]);
    expect(byName("InvokeOwnFunctions").Resource).toEqual(["arn:aws:lambda:us-east-1:111111111111:function:llm-stream-dev-*"]);
    expect(byName("PublishResponseOnly").Resource).toEqual(["arn:aws:appsync:us-east-1:111111111111:apis/*/types/Mutation/fields/publishResponse"]);
    // Only the environment's own key, told apart by its tags (key ARNs carry generated ids).
    expect(byName("UseOwnKey")).toMatchObject({
      Resource: ["arn:aws:kms:us-east-1:111111111111:key/*"],
      Condition: { StringEquals: { "aws:ResourceTag/Project": "llm-stream", "aws:ResourceTag/Environment": "dev" } },
    });
  });

  it("lets the deploy role grant permissions only to roles that carry the boundary, and never lift or rewrite it", () => {
    const statements = statementsOf("llm-stream-deploy");
    const GRANTING = ["iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:PutRolePermissionsBoundary"];
    const allowing = (action: string) => statements.filter((s) => s.Effect === "Allow" && s.Action.includes(action));
    for (const action of GRANTING) {
      const grants = allowing(action);
      expect([action, grants.length]).toEqual([action, 1]);
      expect(grants[0].Resource).toEqual(["arn:aws:iam::111111111111:role/llm-stream-dev-*"]);
      expect(grants[0].Condition?.StringEquals).toEqual({ "iam:PermissionsBoundary": BOUNDARY });
    }
    expect(allowing("iam:AttachRolePolicy")[0].Condition?.ArnLike).toEqual({ "iam:PolicyARN": ["arn:aws:iam::111111111111:policy/llm-stream-dev-*"] });
    expect(allowing("iam:DeleteRolePermissionsBoundary")).toEqual([]);
    const denied = (action: string, resource: string) =>
      statements.some((s) => s.Effect === "Deny" && s.Action.includes(action) && ([] as string[]).concat(s.Resource ?? []).includes(resource));
    expect(denied("iam:DeleteRolePermissionsBoundary", "arn:aws:iam::111111111111:role/llm-stream-dev-*")).toBe(true);
    // The boundary matches the role's own-policy pattern (llm-stream-dev-*), so every write to it is denied explicitly.
    expect(allowing("iam:CreatePolicyVersion")[0].Resource).toEqual(["arn:aws:iam::111111111111:policy/llm-stream-dev-*"]);
    for (const action of ["iam:CreatePolicy", "iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion", "iam:SetDefaultPolicyVersion"]) {
      expect([action, denied(action, BOUNDARY)]).toEqual([action, true]);
    }
  });

  it("grants an environment with an existing user pool its app client in that pool only", async () => {
    const dev = await devFixture();
    const [account] = planAccounts([{ ...dev, cognito: { existing_user_pool_id: "us-east-1_Shared123" } }], GITHUB);
    const api = deployPolicies(account, account.roles[0]).find((d) => d.concern === "api")!.document.Statement;
    expect(api.find((s) => s.Sid === "ClientsInExistingUserPools")).toEqual({
      Sid: "ClientsInExistingUserPools",
      Effect: "Allow",
      Action: ["cognito-idp:CreateUserPoolClient", "cognito-idp:DescribeUserPoolClient", "cognito-idp:UpdateUserPoolClient", "cognito-idp:DeleteUserPoolClient"],
      Resource: ["arn:aws:cognito-idp:us-east-1:111111111111:userpool/us-east-1_Shared123"],
    });
  });

  it("refuses two environments of one account whose name prefixes overlap (name-scoped grants could not tell them apart)", async () => {
    const dev = await devFixture();
    expect(() => planAccounts([dev, { ...dev, name: "dev-eu" }], GITHUB)).toThrow(
      new BootstrapConfigError("environments/dev-eu.tfvars: its resources (llm-stream-dev-eu-*) would match llm-stream-dev-*, the names environment dev in account 111111111111 is scoped to: rename one of them"),
    );
    expect(planAccounts([dev, { ...dev, name: "devel" }], GITHUB)[0].roles[0].environments.map((e) => e.name)).toEqual(["dev", "devel"]);
  });

  it("refuses a deploy role named under an environment's prefix (it would manage its own policies)", async () => {
    const dev = await devFixture();
    expect(() => planAccounts([{ ...dev, assume_role_arn: "arn:aws:iam::111111111111:role/llm-stream-dev-deployer" }], GITHUB)).toThrow(
      new BootstrapConfigError('environments/dev.tfvars: the role llm-stream-dev-deployer (from assume_role_arn) must not start with "llm-stream-dev-": the deploy role manages every role and policy named so, and could rewrite its own'),
    );
    const deploy: EnvironmentConfig = { ...dev, name: "deploy" };
    expect(() => planAccounts([dev, deploy], GITHUB)).toThrow(/the role llm-stream-deploy-plan \(from assume_role_arn\) must not start with "llm-stream-deploy-"/);
  });

  it("validates and plans offline with terraform: creates only", async () => {
    const env = terraformEnvironment(path.join(work, "cli"));
    writeOfflineOverride(stackDir);
    const run = async (args: string[]) => {
      const r = await terraform(args, { cwd: stackDir, env, timeoutMs: 90_000 });
      if (r.code !== 0) throw new Error(`terraform ${args.join(" ")}: ${r.stderr}`);
      return r.stdout;
    };
    await run(["init", "-input=false", "-no-color"]);
    await run(["validate", "-no-color"]);
    await run(["plan", "-input=false", "-no-color", "-out=plan.tfplan"]);
    const summary = summarizePlan("dev-account", JSON.parse(await run(["show", "-json", "plan.tfplan"])));
    // 7 per bucket (bucket, ownership, public access, versioning, encryption, lifecycle, policy), OIDC, the boundary, 2 roles with 6 policies + 6 attachments each.
    expect(summary.counts).toEqual({ add: 7 + 1 + 1 + 2 * (1 + 6 + 6), change: 0, destroy: 0, replace: 0 });
  }, 120_000);
});
