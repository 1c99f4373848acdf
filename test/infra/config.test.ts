/** environments/<env>.tfvars: every shipped file validates; bad ones fail with a message naming the file and the key. */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConfigError, ENVIRONMENTS_DIR, deployedEnvironmentNames, loadEnvironment, validateEnvironment } from "../../config/load";
import { synthesizeToTemp } from "./stackView";

test("every shipped tfvars file parses and validates, the example with every key set", async () => {
  const files = readdirSync(ENVIRONMENTS_DIR).filter((f) => f.endsWith(".tfvars")).sort();
  expect(files).toEqual(["dev.tfvars", "example.tfvars", "local.tfvars", "prod.tfvars", "staging.tfvars"]);
  for (const f of files) await expect(loadEnvironment(f.replace(".tfvars", ""))).resolves.toMatchObject({ name: f.replace(".tfvars", "") });
  expect(deployedEnvironmentNames()).toEqual(["dev", "prod", "staging"]);
});

test("the example sets every key of the schema (the documentation cannot miss one)", async () => {
  const example = readFileSync(path.join(ENVIRONMENTS_DIR, "example.tfvars"), "utf8");
  const keys = [
    "name", "project", "account_id", "region", "assume_role_arn", "tags", "state", "backend", "bucket", "key_prefix", "models",
    "default_model_id", "allowed_model_ids", "direct_send", "fallback_to_queue", "client_delivery_choice", "batching", "max_delay_ms",
    "max_chars", "queue", "fifo", "max_receive_count", "visibility_timeout_seconds", "lambda", "memory_mb", "timeout_seconds",
    "reserved_concurrency", "log_retention_days", "generation", "max_prompt_chars", "max_tokens", "temperature", "system_prompt",
    "appsync", "xray", "field_log_level", "introspection", "cognito", "existing_user_pool_id", "history", "enabled", "ttl_days",
    "alarms", "email", "sns_topic_arn",
  ];
  for (const k of keys) expect(example).toMatch(new RegExp(`^\\s*(# )?${k}\\s+=`, "m"));
  const c = await loadEnvironment("example");
  expect(c).toMatchObject({ project: "llm-stream", cognito: { existing_user_pool_id: "us-east-1_AbCdEf123" }, alarms: { email: "platform-alerts@example.com" } });
});

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
      expect(v.list("aws_dynamodb_table").map((t) => t.name)).toEqual(["llm-stream-nohist-idempotency"]);
      for (const f of v.list("aws_lambda_function")) expect(f.environment.variables.HISTORY_TABLE_NAME).toBe("");
      const dynamo = v.functionPermissions("llm-stream-nohist-stream-worker").filter((s) => s.actions?.some((a) => a.startsWith("dynamodb:")));
      expect(dynamo.flatMap((s) => s.resources)).toEqual([expect.stringMatching(/tables_idempotency_/)]);
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
