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

/** Every function gets the same settings; each reads the part it needs. Values are strings, as Lambda requires. */
export function runtimeVariables(s: RuntimeSettings): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(RUNTIME_VARIABLE_NAMES) as (keyof RuntimeSettings)[]) {
    const v = s[key];
    out[RUNTIME_VARIABLE_NAMES[key]] = Array.isArray(v) ? v.join(",") : String(v);
  }
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

const runtimeSchema = z.object({
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
})
  // The hand-off to the worker is one of the two ingresses: exactly one of the topic and the function is named.
  .refine((v) => (v.inboundTopicArn === "") !== (v.workerFunctionName === ""), { path: ["inboundTopicArn"], message: "set this (queued ingress) or WORKER_FUNCTION_NAME (async ingress), exactly one" });

/** Reads the settings from process.env (or a given map); throws naming every missing or bad variable. */
export function readRuntimeSettings(env: NodeJS.ProcessEnv = process.env): RuntimeSettings {
  const input: Record<string, unknown> = {};
  for (const key of Object.keys(RUNTIME_VARIABLE_NAMES) as (keyof RuntimeSettings)[]) input[key] = env[RUNTIME_VARIABLE_NAMES[key]];
  const parsed = runtimeSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${RUNTIME_VARIABLE_NAMES[i.path[0] as keyof RuntimeSettings]}: ${i.message}`);
    throw new Error(`Invalid Lambda environment: ${problems.join("; ")}`);
  }
  return parsed.data;
}
