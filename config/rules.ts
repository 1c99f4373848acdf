/**
 * The rules that both the config schema (config/schema.ts) and the constructs (modules/) enforce, each in one place.
 * A rule is a pure function that returns what is wrong, phrased to follow the name of the checked value, or undefined.
 * The schema reports `<key> <problem>`; a construct throws `<id>: <prop> <problem>` through `enforce`.
 */

/** An inclusive range of whole numbers. */
export interface Range {
  readonly min: number;
  readonly max: number;
}

/** Lambda's memory sizes. */
export const LAMBDA_MEMORY_MB: Range = { min: 128, max: 10240 };
/** Lambda's timeouts; the schema asks for at least 30 s (the worker's and the relay's deadline budgets). */
export const LAMBDA_TIMEOUT_SECONDS: Range = { min: 1, max: 900 };
/** Receives before SQS moves a work request to its DLQ (queue.max_receive_count). */
export const MAX_RECEIVE_COUNT: Range = { min: 1, max: 20 };
/** What SQS accepts as a RedrivePolicy's maxReceiveCount (the outbound queue's backstop may be above 20). */
export const SQS_MAX_RECEIVE_COUNT: Range = { min: 1, max: 1000 };
/** A function's reserved concurrency; -1 leaves it unreserved. */
export const RESERVED_CONCURRENCY: Range = { min: -1, max: 1000 };
export const UNRESERVED = -1;
/** The range AWS accepts for an SQS event source's scaling_config.maximum_concurrency. */
export const QUEUE_CONCURRENCY: Range = { min: 2, max: 1000 };
/** AWS guidance: a queue's visibility timeout is at least this many times its consumer's timeout. */
export const MIN_VISIBILITY_MULTIPLE = 6;
/** batching.max_delay_ms: the fixed window, and the reading-pace window's floor. */
export const BATCH_MAX_DELAY_MS: Range = { min: 0, max: 1000 };
/** batching.reading_tokens_per_second: a person reads 5-15; beyond 100 nothing is ever ahead of the reader. */
export const BATCH_READING_TOKENS_PER_SECOND: Range = { min: 1, max: 100 };
/** batching.max_window_ms: past a few seconds a reader who skims ahead would wait for the text. */
export const BATCH_MAX_WINDOW_MS: Range = { min: 0, max: 5000 };

/** The reading-pace window grows from the fixed one, so its cap cannot be below it; `delayName` names max_delay_ms in the message. */
export function windowCapProblem(maxWindowMs: number, maxDelayMs: number, delayName: string): string | undefined {
  return maxWindowMs < maxDelayMs ? `must be at least ${delayName} (${maxDelayMs}), got ${maxWindowMs}` : undefined;
}

/** CloudWatch Logs accepts only these retention periods. */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

export function rangeProblem(value: number, range: Range): string | undefined {
  return value < range.min || value > range.max ? `must be between ${range.min} and ${range.max}, got ${value}` : undefined;
}

/** So a batch is not redelivered while its consumer still works on it; `timeoutName` names the timeout in the message. */
export function visibilityTimeoutProblem(visibilitySeconds: number, consumerTimeoutSeconds: number, timeoutName: string): string | undefined {
  const min = MIN_VISIBILITY_MULTIPLE * consumerTimeoutSeconds;
  return visibilitySeconds < min ? `must be at least ${MIN_VISIBILITY_MULTIPLE} x ${timeoutName} (${min}), got ${visibilitySeconds}` : undefined;
}

/**
 * A reservation also caps the function's SQS event sources, whose maximum_concurrency is 2-1000: a reservation of 0 or 1
 * cannot be matched, and a cap of 2 over 1 would throttle. `appliesTo` narrows the message (e.g. "for a queue consumer").
 */
export function queueConcurrencyProblem(reserved: number, appliesTo?: string): string | undefined {
  if (reserved === UNRESERVED || !rangeProblem(reserved, QUEUE_CONCURRENCY)) return undefined;
  const scope = appliesTo ? ` ${appliesTo}` : "";
  return `must be -1 (unreserved) or between ${QUEUE_CONCURRENCY.min} and ${QUEUE_CONCURRENCY.max}${scope} (the SQS event source's maximum_concurrency range)`;
}

export function logRetentionProblem(days: number): string | undefined {
  return LOG_RETENTION_DAYS.includes(days) ? undefined : `must be one of CloudWatch's retention periods (${LOG_RETENTION_DAYS.slice(0, 12).join(", ")}, ...)`;
}

/**
 * Exactly one of two ways to say the same thing: alarms to a topic created for an email or to an existing topic; a web
 * ACL created with a rate limit or the team's own. `names` are the caller's words for the two.
 */
export function exactlyOneProblem(first: unknown, second: unknown, names: readonly [string, string]): string | undefined {
  if (first !== undefined && second !== undefined) return `set ${names[0]} or ${names[1]}, not both`;
  if (first === undefined && second === undefined) return `set ${names[0]} or ${names[1]}`;
  return undefined;
}

/**
 * How a generation reaches the worker (config `ingress`): `queue`, send-query publishes to the inbound topic and the
 * work queue's event source mapping invokes the worker; `async`, send-query invokes the worker itself with a Lambda
 * Event (asynchronous) invocation.
 */
export const INGRESS_MODES = ["queue", "async"] as const;
export type IngressMode = (typeof INGRESS_MODES)[number];
/**
 * How a client may receive its answer (config `transports`): AppSync subscriptions (multi-client, managed pub/sub), a
 * Lambda Function URL streaming NDJSON to the one caller, or an API Gateway WebSocket (bidirectional, persistent).
 */
export const TRANSPORTS = ["appsync", "function_url", "websocket"] as const;
export type Transport = (typeof TRANSPORTS)[number];
/** Reserved concurrency of the Function URL's streaming function: an unauthenticated flood is capped at this many. */
export const FUNCTION_URL_CONCURRENCY: Range = { min: 1, max: 1000 };
/** An answer's cap in bytes on the Function URL, far under Lambda's 200 MB streamed-response limit. */
export const FUNCTION_URL_ANSWER_BYTES: Range = { min: 16 * 1024, max: 6 * 1024 * 1024 };
/** API Gateway stage throttling: steady requests per second and burst (the account's default quota is 10,000 / 5,000). */
export const WEBSOCKET_RATE_LIMIT: Range = { min: 1, max: 10000 };
export const WEBSOCKET_BURST_LIMIT: Range = { min: 1, max: 5000 };

/** Each transport at most once. */
export function duplicateTransportProblem(transports: readonly string[]): string | undefined {
  const repeated = transports.filter((t, i) => transports.indexOf(t) !== i);
  return repeated.length ? `must list each transport once, got ${[...new Set(repeated)].map((t) => `"${t}"`).join(", ")} more than once` : undefined;
}
/** What Lambda accepts as an event invoke config's maximum_event_age_in_seconds (async_ingress.maximum_event_age_seconds). */
export const MAXIMUM_EVENT_AGE_SECONDS: Range = { min: 60, max: 21600 };
/** What Lambda accepts as an event invoke config's maximum_retry_attempts (async_ingress.maximum_retry_attempts). */
export const ASYNC_RETRY_ATTEMPTS: Range = { min: 0, max: 2 };
/**
 * Lambda retries a failed asynchronous invocation after about 1 minute, then 2 minutes. The worker's in-progress
 * idempotency record must outlive every attempt and those waits, so a retry after a crash can only meet that record
 * (and fail into the on-failure destination), never start a second generation.
 */
export const ASYNC_RETRY_WAIT_SECONDS = 180;

/** The async path's idempotency record lives `expirySeconds`: it must outlive every attempt plus Lambda's retry waits. */
export function asyncRetryWindowProblem(expirySeconds: number, timeoutSeconds: number, retries: number): string | undefined {
  const window = (retries + 1) * timeoutSeconds + (retries > 0 ? ASYNC_RETRY_WAIT_SECONDS : 0);
  return window >= expirySeconds ? `retries of ${retries} over a ${timeoutSeconds} s timeout span ${window} s, not within the idempotency record's ${expirySeconds} s` : undefined;
}

/** Generations one user may have in flight at once (limits.max_concurrent_generations_per_user). */
export const MAX_CONCURRENT_GENERATIONS: Range = { min: 1, max: 1000 };
/** Output tokens one user may use per UTC day (limits.daily_output_tokens_per_user). */
export const DAILY_OUTPUT_TOKENS: Range = { min: 1, max: 1_000_000_000 };
/** What AWS WAF accepts as a rate-based rule's limit: requests per IP address in a 5-minute window. */
export const WAF_RATE_LIMIT: Range = { min: 10, max: 2_000_000_000 };

/**
 * The daily quota admits a request only while the day's usage plus one full answer per generation in flight stays
 * under it (lambdas/send-query/admission.ts), so a quota below one answer (generation.max_tokens) admits nothing.
 */
export function dailyQuotaProblem(dailyOutputTokens: number, maxTokens: number, maxTokensName: string): string | undefined {
  return dailyOutputTokens < maxTokens ? `must be at least ${maxTokensName} (${maxTokens}): one answer may use that many, got ${dailyOutputTokens}` : undefined;
}

/**
 * Cross-region inference profile ids start with their geography (`us.anthropic...`); foundation model ids do not. Bedrock
 * serves a profile only to requests from its own geography's regions ("Supported Regions and models for inference
 * profiles" in the Bedrock user guide), so a profile outside it fails every call at run time. `global.` routes to every
 * commercial region and is callable from any of them, but not from GovCloud, a separate partition with its own
 * `us-gov.` profiles; `us.` is the commercial US, so not GovCloud either.
 */
export const INFERENCE_PROFILE_GEOGRAPHIES: Readonly<Record<string, { regions: RegExp; where: string }>> = {
  us: { regions: /^us-(?!gov-)/, where: "us-* regions (not GovCloud)" },
  "us-gov": { regions: /^us-gov-/, where: "us-gov-* regions" },
  eu: { regions: /^eu-/, where: "eu-* regions" },
  apac: { regions: /^ap-/, where: "ap-* regions" },
  jp: { regions: /^ap-northeast-[13]$/, where: "ap-northeast-1 and ap-northeast-3" },
  au: { regions: /^ap-southeast-[24]$/, where: "ap-southeast-2 and ap-southeast-4" },
  global: { regions: /^(?!us-gov-)/, where: "commercial regions (not GovCloud)" },
};

const GEOGRAPHY_ALTERNATION = Object.keys(INFERENCE_PROFILE_GEOGRAPHIES).join("|");

/** The geography prefix of an inference profile id, dot included (`us.`); foundation model ids have none. */
export const PROFILE_PREFIX = new RegExp(`^(?:${GEOGRAPHY_ALTERNATION})\\.`);

/** Bedrock model ids: foundation models (`anthropic.claude-...`) and cross-region inference profiles (`us.anthropic....`). */
export const MODEL_ID_PATTERN = new RegExp(`^(?:(?:${GEOGRAPHY_ALTERNATION})\\.)?[a-z0-9-]+\\.[A-Za-z0-9._:-]+$`);

/** A model id the environment's region can call: a foundation model, or an inference profile of the region's geography. */
export function inferenceProfileRegionProblem(modelId: string, region: string): string | undefined {
  const geography = PROFILE_PREFIX.exec(modelId)?.[0].slice(0, -1);
  if (geography === undefined || INFERENCE_PROFILE_GEOGRAPHIES[geography].regions.test(region)) return undefined;
  const usable = Object.entries(INFERENCE_PROFILE_GEOGRAPHIES).filter(([, g]) => g.regions.test(region)).map(([name]) => `${name}.`);
  const where = INFERENCE_PROFILE_GEOGRAPHIES[geography].where;
  return `is a ${geography}. inference profile, which Bedrock serves only from ${where}, not from region ${region} (use a foundation model id or a profile starting ${usable.join(" or ")}), got ${modelId}`;
}

/** For constructs, which guard their own props with the same rules: throws `<id>: <prop> <problem>` (or `<id>: <problem>`). */
export function enforce(id: string, problem: string | undefined, prop?: string): void {
  if (problem !== undefined) throw new Error(prop ? `${id}: ${prop} ${problem}` : `${id}: ${problem}`);
}

/** Rounds of tool calls per message (tools.max_rounds): each is one more model call and the calls' time. */
export const TOOL_MAX_ROUNDS: Range = { min: 1, max: 20 };
/** A tool's description as the model reads it (tools.lambdas[].description). */
export const TOOL_DESCRIPTION_CHARS: Range = { min: 1, max: 1000 };
/** A notice template (tools.lambdas[].notice), e.g. `Looking up order {orderId}...`; the rendered notice is bounded on the wire too. */
export const TOOL_NOTICE_CHARS: Range = { min: 1, max: 120 };
/** An input schema file's size: it rides in the worker's bundle and in every model request that offers the tool. */
export const TOOL_SCHEMA_MAX_BYTES = 16 * 1024;
/** A Lambda function's ARN, optionally with a version or alias: groups partition, region, account. */
export const LAMBDA_ARN_PATTERN = /^arn:(aws[a-z-]*):lambda:([a-z0-9-]+):(\d{12}):function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]{1,128})?$/;
/** The `{field}` placeholders of a notice template. */
export const NOTICE_FIELD = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** The field names a notice template renders, in order. */
export function noticeFields(template: string): string[] {
  return [...template.matchAll(NOTICE_FIELD)].map((m) => m[1]!);
}

/** Every tool once: a built-in and a team's Lambda share the model's one namespace of tool names. */
export function duplicateToolNameProblem(names: readonly string[]): string | undefined {
  const repeated = names.filter((n, i) => names.indexOf(n) !== i);
  return repeated.length ? `must name each tool once across tools.enabled and tools.lambdas, got ${[...new Set(repeated)].map((n) => `"${n}"`).join(", ")} more than once` : undefined;
}

/**
 * A tool's input schema as Bedrock takes it (toolSpec.inputSchema.json): a JSON object whose `type` is "object", whose
 * `properties` (when present) is an object and `required` (when present) a list of its names. `text` is the file's.
 */
export function toolInputSchemaProblem(text: string): string | undefined {
  if (new TextEncoder().encode(text).length > TOOL_SCHEMA_MAX_BYTES) return `is over ${TOOL_SCHEMA_MAX_BYTES} bytes`;
  let schema: unknown;
  try {
    schema = JSON.parse(text);
  } catch (e) {
    return `is not valid JSON (${(e as Error).message})`;
  }
  const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
  if (!isMap(schema) || schema.type !== "object") return 'must hold a JSON Schema object: a JSON object with "type": "object"';
  if (schema.properties !== undefined && !isMap(schema.properties)) return 'must have "properties" as an object of property schemas';
  const names = isMap(schema.properties) ? Object.keys(schema.properties) : [];
  const required = schema.required;
  if (required !== undefined && !(Array.isArray(required) && required.every((r) => typeof r === "string" && names.includes(r)))) {
    return 'must have "required" as a list of names under "properties"';
  }
  return undefined;
}

/** A notice may render only fields the tool's input defines, so it never says "{orderId}" or anything else raw. */
export function noticeFieldProblem(template: string, properties: readonly string[]): string | undefined {
  const unknown = noticeFields(template).filter((f) => !properties.includes(f));
  return unknown.length ? `names ${unknown.map((f) => `{${f}}`).join(", ")}, which the input schema does not define under "properties"` : undefined;
}
