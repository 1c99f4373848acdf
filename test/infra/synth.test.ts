/**
 * What each stack creates, on the properties that matter for behaviour and security. Behaviour is tested on the fixture
 * environments (test/fixtures/environments/); the team's environments/*.tfvars, whatever their values, and the
 * example once filled in get only the generic checks (test/infra/invariants.ts).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { App } from "cdktf";
import { PlatformStack } from "../../modules/platformStack";
import { terraform, terraformEnvironment } from "../../scripts/terraform";
import { planAccounts } from "../../bootstrap/config";
import { boundaryArnOf } from "../../bootstrap/policies";
import { deployedEnvironmentNames, loadEnvironment, validateEnvironment } from "../../config/load";
import { EnvironmentConfig, stackName, stateKey, SYSTEM_PROMPT_MAX_BYTES } from "../../config/schema";
import { outboundMaxReceiveCount, RELAY_MIN_BACKOFF_SECONDS } from "../../config/messaging";
import { resourceNames } from "../../config/names";
import { RESOLVERS, RESOLVERS_DIR } from "../../graphql/api";
import { synthesize } from "../../main";
import { copyEnvironments, EnvironmentsCopy, FIXTURES, FIXTURES_DIR, FixtureName, loadFixture } from "../fixtures/environments";
import { expectStackInvariants, expectSynthesizedCounts } from "./invariants";
import { PolicyStatement, StackView, Synthesized, synthesizeToTemp } from "./stackView";
import { environmentsWithFilledExample } from "./exampleTfvars";

/** What each fixture is there to exercise; the first test checks the fixture files still say so. */
const SHAPE: Record<FixtureName, { fifo: boolean; directSend: boolean; reserved: number; alarms: "none" | "topic" | "email"; existingPool: boolean; history: boolean; ingress: "queue" | "async" }> = {
  queued: { fifo: false, directSend: false, reserved: -1, alarms: "none", existingPool: false, history: true, ingress: "queue" },
  "fifo-direct": { fifo: true, directSend: true, reserved: 100, alarms: "topic", existingPool: false, history: true, ingress: "queue" },
  full: { fifo: false, directSend: true, reserved: 20, alarms: "email", existingPool: true, history: false, ingress: "async" },
};

/**
 * The outbound queue's maxReceiveCount on each fixture: the relay's backstop, ceil(relay_retry_seconds / 2 s) receives
 * in the retry window plus max_receive_count after it (the fixtures keep the default relay_retry_seconds, 120 s).
 */
const OUTBOUND_MAX_RECEIVE_COUNT: Record<FixtureName, number> = { queued: 60 + 3, "fifo-direct": 60 + 5, full: 60 + 7 };

let synth: Synthesized;
const configs = {} as Record<FixtureName, EnvironmentConfig>;
beforeAll(async () => {
  for (const env of FIXTURES) configs[env] = await loadFixture(env);
  synth = await synthesizeToTemp([...FIXTURES], FIXTURES_DIR);
}, 60_000);
afterAll(() => synth?.cleanup());

const view = (env: FixtureName): StackView => synth.stack(stackName(configs[env]));

describe("the team's environments, whatever their values, and the example filled in", () => {
  const SHIPPED = [...deployedEnvironmentNames(), "example"];
  let environments: ReturnType<typeof environmentsWithFilledExample>;
  let shipped: Synthesized;
  const shippedConfigs: Record<string, EnvironmentConfig> = {};
  beforeAll(async () => {
    // The example holds placeholders until filled in: synthesize it filled in as its header says (test/infra/exampleTfvars.ts).
    environments = environmentsWithFilledExample();
    for (const env of SHIPPED) shippedConfigs[env] = await loadEnvironment(env, environments.dir);
    shipped = await synthesizeToTemp(SHIPPED, environments.dir);
  }, 60_000);
  afterAll(() => (shipped?.cleanup(), environments?.cleanup()));

  test("every one validates and synthesizes", () => {
    expect(shipped.result.failed).toEqual({});
    expect(shipped.result.synthesized.sort()).toEqual(SHIPPED.map((env) => stackName(shippedConfigs[env])).sort());
  });

  test.each(SHIPPED)("%s: tags, no wildcard action, encryption, retention, TLS only, boundaries, the resources its config asks for", (env) => {
    const v = shipped.stack(stackName(shippedConfigs[env]));
    expectStackInvariants(v, shippedConfigs[env]);
    expectSynthesizedCounts(v, shippedConfigs[env]);
  });
});

test("every fixture synthesizes, holds the invariants and still has the shape its tests rely on", () => {
  expect(synth.result.failed).toEqual({});
  expect(synth.result.synthesized.sort()).toEqual(FIXTURES.map((env) => stackName(configs[env])).sort());
  for (const env of FIXTURES) {
    const c = configs[env];
    const alarms = c.alarms?.email ? "email" : c.alarms?.sns_topic_arn ? "topic" : "none";
    expect([env, { fifo: c.queue.fifo, directSend: c.direct_send, reserved: c.lambda.reserved_concurrency, alarms, existingPool: !!c.cognito?.existing_user_pool_id, history: c.history.enabled, ingress: c.ingress }]).toEqual([env, SHAPE[env]]);
    expectStackInvariants(view(env), c);
    expectSynthesizedCounts(view(env), c);
  }
});

describe.each(FIXTURES)("%s", (env) => {
  let v: StackView;
  let c: EnvironmentConfig;
  let names: ReturnType<typeof resourceNames>;
  beforeAll(() => {
    v = view(env);
    c = configs[env];
    names = resourceNames(c);
  });
  const perms = (fn: string) => v.functionPermissions(fn);
  const actionsOf = (stmts: PolicyStatement[]) => stmts.flatMap((s) => s.actions ?? []);
  /** The Function URL's function, when "function_url" is in transports (its own tests: test/infra/functionUrl.test.ts). */
  const urlFunction = () => (c.transports.includes("function_url") ? [names.urlStreamFunction] : []);
  /** The four functions every stack has, which share the runtime settings. */
  const sharedFunctions = () => v.list("aws_lambda_function").filter((f) => f.function_name !== names.urlStreamFunction);

  test("provider: pinned account, assumed deploy role, region, default tags", () => {
    const p = v.provider();
    expect(p.region).toBe(c.region);
    expect(p.allowed_account_ids).toEqual([c.account_id]);
    expect(p.assume_role[0].role_arn).toBe(c.assume_role_arn);
    expect(p.default_tags[0].tags).toEqual({ ...c.tags, Project: c.project, Environment: env, ManagedBy: "cdktf" });
    expect(p.default_tags[0].tags.CostCenter).toBe(`genai-${env}`);
  });

  test("state: S3 backend with its own key, encryption and S3-native locking", () => {
    if (c.state.backend !== "s3") throw new Error(`${env}: the fixture must use the S3 backend`);
    const s3 = v.json.terraform.backend.s3;
    expect(s3).toMatchObject({ bucket: c.state.bucket, region: c.state.region, key: `${c.state.key_prefix}/${env}/platform.tfstate`, encrypt: true, use_lockfile: true });
    expect(s3.key).toBe(stateKey(c));
  });

  test("one customer managed key with rotation encrypts every topic, queue and table", () => {
    const keys = v.resources("aws_kms_key");
    expect(Object.keys(keys)).toHaveLength(1);
    const [keyId, key] = Object.entries(keys)[0];
    expect(key.enable_key_rotation).toBe(true);
    const keyArn = v.ref("aws_kms_key", keyId, "arn");
    const topics = v.list("aws_sns_topic");
    const queues = v.list("aws_sqs_queue");
    const tables = v.list("aws_dynamodb_table");
    // The work and outbound queues and their DLQs; on the async ingress also the worker's on-failure queue.
    expect(queues).toHaveLength(SHAPE[env].ingress === "async" ? 5 : 4);
    // history (when on), idempotency, the message records and usage (always).
    expect(tables.map((t) => t.name).sort()).toEqual([...(SHAPE[env].history ? [names.historyTable] : []), names.idempotencyTable, names.messagesTable, names.usageTable].sort());
    for (const t of topics) expect(t.kms_master_key_id).toBe(keyArn);
    for (const q of queues) expect(q.kms_master_key_id).toBe(keyArn);
    for (const t of tables) expect(t.server_side_encryption).toEqual({ enabled: true, kms_key_arn: keyArn });
    // SNS must be able to use the key to deliver into the encrypted queues.
    const keyPolicy = v.statementsOf(key.policy);
    const sns = keyPolicy.find((s) => s.principals?.[0].identifiers.includes("sns.amazonaws.com"));
    expect(sns?.actions?.sort()).toEqual(["kms:Decrypt", "kms:GenerateDataKey"]);
  });

  test("work and outbound queues redrive to their own DLQ: the work queue after max_receive_count, the outbound one after the relay's backstop", () => {
    const q = v.resources("aws_sqs_queue");
    const byName = (n: string) => Object.entries(q).find(([, b]) => b.name === n)!;
    // The relay dead-letters by time (queue.relay_retry_seconds); the outbound count only catches what it never gets to,
    // so it stays above the receives the window can hold.
    const backstop = outboundMaxReceiveCount(c.queue.relay_retry_seconds, c.queue.max_receive_count);
    expect(backstop).toBe(OUTBOUND_MAX_RECEIVE_COUNT[env]);
    expect(backstop).toBe(Math.ceil(c.queue.relay_retry_seconds / RELAY_MIN_BACKOFF_SECONDS) + c.queue.max_receive_count);
    for (const [main, dlq, maxReceiveCount] of [[names.workQueue, names.workDeadLetterQueue, c.queue.max_receive_count], [names.outboundQueue, names.outboundDeadLetterQueue, backstop]] as const) {
      const [, queue] = byName(main);
      const [dlqId, deadLetter] = byName(dlq);
      expect([main, JSON.parse(queue.redrive_policy)]).toEqual([main, { deadLetterTargetArn: v.ref("aws_sqs_queue", dlqId, "arn"), maxReceiveCount }]);
      expect(deadLetter.redrive_policy).toBeUndefined();
      expect(deadLetter.message_retention_seconds).toBe(14 * 24 * 3600);
      // A message must not reappear while the consumer still works on it.
      expect(queue.visibility_timeout_seconds).toBe(c.queue.visibility_timeout_seconds);
      expect(queue.visibility_timeout_seconds).toBeGreaterThanOrEqual(6 * c.lambda.timeout_seconds);
    }
  });

  test(`topics and queues are ${SHAPE[env].fifo ? "FIFO" : "standard"} as configured`, () => {
    expect(c.queue.fifo).toBe(SHAPE[env].fifo);
    const topics = v.list("aws_sns_topic").filter((t) => !t.name.endsWith("-alarms"));
    expect(topics.map((t) => t.name).sort()).toEqual([names.inboundTopic, names.outboundTopic].sort());
    for (const t of topics) {
      expect(t.name.endsWith(".fifo")).toBe(SHAPE[env].fifo);
      expect(t.fifo_topic ?? false).toBe(SHAPE[env].fifo);
    }
    for (const q of v.list("aws_sqs_queue")) {
      expect(q.name.endsWith(".fifo")).toBe(SHAPE[env].fifo);
      if (SHAPE[env].fifo) expect(q).toMatchObject({ fifo_queue: true, deduplication_scope: "messageGroup", fifo_throughput_limit: "perMessageGroupId", content_based_deduplication: false });
      else expect(q.fifo_queue).toBeUndefined();
    }
  });

  test("topics deliver raw messages to their queue; only their topic may send to a queue", () => {
    const subs = v.list("aws_sns_topic_subscription").filter((s) => s.protocol === "sqs");
    expect(subs).toHaveLength(2);
    for (const s of subs) expect(s.raw_message_delivery).toBe(true);
    const allow = v.list("aws_sqs_queue_policy").flatMap((p) => v.statementsOf(p.policy)).filter((s) => s.sid === "TopicDeliversToQueue");
    expect(allow).toHaveLength(2);
    for (const s of allow) expect(s.condition).toEqual([{ test: "ArnEquals", variable: "aws:SourceArn", values: [expect.stringMatching(/^\$\{aws_sns_topic\..+\.arn\}$/)] }]);
  });

  test("every topic and queue denies requests without TLS", () => {
    const deny = (policies: Record<string, any>[], resourceType: string, count: number) => {
      expect(policies).toHaveLength(count);
      for (const p of policies) {
        const s = v.statementsOf(p.policy).find((st) => st.effect === "Deny")!;
        expect(s.condition).toEqual([{ test: "Bool", variable: "aws:SecureTransport", values: ["false"] }]);
        expect(s.principals).toEqual([{ type: "*", identifiers: ["*"] }]);
        expect(s.resources?.[0]).toMatch(new RegExp(`^\\$\\{${resourceType}\\.`));
        expect(s.actions).toEqual(expect.arrayContaining([resourceType === "aws_sns_topic" ? "sns:Publish" : "sqs:ReceiveMessage"]));
      }
    };
    deny(v.list("aws_sns_topic_policy"), "aws_sns_topic", 2 + (c.alarms?.email ? 1 : 0));
    deny(v.list("aws_sqs_queue_policy"), "aws_sqs_queue", SHAPE[env].ingress === "async" ? 5 : 4);
  });

  test("tables: on demand, PITR, TTL, keys from contracts/tables.ts; the history table only when history is on, the message records always", () => {
    const idem = v.one("aws_dynamodb_table", (t) => t.name === names.idempotencyTable);
    expect(idem).toMatchObject({ billing_mode: "PAY_PER_REQUEST", hash_key: "id", ttl: { enabled: true, attribute_name: "expiration" } });
    // Only an environment named prod is deletion-protected (tested below).
    expect(idem.deletion_protection_enabled).toBe(false);
    // Replay and stop work without history too.
    const messages = v.one("aws_dynamodb_table", (t) => t.name === names.messagesTable);
    expect(messages).toMatchObject({ billing_mode: "PAY_PER_REQUEST", hash_key: "pk", range_key: "sk", point_in_time_recovery: { enabled: true }, ttl: { enabled: true, attribute_name: "expiresAt" } });
    expect(messages.attribute).toEqual([{ name: "pk", type: "S" }, { name: "sk", type: "S" }]);
    expect(messages.deletion_protection_enabled).toBe(false);
    const histories = v.list("aws_dynamodb_table").filter((t) => t.name === names.historyTable);
    if (!c.history.enabled) return expect(histories).toEqual([]);
    expect(histories[0]).toMatchObject({ billing_mode: "PAY_PER_REQUEST", hash_key: "pk", range_key: "sk", point_in_time_recovery: { enabled: true }, ttl: { enabled: true, attribute_name: "expiresAt" } });
    expect(histories[0].deletion_protection_enabled).toBe(false);
  });

  test("functions: nodejs22.x arm64, X-Ray, JSON logs into a retention-bound group, config sizes, content hash", () => {
    const fns = v.list("aws_lambda_function");
    expect(fns.map((f) => f.function_name).sort()).toEqual([...Object.values(names.functions), ...urlFunction()].sort());
    for (const f of fns) {
      expect(f).toMatchObject({ runtime: "nodejs22.x", architectures: ["arm64"], handler: "index.handler", tracing_config: { mode: "Active" }, memory_size: c.lambda.memory_mb, timeout: c.lambda.timeout_seconds });
      expect(f.logging_config.log_format).toBe("JSON");
      const reserved = f.function_name === names.urlStreamFunction ? c.function_url.reserved_concurrency : c.lambda.reserved_concurrency;
      expect(f.reserved_concurrent_executions).toBe(reserved === -1 ? undefined : reserved);
      expect(f.filename).toContain(f.source_code_hash);
      const group = v.resources("aws_cloudwatch_log_group")[StackView.refId(f.logging_config.log_group)];
      expect(group).toMatchObject({ name: `/aws/lambda/${f.function_name}`, retention_in_days: c.lambda.log_retention_days });
    }
    for (const g of v.list("aws_cloudwatch_log_group")) expect(g.retention_in_days).toBe(c.lambda.log_retention_days);
  });

  test("environment wiring: DIRECT_SEND, models, batching, topics and tables reach every function", () => {
    for (const f of sharedFunctions()) {
      const vars = f.environment.variables;
      expect(vars).toMatchObject({
        DIRECT_SEND: String(c.direct_send),
        FALLBACK_TO_QUEUE: String(c.fallback_to_queue),
        DEFAULT_MODEL_ID: c.models.default_model_id,
        ALLOWED_MODEL_IDS: c.models.allowed_model_ids.join(","),
        BATCH_MODE: c.batching.mode,
        BATCH_MAX_DELAY_MS: String(c.batching.max_delay_ms),
        BATCH_MAX_CHARS: String(c.batching.max_chars),
        BATCH_READING_TPS: String(c.batching.reading_tokens_per_second),
        BATCH_MAX_WINDOW_MS: String(c.batching.max_window_ms),
      });
      expect(vars.APPSYNC_ENDPOINT).toMatch(/^\$\{aws_appsync_graphql_api\.[^.]+\.uris\["GRAPHQL"\]\}$/);
      // The hand-off: the inbound topic on the queued ingress, the worker's name on the async one (the async ingress's test).
      if (SHAPE[env].ingress === "queue") expect(vars.INBOUND_TOPIC_ARN).toMatch(/^\$\{aws_sns_topic\.messaging_inbound_topic_/);
      else expect(vars.INBOUND_TOPIC_ARN).toBe("");
      expect(vars.OUTBOUND_TOPIC_ARN).toMatch(/^\$\{aws_sns_topic\.messaging_outbound_topic_/);
      // Table names are ours (config/names.ts) and known at synth; each names a table this stack creates.
      const tableNames = v.list("aws_dynamodb_table").map((t) => t.name);
      if (c.history.enabled) expect([vars.HISTORY_TABLE_NAME, tableNames]).toEqual([names.historyTable, expect.arrayContaining([names.historyTable])]);
      else expect(vars.HISTORY_TABLE_NAME).toBe("");
      expect([vars.MESSAGES_TABLE_NAME, tableNames]).toEqual([names.messagesTable, expect.arrayContaining([names.messagesTable])]);
      expect([vars.IDEMPOTENCY_TABLE_NAME, tableNames]).toEqual([names.idempotencyTable, expect.arrayContaining([names.idempotencyTable])]);
      expect(vars.RELAY_RETRY_SECONDS).toBe(String(c.queue.relay_retry_seconds));
      expect(vars.POWERTOOLS_SERVICE_NAME).toBe(f.function_name.replace(`${stackName(c)}-`, ""));
    }
    expect(c.direct_send).toBe(SHAPE[env].directSend);
  });

  test("appsync:GraphQL only on Mutation.publishResponse, only for the producers", () => {
    const direct = c.direct_send || c.client_delivery_choice;
    const grants = (fn: string) => perms(fn).filter((s) => s.actions?.includes("appsync:GraphQL"));
    expect(grants(names.functions.sendQuery)).toEqual([]);
    expect(grants(names.functions.messageControl)).toEqual([]);
    for (const fn of [names.functions.outboundRelay, ...(direct ? [names.functions.streamWorker] : [])]) {
      const g = grants(fn);
      expect(g).toHaveLength(1);
      expect(g[0].actions).toEqual(["appsync:GraphQL"]);
      expect(g[0].resources).toEqual([expect.stringMatching(new RegExp(`^arn:aws:appsync:${c.region}:${c.account_id}:apis/\\$\\{aws_appsync_graphql_api\\.[^}]+\\.id\\}/types/Mutation/fields/publishResponse$`))]);
    }
    if (!direct) expect(grants(names.functions.streamWorker)).toEqual([]);
  });

  test("bedrock: stream only, only the allowed models (profiles: their ARN plus the routed foundation model)", () => {
    // The fixtures' inference profiles are us. and eu. ones.
    const expected = c.models.allowed_model_ids.flatMap((id) =>
      /^(us|eu)\./.test(id)
        ? [`arn:aws:bedrock:${c.region}:${c.account_id}:inference-profile/${id}`, `arn:aws:bedrock:*::foundation-model/${id.slice(3)}`]
        : [`arn:aws:bedrock:${c.region}::foundation-model/${id}`],
    );
    const worker = perms(names.functions.streamWorker).filter((s) => actionsOf([s]).some((a) => a.startsWith("bedrock:Invoke")));
    expect(worker).toHaveLength(1);
    expect(worker[0].actions).toEqual(["bedrock:InvokeModelWithResponseStream"]);
    expect(worker[0].resources?.sort()).toEqual(expected.sort());
    for (const fn of [names.functions.sendQuery, names.functions.messageControl, names.functions.outboundRelay]) expect(actionsOf(perms(fn)).filter((a) => a.startsWith("bedrock:"))).toEqual([]);
  });

  test("each function touches only its own topic, queue and tables", () => {
    const resourcesFor = (fn: string, prefix: string) => perms(fn).filter((s) => s.actions?.some((a) => a.startsWith(prefix))).flatMap((s) => s.resources ?? []);
    /** sid, actions and resources of a function's statements with an action of `prefix`, in policy order. */
    const grantsOf = (fn: string, prefix: string) => perms(fn).filter((s) => s.actions?.some((a) => a.startsWith(prefix))).map((s) => [s.sid, s.actions, s.resources]);
    const queued = SHAPE[env].ingress === "queue";
    // On the async ingress send-query invokes the worker instead (the async ingress's own test).
    expect(resourcesFor(names.functions.sendQuery, "sns:")).toEqual(queued ? [expect.stringMatching(/^\$\{aws_sns_topic\.messaging_inbound_topic_/)] : []);
    expect(resourcesFor(names.functions.streamWorker, "sns:")).toEqual([expect.stringMatching(/^\$\{aws_sns_topic\.messaging_outbound_topic_/)]);
    expect(resourcesFor(names.functions.outboundRelay, "sns:")).toEqual([]);
    expect(resourcesFor(names.functions.sendQuery, "sqs:")).toEqual([]);
    expect(resourcesFor(names.functions.streamWorker, "sqs:")).toEqual([expect.stringMatching(queued ? /^\$\{aws_sqs_queue\.messaging_work_queue_/ : /^\$\{aws_sqs_queue\.messaging_async-failures_queue_/)]);
    // The relay consumes the outbound queue, looks up its own queue's and its DLQ's URLs (to shorten the visibility of
    // failed records, and to dead-letter by time), and sends to that DLQ only: never to a queue a consumer reads.
    const queueArn = (name: string) => v.ref("aws_sqs_queue", v.idOf("aws_sqs_queue", v.one("aws_sqs_queue", (q) => q.name === name)), "arn");
    const [outboundQueue, outboundDlq] = [queueArn(names.outboundQueue), queueArn(names.outboundDeadLetterQueue)];
    // That DLQ is the outbound queue's own redrive target.
    expect(JSON.parse(v.one("aws_sqs_queue", (q) => q.name === names.outboundQueue).redrive_policy).deadLetterTargetArn).toBe(outboundDlq);
    expect(grantsOf(names.functions.outboundRelay, "sqs:")).toEqual([
      ["ConsumeOwnQueue", ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"], [outboundQueue]],
      ["FindOwnQueueUrl", ["sqs:GetQueueUrl"], [outboundQueue, outboundDlq]],
      ["DeadLetterExpiredEvents", ["sqs:SendMessage"], [outboundDlq]],
    ]);
    expect(resourcesFor(names.functions.streamWorker, "dynamodb:").sort()).toEqual([
      ...(c.history.enabled ? [expect.stringMatching(/tables_history_/)] : []),
      expect.stringMatching(/tables_idempotency_/),
      expect.stringMatching(/tables_messages_/),
      expect.stringMatching(/tables_usage_/),
    ]);
    for (const fn of [names.functions.sendQuery, names.functions.messageControl]) expect([fn, resourcesFor(fn, "dynamodb:").sort()]).toEqual([fn, [expect.stringMatching(/tables_messages_/), expect.stringMatching(/tables_usage_/)]]);
    expect(resourcesFor(names.functions.outboundRelay, "dynamodb:")).toEqual([]);
    // Resource "*" only where AWS requires it (X-Ray).
    for (const fn of Object.values(names.functions)) {
      expect(perms(fn).filter((s) => s.resources?.includes("*")).flatMap((s) => s.actions)).toEqual(["xray:PutTraceSegments", "xray:PutTelemetryRecords"]);
    }
  });

  test("the message records: each function's own actions on the messages table and nothing else on it; message-control only that", () => {
    const tableId = v.idOf("aws_dynamodb_table", v.one("aws_dynamodb_table", (t) => t.name === names.messagesTable));
    const messagesArn = v.ref("aws_dynamodb_table", tableId, "arn");
    /** Every statement of the function that names the messages table (sid, actions, resources). */
    const onMessages = (fn: string) => perms(fn).filter((s) => (s.resources ?? []).some((r) => r.includes(`aws_dynamodb_table.${tableId}.`))).map((s) => [s.sid, s.actions, s.resources]);
    expect(onMessages(names.functions.sendQuery)).toEqual([["CreateMessageRecords", ["dynamodb:PutItem", "dynamodb:DeleteItem"], [messagesArn]]]);
    expect(onMessages(names.functions.messageControl)).toEqual([["ReadAndStopMessages", ["dynamodb:Query", "dynamodb:UpdateItem"], [messagesArn]]]);
    expect(onMessages(names.functions.streamWorker)).toEqual([["KeepMessageRecords", ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"], [messagesArn]]]);
    expect(onMessages(names.functions.outboundRelay)).toEqual([]);
    for (const fn of urlFunction()) expect(onMessages(fn)).toEqual([["KeepMessageRecords", ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"], [messagesArn]]]);
    // No other role (AppSync's included) names the table, and no wildcard or index ARN of it appears anywhere.
    const namingTable = v.list("aws_iam_role_policy").flatMap((p) => v.statementsOf(p.policy)).filter((s) => (s.resources ?? []).some((r) => r.includes(`aws_dynamodb_table.${tableId}.`)));
    expect(namingTable.map((s) => s.sid).sort()).toEqual(["CreateMessageRecords", "KeepMessageRecords", ...urlFunction().map(() => "KeepMessageRecords"), "ReadAndStopMessages"]);
    for (const s of v.allStatements()) for (const r of s.resources ?? []) if (r.includes(`aws_dynamodb_table.${tableId}.`)) expect(r).toBe(messagesArn);
    // message-control: logs, traces, the tables and the key, nothing of SNS, SQS, Bedrock or AppSync.
    const control = perms(names.functions.messageControl);
    expect(control.map((s) => s.sid)).toEqual(["WriteOwnLogs", "WriteTraces", "ReadAndStopMessages", "ReadOwnUsage", "UseEnvironmentKey"]);
    expect(actionsOf(control).filter((a) => /^(sns|sqs|bedrock|appsync|lambda|iam):/.test(a))).toEqual([]);
    expect(control.find((s) => s.sid === "UseEnvironmentKey")).toMatchObject({ actions: ["kms:Decrypt", "kms:GenerateDataKey"], resources: [expect.stringMatching(/^\$\{aws_kms_key\.[^.]+\.arn\}$/)] });
  });

  test("AppSync invokes each Lambda through its own data source, whose role may invoke exactly that function", () => {
    const fnArn = (name: string) => v.ref("aws_lambda_function", v.idOf("aws_lambda_function", v.one("aws_lambda_function", (f) => f.function_name === name)), "arn");
    const lambdaSources = v.list("aws_appsync_datasource").filter((d) => d.type === "AWS_LAMBDA");
    expect(lambdaSources.map((d) => d.name).sort()).toEqual(["MessageControlLambda", "SendQueryLambda"]);
    for (const [source, fn, roleName] of [["SendQueryLambda", names.functions.sendQuery, `${names.api}-send-query`], ["MessageControlLambda", names.functions.messageControl, `${names.api}-message-control`]]) {
      const ds = v.one("aws_appsync_datasource", (d) => d.name === source);
      expect([source, ds.lambda_config]).toEqual([source, { function_arn: fnArn(fn) }]);
      const roleId = StackView.refId(ds.service_role_arn);
      const role = v.resources("aws_iam_role")[roleId];
      expect([source, role.name]).toEqual([source, roleName]);
      expect(v.statementsOf(role.assume_role_policy)).toEqual([
        { actions: ["sts:AssumeRole"], principals: [{ type: "Service", identifiers: ["appsync.amazonaws.com"] }], condition: [{ test: "StringEquals", variable: "aws:SourceAccount", values: [c.account_id] }] },
      ]);
      const statements = v.list("aws_iam_role_policy").filter((p) => StackView.refId(p.role) === roleId).flatMap((p) => v.statementsOf(p.policy));
      expect([source, statements]).toEqual([source, [{ actions: ["lambda:InvokeFunction"], resources: [fnArn(fn)] }]]);
    }
    // Which fields each data source serves: message-control exactly Query.message, Mutation.stopGeneration and Query.myUsage.
    const servedBy = (source: string) => {
      const dsId = v.idOf("aws_appsync_datasource", v.one("aws_appsync_datasource", (d) => d.name === source));
      return v.list("aws_appsync_resolver").filter((r) => r.data_source === v.ref("aws_appsync_datasource", dsId, "name")).map((r) => `${r.type}.${r.field}`).sort();
    };
    expect(servedBy("MessageControlLambda")).toEqual(["Mutation.stopGeneration", "Query.message", "Query.myUsage"]);
    expect(servedBy("SendQueryLambda")).toEqual(["Mutation.sendQuery"]);
    expect(servedBy("NoneSource")).toEqual(["Mutation.publishResponse", "Query.whoami", "Subscription.receiveMessages"]);
  });

  test("every role carries the environment's permissions boundary, the one the bootstrap stack creates", async () => {
    const roles = v.list("aws_iam_role");
    // 4 functions (and the Function URL's), AppSync logging, AppSync's sendQuery and messageControl data sources.
    expect(roles.map((r) => r.name).sort()).toEqual([...Object.values(names.functions), ...urlFunction(), `${names.api}-logs`, `${names.api}-send-query`, `${names.api}-message-control`].sort());
    const expected = `arn:aws:iam::${c.account_id}:policy/${c.project}-${env}-boundary`;
    for (const r of roles) expect([r.name, r.permissions_boundary]).toEqual([r.name, expected]);
    const [account] = planAccounts([c], { owner: "acme", repo: "llm-stream" });
    expect(boundaryArnOf(account, account.roles[0].environments[0])).toBe(expected);
  });

  test("event sources: worker one request at a time, relay batches of 10, both reporting partial failures", () => {
    const fnId = (name: string) => v.idOf("aws_lambda_function", v.one("aws_lambda_function", (f) => f.function_name === name));
    const mapping = (name: string) => v.one("aws_lambda_event_source_mapping", (m) => StackView.refId(m.function_name) === fnId(name));
    if (SHAPE[env].ingress === "async") {
      // Only the relay polls; the worker is invoked by send-query (the async ingress's own test).
      expect(v.list("aws_lambda_event_source_mapping").map((m) => StackView.refId(m.function_name))).toEqual([fnId(names.functions.outboundRelay)]);
      expect(mapping(names.functions.outboundRelay)).toMatchObject({ batch_size: 10, function_response_types: ["ReportBatchItemFailures"] });
      return;
    }
    // The worker reports failures in its response rather than throwing: without this, Lambda would delete a failed record.
    expect(mapping(names.functions.streamWorker)).toMatchObject({ batch_size: 1, function_response_types: ["ReportBatchItemFailures"] });
    expect(mapping(names.functions.outboundRelay)).toMatchObject({ batch_size: 10, function_response_types: ["ReportBatchItemFailures"] });
    // A reserved function's pollers stop at its reservation: beyond it, throttled receives would dead-letter a burst.
    for (const fn of [names.functions.streamWorker, names.functions.outboundRelay]) {
      const scaling = mapping(fn).scaling_config;
      if (c.lambda.reserved_concurrency === -1) expect(scaling).toBeUndefined();
      else expect(scaling).toEqual({ maximum_concurrency: c.lambda.reserved_concurrency });
    }
    if (env === "fifo-direct") expect(mapping(names.functions.streamWorker).scaling_config).toEqual({ maximum_concurrency: 100 });
  });

  test("AppSync: Cognito default auth, IAM additional, logs, X-Ray, introspection, APPSYNC_JS resolvers from the files", () => {
    const api = v.list("aws_appsync_graphql_api")[0];
    expect(api).toMatchObject({
      authentication_type: "AMAZON_COGNITO_USER_POOLS",
      additional_authentication_provider: [{ authentication_type: "AWS_IAM" }],
      xray_enabled: c.appsync.xray,
      introspection_config: c.appsync.introspection ? "ENABLED" : "DISABLED",
      log_config: { field_log_level: c.appsync.field_log_level, exclude_verbose_content: true },
    });
    expect(api.schema).toBe(readFileSync(path.resolve(__dirname, "../../graphql/schema.graphql"), "utf8"));
    // Only the platform's own app client's tokens, in the default and in any additional Cognito mode.
    const clientId = v.idOf("aws_cognito_user_pool_client", v.list("aws_cognito_user_pool_client")[0]);
    const cognitoConfigs = [api.user_pool_config, ...(api.additional_authentication_provider ?? []).filter((p: any) => p.authentication_type === "AMAZON_COGNITO_USER_POOLS").map((p: any) => p.user_pool_config)];
    expect(cognitoConfigs.length).toBeGreaterThan(0);
    for (const cfg of cognitoConfigs) expect(cfg.app_id_client_regex).toMatch(new RegExp(`^\\^\\$\\{replace\\(aws_cognito_user_pool_client\\.${clientId}\\.id, .+\\)\\}\\$$`));
    expect(v.list("aws_cloudwatch_log_group").filter((g) => g.name.startsWith("/aws/appsync/apis/"))).toHaveLength(1);
    const resolvers = v.list("aws_appsync_resolver");
    expect(resolvers).toHaveLength(RESOLVERS.length);
    for (const r of RESOLVERS) {
      const res = v.one("aws_appsync_resolver", (x) => x.type === r.typeName && x.field === r.fieldName);
      expect(res).toMatchObject({ kind: "UNIT", runtime: { name: "APPSYNC_JS", runtime_version: "1.0.0" } });
      expect(res.code).toBe(readFileSync(path.join(RESOLVERS_DIR, r.file), "utf8"));
      const ds = v.resources("aws_appsync_datasource")[StackView.refId(res.data_source)];
      expect(ds.type).toBe(r.dataSource === "none" ? "NONE" : "AWS_LAMBDA");
    }
  });

  test("Cognito: strong passwords, optional MFA (unless an existing pool), public client with SRP and refresh only", () => {
    const client = v.list("aws_cognito_user_pool_client")[0];
    const pools = v.list("aws_cognito_user_pool");
    expect(pools).toHaveLength(SHAPE[env].existingPool ? 0 : 1);
    for (const pool of pools) {
      expect(pool.password_policy).toMatchObject({ minimum_length: 12, require_lowercase: true, require_uppercase: true, require_numbers: true, require_symbols: true });
      expect(pool.mfa_configuration).toBe("OPTIONAL");
      expect(pool.deletion_protection).toBe("INACTIVE");
    }
    expect(client.generate_secret).toBe(false);
    expect(client.explicit_auth_flows.sort()).toEqual(["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH"]);
  });

  test("alarms as configured: DLQs, Lambda errors and throttles, AppSync 5xx", () => {
    const alarms = v.list("aws_cloudwatch_metric_alarm");
    if (!c.alarms) {
      expect(alarms).toEqual([]);
      return;
    }
    const dlqs = [names.outboundDeadLetterQueue, names.workDeadLetterQueue, ...(SHAPE[env].ingress === "async" ? [names.asyncFailureQueue] : [])];
    const functions = [...Object.values(names.functions), ...urlFunction()];
    expect(alarms).toHaveLength(dlqs.length + functions.length * 2 + 1);
    const metrics = alarms.map((a) => `${a.namespace}/${a.metric_name}`).sort();
    expect(metrics).toEqual(["AWS/AppSync/5XXError", ...functions.map(() => "AWS/Lambda/Errors"), ...functions.map(() => "AWS/Lambda/Throttles"), ...dlqs.map(() => "AWS/SQS/ApproximateNumberOfMessagesVisible")]);
    // Errors and throttles of each function, message-control (and the Function URL's) among them.
    for (const metric of ["Errors", "Throttles"]) {
      expect(alarms.filter((a) => a.metric_name === metric).map((a) => [a.alarm_name, a.dimensions.FunctionName]).sort()).toEqual(functions.map((fn) => [`${fn}-${metric.toLowerCase()}`, fn]).sort());
    }
    expect(alarms.filter((a) => a.namespace === "AWS/SQS").map((a) => a.dimensions.QueueName).sort()).toEqual(dlqs.sort());
    for (const a of alarms) expect(a).toMatchObject({ comparison_operator: "GreaterThanThreshold", threshold: 0 });
    if (c.alarms.sns_topic_arn) {
      for (const a of alarms) expect(a.alarm_actions).toEqual([c.alarms.sns_topic_arn]);
    } else {
      const sub = v.one("aws_sns_topic_subscription", (s) => s.protocol === "email");
      expect(sub.endpoint).toBe(c.alarms.email);
      for (const a of alarms) expect(a.alarm_actions).toEqual([sub.topic_arn]);
    }
  });

  test("outputs for the client config", () => {
    const functionUrl = c.transports.includes("function_url") ? ["function_url"] : [];
    expect(Object.keys(v.json.output).sort()).toEqual(["batching", "environment", ...functionUrl, "graphql_url", "models", "realtime_url", "region", "user_pool_client_id", "user_pool_id"]);
    expect(v.json.output.environment.value).toBe(env);
    expect(v.json.output.batching.value).toEqual({ mode: c.batching.mode, maxDelayMs: c.batching.max_delay_ms, maxWindowMs: c.batching.max_window_ms, readingTokensPerSecond: c.batching.reading_tokens_per_second });
    expect(v.json.output.realtime_url.value).toMatch(/uris\["REALTIME"\]/);
  });
});

describe("the async ingress (full): send-query invokes the worker, Lambda retries it and keeps the failures", () => {
  let v: StackView;
  let c: EnvironmentConfig;
  let names: ReturnType<typeof resourceNames>;
  beforeAll(() => {
    v = view("full");
    c = configs.full;
    names = resourceNames(c);
  });
  const workerArn = () => `arn:aws:lambda:${c.region}:${c.account_id}:function:${names.functions.streamWorker}`;
  const failureQueue = () => v.one("aws_sqs_queue", (q) => q.name === names.asyncFailureQueue);
  const failureQueueArn = () => v.ref("aws_sqs_queue", v.idOf("aws_sqs_queue", failureQueue()), "arn");

  test("the worker's event invoke config: the configured event age and retries, failures to the async DLQ", () => {
    const [config, ...others] = v.list("aws_lambda_function_event_invoke_config");
    expect(others).toEqual([]);
    const worker = v.one("aws_lambda_function", (f) => f.function_name === names.functions.streamWorker);
    expect(config).toEqual(
      expect.objectContaining({
        function_name: v.ref("aws_lambda_function", v.idOf("aws_lambda_function", worker), "function_name"),
        maximum_event_age_in_seconds: 900,
        maximum_retry_attempts: 1,
        destination_config: { on_failure: { destination: failureQueueArn() } },
      }),
    );
    expect([c.async_ingress.maximum_event_age_seconds, c.async_ingress.maximum_retry_attempts]).toEqual([900, 1]);
  });

  test("the async DLQ: a standard queue with the environment key, the DLQs' retention, TLS only, alarmed", () => {
    const keyArn = v.ref("aws_kms_key", Object.keys(v.resources("aws_kms_key"))[0], "arn");
    expect(failureQueue()).toMatchObject({ name: `${c.project}-${c.name}-worker-async-dlq`, kms_master_key_id: keyArn, message_retention_seconds: 1209600 });
    expect(failureQueue().fifo_queue).toBeUndefined();
    const policy = v.one("aws_sqs_queue_policy", (p) => p.queue_url === v.ref("aws_sqs_queue", v.idOf("aws_sqs_queue", failureQueue()), "url"));
    const statements = v.statementsOf(policy.policy);
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatchObject({ effect: "Deny", condition: [{ test: "Bool", variable: "aws:SecureTransport", values: ["false"] }] });
    const alarm = v.one("aws_cloudwatch_metric_alarm", (a) => a.dimensions?.QueueName === names.asyncFailureQueue);
    expect(alarm).toMatchObject({ metric_name: "ApproximateNumberOfMessagesVisible", comparison_operator: "GreaterThanThreshold", threshold: 0 });
  });

  test("IAM: lambda:InvokeFunction on exactly the worker's ARN, for send-query only; the worker may send to the async DLQ only", () => {
    const invokers = Object.values(names.functions).map((fn) => [fn, v.functionPermissions(fn).filter((s) => s.actions?.includes("lambda:InvokeFunction"))] as const);
    expect(invokers.filter(([, st]) => st.length > 0).map(([fn, st]) => [fn, st.map((s) => [s.actions, s.resources])])).toEqual([
      [names.functions.sendQuery, [[["lambda:InvokeFunction"], [workerArn()]]]],
    ]);
    const sendsTo = (fn: string) => v.functionPermissions(fn).filter((s) => s.actions?.includes("sqs:SendMessage")).flatMap((s) => s.resources);
    expect(sendsTo(names.functions.streamWorker)).toEqual([failureQueueArn()]);
    expect(sendsTo(names.functions.sendQuery)).toEqual([]);
    // Nor does send-query publish to the inbound topic, which nothing reads on this ingress.
    expect(v.functionPermissions(names.functions.sendQuery).flatMap((s) => s.actions ?? []).filter((a) => a.startsWith("sns:"))).toEqual([]);
  });

  test("no event source mapping on the work queue; send-query is told the worker's name, a literal known at synth", () => {
    expect(v.list("aws_lambda_event_source_mapping").map((m) => m.event_source_arn)).toEqual([v.ref("aws_sqs_queue", v.idOf("aws_sqs_queue", v.one("aws_sqs_queue", (q) => q.name === names.outboundQueue)), "arn")]);
    // The Function URL's function hands nothing off: its environment has no hand-off variable (test/infra/functionUrl.test.ts).
    for (const f of v.list("aws_lambda_function").filter((fn) => fn.function_name !== names.urlStreamFunction)) {
      expect([f.function_name, f.environment.variables.WORKER_FUNCTION_NAME]).toEqual([f.function_name, names.functions.streamWorker]);
    }
    for (const env of ["queued", "fifo-direct"] as const) {
      for (const f of view(env).list("aws_lambda_function")) expect(f.environment.variables.WORKER_FUNCTION_NAME).toBe("");
      expect(view(env).list("aws_lambda_function_event_invoke_config")).toEqual([]);
    }
  });
});

test("full: an existing user pool is used (no pool created), alarms to a new email topic", () => {
  const v = view("full");
  const pool = configs.full.cognito?.existing_user_pool_id;
  expect(pool).toBe("eu-west-1_Qw3rTy7Zx");
  expect(v.list("aws_cognito_user_pool")).toEqual([]);
  expect(v.list("aws_cognito_user_pool_client")[0].user_pool_id).toBe(pool);
  expect(v.list("aws_appsync_graphql_api")[0].user_pool_config.user_pool_id).toBe(pool);
  expect(v.list("aws_sns_topic").map((t) => t.name)).toContain("chatops-full-alarms");
});

describe("synthesizing again", () => {
  let copy: EnvironmentsCopy;
  let outdir: string;
  beforeAll(async () => {
    copy = await copyEnvironments(FIXTURES_DIR);
    outdir = mkdtempSync(path.join(os.tmpdir(), "infra-resynth-"));
  });
  afterAll(() => (copy.cleanup(), rmSync(outdir, { recursive: true, force: true })));
  const stackDir = (name: string) => path.join(outdir, "stacks", name);

  test("removes the environment's previous output first, so a failed synth leaves nothing stale", async () => {
    expect((await synthesize({ environments: ["queued", "full"], outdir, environmentsDir: copy.dir })).failed).toEqual({});
    writeFileSync(path.join(stackDir("llm-stream-queued"), "left-over.txt"), "from an earlier run");
    expect(readdirSync(stackDir("llm-stream-queued")).sort()).toEqual([".terraform.lock.hcl", "assets", "cdk.tf.json", "left-over.txt"]);
    // A good synth writes a fresh directory; a bad config leaves none, even one that no longer parses (full's project
    // is not the default: its old output is found by the environment it declares).
    expect((await synthesize({ environments: ["queued"], outdir, environmentsDir: copy.dir })).failed).toEqual({});
    expect(readdirSync(stackDir("llm-stream-queued")).sort()).toEqual([".terraform.lock.hcl", "assets", "cdk.tf.json"]);
    writeFileSync(path.join(copy.dir, "queued.tfvars"), readFileSync(path.join(copy.dir, "queued.tfvars"), "utf8").replace("max_delay_ms = 250", "max_delay_ms = 5000"));
    writeFileSync(path.join(copy.dir, "full.tfvars"), `project = "chatops"\nname = {`);
    const r = await synthesize({ environments: ["queued", "full"], outdir, environmentsDir: copy.dir });
    expect(Object.keys(r.failed).sort()).toEqual(["full", "queued"]);
    expect(readdirSync(path.join(outdir, "stacks"))).toEqual([]);
  });
});

test("only an environment named prod gets deletion protection on its tables and user pool", async () => {
  const outdir = mkdtempSync(path.join(os.tmpdir(), "infra-prod-"));
  try {
    const app = new App({ outdir });
    new PlatformStack(app, { config: { ...configs["fifo-direct"], name: "prod" } });
    app.synth();
    const v = new StackView(JSON.parse(readFileSync(path.join(outdir, "stacks", "llm-stream-prod", "cdk.tf.json"), "utf8")), outdir);
    expect(v.list("aws_dynamodb_table").map((t) => [t.name, t.deletion_protection_enabled]).sort()).toEqual(["history", "idempotency", "messages", "usage"].map((t) => [`llm-stream-prod-${t}`, true]));
    expect(v.list("aws_cognito_user_pool").map((p) => p.deletion_protection)).toEqual(["ACTIVE"]);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
});

test("a queue consumer reserved below the event source's minimum (2) fails the synth, naming the key", () => {
  const app = new App({ outdir: mkdtempSync(path.join(os.tmpdir(), "infra-reserved-")) });
  try {
    for (const reserved of [0, 1]) {
      const c = { ...configs["fifo-direct"], name: `r${reserved}`, lambda: { ...configs["fifo-direct"].lambda, reserved_concurrency: reserved } };
      expect(() => new PlatformStack(app, { config: c })).toThrow(`work-queue: lambda.reserved_concurrency must be -1 (unreserved) or between 2 and 1000 for a queue consumer (the SQS event source's maximum_concurrency range), got ${reserved}`);
    }
  } finally {
    rmSync(app.outdir, { recursive: true, force: true });
  }
});

test("the client id regex, as Terraform renders it, matches only the platform's client id", async () => {
  const api = view("queued").list("aws_appsync_graphql_api")[0];
  const expression: string = api.user_pool_config.app_id_client_regex;
  // Cognito client ids match [\w+]+: one with a "+" shows the escaping; the reference becomes that literal.
  const clientId = "4ab+cd5ef";
  const dir = mkdtempSync(path.join(os.tmpdir(), "infra-client-regex-"));
  try {
    const value = expression.replace(/aws_cognito_user_pool_client\.[^.]+\.id/, JSON.stringify(clientId));
    writeFileSync(path.join(dir, "main.tf.json"), JSON.stringify({ output: { regex: { value } } }));
    const env = terraformEnvironment(path.join(dir, "cli"));
    for (const args of [["init", "-input=false", "-no-color"], ["apply", "-auto-approve", "-input=false", "-no-color"]]) {
      const r = await terraform(args, { cwd: dir, env, timeoutMs: 60_000 });
      expect([args[0], r.code, r.stderr]).toEqual([args[0], 0, ""]);
    }
    const out = await terraform(["output", "-raw", "regex"], { cwd: dir, env, timeoutMs: 30_000 });
    expect(out.stdout).toBe("^4ab\\+cd5ef$");
    const regex = new RegExp(out.stdout);
    expect(regex.test(clientId)).toBe(true);
    for (const other of ["4abbcd5ef", "4ab+cd5efX", "x4ab+cd5ef", "4abcd5ef"]) expect([other, regex.test(other)]).toEqual([other, false]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);

describe("the Lambda environment's 4 KB", () => {
  const longest = (n: number) => "z".repeat(n);
  /** Every bounded key at its longest value: what the system_prompt cap was computed against. */
  const worstCase = (): EnvironmentConfig => {
    const prod = configs["fifo-direct"];
    // 50-character ids within the about 780 bytes of model ids the cap leaves (see SYSTEM_PROMPT_MAX_BYTES).
    const ids = Array.from({ length: 14 }, (_, i) => `us-gov.anthropic.claude-model-${String(i).padStart(2, "0")}-2025-v1:0`.padEnd(50, "x"));
    return {
      ...prod,
      // The longest geography prefix, us-gov., is served only in GovCloud regions.
      region: "us-gov-west-1",
      project: longest(20),
      name: longest(20),
      models: { default_model_id: ids[0], allowed_model_ids: ids },
      client_delivery_choice: false,
      batching: { mode: "reading_pace", max_delay_ms: 1000, max_chars: 8000, reading_tokens_per_second: 100, max_window_ms: 5000 },
      queue: { ...prod.queue, relay_retry_seconds: 3600 },
      history: { enabled: true, ttl_days: 3650 },
      generation: { max_prompt_chars: 100000, max_tokens: 64000, temperature: 1.2345678901234566e-7, system_prompt: "é".repeat(SYSTEM_PROMPT_MAX_BYTES / 2) },
      limits: { max_concurrent_generations_per_user: 1000, daily_output_tokens_per_user: 1_000_000_000 },
      guardrail: { id: "g".repeat(32), version: "99999999", stream_processing_mode: "async" },
      // The async ingress adds the worker's name (a literal, 20 + 20 + 14 characters) to every function's environment.
      ingress: "async",
      async_ingress: { maximum_event_age_seconds: 21600, maximum_retry_attempts: 2 },
      // The Function URL's function leaves out the hand-off, delivery and relay variables, and adds its own three (the
      // user pool's issuer and client, apply-time values here, and the cap).
      transports: ["appsync", "function_url"],
      function_url: { reserved_concurrency: 1000, max_answer_bytes: 6291456 },
      // Tools add one short variable (TOOLS_FILE=tools.json) whatever their number: their schemas ride beside the code.
      tools: {
        enabled: ["current_time", "calculator"],
        lambdas: Array.from({ length: 12 }, (_, i) => ({
          name: `tool_${i}`.padEnd(64, "t"),
          description: "d".repeat(1000),
          input_schema_file: path.join(FIXTURES_DIR, "agent", "tool-schemas", "search_docs.json"),
          lambda_arn: `arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:${"f".repeat(64)}:${"a".repeat(126)}${String(i).padStart(2, "0")}`,
          notice: "n".repeat(120),
        })),
        max_rounds: 20,
      },
    };
  };

  test("the worst case the system_prompt cap allows still fits every function", () => {
    const c = worstCase();
    expect(validateEnvironment("environments/worst.tfvars", { ...c })).toMatchObject({ generation: { system_prompt: c.generation.system_prompt } });
    const app = new App({ outdir: mkdtempSync(path.join(os.tmpdir(), "infra-env-size-")) });
    try {
      expect(() => new PlatformStack(app, { config: c })).not.toThrow();
    } finally {
      rmSync(app.outdir, { recursive: true, force: true });
    }
  });

  test("a model list beyond the cap's allowance still fails the synth, naming the largest variables", () => {
    const c = worstCase();
    const ids = Array.from({ length: 60 }, (_, i) => `anthropic.claude-model-${String(i).padStart(2, "0")}-v1:0`.padEnd(50, "x"));
    const app = new App({ outdir: mkdtempSync(path.join(os.tmpdir(), "infra-env-size-")) });
    try {
      expect(() => new PlatformStack(app, { config: { ...c, models: { default_model_id: ids[0], allowed_model_ids: ids } } })).toThrow(
        /^send-query: environment variables take about \d+ bytes, over Lambda's 4 KB limit \(largest: ALLOWED_MODEL_IDS 3076 bytes, SYSTEM_PROMPT 2013 bytes\)$/,
      );
    } finally {
      rmSync(app.outdir, { recursive: true, force: true });
    }
  });
});
