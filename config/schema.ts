/**
 * The shape of `environments/<env>.tfvars`: the single home of the per-environment config.
 * The stacks (main.ts, modules/), the Lambdas' environment wiring and the local stack all read it from here.
 */
import { z } from "zod";
import { BATCHING_MODES } from "../contracts/runtimeSettings";
import {
  ASYNC_RETRY_ATTEMPTS, duplicateTransportProblem, FUNCTION_URL_ANSWER_BYTES, FUNCTION_URL_CONCURRENCY, INGRESS_MODES, type Transport, TRANSPORTS, WEBSOCKET_BURST_LIMIT, WEBSOCKET_RATE_LIMIT, MAXIMUM_EVENT_AGE_SECONDS,
  BATCH_MAX_DELAY_MS, BATCH_MAX_WINDOW_MS, BATCH_READING_TOKENS_PER_SECOND, DAILY_OUTPUT_TOKENS, dailyQuotaProblem,
  exactlyOneProblem, inferenceProfileRegionProblem, LAMBDA_MEMORY_MB, LAMBDA_TIMEOUT_SECONDS, logRetentionProblem, MAX_CONCURRENT_GENERATIONS,
  MAX_RECEIVE_COUNT, MODEL_ID_PATTERN, queueConcurrencyProblem, rangeProblem, RESERVED_CONCURRENCY, visibilityTimeoutProblem, WAF_RATE_LIMIT,
  windowCapProblem, duplicateToolNameProblem, LAMBDA_ARN_PATTERN, TOOL_DESCRIPTION_CHARS, TOOL_MAX_ROUNDS, TOOL_NOTICE_CHARS,
} from "./rules";
import { BUILT_IN_TOOL_NAMES, type BuiltInToolName, TOOL_NAME_PATTERN } from "../contracts/toolSpecs";

/** Reports a shared rule's problem (config/rules.ts) on the key being checked: `<key> <problem>`. */
const rule =
  <T>(problemOf: (value: T) => string | undefined) =>
  (value: T, ctx: z.RefinementCtx) => {
    const problem = problemOf(value);
    if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
  };

const wholeNumber = () => z.number({ invalid_type_error: "must be a number" }).refine(Number.isInteger, { message: "must be a whole number" });

/** An integer key with an inclusive range; the message is the one a reviewer reads in CI. */
const intBetween = (min: number, max: number) => wholeNumber().superRefine(rule((v: number) => rangeProblem(v, { min, max })));

const bool = () => z.boolean({ invalid_type_error: "must be true or false" });
const text = (what = "must be a string") => z.string({ invalid_type_error: what, required_error: "is required" });

const modelId = text().regex(MODEL_ID_PATTERN, "must be a Bedrock model id such as anthropic.claude-3-5-haiku-20241022-v1:0");

/** Environment and project names become resource names and state keys. */
export const ENV_NAME_PATTERN = /^[a-z][a-z0-9-]{1,19}$/;
const shortName = () => text().regex(ENV_NAME_PATTERN, "must be lower-case letters, digits and dashes, 2-20 characters");

const region = text().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, "must be an AWS region such as us-east-1");

const stateSchema = z.discriminatedUnion("backend", [
  z
    .object({
      backend: z.literal("s3"),
      /** Bucket made by the bootstrap stack, one per account. */
      bucket: text().min(3, "must be an S3 bucket name"),
      /** Key becomes `<key_prefix>/<env>/platform.tfstate`. */
      key_prefix: text().regex(/^[A-Za-z0-9._-]+$/, "must be a plain path segment").default("llm-stream"),
      region,
    })
    .strict(),
  z.object({ backend: z.literal("local") }).strict(),
]);

/** Bedrock guardrail ids (the ARN is built from it, with the environment's region and account). */
export const GUARDRAIL_ID_PATTERN = /^[a-z0-9]{1,32}$/;
/** A guardrail's working draft or one of its numbered versions, as ConverseStream's guardrailVersion takes it. */
export const GUARDRAIL_VERSION_PATTERN = /^(DRAFT|[1-9][0-9]{0,7})$/;
/** A regional web ACL (the scope AppSync can be associated with); groups: partition, region, account. */
export const WEB_ACL_ARN_PATTERN = /^arn:(aws[a-z-]*):wafv2:([a-z0-9-]+):(\d{12}):regional\/webacl\/[\w-]+\/[a-f0-9-]+$/;

/**
 * SYSTEM_PROMPT travels in each function's environment, which Lambda caps at 4 KB (keys plus values, in bytes). The
 * other variables take at most about 1,300 bytes (their names; 3 apply-time ARNs and URLs counted at 128 bytes; the
 * table names, ours and known at synth, at most 64 bytes each with 20-character project and environment names; the
 * batching mode, the limits and a 32-character guardrail id at their longest; flags and numbers; TOOLS_FILE, which
 * names the tool specs' file whatever the tools weigh), so 2,000 bytes of
 * prompt leave about 780 for DEFAULT_MODEL_ID and ALLOWED_MODEL_IDS (14 ids of 50 characters, tested; 15 do not
 * fit). The websocket transport's 2 variables (WS_ENDPOINT, an apply-time URL, and WS_TABLE) take about 190 of them in
 * the worker and the route function: 10 ids fit then (test/infra/websocket.test.ts). Longer model lists still fail
 * the synth in modules/bundledFunction.ts.
 */
export const SYSTEM_PROMPT_MAX_BYTES = 2000;

/**
 * Each key's type and range. The rules between keys are in crossFieldProblems: zod skips an object's refinements when
 * any of its fields fails, and validation reports every problem in one round.
 */
export const environmentFieldsSchema = z
  .object({
    /** Environment name; must equal the file's base name. */
    name: shortName(),
    /** Project name: prefixes resource names and the state key. */
    project: shortName().default("llm-stream"),
    /** The only account this environment may deploy into. */
    account_id: text().regex(/^\d{12}$/, "must be a 12-digit AWS account id"),
    region,
    /** Role the provider assumes (the environment's deploy role); also used by CI's OIDC login. */
    assume_role_arn: text().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@\/-]+$/, "must be an IAM role ARN").optional(),
    /** Extra tags on every resource, beside Project, Environment and ManagedBy. */
    tags: z.record(text("must be a map of strings")).default({}),
    state: stateSchema.default({ backend: "local" }),
    models: z
      .object({
        default_model_id: modelId,
        allowed_model_ids: z.array(modelId, { invalid_type_error: "must be a list of model ids" }).min(1, "must list at least one model id"),
      })
      .strict(),
    /** How sendQuery hands a request to the worker: through the inbound topic and work queue, or a Lambda Event invocation. */
    ingress: z.enum(INGRESS_MODES, { errorMap: () => ({ message: `must be one of ${INGRESS_MODES.map((m) => `"${m}"`).join(", ")}` }) }).default("queue"),
    /** With ingress = "async": Lambda's own queue and retries for the worker's invocations (aws_lambda_function_event_invoke_config). */
    async_ingress: z
      .object({
        /** How long an invocation may wait in Lambda's async queue (throttled, or between retries) before it goes to the on-failure DLQ. */
        maximum_event_age_seconds: intBetween(MAXIMUM_EVENT_AGE_SECONDS.min, MAXIMUM_EVENT_AGE_SECONDS.max).default(3600),
        /** Retries of an invocation that failed; a retry only ever meets the message's idempotency record. */
        maximum_retry_attempts: intBetween(ASYNC_RETRY_ATTEMPTS.min, ASYNC_RETRY_ATTEMPTS.max).default(2),
      })
      .strict()
      .default({}),
    /** How clients may receive answers; the stacks create only what is listed. AppSync is also the API that starts and stops them. */
    transports: z
      .array(text(), { invalid_type_error: "must be a list of transports" })
      .min(1, "must list at least one transport")
      // One pass over the list, so an unknown name and a repeated one are both reported in the same round.
      .superRefine((list, ctx) => {
        list.forEach((t, i) => {
          if (!(TRANSPORTS as readonly string[]).includes(t)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [i], message: `must be one of ${TRANSPORTS.map((n) => `"${n}"`).join(", ")}, got ${JSON.stringify(t)}` });
        });
        rule(duplicateTransportProblem)(list, ctx);
      })
      .transform((list) => list as Transport[])
      .default(["appsync"]),
    /** With "function_url" in transports: the streaming function behind the URL. */
    function_url: z
      .object({
        /** The function's reserved concurrency: an unauthenticated flood is refused by the JWT check and capped at this many. */
        reserved_concurrency: intBetween(FUNCTION_URL_CONCURRENCY.min, FUNCTION_URL_CONCURRENCY.max).default(10),
        /** An answer's cap in UTF-8 bytes; past it the answer ends (stopReason max_bytes). */
        max_answer_bytes: intBetween(FUNCTION_URL_ANSWER_BYTES.min, FUNCTION_URL_ANSWER_BYTES.max).default(1024 * 1024),
      })
      .strict()
      .default({}),
    /** With "websocket" in transports: the API Gateway WebSocket API's stage throttling. */
    websocket: z
      .object({
        /** Steady-state requests per second across the stage's routes. */
        throttling_rate_limit: intBetween(WEBSOCKET_RATE_LIMIT.min, WEBSOCKET_RATE_LIMIT.max).default(50),
        /** Burst of requests above the rate. */
        throttling_burst_limit: intBetween(WEBSOCKET_BURST_LIMIT.min, WEBSOCKET_BURST_LIMIT.max).default(100),
      })
      .strict()
      .default({}),
    /** The worker signs publishResponse itself instead of going through the outbound queue. */
    direct_send: bool().default(false),
    /** With direct_send: events that still fail after retries go to the outbound queue. */
    fallback_to_queue: bool().default(true),
    /** Lets a client pick DIRECT or QUEUED delivery per request (comparison panel, bench); otherwise direct_send decides. */
    client_delivery_choice: bool().default(false),
    batching: z
      .object({
        /** fixed: every chunk waits max_delay_ms; reading_pace: the window grows while the text is ahead of a reader. */
        mode: z.enum(BATCHING_MODES, { errorMap: () => ({ message: `must be one of ${BATCHING_MODES.join(", ")}` }) }).default("reading_pace"),
        /** Longest a chunk waits after its first delta (reading_pace: in the first 2 s, and its floor after them); 0 = one message per delta. */
        max_delay_ms: intBetween(BATCH_MAX_DELAY_MS.min, BATCH_MAX_DELAY_MS.max).default(250),
        /** A chunk is flushed when it reaches this many characters. */
        max_chars: intBetween(1, 8000).default(400),
        /** reading_pace: the simulated reader's pace from the first token; the window grows while the text is ahead of it. */
        reading_tokens_per_second: intBetween(BATCH_READING_TOKENS_PER_SECOND.min, BATCH_READING_TOKENS_PER_SECOND.max).default(15),
        /** reading_pace: the longest window; at least max_delay_ms (checked below). */
        max_window_ms: intBetween(BATCH_MAX_WINDOW_MS.min, BATCH_MAX_WINDOW_MS.max).default(1000),
      })
      .strict()
      .default({}),
    queue: z
      .object({
        fifo: bool().default(false),
        max_receive_count: intBetween(MAX_RECEIVE_COUNT.min, MAX_RECEIVE_COUNT.max).default(3),
        /** At least 6x the consumer Lambda's timeout (AWS guidance; checked below, with lambda.timeout_seconds). */
        visibility_timeout_seconds: intBetween(30, 43200).default(360),
        /** How long the relay retries an event through an AppSync outage before it moves it to the outbound DLQ. */
        relay_retry_seconds: intBetween(30, 3600).default(120),
      })
      .strict()
      .default({}),
    lambda: z
      .object({
        memory_mb: intBetween(LAMBDA_MEMORY_MB.min, LAMBDA_MEMORY_MB.max).default(512),
        /** At least 30: the worker stops Bedrock 6 s before its deadline and the relay keeps 10 s to publish with retries. */
        timeout_seconds: intBetween(30, LAMBDA_TIMEOUT_SECONDS.max).default(60),
        /** -1 (unreserved) or 2-1000: it also caps the SQS event sources, whose maximum_concurrency is at least 2. */
        reserved_concurrency: wholeNumber()
          // A fraction is already reported as not whole; the event-source rule is about whole numbers.
          .superRefine(rule((v: number) => rangeProblem(v, RESERVED_CONCURRENCY) ?? (Number.isInteger(v) ? queueConcurrencyProblem(v) : undefined)))
          .default(-1),
        log_retention_days: z.number({ invalid_type_error: "must be a number" }).superRefine(rule(logRetentionProblem)).default(30),
      })
      .strict()
      .default({}),
    generation: z
      .object({
        max_prompt_chars: intBetween(1, 100000).default(8000),
        max_tokens: intBetween(1, 64000).default(1024),
        temperature: z.number({ invalid_type_error: "must be a number" }).min(0, "must be between 0 and 1").max(1, "must be between 0 and 1").default(0.5),
        system_prompt: text()
          .superRefine((v, ctx) => {
            const bytes = new TextEncoder().encode(v).length;
            if (bytes > SYSTEM_PROMPT_MAX_BYTES) {
              ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be at most ${SYSTEM_PROMPT_MAX_BYTES} characters (UTF-8 bytes) so each function's environment fits Lambda's 4 KB, got ${bytes}` });
            }
          })
          .default("You are a helpful assistant. Answer in markdown."),
      })
      .strict()
      .default({}),
    /** Per-user limits, checked by sendQuery before anything is written or published (lambdas/send-query/admission.ts). */
    limits: z
      .object({
        /** Generations one user may have in flight at once; past it sendQuery answers LimitExceeded. */
        max_concurrent_generations_per_user: intBetween(MAX_CONCURRENT_GENERATIONS.min, MAX_CONCURRENT_GENERATIONS.max).default(3),
        /** Output tokens (Bedrock's reported usage) one user may use per UTC day; past it requests are refused until midnight UTC. */
        daily_output_tokens_per_user: intBetween(DAILY_OUTPUT_TOKENS.min, DAILY_OUTPUT_TOKENS.max).default(200000),
      })
      .strict()
      .default({}),
    /** A Bedrock guardrail applied to every generation (ConverseStream guardrailConfig); absent = none. */
    guardrail: z
      .object({
        id: text().regex(GUARDRAIL_ID_PATTERN, "must be a Bedrock guardrail id: lower-case letters and digits, such as abcdef123456"),
        version: text().regex(GUARDRAIL_VERSION_PATTERN, 'must be "DRAFT" or a version number such as "1" (a string)'),
        /** sync (default): every chunk is screened before it is sent; async: chunks go out at once and are screened behind them. */
        stream_processing_mode: z.enum(["async", "sync"], { errorMap: () => ({ message: 'must be "async" or "sync"' }) }).default("sync"),
      })
      .strict()
      .optional(),
    /** Tools the model may call while it answers (issue 15): built-ins by name, the team's tool Lambdas, the round bound. */
    tools: z
      .object({
        /** Built-in tools by name (contracts/toolSpecs.ts BUILT_IN_TOOL_NAMES). */
        enabled: z
          .array(text(), { invalid_type_error: "must be a list of built-in tool names" })
          .superRefine((list, ctx) => {
            list.forEach((name, i) => {
              if (!(BUILT_IN_TOOL_NAMES as readonly string[]).includes(name)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [i], message: `must be a built-in tool, one of ${BUILT_IN_TOOL_NAMES.map((n) => `"${n}"`).join(", ")}, got ${JSON.stringify(name)}` });
            });
          })
          .transform((list) => list as BuiltInToolName[])
          .default([]),
        /** The team's own tools, each a Lambda function the worker invokes synchronously (lambda:InvokeFunction on exactly these ARNs). */
        lambdas: z
          .array(
            z
              .object({
                name: text().regex(TOOL_NAME_PATTERN, "must be 1-64 letters, digits, _ or - (Bedrock's tool names)"),
                description: text().min(TOOL_DESCRIPTION_CHARS.min, "must not be empty").max(TOOL_DESCRIPTION_CHARS.max, `must be at most ${TOOL_DESCRIPTION_CHARS.max} characters`),
                /** A JSON Schema object (`"type": "object"`), relative to the tfvars file's folder; the loader makes it absolute and checks it. */
                input_schema_file: text().min(1, "must name a JSON Schema file"),
                lambda_arn: text().regex(LAMBDA_ARN_PATTERN, "must be a Lambda function ARN such as arn:aws:lambda:us-east-1:123456789012:function:lookup-order"),
                /** The user-facing notice, e.g. `Looking up order {orderId}...`: only the named input fields are rendered. */
                notice: text().min(TOOL_NOTICE_CHARS.min, "must not be empty").max(TOOL_NOTICE_CHARS.max, `must be at most ${TOOL_NOTICE_CHARS.max} characters`),
              })
              .strict(),
            { invalid_type_error: "must be a list of tool Lambdas" },
          )
          .default([]),
        /** Rounds of tool calls one message may make; past it the message ends (stopReason max_tool_rounds). */
        max_rounds: intBetween(TOOL_MAX_ROUNDS.min, TOOL_MAX_ROUNDS.max).default(5),
      })
      .strict()
      .default({}),
    appsync: z
      .object({
        xray: bool().default(true),
        field_log_level: z.enum(["NONE", "ERROR", "INFO", "DEBUG", "ALL"], { errorMap: () => ({ message: "must be one of NONE, ERROR, INFO, DEBUG, ALL" }) }).default("ERROR"),
        introspection: bool().default(true),
      })
      .strict()
      .default({}),
    cognito: z
      .object({
        /** Use this existing user pool instead of creating one. */
        existing_user_pool_id: text().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d_[A-Za-z0-9]+$/, "must be a Cognito user pool id such as us-east-1_AbC123").optional(),
      })
      .strict()
      .default({}),
    history: z
      .object({
        enabled: bool().default(true),
        ttl_days: intBetween(1, 3650).default(30),
      })
      .strict()
      .default({}),
    /** AWS WAF in front of the API: a web ACL created with an IP rate-based rule, or the team's own web ACL; absent = none. */
    waf: z
      .object({
        /** Requests one IP address may send in any 5-minute window before WAF blocks it. */
        rate_limit_per_5_minutes: intBetween(WAF_RATE_LIMIT.min, WAF_RATE_LIMIT.max).optional(),
        /** A web ACL of the team's own (same account and region) to associate instead of creating one. */
        web_acl_arn: text().regex(WEB_ACL_ARN_PATTERN, "must be a regional AWS WAF web ACL ARN such as arn:aws:wafv2:us-east-1:123456789012:regional/webacl/<name>/<id>").optional(),
      })
      .strict()
      .optional(),
    alarms: z
      .object({
        email: text().email("must be an email address").optional(),
        sns_topic_arn: text().regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w.-]+$/, "must be an SNS topic ARN").optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export type EnvironmentConfig = z.output<typeof environmentFieldsSchema>;

/** A problem with one key: `path` as zod names it, `message` phrased to follow the key. */
export interface KeyProblem {
  readonly path: (string | number)[];
  readonly message: string;
}

const sections = environmentFieldsSchema.shape;

/** A section of the raw tfvars with its defaults, or undefined when it fails its own checks (reported by the schema). */
function validSection<K extends keyof typeof sections>(raw: unknown, key: K): z.output<(typeof sections)[K]> | undefined {
  const value = raw !== null && typeof raw === "object" ? (raw as Record<string, unknown>)[key] : undefined;
  const parsed = sections[key].safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

/** Every model id must be one the region can call (config/rules.ts inferenceProfileRegionProblem). */
function modelRegionProblems(models: EnvironmentConfig["models"], region: string): KeyProblem[] {
  const keyed: [(string | number)[], string][] = [
    [["models", "default_model_id"], models.default_model_id],
    ...models.allowed_model_ids.map((id, i): [(string | number)[], string] => [["models", "allowed_model_ids", i], id]),
  ];
  return keyed.flatMap(([path, id]) => {
    const problem = inferenceProfileRegionProblem(id, region);
    return problem ? [{ path, message: problem }] : [];
  });
}

/** The daily quota must admit at least one full answer. */
function limitProblems(raw: unknown): KeyProblem[] {
  const [limits, generation] = [validSection(raw, "limits"), validSection(raw, "generation")];
  const quota = limits && generation && dailyQuotaProblem(limits.daily_output_tokens_per_user, generation.max_tokens, "generation.max_tokens");
  return quota ? [{ path: ["limits", "daily_output_tokens_per_user"], message: quota }] : [];
}

/** A web ACL is created or the team's own is given, not both; the team's must be in the environment's region and account. */
function wafProblems(raw: unknown): KeyProblem[] {
  const waf = validSection(raw, "waf");
  if (!waf) return [];
  const target = exactlyOneProblem(waf.rate_limit_per_5_minutes, waf.web_acl_arn, ["rate_limit_per_5_minutes", "web_acl_arn"]);
  if (target) return [{ path: ["waf"], message: target }];
  const [, , aclRegion, aclAccount] = (waf.web_acl_arn && WEB_ACL_ARN_PATTERN.exec(waf.web_acl_arn)) || [];
  const [region, account] = [validSection(raw, "region"), validSection(raw, "account_id")];
  if (aclRegion && region && account && (aclRegion !== region || aclAccount !== account)) {
    return [{ path: ["waf", "web_acl_arn"], message: `must be a web ACL of account ${account} in region ${region} (AppSync is associated only with a regional web ACL of its own account and region), got ${waf.web_acl_arn}` }];
  }
  return [];
}

/** Tool names are one namespace: read from the raw file, so a repeat is reported even when another tools key is wrong. */
function toolNameProblems(raw: unknown): KeyProblem[] {
  const tools = (raw !== null && typeof raw === "object" ? (raw as { tools?: unknown }).tools : undefined) as { enabled?: unknown; lambdas?: unknown } | undefined;
  const enabled = Array.isArray(tools?.enabled) ? tools.enabled.filter((n): n is string => typeof n === "string") : [];
  const lambdas = Array.isArray(tools?.lambdas) ? tools.lambdas.map((l) => (l as { name?: unknown } | null)?.name).filter((n): n is string => typeof n === "string") : [];
  const problem = duplicateToolNameProblem([...enabled, ...lambdas]);
  return problem ? [{ path: ["tools"], message: problem }] : [];
}

/**
 * The rules between keys, each checked whenever the sections it reads are valid on their own, so a type error
 * elsewhere in the file does not hide them.
 */
export function crossFieldProblems(raw: unknown): KeyProblem[] {
  const problems: KeyProblem[] = [];
  const models = validSection(raw, "models");
  if (models && !models.allowed_model_ids.includes(models.default_model_id)) {
    problems.push({ path: ["models", "default_model_id"], message: `must be one of models.allowed_model_ids, got ${models.default_model_id}` });
  }
  const region = validSection(raw, "region");
  if (models && region) problems.push(...modelRegionProblems(models, region));
  const alarms = validSection(raw, "alarms");
  const alarmTarget = alarms && exactlyOneProblem(alarms.email, alarms.sns_topic_arn, ["email", "sns_topic_arn"]);
  if (alarmTarget) problems.push({ path: ["alarms"], message: alarmTarget });
  problems.push(...limitProblems(raw), ...wafProblems(raw), ...toolNameProblems(raw));
  const batching = validSection(raw, "batching");
  const windowCap = batching && windowCapProblem(batching.max_window_ms, batching.max_delay_ms, "batching.max_delay_ms");
  if (windowCap) problems.push({ path: ["batching", "max_window_ms"], message: windowCap });
  const [queue, lambda] = [validSection(raw, "queue"), validSection(raw, "lambda")];
  const visibility = queue && lambda && visibilityTimeoutProblem(queue.visibility_timeout_seconds, lambda.timeout_seconds, "lambda.timeout_seconds");
  if (visibility) problems.push({ path: ["queue", "visibility_timeout_seconds"], message: visibility });
  return problems;
}

/** Names derived from the config, so no two places compute them differently. */
export function stackName(c: EnvironmentConfig): string {
  return `${c.project}-${c.name}`;
}

export function stateKey(c: EnvironmentConfig): string {
  const prefix = c.state.backend === "s3" ? c.state.key_prefix : c.project;
  return `${prefix}/${c.name}/platform.tfstate`;
}
