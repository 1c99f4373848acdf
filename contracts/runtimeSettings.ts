/**
 * The runtime settings: the functions' Lambda environment variables, their names, how they are written (by the stacks
 * and the local stack, from the environment config) and how the handlers read them. One home, so the writer and the
 * reader cannot drift. "Environment" alone means a deployment environment (environments/<env>.tfvars); here the
 * variables are "runtime variables". No secrets travel here: credentials come from the execution role (or, locally,
 * the SDK's default chain).
 */
import { z } from "zod";

/** How the worker times its chunks (config batching.mode): the fixed window, or the reading-pace one. */
export const BATCHING_MODES = ["fixed", "reading_pace"] as const;
export type BatchingMode = (typeof BATCHING_MODES)[number];

export interface RuntimeSettings {
  /** AppSync GraphQL endpoint (https://.../graphql); the producers sign publishResponse against it. */
  appsyncEndpoint: string;
  /** Worker publishes straight to AppSync instead of the outbound topic. */
  directSend: boolean;
  /** With directSend: events that still fail after retries go to the outbound topic. */
  fallbackToQueue: boolean;
  /** sendQuery honours a client's `delivery` choice; otherwise it is rejected. */
  clientDeliveryChoice: boolean;
  defaultModelId: string;
  allowedModelIds: string[];
  /** fixed: every chunk waits batchMaxDelayMs; reading_pace: the window grows while the text is ahead of a reader. */
  batchMode: BatchingMode;
  /** 0 = one chunk per delta. */
  batchMaxDelayMs: number;
  batchMaxChars: number;
  /** reading_pace: the reader's pace, tokens per second from the first token. */
  batchReadingTokensPerSecond: number;
  /** reading_pace: the longest window. */
  batchMaxWindowMs: number;
  /** The queued ingress: send-query publishes work requests here; empty on the async ingress. */
  inboundTopicArn: string;
  /** The async ingress: send-query invokes this function (the worker) with an Event invocation; empty on the queued ingress. */
  workerFunctionName: string;
  outboundTopicArn: string;
  /** The relay retries an event this long through an AppSync outage, then moves it to the outbound DLQ. */
  relayRetrySeconds: number;
  /** Idempotency records (Powertools) for the worker. */
  idempotencyTableName: string;
  /** Empty when history is disabled. */
  historyTableName: string;
  /** The durable message records (replay, stop); they expire after historyTtlDays. */
  messagesTableName: string;
  historyTtlDays: number;
  maxPromptChars: number;
  maxTokens: number;
  temperature: number;
  systemPrompt: string;
  /** Per-user usage rows and generation slots (send-query admits, the worker records, message-control reads). */
  usageTableName: string;
  /** Generations one user may have in flight at once. */
  maxConcurrentGenerations: number;
  /** Output tokens one user may use per UTC day. */
  dailyOutputTokens: number;
  /** How long a generation slot lives unrefreshed: the Lambda timeout plus a margin (a crashed worker's slot lapses then). */
  generationSlotSeconds: number;
  /** Bedrock guardrail id; empty when the environment has none. */
  guardrailId: string;
  guardrailVersion: string;
  /** `sync` or `async` (ConverseStream's streamProcessingMode); empty without a guardrail. */
  guardrailStreamMode: string;
  /**
   * The worker's tool spec file (contracts/toolSpecs.ts), resolved against its code's folder: `tools.json` beside the
   * bundle when the environment enables tools, an absolute path locally; empty = no tools. One short variable whatever
   * the tools' schemas weigh: they ride in the file, not in the 4 KB environment.
   */
  toolsFile: string;
}

/** The variable name of each setting. */
export const RUNTIME_VARIABLE_NAMES: Record<keyof RuntimeSettings, string> = {
  appsyncEndpoint: "APPSYNC_ENDPOINT",
  directSend: "DIRECT_SEND",
  fallbackToQueue: "FALLBACK_TO_QUEUE",
  clientDeliveryChoice: "CLIENT_DELIVERY_CHOICE",
  defaultModelId: "DEFAULT_MODEL_ID",
  allowedModelIds: "ALLOWED_MODEL_IDS",
  batchMode: "BATCH_MODE",
  batchMaxDelayMs: "BATCH_MAX_DELAY_MS",
  batchMaxChars: "BATCH_MAX_CHARS",
  batchReadingTokensPerSecond: "BATCH_READING_TPS",
  batchMaxWindowMs: "BATCH_MAX_WINDOW_MS",
  inboundTopicArn: "INBOUND_TOPIC_ARN",
  workerFunctionName: "WORKER_FUNCTION_NAME",
  outboundTopicArn: "OUTBOUND_TOPIC_ARN",
  relayRetrySeconds: "RELAY_RETRY_SECONDS",
  idempotencyTableName: "IDEMPOTENCY_TABLE_NAME",
  historyTableName: "HISTORY_TABLE_NAME",
  messagesTableName: "MESSAGES_TABLE_NAME",
  historyTtlDays: "HISTORY_TTL_DAYS",
  maxPromptChars: "MAX_PROMPT_CHARS",
  maxTokens: "MAX_TOKENS",
  temperature: "TEMPERATURE",
  systemPrompt: "SYSTEM_PROMPT",
  usageTableName: "USAGE_TABLE_NAME",
  maxConcurrentGenerations: "MAX_CONCURRENT_GENERATIONS",
  dailyOutputTokens: "DAILY_OUTPUT_TOKENS",
  generationSlotSeconds: "GENERATION_SLOT_SECONDS",
  guardrailId: "GUARDRAIL_ID",
  guardrailVersion: "GUARDRAIL_VERSION",
  guardrailStreamMode: "GUARDRAIL_STREAM_MODE",
  toolsFile: "TOOLS_FILE",
};

/** A setting as its variable's value: lists comma-separated, the rest as strings (Lambda takes only strings). */
const variableValue = (v: string | number | boolean | string[]): string => (Array.isArray(v) ? v.join(",") : String(v));

/** Every function gets the same settings; each reads the part it needs. Values are strings, as Lambda requires. */
export function runtimeVariables(s: RuntimeSettings): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(RUNTIME_VARIABLE_NAMES) as (keyof RuntimeSettings)[]) out[RUNTIME_VARIABLE_NAMES[key]] = variableValue(s[key]);
  return out;
}

/**
 * Whose tokens a function accepts, for the functions that verify user pool tokens themselves (the Function URL's
 * function, the WebSocket authorizer); only their environments carry them.
 */
export interface TokenSettings {
  /** The user pool's issuer: tokens must name it in `iss`, its JWKS is at `<issuer>/.well-known/jwks.json`. */
  jwtIssuer: string;
  /** The app client: `aud` of ID tokens, `client_id` of access tokens. */
  jwtClientId: string;
}

export const TOKEN_VARIABLE_NAMES: Record<keyof TokenSettings, string> = { jwtIssuer: "JWT_ISSUER", jwtClientId: "JWT_CLIENT_ID" };

export function tokenVariables(s: TokenSettings): Record<string, string> {
  return { [TOKEN_VARIABLE_NAMES.jwtIssuer]: s.jwtIssuer, [TOKEN_VARIABLE_NAMES.jwtClientId]: s.jwtClientId };
}

/**
 * The settings only the Function URL's function reads (config transports "function_url"); its environment alone carries
 * them, so the other functions' 4 KB stay as they are.
 */
export interface FunctionUrlSettings extends TokenSettings {
  /** function_url.max_answer_bytes: an answer ends (stopReason max_bytes) before its content passes this many UTF-8 bytes. */
  maxAnswerBytes: number;
}

export const FUNCTION_URL_VARIABLE_NAMES: Record<keyof FunctionUrlSettings, string> = { ...TOKEN_VARIABLE_NAMES, maxAnswerBytes: "MAX_ANSWER_BYTES" };

/**
 * The shared settings the Function URL's function reads: admission, generation and the tables it writes. Not the
 * hand-off, the delivery (always its own response) nor the relay's: its environment leaves them out, which is what
 * makes room for its own three within 4 KB.
 */
export const FUNCTION_URL_SHARED_SETTINGS = [
  "defaultModelId", "allowedModelIds", "maxPromptChars", "maxTokens", "temperature", "systemPrompt",
  "batchMode", "batchMaxDelayMs", "batchMaxChars", "batchReadingTokensPerSecond", "batchMaxWindowMs",
  "historyTableName", "messagesTableName", "historyTtlDays", "usageTableName",
  "maxConcurrentGenerations", "dailyOutputTokens", "generationSlotSeconds", "guardrailId", "guardrailVersion", "guardrailStreamMode",
  "toolsFile",
] as const satisfies readonly (keyof RuntimeSettings)[];

/** What the Function URL's function reads at load. */
export type FunctionUrlRuntimeSettings = Pick<RuntimeSettings, (typeof FUNCTION_URL_SHARED_SETTINGS)[number]> & FunctionUrlSettings;

/** The Function URL function's environment: its part of the shared settings, and its own. */
export function functionUrlVariables(s: RuntimeSettings, f: FunctionUrlSettings): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of FUNCTION_URL_SHARED_SETTINGS) out[RUNTIME_VARIABLE_NAMES[key]] = variableValue(s[key]);
  for (const key of Object.keys(FUNCTION_URL_VARIABLE_NAMES) as (keyof FunctionUrlSettings)[]) out[FUNCTION_URL_VARIABLE_NAMES[key]] = variableValue(f[key]);
  return out;
}

/** Metrics namespace the handlers use when POWERTOOLS_METRICS_NAMESPACE is not set. */
export const DEFAULT_METRICS_NAMESPACE = "LlmStreamPlatform";

export interface ObservabilitySettings {
  /** Powertools service name (one per function); left out where several handlers share one process (local stack). */
  serviceName?: string;
  metricsNamespace: string;
  /** Environment name (dev, staging, ...), for log and metric context. */
  environment?: string;
}

/** The Powertools variables (service name, metrics namespace) and ENVIRONMENT, written next to runtimeVariables. */
export function observabilityVariables(o: ObservabilitySettings): Record<string, string> {
  return {
    ...(o.serviceName !== undefined ? { POWERTOOLS_SERVICE_NAME: o.serviceName } : {}),
    POWERTOOLS_METRICS_NAMESPACE: o.metricsNamespace,
    ...(o.environment !== undefined ? { ENVIRONMENT: o.environment } : {}),
  };
}

/** The handlers' metrics namespace: the configured one, else the default. */
export function metricsNamespace(env: NodeJS.ProcessEnv = process.env): string {
  return env.POWERTOOLS_METRICS_NAMESPACE ?? DEFAULT_METRICS_NAMESPACE;
}

const flag = z.enum(["true", "false"]).transform((v) => v === "true");
const int = z.coerce.number().int().min(0);

const runtimeShape = z.object({
  appsyncEndpoint: z.string().url(),
  directSend: flag,
  fallbackToQueue: flag,
  clientDeliveryChoice: flag,
  defaultModelId: z.string().min(1),
  allowedModelIds: z.string().transform((v) => v.split(",").filter(Boolean)),
  batchMode: z.enum(BATCHING_MODES),
  batchMaxDelayMs: int,
  batchMaxChars: int.min(1),
  batchReadingTokensPerSecond: int.min(1),
  batchMaxWindowMs: int,
  inboundTopicArn: z.string(),
  workerFunctionName: z.string(),
  outboundTopicArn: z.string().min(1),
  relayRetrySeconds: int.min(1),
  idempotencyTableName: z.string().min(1),
  historyTableName: z.string(),
  messagesTableName: z.string().min(1),
  historyTtlDays: int,
  maxPromptChars: int.min(1),
  maxTokens: int.min(1),
  temperature: z.coerce.number().min(0).max(1),
  systemPrompt: z.string(),
  usageTableName: z.string().min(1),
  maxConcurrentGenerations: int.min(1),
  dailyOutputTokens: int.min(1),
  generationSlotSeconds: int.min(1),
  guardrailId: z.string(),
  guardrailVersion: z.string(),
  guardrailStreamMode: z.enum(["", "sync", "async"]),
  toolsFile: z.string(),
});
const runtimeSchema = runtimeShape
  // The hand-off to the worker is one of the two ingresses: exactly one of the topic and the function is named.
  .refine((v) => (v.inboundTopicArn === "") !== (v.workerFunctionName === ""), { path: ["inboundTopicArn"], message: "set this (queued ingress) or WORKER_FUNCTION_NAME (async ingress), exactly one" });

const tokenSchema = z.object({ jwtIssuer: z.string().url(), jwtClientId: z.string().min(1) });

const functionUrlSchema = runtimeShape
  .pick(Object.fromEntries(FUNCTION_URL_SHARED_SETTINGS.map((k) => [k, true])) as { [K in (typeof FUNCTION_URL_SHARED_SETTINGS)[number]]: true })
  .merge(tokenSchema)
  .extend({ maxAnswerBytes: int.min(1) });

/** Reads `names`' variables from `env` through `schema`; throws naming every missing or bad variable. */
function readVariables<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, names: Record<string, string>, env: NodeJS.ProcessEnv): T {
  const input: Record<string, unknown> = {};
  for (const [key, name] of Object.entries(names)) input[key] = env[name];
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${names[String(i.path[0])]}: ${i.message}`);
    throw new Error(`Invalid Lambda environment: ${problems.join("; ")}`);
  }
  return parsed.data;
}

/**
 * The websocket transport's two variables, written only for the functions that use them (the route function and the
 * worker), beside runtimeVariables: the other functions' 4 KB stay untouched.
 */
export interface WebsocketSettings {
  /** The @connections management endpoint, https://<api id>.execute-api.<region>.amazonaws.com/<stage>. */
  websocketEndpoint: string;
  /** The connections table (contracts/tables.ts CONNECTIONS_TABLE). */
  connectionsTableName: string;
}

export const WEBSOCKET_VARIABLE_NAMES: Record<keyof WebsocketSettings, string> = { websocketEndpoint: "WS_ENDPOINT", connectionsTableName: "WS_TABLE" };

export function websocketVariables(s: WebsocketSettings): Record<string, string> {
  return { [WEBSOCKET_VARIABLE_NAMES.websocketEndpoint]: s.websocketEndpoint, [WEBSOCKET_VARIABLE_NAMES.connectionsTableName]: s.connectionsTableName };
}

/** The websocket settings, or undefined where the transport is off (neither variable set); throws when only one is. */
export function readWebsocketSettings(env: NodeJS.ProcessEnv = process.env): WebsocketSettings | undefined {
  const websocketEndpoint = env[WEBSOCKET_VARIABLE_NAMES.websocketEndpoint] ?? "";
  const connectionsTableName = env[WEBSOCKET_VARIABLE_NAMES.connectionsTableName] ?? "";
  if (!websocketEndpoint && !connectionsTableName) return undefined;
  const problems = [
    ...(z.string().url().safeParse(websocketEndpoint).success ? [] : [`${WEBSOCKET_VARIABLE_NAMES.websocketEndpoint}: must be the @connections endpoint URL`]),
    ...(connectionsTableName ? [] : [`${WEBSOCKET_VARIABLE_NAMES.connectionsTableName}: must name the connections table`]),
  ];
  if (problems.length) throw new Error(`Invalid Lambda environment: ${problems.join("; ")}`);
  return { websocketEndpoint, connectionsTableName };
}

/** Reads the settings from process.env (or a given map); throws naming every missing or bad variable. */
export function readRuntimeSettings(env: NodeJS.ProcessEnv = process.env): RuntimeSettings {
  return readVariables(runtimeSchema, RUNTIME_VARIABLE_NAMES, env);
}

/** The Function URL function's settings (functionUrlVariables wrote them); throws naming every missing or bad variable. */
export function readFunctionUrlSettings(env: NodeJS.ProcessEnv = process.env): FunctionUrlRuntimeSettings {
  const names = { ...Object.fromEntries(FUNCTION_URL_SHARED_SETTINGS.map((k) => [k, RUNTIME_VARIABLE_NAMES[k]])), ...FUNCTION_URL_VARIABLE_NAMES };
  return readVariables(functionUrlSchema, names, env);
}

/** Reads the token settings of the functions that check user pool tokens themselves (the WebSocket authorizer). */
export function readTokenSettings(env: NodeJS.ProcessEnv = process.env): TokenSettings {
  return readVariables(tokenSchema, TOKEN_VARIABLE_NAMES, env);
}
