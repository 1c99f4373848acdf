/** environments/<env>.tfvars: every shipped file validates; bad ones fail with a message naming the file and the key. */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConfigError, ENVIRONMENTS_DIR, deployedEnvironmentNames, loadEnvironment, readTfvarsFile, validateEnvironment } from "../../config/load";
import { PLACEHOLDER, PLACEHOLDERS } from "../../config/placeholders";
import { INFERENCE_PROFILE_GEOGRAPHIES } from "../../config/rules";
import { bedrockModelArns } from "../../modules/arns";
import { EXAMPLE_FILE, filledExample } from "./exampleTfvars";
import { synthesizeToTemp } from "./stackView";

test("every shipped tfvars file but the example parses and validates", async () => {
  const files = readdirSync(ENVIRONMENTS_DIR).filter((f) => f.endsWith(".tfvars")).sort();
  expect(files).toEqual(["dev.tfvars", "example.tfvars", "local.tfvars", "prod.tfvars", "staging.tfvars"]);
  for (const f of files.filter((n) => n !== "example.tfvars")) await expect(loadEnvironment(f.replace(".tfvars", ""))).resolves.toMatchObject({ name: f.replace(".tfvars", "") });
  expect(deployedEnvironmentNames()).toEqual(["dev", "prod", "staging"]);
});

const EXAMPLE = "environments/example.tfvars";
const PUT_ACCOUNT = "the 12-digit id of the AWS account this environment deploys into";
const PUT_REGION = "the AWS region to deploy into, such as eu-west-1";

test("the example as shipped fails, naming every key that still holds a placeholder and what to put there", async () => {
  await expect(loadEnvironment("example")).rejects.toThrow(
    new ConfigError(EXAMPLE, [
      "name still holds the example placeholder <env>: replace it with the environment's name, which is also the file's base name (2-20 of a-z, 0-9, -)",
      `account_id still holds the example placeholder <account-id>: replace it with ${PUT_ACCOUNT}`,
      `region still holds the example placeholder <region>: replace it with ${PUT_REGION}`,
      `assume_role_arn still holds the example placeholder <account-id>: replace it with ${PUT_ACCOUNT}`,
      `state.bucket still holds the example placeholder <account-id>: replace it with ${PUT_ACCOUNT}`,
      `state.region still holds the example placeholder <region>: replace it with ${PUT_REGION}`,
    ]),
  );
  // Every placeholder the example uses, commented-out blocks included, says what goes there.
  const tokens = [...readFileSync(EXAMPLE_FILE, "utf8").matchAll(/"[^"\n]*"/g)].flatMap((m) => [...m[0].matchAll(PLACEHOLDER)].map((t) => t[1]));
  expect(new Set(tokens)).toEqual(new Set(Object.keys(PLACEHOLDERS)));
});

test("the example sets every key of the schema (the documentation cannot miss one) and validates once filled in", async () => {
  const example = readFileSync(EXAMPLE_FILE, "utf8");
  const keys = [
    "name", "project", "account_id", "region", "assume_role_arn", "tags", "state", "backend", "bucket", "key_prefix", "models",
    "default_model_id", "allowed_model_ids", "direct_send", "fallback_to_queue", "client_delivery_choice", "batching", "mode", "max_delay_ms",
    "max_chars", "reading_tokens_per_second", "max_window_ms", "queue", "fifo", "max_receive_count", "visibility_timeout_seconds", "lambda", "memory_mb", "timeout_seconds",
    "reserved_concurrency", "log_retention_days", "generation", "max_prompt_chars", "max_tokens", "temperature", "system_prompt",
    "appsync", "xray", "field_log_level", "introspection", "cognito", "existing_user_pool_id", "history", "enabled", "ttl_days",
    "alarms", "email", "sns_topic_arn", "limits", "max_concurrent_generations_per_user", "daily_output_tokens_per_user",
    "guardrail", "id", "version", "stream_processing_mode", "waf", "rate_limit_per_5_minutes", "web_acl_arn",
    "tools", "lambdas", "description", "input_schema_file", "lambda_arn", "notice", "max_rounds",
  ];
  for (const k of keys) expect(example).toMatch(new RegExp(`^\\s*(#\\s*)*${k}\\s+=`, "m"));
  // The optional blocks are off as shipped: a copy creates its own user pool and has no alarms until asked.
  const plain = validateEnvironment(EXAMPLE, await parseTfvars(filledExample()), "example");
  expect(plain).toMatchObject({ name: "example", account_id: "123456789012", assume_role_arn: "arn:aws:iam::123456789012:role/llm-stream-deploy", cognito: {} });
  expect(plain.cognito.existing_user_pool_id).toBeUndefined();
  expect(plain.alarms).toBeUndefined();
  const everything = validateEnvironment(EXAMPLE, await parseTfvars(filledExample({ uncomment: ["cognito", "alarms"] })), "example");
  expect(everything).toMatchObject({ cognito: { existing_user_pool_id: "us-east-1_AbCdEf123" }, alarms: { email: "platform-alerts@example.com" } });
});

test("a copy with its blocks uncommented but not filled in names those keys too", async () => {
  const raw = await parseTfvars(filledExample({ uncomment: ["cognito", "alarms"], values: { "user-pool-id": "<user-pool-id>", "alerts-email": "<alerts-email>" } }));
  expect(() => validateEnvironment(EXAMPLE, raw, "example")).toThrow(
    new ConfigError(EXAMPLE, [
      "cognito.existing_user_pool_id still holds the example placeholder <user-pool-id>: replace it with the id of your existing Cognito user pool, such as eu-west-1_AbC123 (or comment the cognito block out to create a pool)",
      "alarms.email still holds the example placeholder <alerts-email>: replace it with the address that receives the alarms (or use sns_topic_arn, or comment the alarms block out for no alarms)",
    ]),
  );
});

test("a copy for an eu-west-1 environment is told that the example's us. profile does not fit its region", async () => {
  const raw = await parseTfvars(filledExample({ values: { env: "qa", region: "eu-west-1" } }));
  expect(() => validateEnvironment("environments/qa.tfvars", raw, "qa")).toThrow(
    new ConfigError("environments/qa.tfvars", [
      "models.allowed_model_ids.1 is a us. inference profile, which Bedrock serves only from us-* regions (not GovCloud), not from region eu-west-1 (use a foundation model id or a profile starting eu. or global.), got us.anthropic.claude-3-7-sonnet-20250219-v1:0",
    ]),
  );
});

/** Parses HCL text the way the loader does, through a temporary file. */
async function parseTfvars(text: string): Promise<unknown> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "infra-tfvars-"));
  try {
    writeFileSync(path.join(dir, "env.tfvars"), text);
    return (await readTfvarsFile(path.join(dir, "env.tfvars"))).raw;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("prod: direct send, FIFO, no introspection", async () => {
  const prod = await loadEnvironment("prod");
  expect(prod).toMatchObject({ direct_send: true, queue: { fifo: true }, appsync: { introspection: false } });
});

const FILE = "environments/prod.tfvars";
const valid = () =>
  ({
    name: "prod",
    account_id: "333333333333",
    region: "us-east-1",
    models: { default_model_id: "anthropic.claude-3-5-haiku-20241022-v1:0", allowed_model_ids: ["anthropic.claude-3-5-haiku-20241022-v1:0"] },
  }) as Record<string, any>;

const BAD: [string, (c: Record<string, any>) => void, string][] = [
  ["out of range", (c) => (c.batching = { max_delay_ms: 5000 }), "batching.max_delay_ms must be between 0 and 1000, got 5000"],
  ["batching mode", (c) => (c.batching = { mode: "adaptive" }), 'batching.mode must be one of fixed, reading_pace, got "adaptive"'],
  ["reading pace", (c) => (c.batching = { reading_tokens_per_second: 0 }), "batching.reading_tokens_per_second must be between 1 and 100, got 0"],
  ["window cap", (c) => (c.batching = { max_window_ms: 60000 }), "batching.max_window_ms must be between 0 and 5000, got 60000"],
  ["window cap below the fixed window", (c) => (c.batching = { mode: "reading_pace", max_delay_ms: 400, max_window_ms: 300 }), "batching.max_window_ms must be at least batching.max_delay_ms (400), got 300"],
  ["unknown key", (c) => (c.colour = "blue"), "colour is not a known key"],
  ["unknown nested key", (c) => (c.queue = { fifo: true, retries: 3 }), "queue.retries is not a known key"],
  ["wrong type", (c) => (c.direct_send = "yes"), 'direct_send must be true or false, got "yes"'],
  ["account id too short", (c) => (c.account_id = "12345"), 'account_id must be a 12-digit AWS account id, got "12345"'],
  ["account id as a number", (c) => (c.account_id = 123456789012), "account_id must be a string, got 123456789012"],
  ["default model not allowed", (c) => (c.models.default_model_id = "anthropic.claude-3-haiku-20240307-v1:0"), "models.default_model_id must be one of models.allowed_model_ids, got anthropic.claude-3-haiku-20240307-v1:0"],
  ["timeout too short for the publish budget", (c) => (c.lambda = { timeout_seconds: 10 }), "lambda.timeout_seconds must be between 30 and 900, got 10"],
  ["visibility below 6x timeout", (c) => ((c.lambda = { timeout_seconds: 120 }), (c.queue = { visibility_timeout_seconds: 300 })), "queue.visibility_timeout_seconds must be at least 6 x lambda.timeout_seconds (720), got 300"],
  ["both alarm targets", (c) => (c.alarms = { email: "a@example.com", sns_topic_arn: "arn:aws:sns:us-east-1:333333333333:x" }), "alarms set email or sns_topic_arn, not both"],
  ["unknown log retention", (c) => (c.lambda = { log_retention_days: 10 }), "lambda.log_retention_days must be one of CloudWatch's retention periods (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ...)"],
  ["field log level", (c) => (c.appsync = { field_log_level: "VERBOSE" }), 'appsync.field_log_level must be one of NONE, ERROR, INFO, DEBUG, ALL, got "VERBOSE"'],
  ["state backend", (c) => (c.state = { backend: "gcs" }), 'state.backend must be one of "s3", "local", got "gcs"'],
  ["s3 state without bucket", (c) => (c.state = { backend: "s3", region: "us-east-1" }), "state.bucket is required"],
  ["missing region", (c) => delete c.region, "region is required"],
  ["name not the file name", (c) => (c.name = "production"), 'name must match the file name (prod), got "production"'],
  ["fractional memory", (c) => (c.lambda = { memory_mb: 512.5 }), "lambda.memory_mb must be a whole number"],
  ["tag not a string", (c) => (c.tags = { Team: 5 }), "tags.Team must be a map of strings, got 5"],
  ["reserved concurrency", (c) => (c.lambda = { reserved_concurrency: -2 }), "lambda.reserved_concurrency must be between -1 and 1000, got -2"],
  ["reserved concurrency below the event source minimum", (c) => (c.lambda = { reserved_concurrency: 1 }), "lambda.reserved_concurrency must be -1 (unreserved) or between 2 and 1000 (the SQS event source's maximum_concurrency range)"],
  ["temperature", (c) => (c.generation = { temperature: 2 }), "generation.temperature must be between 0 and 1, got 2"],
  ["system prompt over the environment budget", (c) => (c.generation = { system_prompt: "x".repeat(2001) }), "generation.system_prompt must be at most 2000 characters (UTF-8 bytes) so each function's environment fits Lambda's 4 KB, got 2001"],
  ["system prompt counted in UTF-8 bytes", (c) => (c.generation = { system_prompt: "é".repeat(1001) }), "generation.system_prompt must be at most 2000 characters (UTF-8 bytes) so each function's environment fits Lambda's 4 KB, got 2002"],
  ["alarm email", (c) => (c.alarms = { email: "nope" }), 'alarms.email must be an email address, got "nope"'],
  ["assume role", (c) => (c.assume_role_arn = "deploy"), 'assume_role_arn must be an IAM role ARN, got "deploy"'],
];

test.each(BAD)("bad config: %s", (_name, mutate, message) => {
  const c = valid();
  mutate(c);
  let error: unknown;
  try {
    validateEnvironment(FILE, c, "prod");
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as Error).message).toBe(`${FILE}: ${message}`);
});

/** Validates or returns the ConfigError's lines. */
function problemsOf(c: Record<string, any>, expectedName = "prod"): string[] {
  try {
    validateEnvironment(FILE, c, expectedName);
    return [];
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
}

describe("validation reports every problem in one round", () => {
  test("a wrong name and an out-of-range value", () => {
    const c = { ...valid(), name: "production", batching: { max_delay_ms: 5000 } };
    expect(problemsOf(c)).toEqual(['name must match the file name (prod), got "production"', "batching.max_delay_ms must be between 0 and 1000, got 5000"]);
  });

  test("a wrong type does not hide the rules between keys", () => {
    const c = valid();
    c.direct_send = "yes";
    c.models.default_model_id = "anthropic.claude-3-haiku-20240307-v1:0";
    c.lambda = { timeout_seconds: 120, memory_mb: "big" };
    c.queue = { visibility_timeout_seconds: 300 };
    // lambda.memory_mb is wrong, so the visibility rule (which reads lambda.timeout_seconds) cannot be judged yet.
    expect(problemsOf(c)).toEqual([
      "models.default_model_id must be one of models.allowed_model_ids, got anthropic.claude-3-haiku-20240307-v1:0",
      'direct_send must be true or false, got "yes"',
      'lambda.memory_mb must be a number, got "big"',
    ]);
    c.lambda.memory_mb = 512;
    expect(problemsOf(c)).toContain("queue.visibility_timeout_seconds must be at least 6 x lambda.timeout_seconds (720), got 300");
  });

  test("placeholders, type errors and the file name together, in the file's key order", () => {
    const c: Record<string, any> = { ...valid(), name: "staging", account_id: "<account-id>", colour: "blue", alarms: { email: "a@example.com", sns_topic_arn: "arn:aws:sns:us-east-1:333333333333:x" } };
    c.generation = { temperature: 2 };
    expect(problemsOf(c)).toEqual([
      'name must match the file name (prod), got "staging"',
      `account_id still holds the example placeholder <account-id>: replace it with ${PUT_ACCOUNT}`,
      "generation.temperature must be between 0 and 1, got 2",
      "alarms set email or sns_topic_arn, not both",
      "colour is not a known key",
    ]);
  });

  test("the ingress and Lambda's async settings: each bad value named with its key, all in one round", () => {
    expect(problemsOf({ ...valid(), ingress: "direct", async_ingress: { maximum_event_age_seconds: 59, maximum_retry_attempts: 3 } })).toEqual([
      'ingress must be one of "queue", "async", got "direct"',
      "async_ingress.maximum_event_age_seconds must be between 60 and 21600, got 59",
      "async_ingress.maximum_retry_attempts must be between 0 and 2, got 3",
    ]);
    expect(problemsOf({ ...valid(), async_ingress: { maximum_event_age_seconds: 21601, retries: 1 } })).toEqual([
      "async_ingress.maximum_event_age_seconds must be between 60 and 21600, got 21601",
      "async_ingress.retries is not a known key",
    ]);
    expect(problemsOf({ ...valid(), ingress: "async", async_ingress: { maximum_event_age_seconds: 60, maximum_retry_attempts: 0 } })).toEqual([]);
    expect(problemsOf({ ...valid(), ingress: "async", async_ingress: { maximum_event_age_seconds: 21600, maximum_retry_attempts: 2 } })).toEqual([]);
  });

  test("transports: an empty list, an unknown one and a repeated one are each named with the key, all in one round", () => {
    expect(problemsOf({ ...valid(), transports: [], websocket: { throttling_rate_limit: 0 } })).toEqual([
      "transports must list at least one transport, got an empty list",
      "websocket.throttling_rate_limit must be between 1 and 10000, got 0",
    ]);
    expect(problemsOf({ ...valid(), transports: ["appsync", "sse", "websocket", "websocket"], function_url: { max_answer_bytes: 100 } })).toEqual([
      'transports.1 must be one of "appsync", "function_url", "websocket", got "sse"',
      'transports must list each transport once, got "websocket" more than once',
      "function_url.max_answer_bytes must be between 16384 and 6291456, got 100",
    ]);
    expect(problemsOf({ ...valid(), transports: ["websocket", "function_url"] })).toEqual([]);
    expect(validateEnvironment("prod.tfvars", valid(), "prod").transports).toEqual(["appsync"]);
  });

  test("ingress defaults to the queue, with an hour of event age and Lambda's 2 retries for the async one", () => {
    expect(validateEnvironment("environments/prod.tfvars", valid())).toMatchObject({ ingress: "queue", async_ingress: { maximum_event_age_seconds: 3600, maximum_retry_attempts: 2 } });
  });

  test("a name that is not even valid is reported once, as the file name to use", () => {
    expect(problemsOf({ ...valid(), name: "Prod!" })).toEqual(['name must match the file name (prod), got "Prod!"']);
    // Named like its file, a bad name is a bad file name: the pattern is what to fix.
    expect(problemsOf({ ...valid(), name: "x" }, "x")).toEqual(['name must be lower-case letters, digits and dashes, 2-20 characters, got "x"']);
  });

  test("angle brackets in the system prompt are text, not placeholders", () => {
    expect(problemsOf({ ...valid(), generation: { system_prompt: "Think inside <thinking> tags, then answer." } })).toEqual([]);
  });
});

// [model id, region, allowed]: a profile's geography must be the region's (config/rules.ts INFERENCE_PROFILE_GEOGRAPHIES).
const PROFILES: [string, string, boolean][] = [
  ["us.anthropic.claude-3-7-sonnet-20250219-v1:0", "us-west-2", true],
  ["us.anthropic.claude-3-7-sonnet-20250219-v1:0", "eu-west-1", false],
  ["us.anthropic.claude-3-7-sonnet-20250219-v1:0", "ca-central-1", false],
  ["us.anthropic.claude-3-7-sonnet-20250219-v1:0", "us-gov-west-1", false],
  ["us-gov.anthropic.claude-3-5-sonnet-20240620-v1:0", "us-gov-west-1", true],
  ["us-gov.anthropic.claude-3-5-sonnet-20240620-v1:0", "us-east-1", false],
  ["eu.anthropic.claude-3-7-sonnet-20250219-v1:0", "eu-central-1", true],
  ["eu.anthropic.claude-3-7-sonnet-20250219-v1:0", "us-east-1", false],
  ["apac.anthropic.claude-3-5-sonnet-20241022-v2:0", "ap-south-1", true],
  ["apac.anthropic.claude-3-5-sonnet-20241022-v2:0", "eu-west-1", false],
  ["jp.anthropic.claude-sonnet-4-5-20250929-v1:0", "ap-northeast-3", true],
  ["jp.anthropic.claude-sonnet-4-5-20250929-v1:0", "ap-southeast-1", false],
  ["au.anthropic.claude-sonnet-4-5-20250929-v1:0", "ap-southeast-4", true],
  ["global.anthropic.claude-sonnet-4-5-20250929-v1:0", "sa-east-1", true],
  ["global.anthropic.claude-sonnet-4-5-20250929-v1:0", "us-gov-east-1", false],
  ["anthropic.claude-3-5-haiku-20241022-v1:0", "eu-west-1", true],
];

test.each(PROFILES)("model %s in %s: allowed %s", (id, region, allowed) => {
  const c = { ...valid(), region, models: { default_model_id: id, allowed_model_ids: ["anthropic.claude-3-5-haiku-20241022-v1:0", id] } };
  const problems = problemsOf(c);
  if (allowed) return expect(problems).toEqual([]);
  const geography = id.split(".")[0];
  expect(problems).toEqual([
    expect.stringMatching(new RegExp(`^models\\.default_model_id is a ${geography}\\. inference profile, which Bedrock serves only from .*, not from region ${region} \\(.*\\), got ${id.replace(/[.]/g, "\\.")}$`)),
    expect.stringMatching(/^models\.allowed_model_ids\.1 is a /),
  ]);
});

test("every geography the schema knows is an inference profile to IAM (one list of prefixes)", () => {
  for (const geography of Object.keys(INFERENCE_PROFILE_GEOGRAPHIES)) {
    expect(bedrockModelArns([`${geography}.anthropic.x-v1:0`], "us-east-1", "333333333333")).toEqual([
      `arn:aws:bedrock:us-east-1:333333333333:inference-profile/${geography}.anthropic.x-v1:0`,
      "arn:aws:bedrock:*::foundation-model/anthropic.x-v1:0",
    ]);
  }
});

describe("synth with a bad environment", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "infra-envs-"));
    writeFileSync(path.join(dir, "good.tfvars"), readFileSync(path.join(ENVIRONMENTS_DIR, "dev.tfvars"), "utf8").replace('name            = "dev"', 'name = "good"'));
    writeFileSync(path.join(dir, "bad.tfvars"), readFileSync(path.join(ENVIRONMENTS_DIR, "prod.tfvars"), "utf8").replace('name            = "prod"', 'name = "bad"').replace("max_delay_ms = 250", "max_delay_ms = 5000"));
    writeFileSync(path.join(dir, "broken.tfvars"), 'name = "broken"\nregion = \n');
    // Over the schema's cap, which keeps the Lambda environment (4 KB) within bounds.
    writeFileSync(path.join(dir, "longprompt.tfvars"), readFileSync(path.join(ENVIRONMENTS_DIR, "dev.tfvars"), "utf8").replace('name            = "dev"', 'name = "longprompt"') + `generation = {\n  system_prompt = "${"x".repeat(5000)}"\n}\n`);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("fails that environment with file and key, writes nothing for it, still synthesizes the others", async () => {
    const synth = await synthesizeToTemp([], dir);
    try {
      const rel = (f: string) => path.relative(process.cwd(), path.join(dir, f));
      expect(synth.result.synthesized).toEqual(["llm-stream-good"]);
      expect(synth.result.failed.bad).toBe(`${rel("bad.tfvars")}: batching.max_delay_ms must be between 0 and 1000, got 5000`);
      expect(synth.result.failed.longprompt).toBe(`${rel("longprompt.tfvars")}: generation.system_prompt must be at most 2000 characters (UTF-8 bytes) so each function's environment fits Lambda's 4 KB, got 5000`);
      expect(synth.result.failed.broken).toMatch(new RegExp(`^${rel("broken.tfvars").replace(/[.]/g, "\\.")}: is not valid HCL`));
      expect(readdirSync(path.join(synth.outdir, "stacks"))).toEqual(["llm-stream-good"]);
      expect(existsSync(path.join(synth.outdir, "stacks", "llm-stream-good", "cdk.tf.json"))).toBe(true);
    } finally {
      synth.cleanup();
    }
  }, 60_000);

  test("history disabled: no history table, no grant on it, HISTORY_TABLE_NAME empty", async () => {
    writeFileSync(path.join(dir, "nohist.tfvars"), readFileSync(path.join(ENVIRONMENTS_DIR, "dev.tfvars"), "utf8").replace('name            = "dev"', 'name = "nohist"').replace("enabled  = true", "enabled  = false"));
    const synth = await synthesizeToTemp(["nohist"], dir);
    try {
      const v = synth.stack("llm-stream-nohist");
      // The message records and usage stay: replay, stop and limits work without history.
      expect(v.list("aws_dynamodb_table").map((t) => t.name)).toEqual(["llm-stream-nohist-idempotency", "llm-stream-nohist-messages", "llm-stream-nohist-usage"]);
      for (const f of v.list("aws_lambda_function")) expect(f.environment.variables.HISTORY_TABLE_NAME).toBe("");
      const dynamo = v.functionPermissions("llm-stream-nohist-stream-worker").filter((s) => s.actions?.some((a) => a.startsWith("dynamodb:")));
      expect(dynamo.flatMap((s) => s.resources)).toEqual([expect.stringMatching(/tables_idempotency_/), expect.stringMatching(/tables_messages_/), expect.stringMatching(/tables_usage_/)]);
    } finally {
      synth.cleanup();
    }
  }, 60_000);
});

test("npm run synth -- <unknown env> exits non-zero, names the file and writes no stack", async () => {
  const out = mkdtempSync(path.join(os.tmpdir(), "infra-cli-"));
  try {
    const tsx = path.resolve(__dirname, "../../node_modules/.bin/tsx");
    const run = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = execFile(tsx, [path.resolve(__dirname, "../../main.ts"), "nosuch"], { cwd: path.resolve(__dirname, "../.."), env: { ...process.env, CDKTF_OUTDIR: out }, timeout: 60_000 }, (error, _stdout, stderr) => {
        if (error && typeof error.code !== "number") return reject(error);
        resolve({ code: error ? (error.code as number) : 0, stderr });
      });
      child.stdin?.end();
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("FAILED nosuch:\nenvironments/nosuch.tfvars: does not exist");
    const stacks = path.join(out, "stacks");
    expect(existsSync(stacks) ? readdirSync(stacks) : []).toEqual([]);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}, 60_000);
