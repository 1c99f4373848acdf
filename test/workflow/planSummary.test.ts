/**
 * The plan summary's rules on small hand-written plans (shape of `terraform show -json`); the test against real
 * offline Terraform plans is realPlans.test.ts.
 */
import { RUNTIME_VARIABLE_NAMES } from "../../contracts/runtimeSettings";
import { ResourceChange, TerraformPlan } from "../../scripts/plan-summary/planJson";
import { diffPolicies } from "../../scripts/plan-summary/policyDiff";
import { environmentFromFileName, renderMarkdown, summarizePlan } from "../../scripts/plan-summary/summary";
import { parseArgs } from "../../scripts/planSummary";

const rc = (address: string, actions: ResourceChange["change"]["actions"], before: Record<string, unknown> | null, after: Record<string, unknown> | null, extra: Partial<ResourceChange["change"]> = {}): ResourceChange => {
  const [type, name] = address.split(".").slice(-2);
  return { address, mode: "managed", type, name, change: { actions, before, after, after_unknown: {}, ...extra } };
};
const plan = (...changes: ResourceChange[]): TerraformPlan => ({ format_version: "1.2", resource_changes: changes });
const policy = (...statements: object[]) => JSON.stringify({ Version: "2012-10-17", Statement: statements });
const lambda = (vars: Record<string, string>) => ({ function_name: "llm-stream-prod-stream-worker", environment: [{ variables: vars }] });

describe("counts", () => {
  it("counts add, change, destroy and replace, ignoring reads and no-ops", () => {
    const s = summarizePlan(
      "dev",
      plan(
        rc("aws_sqs_queue.a", ["create"], null, {}),
        rc("aws_sqs_queue.b", ["update"], {}, {}),
        rc("aws_sqs_queue.c", ["delete"], {}, null),
        rc("aws_sqs_queue.d", ["delete", "create"], {}, {}),
        rc("aws_sqs_queue.e", ["create", "delete"], {}, {}),
        rc("aws_sqs_queue.f", ["no-op"], {}, {}),
        { ...rc("data.aws_iam_policy_document.p", ["read"], null, {}), mode: "data" },
      ),
    );
    expect(s.counts).toEqual({ add: 1, change: 1, destroy: 1, replace: 2 });
    const md = renderMarkdown([s]);
    expect(md).toContain("| dev | 1 | 1 | 1 | 2 |");
    expect(md.startsWith("<!-- plan-summary:dev -->")).toBe(true);
  });

  it("says so when nothing changes", () => {
    expect(renderMarkdown([summarizePlan("staging", plan())])).toContain("**staging: no changes.**");
  });
});

describe("stateful warnings", () => {
  it("names the replaced table and the attribute forcing it, but not replaced stateless resources", () => {
    const s = summarizePlan(
      "prod",
      plan(
        rc("module.tables.aws_dynamodb_table.history", ["delete", "create"], {}, {}, { replace_paths: [["hash_key"]] }),
        rc("aws_sqs_queue.work", ["delete", "create"], {}, {}, { replace_paths: [["fifo_queue"], ["name"]] }),
        rc("aws_cognito_user_pool.users", ["delete"], {}, null),
        rc("aws_lambda_event_source_mapping.worker", ["delete", "create"], {}, {}, { replace_paths: [["event_source_arn"]] }),
        rc("aws_sns_topic.inbound", ["update"], {}, {}),
      ),
    );
    expect(s.stateful.map((r) => r.address)).toEqual(["module.tables.aws_dynamodb_table.history", "aws_sqs_queue.work", "aws_cognito_user_pool.users"]);
    const md = renderMarkdown([s]);
    expect(md).toContain("> [!WARNING]");
    expect(md).toContain("replace `module.tables.aws_dynamodb_table.history` (DynamoDB table, forced by `hash_key`)");
    expect(md).toContain("replace `aws_sqs_queue.work` (SQS queue, forced by `fifo_queue`, `name`)");
    expect(md).toContain("destroy `aws_cognito_user_pool.users` (Cognito user pool)");
    const warning = md.split("\n").filter((l) => l.startsWith(">"));
    expect(warning).toHaveLength(2 + 3);
    expect(warning.join("\n")).not.toContain("event_source_mapping");
  });

  it("has no warning block when only stateless resources are replaced", () => {
    const md = renderMarkdown([summarizePlan("dev", plan(rc("aws_lambda_function.f", ["delete", "create"], {}, {})))]);
    expect(md).not.toContain("[!WARNING]");
  });
});

describe("IAM statement diff", () => {
  const sqs = { Sid: "Work", Effect: "Allow", Action: ["sqs:ReceiveMessage", "sqs:DeleteMessage"], Resource: "arn:aws:sqs:us-east-1:1:work" };
  const bedrockOld = { Sid: "Models", Effect: "Allow", Action: "bedrock:InvokeModelWithResponseStream", Resource: ["arn:aws:bedrock:us-east-1::foundation-model/a"] };
  const bedrockNew = { ...bedrockOld, Resource: ["arn:aws:bedrock:us-east-1::foundation-model/a", "arn:aws:bedrock:us-east-1::foundation-model/b"] };

  it("ignores ordering and string-vs-list differences", () => {
    const d = diffPolicies(policy(sqs), policy({ ...sqs, Action: ["sqs:DeleteMessage", "sqs:ReceiveMessage"], Resource: ["arn:aws:sqs:us-east-1:1:work"] }));
    expect(d).toEqual({ added: [], removed: [], changed: [] });
  });

  it("lists added, removed and changed statements with their actions and resources", () => {
    const s = summarizePlan(
      "prod",
      plan(
        rc("aws_iam_role_policy.worker", ["update"], { policy: policy(sqs, bedrockOld, { Effect: "Allow", Action: "sns:Publish", Resource: "arn:aws:sns:us-east-1:1:out" }) }, { policy: policy(sqs, bedrockNew, { Effect: "Allow", Action: "dynamodb:PutItem", Resource: "arn:aws:dynamodb:us-east-1:1:table/h" }) }),
      ),
    );
    expect(s.policies).toHaveLength(1);
    const d = s.policies[0].diff!;
    expect(d.added.map((x) => x.action)).toEqual([["dynamodb:PutItem"]]);
    expect(d.removed.map((x) => x.action)).toEqual([["sns:Publish"]]);
    expect(d.changed.map((c) => c.after.sid)).toEqual(["Models"]);
    const md = renderMarkdown([s]);
    expect(md).toContain("+   action      dynamodb:PutItem");
    expect(md).toContain("+   resource    arn:aws:dynamodb:us-east-1:1:table/h");
    expect(md).toContain("-   action      sns:Publish");
    expect(md).toContain("+   resource    arn:aws:bedrock:us-east-1::foundation-model/b");
    expect(md).toContain("    resource    arn:aws:bedrock:us-east-1::foundation-model/a");
    expect(md).not.toContain("Sid Work");
    expect(md).toContain("Model access in prod: `aws_iam_role_policy.worker` now allows `arn:aws:bedrock:us-east-1::foundation-model/b`.");
  });

  it("diffs trust policies and says when a document is known only at apply", () => {
    const trust = (sub: string) => policy({ Effect: "Allow", Action: "sts:AssumeRoleWithWebIdentity", Principal: { Federated: "arn:aws:iam::1:oidc-provider/token.actions.githubusercontent.com" }, Condition: { StringLike: { "token.actions.githubusercontent.com:sub": sub } } });
    const s = summarizePlan(
      "dev",
      plan(
        rc("aws_iam_role.deploy", ["update"], { assume_role_policy: trust("repo:o/r:environment:dev") }, { assume_role_policy: trust("repo:o/r:*") }),
        rc("aws_iam_role_policy.relay", ["update"], { policy: policy(sqs) }, { policy: null }, { after_unknown: { policy: true } }),
        rc("aws_iam_role.tags_only", ["update"], { assume_role_policy: trust("x"), tags: {} }, { assume_role_policy: trust("x"), tags: { a: "b" } }),
      ),
    );
    expect(s.policies.map((p) => p.address)).toEqual(["aws_iam_role.deploy", "aws_iam_role_policy.relay"]);
    const md = renderMarkdown([s]);
    expect(md).toContain("+   condition   StringLike token.actions.githubusercontent.com:sub = repo:o/r:*");
    expect(md).toContain("-   condition   StringLike token.actions.githubusercontent.com:sub = repo:o/r:environment:dev");
    expect(md).toContain("`aws_iam_role_policy.relay` (aws_iam_role_policy.policy, update in place): the new document is known only at apply");
  });
});

describe("statements repeated across sibling resource policies", () => {
  const tls = (arn: string) => ({ Sid: "DenyInsecureTransport", Effect: "Deny", Principal: "*", Action: ["sqs:SendMessage", "sqs:ReceiveMessage"], Resource: arn, Condition: { Bool: { "aws:SecureTransport": "false" } } });
  const fromTopic = (queue: string, topic: string) => ({ Sid: "TopicDeliversToQueue", Effect: "Allow", Principal: { Service: "sns.amazonaws.com" }, Action: "sqs:SendMessage", Resource: queue, Condition: { ArnEquals: { "aws:SourceArn": topic } } });
  const queue = (n: string) => `arn:aws:sqs:us-east-1:1:${n}`;
  const created = (address: string, ...statements: object[]) => rc(address, ["create"], null, { policy: policy(...statements) });

  it("shows a statement alike but for its ARNs once, with a table of each policy's ARNs, and keeps the rest per policy", () => {
    const s = summarizePlan(
      "dev",
      plan(
        created("aws_sqs_queue_policy.work", tls(queue("work")), fromTopic(queue("work"), "arn:aws:sns:us-east-1:1:in")),
        created("aws_sqs_queue_policy.work_dlq", tls(queue("work-dlq"))),
        created("aws_sqs_queue_policy.out_dlq", tls(queue("out-dlq"))),
      ),
    );
    const md = renderMarkdown([s]);
    expect(md.match(/Deny \(Sid DenyInsecureTransport\)/g)).toHaveLength(1);
    expect(md).toContain("<summary>dev: statement `DenyInsecureTransport` added alike in 3 aws_sqs_queue_policy policies, but for the ARNs they name</summary>");
    expect(md).toContain("+   resource    ‹1›");
    expect(md).toContain("+   condition   Bool aws:SecureTransport = false");
    expect(md).toContain("| policy | ‹1› |");
    for (const n of ["work", "work_dlq", "out_dlq"]) expect(md).toContain(`| \`aws_sqs_queue_policy.${n}\` (create) | \`${queue(n.replace("_", "-"))}\` |`);
    // The work queue's own statement keeps its own block, which says a shared one is shown below.
    expect(md).toContain("<summary>dev: `aws_sqs_queue_policy.work` (aws_sqs_queue_policy.policy, create): 1 added statement(s), and 1 shown once below with its siblings</summary>");
    expect(md).not.toContain("`aws_sqs_queue_policy.work_dlq` (aws_sqs_queue_policy.policy");
  });

  it("keeps identity policies per role, alike or not, and does not group statements that differ in more than ARNs", () => {
    const grant = (arn: string) => ({ Sid: "Send", Effect: "Allow", Action: "sqs:SendMessage", Resource: arn });
    const s = summarizePlan(
      "dev",
      plan(
        created("aws_iam_role_policy.a", grant(queue("a"))),
        created("aws_iam_role_policy.b", grant(queue("b"))),
        created("aws_sqs_queue_policy.q1", tls(queue("q1"))),
        created("aws_sqs_queue_policy.q2", { ...tls(queue("q2")), Action: ["sqs:SendMessage"] }),
      ),
    );
    const md = renderMarkdown([s]);
    expect(md).not.toContain("alike in");
    expect(md.match(/<details><summary>dev: `aws_/g)).toHaveLength(4);
  });
});

describe("updates", () => {
  it("say which attributes they change, nested paths as Terraform prints them, values known only at apply marked", () => {
    const before = { name: "q", delay: 1, tags: { A: "1" }, redrive: [{ max: 3, dlq: "arn:x" }] };
    const after = { name: "q", delay: 2, tags: { A: "1" }, redrive: [{ max: 5, dlq: "arn:x" }] };
    const s = summarizePlan("dev", plan(rc("aws_sqs_queue.q", ["update"], before, after, { after_unknown: { arn: true } })));
    expect(s.resources[0].attributes).toEqual(["arn (known after apply)", "delay", "redrive[0].max"]);
    expect(renderMarkdown([s])).toContain("- update in place `aws_sqs_queue.q`: `arn` (known after apply), `delay`, `redrive[0].max`");
  });

  it("list at most six attributes, then how many more", () => {
    const keys = "abcdefgh".split("");
    const s = summarizePlan("dev", plan(rc("aws_sqs_queue.q", ["update"], Object.fromEntries(keys.map((k) => [k, 1])), Object.fromEntries(keys.map((k) => [k, 2])))));
    expect(renderMarkdown([s])).toContain("- update in place `aws_sqs_queue.q`: `a`, `b`, `c`, `d`, `e`, `f` and 2 more");
  });
});

describe("policy documents Terraform reads only at apply", () => {
  it("diffs the aws_iam_policy_document's planned statements, marking values known after apply", () => {
    const before = policy({ Sid: "FromSns", Effect: "Allow", Action: "sqs:SendMessage", Resource: "arn:aws:sqs:us-east-1:1:old", Principal: { Service: "sns.amazonaws.com" }, Condition: { ArnEquals: { "aws:SourceArn": "arn:aws:sns:us-east-1:1:t" } } });
    const statement = { sid: "FromSns", effect: null, actions: ["sqs:SendMessage"], resources: [null], principals: [{ type: "Service", identifiers: ["sns.amazonaws.com"] }], condition: [{ test: "ArnEquals", variable: "aws:SourceArn", values: ["arn:aws:sns:us-east-1:1:t"] }], not_actions: null, not_resources: null, not_principals: [] };
    const p: TerraformPlan = {
      format_version: "1.2",
      configuration: { root_module: { resources: [{ address: "aws_sqs_queue_policy.q", mode: "managed", type: "aws_sqs_queue_policy", expressions: { policy: { references: ["data.aws_iam_policy_document.q.json", "data.aws_iam_policy_document.q"] } } }] } },
      resource_changes: [
        rc("aws_sqs_queue_policy.q", ["update"], { policy: before }, { policy: null }, { after_unknown: { policy: true } }),
        { ...rc("data.aws_iam_policy_document.q", ["read"], null, { statement: [statement] }, { after_unknown: { json: true, statement: [{ resources: [true] }] } }), mode: "data" },
      ],
    };
    const [change] = summarizePlan("dev", p).policies;
    expect(change.deferred).toBe(true);
    // Principal and condition compare equal to the JSON before: only the resource differs.
    expect(change.diff!.changed).toEqual([{ before: expect.objectContaining({ resource: ["arn:aws:sqs:us-east-1:1:old"] }), after: expect.objectContaining({ sid: "FromSns", resource: ["(known after apply)"] }) }]);
    const md = renderMarkdown([summarizePlan("dev", p)]);
    expect(md).toContain("-   resource    arn:aws:sqs:us-east-1:1:old\n+   resource    (known after apply)\n    principal   Service: sns.amazonaws.com");
  });
});

describe("platform settings in plain words", () => {
  it("calls out directSend, model ids and batching from the Lambda environment", () => {
    const before = { [RUNTIME_VARIABLE_NAMES.directSend]: "false", [RUNTIME_VARIABLE_NAMES.defaultModelId]: "m.a", [RUNTIME_VARIABLE_NAMES.allowedModelIds]: "m.a,m.b", [RUNTIME_VARIABLE_NAMES.batchMaxDelayMs]: "50", [RUNTIME_VARIABLE_NAMES.batchMaxChars]: "400" };
    const after = { [RUNTIME_VARIABLE_NAMES.directSend]: "true", [RUNTIME_VARIABLE_NAMES.defaultModelId]: "m.c", [RUNTIME_VARIABLE_NAMES.allowedModelIds]: "m.a,m.c", [RUNTIME_VARIABLE_NAMES.batchMaxDelayMs]: "0", [RUNTIME_VARIABLE_NAMES.batchMaxChars]: "400" };
    const s = summarizePlan("prod", plan(rc("aws_lambda_function.worker", ["update"], lambda(before), lambda(after))));
    expect(s.callouts).toEqual([
      "directSend turns **on** in prod: the stream worker publishes answers straight to AppSync instead of through the outbound topic and queue (DIRECT_SEND on `llm-stream-prod-stream-worker`).",
      "the default model in prod changes from `m.a` to `m.c` (DEFAULT_MODEL_ID on `llm-stream-prod-stream-worker`).",
      "the allowed models in prod change: adds `m.c`; removes `m.b` (ALLOWED_MODEL_IDS on `llm-stream-prod-stream-worker`).",
      "batching in prod: a chunk now waits at most 0 ms (one message per token), was 50 ms (BATCH_MAX_DELAY_MS on `llm-stream-prod-stream-worker`).",
    ]);
    expect(renderMarkdown([s])).toContain("- DirectSend turns **on** in prod");
  });

  it("calls out a change of the batching mode and of the reading-pace window", () => {
    const v = (mode: string, window: string, pace: string) => ({ [RUNTIME_VARIABLE_NAMES.batchMode]: mode, [RUNTIME_VARIABLE_NAMES.batchMaxWindowMs]: window, [RUNTIME_VARIABLE_NAMES.batchReadingTokensPerSecond]: pace });
    const s = summarizePlan("prod", plan(rc("aws_lambda_function.worker", ["update"], lambda(v("fixed", "1000", "15")), lambda(v("reading_pace", "2000", "10")))));
    expect(s.callouts).toEqual([
      "batching in prod: the mode changes to **reading_pace** (windows grow while the text is ahead of a reader), was fixed (BATCH_MODE on `llm-stream-prod-stream-worker`).",
      "batching in prod: a reading-pace window now lasts at most 2000 ms, was 1000 ms (BATCH_MAX_WINDOW_MS on `llm-stream-prod-stream-worker`).",
      "batching in prod: the reading pace is now 10 tokens/s, was 15 (BATCH_READING_TPS on `llm-stream-prod-stream-worker`).",
    ]);
  });

  it("reads a setting of a new function from the configured literal when the plan knows it only at apply", () => {
    const created = rc("aws_lambda_function.worker", ["create"], null, { function_name: "llm-stream-dev-stream-worker", environment: [{ variables: null }] }, { after_unknown: { environment: [{ variables: true }] } });
    const p: TerraformPlan = {
      ...plan(created),
      configuration: {
        root_module: {
          resources: [{ address: "aws_lambda_function.worker", mode: "managed", type: "aws_lambda_function", expressions: { environment: [{ variables: { constant_value: { [RUNTIME_VARIABLE_NAMES.directSend]: "true", [RUNTIME_VARIABLE_NAMES.defaultModelId]: "${var.model}" } } }] } }],
        },
      },
    };
    // DEFAULT_MODEL_ID is an interpolation, not a literal: no claim about it.
    expect(summarizePlan("dev", p).callouts).toEqual(["directSend starts **on** in dev (DIRECT_SEND on `llm-stream-dev-stream-worker` (new))."]);
  });

  it("says nothing about a value known only at apply, and nothing when the value is unchanged", () => {
    const vars = { [RUNTIME_VARIABLE_NAMES.directSend]: "true" };
    const unknown = rc("aws_lambda_function.a", ["update"], lambda(vars), lambda({}), { after_unknown: { environment: [{ variables: { [RUNTIME_VARIABLE_NAMES.directSend]: true } }] } });
    const same = rc("aws_lambda_function.b", ["update"], lambda(vars), lambda(vars));
    expect(summarizePlan("dev", plan(unknown, same)).callouts).toEqual([]);
  });
});

describe("command line", () => {
  it("takes the environment from the file name unless --env precedes the file", () => {
    expect(environmentFromFileName("cdktf.out/plans/prod.json")).toBe("prod");
    expect(environmentFromFileName("/tmp/staging.plan.json")).toBe("staging");
    expect(parseArgs(["a/dev.json", "--env", "prod", "x.json", "--out", "s.md"])).toEqual({ inputs: [{ file: "a/dev.json", env: "dev" }, { file: "x.json", env: "prod" }], out: "s.md" });
    expect(() => parseArgs([])).toThrow(/[Uu]sage/);
  });

  it("keeps a huge summary under GitHub's comment limit", () => {
    const many = Array.from({ length: 3000 }, (_, i) => rc(`aws_cloudwatch_log_group.group_with_a_long_name_${i}`, ["create"], null, {}));
    const md = renderMarkdown([summarizePlan("dev", plan(...many))], { maxChars: 20000 });
    expect(md.length).toBeLessThanOrEqual(20000);
    expect(md).toContain("| dev | 3000 | 0 | 0 | 0 |");
    expect(md).toContain("full plan is in the workflow's artifacts");
  });
});
