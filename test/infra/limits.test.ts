/**
 * Issue 12 in the synthesized fixture stacks: AppSync's own execution limits, the usage table and who may do what on
 * it, the guardrail grant (one ARN, the worker only), and AWS WAF: a rate-limited web ACL associated with the API and
 * logged with retention and the key, or only the association of the team's own ACL, or nothing. No wildcard actions.
 */
import { ConfigError, validateEnvironment } from "../../config/load";
import { resourceNames } from "../../config/names";
import { EnvironmentConfig, stackName } from "../../config/schema";
import { API_LIMITS } from "../../graphql/api";
import { FIXTURES, FIXTURES_DIR, FixtureName, loadFixture } from "../fixtures/environments";
import { StackView, Synthesized, synthesizeToTemp } from "./stackView";

/** What each fixture sets of issue 12 (the fixture files say so in their headers). */
const SHAPE: Record<FixtureName, { guardrail: "none" | "sync" | "async"; waf: "none" | "created" | "existing" }> = {
  queued: { guardrail: "none", waf: "none" },
  "fifo-direct": { guardrail: "sync", waf: "created" },
  full: { guardrail: "async", waf: "existing" },
};

let synth: Synthesized;
const configs = {} as Record<FixtureName, EnvironmentConfig>;
beforeAll(async () => {
  for (const env of FIXTURES) configs[env] = await loadFixture(env);
  synth = await synthesizeToTemp([...FIXTURES], FIXTURES_DIR);
}, 60_000);
afterAll(() => synth?.cleanup());

describe.each(FIXTURES)("%s", (env) => {
  let v: StackView;
  let c: EnvironmentConfig;
  let names: ReturnType<typeof resourceNames>;
  beforeAll(() => {
    v = synth.stack(stackName(configs[env]));
    c = configs[env];
    names = resourceNames(c);
  });
  const perms = (fn: string) => v.functionPermissions(fn);

  test("has the shape its tests rely on", () => {
    const waf = c.waf?.rate_limit_per_5_minutes !== undefined ? "created" : c.waf?.web_acl_arn ? "existing" : "none";
    expect([env, { guardrail: c.guardrail?.stream_processing_mode ?? "none", waf }]).toEqual([env, SHAPE[env]]);
  });

  test("AppSync's resolver count and query depth limits are set, as the local gateway enforces them", () => {
    expect(v.list("aws_appsync_graphql_api")).toMatchObject([{ resolver_count_limit: API_LIMITS.resolverCountLimit, query_depth_limit: API_LIMITS.queryDepthLimit }]);
  });

  test("the usage table: send-query queries and updates it, message-control queries it, the worker only updates it", () => {
    const table = v.one("aws_dynamodb_table", (t) => t.name === names.usageTable);
    expect(table).toMatchObject({ hash_key: "pk", range_key: "sk", billing_mode: "PAY_PER_REQUEST", point_in_time_recovery: { enabled: true } });
    expect(table.ttl).toBeUndefined();
    const arn = v.ref("aws_dynamodb_table", v.idOf("aws_dynamodb_table", table), "arn");
    const onUsage = (fn: string) => perms(fn).filter((s) => s.resources?.includes(arn)).map((s) => [s.sid, s.actions, s.resources]);
    expect(onUsage(names.functions.sendQuery)).toEqual([["AdmitGenerations", ["dynamodb:Query", "dynamodb:UpdateItem"], [arn]]]);
    expect(onUsage(names.functions.messageControl)).toEqual([["ReadOwnUsage", ["dynamodb:Query"], [arn]]]);
    expect(onUsage(names.functions.streamWorker)).toEqual([["RecordUsageAndSlots", ["dynamodb:UpdateItem"], [arn]]]);
    expect(onUsage(names.functions.outboundRelay)).toEqual([]);
    for (const f of v.list("aws_lambda_function")) {
      expect(f.environment.variables).toMatchObject({
        MAX_CONCURRENT_GENERATIONS: String(c.limits.max_concurrent_generations_per_user),
        DAILY_OUTPUT_TOKENS: String(c.limits.daily_output_tokens_per_user),
        GENERATION_SLOT_SECONDS: String(c.lambda.timeout_seconds + 30),
        GUARDRAIL_ID: c.guardrail?.id ?? "",
      });
    }
  });

  test("bedrock:ApplyGuardrail names exactly the environment's guardrail, in the worker's policy only; no wildcard action anywhere", () => {
    const guardrailGrants = (fn: string) => perms(fn).filter((s) => s.actions?.includes("bedrock:ApplyGuardrail"));
    const expected = c.guardrail ? [{ sid: "ApplyOwnGuardrail", actions: ["bedrock:ApplyGuardrail"], resources: [`arn:aws:bedrock:${c.region}:${c.account_id}:guardrail/${c.guardrail.id}`] }] : [];
    expect(guardrailGrants(names.functions.streamWorker)).toEqual(expected);
    for (const fn of [names.functions.sendQuery, names.functions.messageControl, names.functions.outboundRelay]) expect(guardrailGrants(fn)).toEqual([]);
    for (const s of v.allStatements()) for (const a of [...(s.actions ?? []), ...(s.not_actions ?? [])]) expect(a).not.toContain("*");
  });

  test("AWS WAF as configured: a rate-limited web ACL associated with the API and logged, the team's own ACL associated, or none", () => {
    const apiArn = v.ref("aws_appsync_graphql_api", v.idOf("aws_appsync_graphql_api", v.list("aws_appsync_graphql_api")[0]), "arn");
    const associations = v.list("aws_wafv2_web_acl_association");
    const acls = v.list("aws_wafv2_web_acl");
    if (SHAPE[env].waf === "none") {
      expect([acls, associations, v.list("aws_wafv2_web_acl_logging_configuration")]).toEqual([[], [], []]);
      return;
    }
    if (SHAPE[env].waf === "existing") {
      expect(acls).toEqual([]);
      expect(associations).toEqual([expect.objectContaining({ resource_arn: apiArn, web_acl_arn: c.waf!.web_acl_arn })]);
      return;
    }
    const [acl] = acls;
    const aclArn = v.ref("aws_wafv2_web_acl", v.idOf("aws_wafv2_web_acl", acl), "arn");
    expect(acls).toHaveLength(1);
    expect(acl).toMatchObject({ name: names.webAcl, scope: "REGIONAL", default_action: { allow: {} } });
    expect(acl.rule).toEqual([
      expect.objectContaining({ priority: 0, action: { block: {} }, statement: { rate_based_statement: expect.objectContaining({ limit: c.waf!.rate_limit_per_5_minutes, aggregate_key_type: "IP" }) } }),
    ]);
    // The platform's own signed publishResponse calls are not counted against an address; everything else is.
    expect(acl.rule[0].statement.rate_based_statement.scope_down_statement).toEqual({
      not_statement: {
        statement: {
          byte_match_statement: {
            field_to_match: { single_header: { name: "authorization" } },
            positional_constraint: "STARTS_WITH",
            search_string: "AWS4-HMAC-SHA256",
            text_transformation: [{ priority: 0, type: "NONE" }],
          },
        },
      },
    });
    expect(associations).toEqual([expect.objectContaining({ resource_arn: apiArn, web_acl_arn: aclArn })]);
    expectWafLogging(v, c, aclArn);
  });
});

/** The created ACL logs to its own aws-waf-logs- group (retention, the key), tokens redacted, under a scoped delivery policy. */
function expectWafLogging(v: StackView, c: EnvironmentConfig, aclArn: string): void {
  const names = resourceNames(c);
  const group = v.one("aws_cloudwatch_log_group", (g) => g.name === names.webAclLogGroup);
  expect(group.name).toMatch(/^aws-waf-logs-/);
  expect(group.retention_in_days).toBe(c.lambda.log_retention_days);
  const keyArn = v.ref("aws_kms_key", Object.keys(v.resources("aws_kms_key"))[0], "arn");
  expect(group.kms_key_id).toBe(keyArn);
  const groupArn = v.ref("aws_cloudwatch_log_group", v.idOf("aws_cloudwatch_log_group", group), "arn");
  expect(v.list("aws_wafv2_web_acl_logging_configuration")).toEqual([
    expect.objectContaining({ resource_arn: aclArn, log_destination_configs: [groupArn], redacted_fields: [{ single_header: { name: "authorization" } }] }),
  ]);
  const [policy] = v.list("aws_cloudwatch_log_resource_policy");
  expect(v.statementsOf(policy.policy_document)).toEqual([
    expect.objectContaining({
      principals: [{ type: "Service", identifiers: ["delivery.logs.amazonaws.com"] }],
      actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
      resources: [`${groupArn}:log-stream:*`],
    }),
  ]);
  // The key lets CloudWatch Logs encrypt that group too (and only the stack's own groups).
  const keyPolicy = v.statementsOf(Object.values(v.resources("aws_kms_key"))[0].policy);
  const logs = keyPolicy.find((s) => s.principals?.[0].identifiers.includes(`logs.${c.region}.amazonaws.com`));
  expect(logs?.condition?.[0].values).toContain(`arn:aws:logs:${c.region}:${c.account_id}:log-group:${names.webAclLogGroup}`);
}

describe("the issue 12 keys in tfvars: validated, every problem in one round, `<file>: <key> <problem>`", () => {
  const FILE = "environments/prod.tfvars";
  const MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0";
  const valid = (): Record<string, any> => ({ name: "prod", account_id: "333333333333", region: "us-east-1", models: { default_model_id: MODEL, allowed_model_ids: [MODEL] } });
  const problemsOf = (c: Record<string, any>): string[] => {
    try {
      validateEnvironment(FILE, c, "prod");
      return [];
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return (e as ConfigError).problems;
    }
  };
  const ACL = "arn:aws:wafv2:us-east-1:333333333333:regional/webacl/team-edge/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b";

  test("defaults: 3 generations at once, 200,000 output tokens a day, no guardrail, no WAF", () => {
    expect(validateEnvironment(FILE, valid(), "prod")).toMatchObject({ limits: { max_concurrent_generations_per_user: 3, daily_output_tokens_per_user: 200000 } });
    expect(validateEnvironment(FILE, valid(), "prod").guardrail).toBeUndefined();
    expect(validateEnvironment(FILE, { ...valid(), guardrail: { id: "abcdef123456", version: "1" } }, "prod").guardrail).toEqual({ id: "abcdef123456", version: "1", stream_processing_mode: "sync" });
  });

  const BAD: [string, (c: Record<string, any>) => void, string[]][] = [
    ["concurrency out of range", (c) => (c.limits = { max_concurrent_generations_per_user: 0 }), ["limits.max_concurrent_generations_per_user must be between 1 and 1000, got 0"]],
    ["quota below one answer", (c) => ((c.limits = { daily_output_tokens_per_user: 500 }), (c.generation = { max_tokens: 1024 })), ["limits.daily_output_tokens_per_user must be at least generation.max_tokens (1024): one answer may use that many, got 500"]],
    ["unknown limit", (c) => (c.limits = { requests_per_minute: 5 }), ["limits.requests_per_minute is not a known key"]],
    [
      "guardrail id, version and mode",
      (c) => (c.guardrail = { id: "My-Guardrail", version: "v1", stream_processing_mode: "fast" }),
      [
        'guardrail.id must be a Bedrock guardrail id: lower-case letters and digits, such as abcdef123456, got "My-Guardrail"',
        'guardrail.version must be "DRAFT" or a version number such as "1" (a string), got "v1"',
        'guardrail.stream_processing_mode must be "async" or "sync", got "fast"',
      ],
    ],
    ["guardrail without an id", (c) => (c.guardrail = { version: "1" }), ["guardrail.id is required"]],
    ["waf with both targets", (c) => (c.waf = { rate_limit_per_5_minutes: 100, web_acl_arn: ACL }), ["waf set rate_limit_per_5_minutes or web_acl_arn, not both"]],
    ["waf with neither", (c) => (c.waf = {}), ["waf set rate_limit_per_5_minutes or web_acl_arn"]],
    ["rate below WAF's minimum", (c) => (c.waf = { rate_limit_per_5_minutes: 5 }), ["waf.rate_limit_per_5_minutes must be between 10 and 2000000000, got 5"]],
    ["not a web ACL ARN", (c) => (c.waf = { web_acl_arn: "arn:aws:wafv2:us-east-1:333333333333:global/webacl/x/1" }), [expect.stringMatching(/^waf.web_acl_arn must be a regional AWS WAF web ACL ARN/)] as unknown as string[]],
    [
      "a web ACL of another region",
      (c) => (c.waf = { web_acl_arn: ACL.replace("us-east-1", "eu-west-1") }),
      [`waf.web_acl_arn must be a web ACL of account 333333333333 in region us-east-1 (AppSync is associated only with a regional web ACL of its own account and region), got ${ACL.replace("us-east-1", "eu-west-1")}`],
    ],
  ];

  test.each(BAD)("%s", (_name, mutate, problems) => {
    const c = valid();
    mutate(c);
    expect(problemsOf(c)).toEqual(problems);
  });

  test("together with other problems, all in one round", () => {
    const c = { ...valid(), batching: { max_delay_ms: 5000 }, limits: { max_concurrent_generations_per_user: 2000 }, waf: { rate_limit_per_5_minutes: 1, web_acl_arn: ACL } };
    expect(problemsOf(c)).toEqual([
      "batching.max_delay_ms must be between 0 and 1000, got 5000",
      "limits.max_concurrent_generations_per_user must be between 1 and 1000, got 2000",
      "waf.rate_limit_per_5_minutes must be between 10 and 2000000000, got 1",
    ]);
  });
});
