/**
 * The checks every environment must pass whatever its values: what the team's environments/*.tfvars get (behaviour
 * is tested on test/fixtures/environments/). Each check reads its expectation from the environment's own config.
 */
import { EnvironmentConfig } from "../../config/schema";
import { resourceNames } from "../../config/names";
import { outboundMaxReceiveCount } from "../../config/messaging";
import { terraform } from "../../scripts/terraform";
import { StackView } from "./stackView";

const labelled = (label: string, value: unknown) => [label, value];

/**
 * Default tags, no wildcard action, one rotating key encrypting every topic, queue, table and log group, retention, TLS,
 * boundaries, and each queue's redrive after the receives its config gives.
 */
export function expectStackInvariants(v: StackView, c: EnvironmentConfig): void {
  expect(labelled("default tags", v.provider().default_tags[0].tags)).toEqual(labelled("default tags", { ...c.tags, Project: c.project, Environment: c.name, ManagedBy: "cdktf" }));
  const actions = v.allStatements().flatMap((s) => [...(s.actions ?? []), ...(s.not_actions ?? [])]);
  expect(actions.length).toBeGreaterThan(50);
  expect(labelled("wildcard actions", actions.filter((a) => a.includes("*")))).toEqual(labelled("wildcard actions", []));
  expectEncryption(v);
  for (const g of v.list("aws_cloudwatch_log_group")) expect(labelled(g.name, g.retention_in_days)).toEqual(labelled(g.name, c.lambda.log_retention_days));
  expectTlsOnly(v);
  const boundary = `arn:aws:iam::${c.account_id}:policy/${c.project}-${c.name}-boundary`;
  for (const r of v.list("aws_iam_role")) expect(labelled(r.name, r.permissions_boundary)).toEqual(labelled(r.name, boundary));
  expectRedrive(v, c);
}

/** The work queue moves a request to its DLQ after queue.max_receive_count; the outbound queue after the relay's backstop above queue.relay_retry_seconds. */
function expectRedrive(v: StackView, c: EnvironmentConfig): void {
  const names = resourceNames(c);
  const maxReceives = (queue: string) => JSON.parse(v.one("aws_sqs_queue", (q) => q.name === queue).redrive_policy).maxReceiveCount;
  expect(labelled(names.workQueue, maxReceives(names.workQueue))).toEqual(labelled(names.workQueue, c.queue.max_receive_count));
  const backstop = outboundMaxReceiveCount(c.queue.relay_retry_seconds, c.queue.max_receive_count);
  expect(labelled(names.outboundQueue, maxReceives(names.outboundQueue))).toEqual(labelled(names.outboundQueue, backstop));
}

function expectEncryption(v: StackView): void {
  const keys = Object.entries(v.resources("aws_kms_key"));
  expect(keys).toHaveLength(1);
  const [keyId, key] = keys[0];
  expect(key.enable_key_rotation).toBe(true);
  const keyArn = v.ref("aws_kms_key", keyId, "arn");
  for (const type of ["aws_sns_topic", "aws_sqs_queue"]) for (const r of v.list(type)) expect(labelled(r.name, r.kms_master_key_id)).toEqual(labelled(r.name, keyArn));
  for (const t of v.list("aws_dynamodb_table")) expect(labelled(t.name, t.server_side_encryption)).toEqual(labelled(t.name, { enabled: true, kms_key_arn: keyArn }));
  for (const g of v.list("aws_cloudwatch_log_group")) expect(labelled(g.name, g.kms_key_id)).toEqual(labelled(g.name, keyArn));
}

/** Every topic and queue policy denies requests without TLS. */
function expectTlsOnly(v: StackView): void {
  const policies = [...Object.entries(v.resources("aws_sns_topic_policy")), ...Object.entries(v.resources("aws_sqs_queue_policy"))];
  expect(policies.length).toBe(v.list("aws_sns_topic").length + v.list("aws_sqs_queue").length);
  for (const [id, p] of policies) {
    const deny = v.statementsOf(p.policy).find((s) => s.effect === "Deny" && s.condition?.some((x) => x.variable === "aws:SecureTransport"));
    expect(labelled(id, deny?.condition)).toEqual(labelled(id, [{ test: "Bool", variable: "aws:SecureTransport", values: ["false"] }]));
  }
}

/**
 * What a stack creates: key + alias (2), topics, their policies and subscriptions, queues + DLQs, their policies and
 * redrive-allow policies (16), tables: history, idempotency, messages, usage (4), user pool + client (2), API + log group + log
 * role and policy (4), data sources (NONE, send-query's, message-control's) + 2 x (invoke role and policy) + 7 resolvers
 * (14), 4 functions (send-query, message-control, stream-worker, outbound-relay) x (function, role, policy, log group)
 * (16), event source mappings (2) = 60; alarms add 11 (DLQs 2, functions 4 x 2, API 1), an email target adds topic,
 * policy, subscription (3); no history table -1 (the messages table stays); an existing user pool -1; a web ACL created
 * for waf.rate_limit_per_5_minutes adds ACL, association, logging configuration, log group and log resource policy (5),
 * the team's own web ACL (waf.web_acl_arn) only the association (1); the async ingress replaces the worker's event
 * source mapping with its event invoke config (0) and adds the on-failure queue and its policy (2), and its DLQ alarm (1);
 * the websocket transport adds the API, its stage, authorizer and integration (4), 6 routes and the 4 route responses of
 * the message routes (10), 2 invoke permissions, the connections table, the access log group, and 2 functions (the
 * authorizer, the route function) x (function, role, policy, log group) (8) = 26, and with alarms their 2 x 2;
 * the Function URL transport adds its function (function, role, policy, log group), the URL and the terraform_data that
 * adds its InvokeFunction permission (6), and its function's 2 alarms.
 */
export function expectedCounts(c: EnvironmentConfig): { total: number; byType: Record<string, number> } {
  const alarms = c.alarms ? 2 + 4 * 2 + 1 : 0;
  const alarmTopic = c.alarms?.email ? 3 : 0;
  const history = c.history.enabled ? 0 : -1;
  const pool = c.cognito?.existing_user_pool_id ? -1 : 0;
  const createdAcl = c.waf?.rate_limit_per_5_minutes !== undefined ? 1 : 0;
  const firewall = c.waf ? 1 + 4 * createdAcl : 0;
  const asyncIngress = c.ingress === "async" ? 1 : 0;
  const asyncAlarm = c.alarms ? asyncIngress : 0;
  const ws = c.transports.includes("websocket") ? 1 : 0;
  const wsAlarms = c.alarms ? 2 * 2 * ws : 0;
  const functionUrl = c.transports.includes("function_url") ? 1 : 0;
  const functionUrlAlarms = c.alarms ? 2 * functionUrl : 0;
  return {
    total: 60 + alarms + alarmTopic + history + pool + firewall + 2 * asyncIngress + asyncAlarm + 26 * ws + wsAlarms + 6 * functionUrl + functionUrlAlarms,
    byType: {
      aws_sqs_queue: 4 + asyncIngress,
      aws_sqs_queue_policy: 4 + asyncIngress,
      aws_lambda_event_source_mapping: 2 - asyncIngress,
      aws_lambda_function_event_invoke_config: asyncIngress,
      aws_sns_topic: 2 + (c.alarms?.email ? 1 : 0),
      aws_lambda_function: 4 + 2 * ws + functionUrl,
      // The 4 functions', AppSync logging's and the 2 Lambda data sources' (and the 2 websocket functions', the Function URL's).
      aws_iam_role: 7 + 2 * ws + functionUrl,
      aws_lambda_function_url: functionUrl,
      terraform_data: functionUrl,
      aws_appsync_datasource: 3,
      aws_appsync_resolver: 7,
      aws_dynamodb_table: 4 + history + ws,
      aws_cognito_user_pool: 1 + pool,
      aws_cloudwatch_log_group: 5 + createdAcl + 3 * ws + functionUrl,
      aws_wafv2_web_acl: createdAcl,
      aws_wafv2_web_acl_association: c.waf ? 1 : 0,
      aws_cloudwatch_metric_alarm: alarms + asyncAlarm + wsAlarms + functionUrlAlarms,
      aws_apigatewayv2_api: ws,
      aws_apigatewayv2_stage: ws,
      aws_apigatewayv2_route: 6 * ws,
      aws_lambda_permission: 2 * ws,
      aws_kms_key: 1,
    },
  };
}

/** Resource counts by type in a synthesized stack: what `expectedCounts` predicts for its config. */
export function expectSynthesizedCounts(v: StackView, c: EnvironmentConfig): void {
  const expected = expectedCounts(c);
  const byType = Object.fromEntries(Object.keys(expected.byType).map((t) => [t, v.list(t).length]));
  expect(byType).toEqual(expected.byType);
  expect(Object.values<Record<string, unknown>>(v.json.resource).reduce((n, r) => n + Object.keys(r).length, 0)).toBe(expected.total);
}

async function run(cwd: string, env: NodeJS.ProcessEnv, args: string[]) {
  const r = await terraform(args, { cwd, env, timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`terraform ${args.join(" ")} failed in ${cwd}:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
  return r;
}

/**
 * Terraform accepts the synthesized stack (with the offline override written): init from the lock file, validate, and
 * an offline plan that creates exactly what the config asks for, in the config's region.
 */
export async function expectOfflinePlan(stackDir: string, c: EnvironmentConfig, env: NodeJS.ProcessEnv): Promise<void> {
  const init = await run(stackDir, env, ["init", "-input=false"]);
  expect(init.stdout).toMatch(/Reusing previous version of hashicorp\/aws from the dependency lock file/);
  expect(init.stdout).toContain('Successfully configured the backend "local"');
  expect(init.stdout + init.stderr).not.toMatch(/Incomplete lock file information|\u001b\[/);
  const verdict = JSON.parse((await run(stackDir, env, ["validate", "-json"])).stdout);
  expect([verdict.valid, verdict.error_count]).toEqual([true, 0]);
  await run(stackDir, env, ["plan", "-input=false", "-lock=false", "-out=plan.tfplan"]);
  const plan = JSON.parse((await run(stackDir, env, ["show", "-json", "plan.tfplan"])).stdout);
  const changes: { type: string; mode: string; change: { actions: string[] } }[] = plan.resource_changes.filter((r: { mode: string }) => r.mode === "managed");
  expect(changes.filter((r) => r.change.actions.join() !== "create")).toEqual([]);
  const expected = expectedCounts(c);
  expect(changes).toHaveLength(expected.total);
  const byType: Record<string, number> = {};
  for (const r of changes) byType[r.type] = (byType[r.type] ?? 0) + 1;
  for (const [type, count] of Object.entries(expected.byType)) expect([type, byType[type] ?? 0]).toEqual([type, count]);
  // The planned provider config is the environment's, whatever the offline override adds for planning.
  expect(plan.configuration.provider_config.aws.expressions.region.constant_value).toBe(c.region);
}
