/**
 * The bootstrap policies and the platform stack's own policies, run through an IAM policy simulator
 * (@cloud-copilot/iam-simulate: identity policies, permissions boundaries, key policies, explicit and implicit denies,
 * and the Service Authorization Reference's resources and condition keys per action).
 *
 * Every "cannot" has a "can" beside it on the same policies, so no case passes because nothing is allowed at all.
 * Issue 11: the relay may send to its own outbound DLQ (it dead-letters by time) and to nothing else; message-control
 * reads and flags its environment's message records only.
 */
import { runSimulation } from "@cloud-copilot/iam-simulate";
import { loadEnvironment } from "../../config/load";
import { fixtureDirNamed, type EnvironmentsCopy } from "../fixtures/environments";
import { EnvironmentConfig } from "../../config/schema";
import { AccountBootstrap, GithubRepository, planAccounts } from "../../bootstrap/config";
import { boundaryPolicy, deployPolicies, planPolicies, PolicyDocument, PolicyStatement } from "../../bootstrap/policies";
import { PolicyStatement as StackStatement, StackView, Synthesized, synthesizeToTemp } from "./stackView";

const GITHUB: GithubRepository = { owner: "acme", repo: "llm-stream" };
const ACCOUNT = "111111111111";
const DEPLOY_ROLE = `arn:aws:iam::${ACCOUNT}:role/llm-stream-deploy`;
const WORKER_ROLE = `arn:aws:iam::${ACCOUNT}:role/llm-stream-dev-stream-worker`;
const RELAY_ROLE = `arn:aws:iam::${ACCOUNT}:role/llm-stream-dev-outbound-relay`;
const CONTROL_ROLE = `arn:aws:iam::${ACCOUNT}:role/llm-stream-dev-message-control`;
/** The key ARNs stand in for what apply would create: dev's, and one of a second environment (qa) in dev's account. */
const DEV_KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/0b3c5d7e-dev0-4000-8000-000000000001`;
const QA_KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/0b3c5d7e-qa00-4000-8000-000000000002`;
const API_ID = "devapiid1234567890abcdefgh";

type Context = Record<string, string | string[]>;
type Outcome = "Allowed" | "ImplicitlyDenied" | "ExplicitlyDenied";
const tags = (on: "ResourceTag" | "RequestTag", env: string): Context => ({ [`aws:${on}/Project`]: "llm-stream", [`aws:${on}/Environment`]: env });

interface Policies {
  identity: PolicyDocument[];
  boundary?: PolicyDocument;
  resourcePolicy?: PolicyDocument;
}

/**
 * One request through the simulator: the decision, or the simulator's complaint about the request itself. A context
 * key the simulator does not know for the action would be ignored silently, so that fails the case instead.
 */
async function decide(principal: string, policies: Policies, action: string, resource: string, context: Context = {}): Promise<Outcome | string> {
  const result = await runSimulation(
    {
      // A resource without an account in its ARN ("*") is the caller's own account's.
      request: { principal, action, resource: { resource, accountId: resource.split(":")[4] || principal.split(":")[4] || ACCOUNT }, contextVariables: context },
      identityPolicies: policies.identity.map((policy, i) => ({ name: `policy-${i}`, policy })),
      permissionBoundaryPolicies: policies.boundary ? [{ name: "boundary", policy: policies.boundary }] : undefined,
      resourcePolicy: policies.resourcePolicy,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    },
    {},
  );
  if (result.resultType === "error") return `error: ${JSON.stringify(result.errors)}`;
  const ignored = result.resultType === "single" ? result.result.ignoredContextKeys ?? [] : [];
  return ignored.length ? `ignored context keys: ${ignored.join(", ")}` : result.overallResult;
}

let dev: EnvironmentConfig;
let account: AccountBootstrap;
let synth: Synthesized;
let stack: StackView;
let fixtureDir: EnvironmentsCopy;

beforeAll(async () => {
  // The queued fixture named "dev": the simulation must not depend on the values of the team's environments/dev.tfvars.
  fixtureDir = await fixtureDirNamed("queued", "dev");
  dev = await loadEnvironment("dev", fixtureDir.dir);
  // dev plus a second environment in the same account under the same deploy role: the neighbour to keep apart.
  [account] = planAccounts([dev, { ...dev, name: "qa" }], GITHUB);
  synth = await synthesizeToTemp(["dev"], fixtureDir.dir);
  stack = synth.stack("llm-stream-dev");
}, 60_000);
afterAll(() => {
  synth?.cleanup();
  fixtureDir?.cleanup();
});

const role = () => account.roles[0];
const devEnvironment = () => role().environments.find((e) => e.name === "dev")!;
/** KMS also authorizes against the key policy: on a key, the stack's own (which delegates to the account's IAM). */
const onKey = (policies: Policies, resource: string): Policies => (resource.includes(":key/") ? { ...policies, resourcePolicy: stackKeyPolicy() } : policies);
const deployRole = (resource = ""): Policies => onKey({ identity: deployPolicies(account, role()).map((d) => d.document) }, resource);
const planRole = (resource = ""): Policies => onKey({ identity: planPolicies(account, role()).map((d) => d.document) }, resource);
const devBoundary = () => boundaryPolicy(account, devEnvironment()).document;

/** Terraform's rendering of an aws_iam_policy_document, with apply-time references replaced by stand-ins. */
function renderedPolicy(statements: StackStatement[]): PolicyDocument {
  const standIn = (value: string) =>
    value
      .replace(/\$\{aws_kms_key\.[^.}]+\.arn\}/g, DEV_KEY)
      .replace(/\$\{aws_appsync_graphql_api\.[^.}]+\.id\}/g, API_ID)
      .replace(/\$\{(aws_[a-z0-9_]+)\.([^.}]+)\.arn\}/g, (_m, type: string, id: string) => arnOf(type, id));
  const principal = (s: StackStatement) =>
    s.principals && (s.principals[0].type === "*" ? "*" : Object.fromEntries(s.principals.map((p) => [p.type, p.identifiers])));
  const condition = (s: StackStatement) =>
    s.condition && Object.fromEntries(s.condition.map((c) => [c.test, { [c.variable]: c.values.map(standIn) }]));
  return {
    Version: "2012-10-17",
    Statement: statements.map(
      (s, i): PolicyStatement => ({
        Sid: s.sid ?? `S${i}`,
        Effect: (s.effect as "Allow" | "Deny") ?? "Allow",
        Action: s.actions ?? [],
        Resource: (s.resources ?? []).map(standIn),
        ...(s.principals ? { Principal: principal(s) } : {}),
        ...(s.condition ? { Condition: condition(s) } : {}),
      }),
    ),
  };
}

/** The ARN a named resource of the stack will have (only the kinds the function policies reference). */
function arnOf(type: string, id: string): string {
  const name = stack.resources(type)[id]?.name;
  const at = (service: string, rest: string) => `arn:aws:${service}:us-east-1:${ACCOUNT}:${rest}`;
  if (type === "aws_sqs_queue") return at("sqs", name);
  if (type === "aws_sns_topic") return at("sns", name);
  if (type === "aws_dynamodb_table") return at("dynamodb", `table/${name}`);
  if (type === "aws_cloudwatch_log_group") return at("logs", `log-group:${name}`);
  throw new Error(`no stand-in ARN for ${type}.${id}`);
}

/** dev's key policy as the stack renders it. */
const stackKeyPolicy = () => renderedPolicy(stack.statementsOf(stack.list("aws_kms_key")[0].policy));

/** A function's role as deployed: its inline policy, bounded by dev's boundary, against dev's key policy. */
function functionRole(functionName: string): Policies {
  return { identity: [renderedPolicy(stack.functionPermissions(functionName))], boundary: devBoundary(), resourcePolicy: stackKeyPolicy() };
}

/** The worker's role as deployed. */
const workerRole = () => functionRole("llm-stream-dev-stream-worker");

/** A queue's own policy as the stack renders it (TLS only), for a request to that queue. */
function queuePolicy(queueName: string): PolicyDocument {
  const queueId = stack.idOf("aws_sqs_queue", stack.one("aws_sqs_queue", (q) => q.name === queueName));
  const policy = stack.one("aws_sqs_queue_policy", (p) => p.queue_url === stack.ref("aws_sqs_queue", queueId, "url"));
  return renderedPolicy(stack.statementsOf(policy.policy));
}

describe("the deploy role", () => {
  const arn = (service: string, rest: string) => `arn:aws:${service}:us-east-1:${ACCOUNT}:${rest}`;
  const DEV_BOUNDARY = `arn:aws:iam::${ACCOUNT}:policy/llm-stream-dev-boundary`;
  const bounded: Context = { "iam:PermissionsBoundary": DEV_BOUNDARY };

  // What a deploy of dev calls, on dev's resources: all allowed.
  const CAN: [string, string, Context][] = [
    ["sqs:CreateQueue", arn("sqs", "llm-stream-dev-work"), {}],
    ["sns:CreateTopic", arn("sns", "llm-stream-dev-inbound"), {}],
    ["dynamodb:CreateTable", arn("dynamodb", "table/llm-stream-dev-history"), {}],
    ["kms:CreateKey", "*", tags("RequestTag", "dev")],
    ["kms:PutKeyPolicy", DEV_KEY, tags("ResourceTag", "dev")],
    ["kms:CreateAlias", arn("kms", "alias/llm-stream-dev"), {}],
    ["kms:CreateAlias", DEV_KEY, tags("ResourceTag", "dev")],
    ["lambda:CreateFunction", arn("lambda", "function:llm-stream-dev-stream-worker"), {}],
    ["lambda:CreateEventSourceMapping", "*", { "lambda:FunctionArn": arn("lambda", "function:llm-stream-dev-stream-worker") }],
    ["lambda:CreateFunctionUrlConfig", arn("lambda", "function:llm-stream-dev-url-stream"), { "lambda:FunctionUrlAuthType": "NONE" }],
    ["lambda:AddPermission", arn("lambda", "function:llm-stream-dev-url-stream"), {}],
    ["logs:CreateLogGroup", arn("logs", "log-group:/aws/lambda/llm-stream-dev-send-query"), {}],
    ["logs:AssociateKmsKey", arn("logs", "log-group:/aws/lambda/llm-stream-dev-send-query"), {}],
    ["logs:CreateLogGroup", arn("logs", `log-group:/aws/appsync/apis/${API_ID}`), tags("RequestTag", "dev")],
    ["logs:AssociateKmsKey", arn("logs", `log-group:/aws/appsync/apis/${API_ID}`), tags("ResourceTag", "dev")],
    ["appsync:CreateGraphqlApi", "*", tags("RequestTag", "dev")],
    ["appsync:UpdateGraphqlApi", arn("appsync", `apis/${API_ID}`), tags("ResourceTag", "dev")],
    ["appsync:CreateResolver", "*", {}],
    ["cognito-idp:CreateUserPool", "*", tags("RequestTag", "dev")],
    ["cognito-idp:CreateUserPoolClient", arn("cognito-idp", "userpool/us-east-1_DevPool1"), tags("ResourceTag", "dev")],
    ["cloudwatch:PutMetricAlarm", arn("cloudwatch", "alarm:llm-stream-dev-work-dlq-visible"), {}],
    ["iam:CreateRole", `arn:aws:iam::${ACCOUNT}:role/llm-stream-dev-send-query`, bounded],
    ["iam:PutRolePolicy", `arn:aws:iam::${ACCOUNT}:role/llm-stream-dev-send-query`, bounded],
    ["iam:PassRole", `arn:aws:iam::${ACCOUNT}:role/llm-stream-dev-send-query`, { "iam:PassedToService": "lambda.amazonaws.com" }],
    ["s3:PutObject", "arn:aws:s3:::llm-stream-tfstate-111111111111/llm-stream/dev/platform.tfstate", {}],
  ];
  test.each(CAN)("can %s on %s", async (action, resource, context) => {
    expect(await decide(DEPLOY_ROLE, deployRole(resource), action, resource, context)).toBe("Allowed");
  });

  test("cannot make a function role trust an outside account: UpdateAssumeRolePolicy is denied on every environment role", async () => {
    for (const roleName of ["llm-stream-dev-send-query", "llm-stream-dev-stream-worker", "llm-stream-dev-api-logs", "llm-stream-qa-outbound-relay"]) {
      expect([roleName, await decide(DEPLOY_ROLE, deployRole(), "iam:UpdateAssumeRolePolicy", `arn:aws:iam::${ACCOUNT}:role/${roleName}`, bounded)]).toEqual([roleName, "ExplicitlyDenied"]);
    }
  });

  // Outside dev's (and qa's) resources, or without the boundary: denied.
  const CANNOT: [string, string, string, Context, Outcome][] = [
    ["a role without the boundary", "iam:CreateRole", `arn:aws:iam::${ACCOUNT}:role/llm-stream-dev-backdoor`, {}, "ImplicitlyDenied"],
    ["a dev role bounded by qa's boundary", "iam:CreateRole", `arn:aws:iam::${ACCOUNT}:role/llm-stream-dev-backdoor`, { "iam:PermissionsBoundary": `arn:aws:iam::${ACCOUNT}:policy/llm-stream-qa-boundary` }, "ImplicitlyDenied"],
    ["a role outside the prefixes", "iam:CreateRole", `arn:aws:iam::${ACCOUNT}:role/admin`, bounded, "ImplicitlyDenied"],
    ["lifting a boundary", "iam:DeleteRolePermissionsBoundary", `arn:aws:iam::${ACCOUNT}:role/llm-stream-dev-send-query`, {}, "ExplicitlyDenied"],
    ["rewriting the boundary", "iam:CreatePolicyVersion", DEV_BOUNDARY, {}, "ExplicitlyDenied"],
    ["passing a role to EC2", "iam:PassRole", `arn:aws:iam::${ACCOUNT}:role/llm-stream-dev-send-query`, { "iam:PassedToService": "ec2.amazonaws.com" }, "ImplicitlyDenied"],
    ["another team's API", "appsync:DeleteGraphqlApi", arn("appsync", "apis/otherteamapi"), { "aws:ResourceTag/Project": "billing", "aws:ResourceTag/Environment": "prod" }, "ImplicitlyDenied"],
    ["an untagged API", "appsync:UpdateGraphqlApi", arn("appsync", "apis/otherteamapi"), {}, "ImplicitlyDenied"],
    ["an API created for another project", "appsync:CreateGraphqlApi", "*", { "aws:RequestTag/Project": "billing", "aws:RequestTag/Environment": "dev" }, "ImplicitlyDenied"],
    ["another team's user pool", "cognito-idp:DeleteUserPool", arn("cognito-idp", "userpool/us-east-1_Other1"), {}, "ImplicitlyDenied"],
    ["another API's log group", "logs:DeleteLogGroup", arn("logs", "log-group:/aws/appsync/apis/otherteamapi"), {}, "ImplicitlyDenied"],
    ["another team's function log group", "logs:DeleteLogGroup", arn("logs", "log-group:/aws/lambda/billing-api"), {}, "ImplicitlyDenied"],
    ["another environment's key", "kms:ScheduleKeyDeletion", QA_KEY, tags("ResourceTag", "staging"), "ImplicitlyDenied"],
    ["another key's alias", "kms:UpdateAlias", arn("kms", "alias/billing"), {}, "ImplicitlyDenied"],
    ["another team's function", "lambda:UpdateFunctionCode", arn("lambda", "function:billing-api"), {}, "ImplicitlyDenied"],
    ["another team's function URL", "lambda:CreateFunctionUrlConfig", arn("lambda", "function:billing-api"), { "lambda:FunctionUrlAuthType": "NONE" }, "ImplicitlyDenied"],
  ];
  test.each(CANNOT)("cannot touch %s", async (_what, action, resource, context, outcome) => {
    expect(await decide(DEPLOY_ROLE, deployRole(resource), action, resource, context)).toBe(outcome);
  });
});

describe("the read-only plan role", () => {
  const PLAN_ROLE = `${DEPLOY_ROLE}-plan`;
  const arn = (service: string, rest: string) => `arn:aws:${service}:us-east-1:${ACCOUNT}:${rest}`;

  test("reads dev's state, API, function and key", async () => {
    const reads: [string, string, Context][] = [
      ["s3:GetObject", "arn:aws:s3:::llm-stream-tfstate-111111111111/llm-stream/dev/platform.tfstate", {}],
      ["appsync:GetGraphqlApi", arn("appsync", `apis/${API_ID}`), tags("ResourceTag", "dev")],
      ["lambda:GetFunction", arn("lambda", "function:llm-stream-dev-stream-worker"), {}],
      ["lambda:GetFunctionUrlConfig", arn("lambda", "function:llm-stream-dev-url-stream"), {}],
      ["kms:GetKeyPolicy", DEV_KEY, tags("ResourceTag", "dev")],
      ["cognito-idp:DescribeUserPool", arn("cognito-idp", "userpool/us-east-1_DevPool1"), tags("ResourceTag", "dev")],
    ];
    for (const [action, resource, context] of reads) expect([action, await decide(PLAN_ROLE, planRole(resource), action, resource, context)]).toEqual([action, "Allowed"]);
  });

  test("reads no other API, pool, function or key of the account, and changes nothing", async () => {
    const denied: [string, string, Context][] = [
      ["appsync:GetGraphqlApi", arn("appsync", "apis/otherteamapi"), { "aws:ResourceTag/Project": "billing" }],
      ["cognito-idp:DescribeUserPool", arn("cognito-idp", "userpool/us-east-1_Other1"), {}],
      ["lambda:GetFunction", arn("lambda", "function:billing-api"), {}],
      ["kms:GetKeyPolicy", QA_KEY, { "aws:ResourceTag/Project": "billing" }],
      ["lambda:UpdateFunctionCode", arn("lambda", "function:llm-stream-dev-stream-worker"), {}],
      ["s3:PutObject", "arn:aws:s3:::llm-stream-tfstate-111111111111/llm-stream/dev/platform.tfstate", {}],
    ];
    for (const [action, resource, context] of denied) expect([action, await decide(PLAN_ROLE, planRole(resource), action, resource, context)]).toEqual([action, "ImplicitlyDenied"]);
  });
});

describe("a function role, bounded by the environment's boundary", () => {
  const decrypt = (policies: Policies, key: string, env: string) => decide(WORKER_ROLE, policies, "kms:Decrypt", key, tags("ResourceTag", env));

  test("the worker can use its own key and do its work", async () => {
    const worker = workerRole();
    expect(await decrypt(worker, DEV_KEY, "dev")).toBe("Allowed");
    expect(await decide(WORKER_ROLE, worker, "bedrock:InvokeModelWithResponseStream", "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0")).toBe("Allowed");
    expect(await decide(WORKER_ROLE, worker, "sqs:ReceiveMessage", "arn:aws:sqs:us-east-1:111111111111:llm-stream-dev-work")).toBe("Allowed");
  });

  test("cannot use another environment's key, even with a role policy that names every key", async () => {
    const anyKey: PolicyDocument = {
      Version: "2012-10-17",
      Statement: [{ Sid: "EveryKey", Effect: "Allow", Action: ["kms:Decrypt", "kms:GenerateDataKey"], Resource: [`arn:aws:kms:us-east-1:${ACCOUNT}:key/*`] }],
    };
    // The key policies delegate to the account's IAM, as the stack's do: only the boundary stands in the way.
    const delegating: PolicyDocument = {
      Version: "2012-10-17",
      Statement: [{ Sid: "AccountUsesKey", Effect: "Allow", Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: ["kms:Decrypt", "kms:GenerateDataKey"], Resource: "*" }],
    };
    const worstCase: Policies = { identity: [anyKey], boundary: devBoundary(), resourcePolicy: delegating };
    expect(await decrypt(worstCase, DEV_KEY, "dev")).toBe("Allowed");
    expect(await decrypt(worstCase, QA_KEY, "qa")).toBe("ImplicitlyDenied");
    expect(await decide(WORKER_ROLE, worstCase, "kms:GenerateDataKey", QA_KEY, tags("ResourceTag", "qa"))).toBe("ImplicitlyDenied");
    // Without the boundary, that role policy would have opened qa's key: the boundary is what keeps it shut.
    expect(await decrypt({ identity: [anyKey], resourcePolicy: delegating }, QA_KEY, "qa")).toBe("Allowed");
    // The worker as deployed names only dev's key in its policy.
    expect(await decrypt({ ...workerRole(), resourcePolicy: delegating }, QA_KEY, "qa")).toBe("ImplicitlyDenied");
  });

  describe("the relay dead-letters expired events itself (issue 11): SendMessage to its own DLQ only", () => {
    const sqs = (env: string, queue: string) => `arn:aws:sqs:us-east-1:${ACCOUNT}:llm-stream-${env}-${queue}`;
    const tls: Context = { "aws:SecureTransport": "true" };
    /** The relay as deployed, sending to `queue` of `env`, with that queue's own policy when it is one of dev's. */
    const send = (env: string, queue: string) => {
      const relay = functionRole("llm-stream-dev-outbound-relay");
      const policies = env === "dev" ? { ...relay, resourcePolicy: queuePolicy(`llm-stream-dev-${queue}`) } : { ...relay, resourcePolicy: undefined };
      return decide(RELAY_ROLE, policies, "sqs:SendMessage", sqs(env, queue), tls);
    };

    test("can send to dev's outbound DLQ and look up its URL", async () => {
      expect(await send("dev", "outbound-dlq")).toBe("Allowed");
      const relay = functionRole("llm-stream-dev-outbound-relay");
      for (const queue of ["outbound", "outbound-dlq"]) expect([queue, await decide(RELAY_ROLE, { ...relay, resourcePolicy: undefined }, "sqs:GetQueueUrl", sqs("dev", queue))]).toEqual([queue, "Allowed"]);
    });

    test("cannot send to any queue a consumer reads, nor to another environment's DLQ", async () => {
      for (const [env, queue] of [["dev", "outbound"], ["dev", "work"], ["dev", "work-dlq"], ["qa", "outbound-dlq"], ["qa", "outbound"]]) {
        expect([env, queue, await send(env, queue)]).toEqual([env, queue, "ImplicitlyDenied"]);
      }
    });

    test("the boundary keeps SendMessage to dev's queues, even with a role policy that names every queue", async () => {
      const anyQueue: PolicyDocument = { Version: "2012-10-17", Statement: [{ Sid: "EveryQueue", Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [`arn:aws:sqs:us-east-1:${ACCOUNT}:*`] }] };
      const worstCase: Policies = { identity: [anyQueue], boundary: devBoundary() };
      expect(await decide(RELAY_ROLE, worstCase, "sqs:SendMessage", sqs("dev", "outbound-dlq"), tls)).toBe("Allowed");
      expect(await decide(RELAY_ROLE, worstCase, "sqs:SendMessage", sqs("qa", "outbound-dlq"), tls)).toBe("ImplicitlyDenied");
      expect(await decide(RELAY_ROLE, worstCase, "sqs:SendMessage", `arn:aws:sqs:us-east-1:${ACCOUNT}:billing-jobs`, tls)).toBe("ImplicitlyDenied");
      // Without the boundary that role policy would have opened qa's queue.
      expect(await decide(RELAY_ROLE, { identity: [anyQueue] }, "sqs:SendMessage", sqs("qa", "outbound-dlq"), tls)).toBe("Allowed");
    });

    test("dev's DLQ refuses the relay's send without TLS", async () => {
      const policies = { ...functionRole("llm-stream-dev-outbound-relay"), resourcePolicy: queuePolicy("llm-stream-dev-outbound-dlq") };
      expect(await decide(RELAY_ROLE, policies, "sqs:SendMessage", sqs("dev", "outbound-dlq"), { "aws:SecureTransport": "false" })).toBe("ExplicitlyDenied");
    });
  });

  test("message-control reads and flags dev's message records, and nothing else", async () => {
    const control = { ...functionRole("llm-stream-dev-message-control"), resourcePolicy: undefined };
    const table = (env: string, name: string) => `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/llm-stream-${env}-${name}`;
    for (const action of ["dynamodb:Query", "dynamodb:UpdateItem"]) expect([action, await decide(CONTROL_ROLE, control, action, table("dev", "messages"))]).toEqual([action, "Allowed"]);
    const denied: [string, string][] = [
      ["dynamodb:PutItem", table("dev", "messages")],
      ["dynamodb:DeleteItem", table("dev", "messages")],
      ["dynamodb:GetItem", table("dev", "messages")],
      ["dynamodb:Query", table("dev", "history")],
      ["dynamodb:UpdateItem", table("dev", "idempotency")],
      ["dynamodb:Query", table("qa", "messages")],
      ["sns:Publish", "arn:aws:sns:us-east-1:111111111111:llm-stream-dev-inbound"],
      ["sqs:SendMessage", "arn:aws:sqs:us-east-1:111111111111:llm-stream-dev-work"],
      ["bedrock:InvokeModelWithResponseStream", "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0"],
      ["appsync:GraphQL", `arn:aws:appsync:us-east-1:${ACCOUNT}:apis/${API_ID}/types/Mutation/fields/publishResponse`],
    ];
    for (const [action, resource] of denied) expect([action, resource, await decide(CONTROL_ROLE, control, action, resource)]).toEqual([action, resource, "ImplicitlyDenied"]);
  });

  test("CloudWatch Logs may use dev's key for dev's log groups only (read from the key policy)", () => {
    // The simulator cannot evaluate kms:EncryptionContext:<key> (its variable keys are `/`-separated), so this one is
    // read off the rendered key policy instead.
    const logs = stackKeyPolicy().Statement.filter((s) => JSON.stringify(s.Principal ?? "").includes("logs."));
    expect(logs).toEqual([
      expect.objectContaining({
        Effect: "Allow",
        Principal: { Service: ["logs.us-east-1.amazonaws.com"] },
        Resource: ["*"],
        Condition: {
          ArnLike: {
            "kms:EncryptionContext:aws:logs:arn": [
              `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/aws/lambda/llm-stream-dev-*`,
              `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/aws/appsync/apis/${API_ID}`,
            ],
          },
        },
      }),
    ]);
    expect(logs[0].Action.filter((a) => !/^kms:(Encrypt|Decrypt|ReEncryptFrom|ReEncryptTo|GenerateDataKey|GenerateDataKeyWithoutPlaintext|DescribeKey)$/.test(a))).toEqual([]);
  });
});

describe("issue 12: AWS WAF and the guardrail (fifo-direct named dev: a created web ACL, a guardrail)", () => {
  const WAF_ACCOUNT = "333333333333";
  const arn = (service: string, rest: string) => `arn:aws:${service}:us-east-1:${WAF_ACCOUNT}:${rest}`;
  const DEPLOYER = `arn:aws:iam::${WAF_ACCOUNT}:role/llm-stream-deploy`;
  const OWN_ACL = arn("wafv2", "regional/webacl/llm-stream-dev-api/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b");
  const API = arn("appsync", `apis/${API_ID}`);
  let wafAccount: AccountBootstrap;
  let wafStack: Synthesized;
  let wafDir: EnvironmentsCopy;
  let wafDev: EnvironmentConfig;
  beforeAll(async () => {
    wafDir = await fixtureDirNamed("fifo-direct", "dev");
    wafDev = await loadEnvironment("dev", wafDir.dir);
    [wafAccount] = planAccounts([wafDev], GITHUB);
    wafStack = await synthesizeToTemp(["dev"], wafDir.dir);
  }, 60_000);
  afterAll(() => {
    wafStack?.cleanup();
    wafDir?.cleanup();
  });
  const deployer = (): Policies => ({ identity: deployPolicies(wafAccount, wafAccount.roles[0]).map((d) => d.document) });

  const CAN: [string, string, Context][] = [
    ["wafv2:CreateWebACL", OWN_ACL, {}],
    ["wafv2:PutLoggingConfiguration", OWN_ACL, {}],
    ["wafv2:AssociateWebACL", OWN_ACL, {}],
    ["wafv2:AssociateWebACL", API, {}],
    ["appsync:SetWebACL", "*", {}],
    ["logs:CreateLogGroup", arn("logs", "log-group:aws-waf-logs-llm-stream-dev"), {}],
    ["logs:PutResourcePolicy", "*", {}],
  ];
  test.each(CAN)("the deploy role can %s on %s", async (action, resource, context) => {
    expect(await decide(DEPLOYER, deployer(), action, resource, context)).toBe("Allowed");
  });

  const CANNOT: [string, string, string, Context][] = [
    ["another team's web ACL", "wafv2:DeleteWebACL", arn("wafv2", "regional/webacl/billing-edge/1a2b3c4d-0000-4000-8000-000000000000"), {}],
    ["another account's web ACL", "wafv2:AssociateWebACL", "arn:aws:wafv2:us-east-1:999999999999:regional/webacl/theirs/1a2b3c4d-0000-4000-8000-000000000000", {}],
    ["another team's WAF log group", "logs:CreateLogGroup", arn("logs", "log-group:aws-waf-logs-billing"), {}],
  ];
  test.each(CANNOT)("the deploy role cannot touch %s", async (_what, action, resource, context) => {
    expect(await decide(DEPLOYER, deployer(), action, resource, context)).toBe("ImplicitlyDenied");
  });

  test("an environment without waf gets no WAF permission at all", () => {
    expect(deployPolicies(account, role()).map((d) => d.concern)).not.toContain("firewall");
    expect(deployPolicies(wafAccount, wafAccount.roles[0]).map((d) => d.concern)).toContain("firewall");
  });

  test("the worker may apply its own guardrail only; the boundary keeps guardrails of other accounts out of reach", async () => {
    const worker = `arn:aws:iam::${WAF_ACCOUNT}:role/llm-stream-dev-stream-worker`;
    const statements = wafStack.stack("llm-stream-dev").functionPermissions("llm-stream-dev-stream-worker").filter((s) => s.sid === "ApplyOwnGuardrail");
    const boundary = boundaryPolicy(wafAccount, wafAccount.roles[0].environments[0]).document;
    const deployed: Policies = { identity: [renderedPolicy(statements)], boundary };
    const own = arn("bedrock", `guardrail/${wafDev.guardrail!.id}`);
    expect(await decide(worker, deployed, "bedrock:ApplyGuardrail", own)).toBe("Allowed");
    expect(await decide(worker, deployed, "bedrock:ApplyGuardrail", arn("bedrock", "guardrail/othergrd0001"))).toBe("ImplicitlyDenied");
    const anyGuardrail: PolicyDocument = { Version: "2012-10-17", Statement: [{ Sid: "Any", Effect: "Allow", Action: ["bedrock:ApplyGuardrail"], Resource: ["arn:aws:bedrock:*:*:guardrail/*"] }] };
    expect(await decide(worker, { identity: [anyGuardrail], boundary }, "bedrock:ApplyGuardrail", "arn:aws:bedrock:us-east-1:999999999999:guardrail/theirs0001")).toBe("ImplicitlyDenied");
  });
});
