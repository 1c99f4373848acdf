/** Maps an environment config plus the names of provisioned resources to the Lambdas' runtime settings. Used by the stacks and the local stack alike. */
import type { ClientBatching } from "../client/config";
import type { FunctionUrlSettings, RuntimeSettings } from "../contracts/runtimeSettings";
import { TOOL_SPEC_FILE_NAME, type ToolSpecFile } from "../contracts/toolSpecs";
import { readToolInputSchema } from "./toolSchemas";
import { resourceNames } from "./names";
import type { EnvironmentConfig } from "./schema";

/** Names and addresses only known once resources exist (Terraform tokens when synthesized, real values locally). */
export interface ProvisionedResources {
  appsyncEndpoint: string;
  inboundTopicArn: string;
  outboundTopicArn: string;
  idempotencyTableName: string;
  historyTableName: string;
  messagesTableName: string;
  usageTableName: string;
  /** Where the worker finds its tool spec file: locally an absolute path; default `tools.json` beside the bundled code. */
  toolsFile?: string;
}

/**
 * A generation slot lapses this long after the Lambda timeout unless it is released: a worker that crashed (or timed
 * out hard) never holds a user's slot longer than its timeout plus this margin (clock skew between hosts, the refresh write).
 */
export const SLOT_EXPIRY_MARGIN_SECONDS = 30;

export function runtimeSettingsFor(c: EnvironmentConfig, r: ProvisionedResources): RuntimeSettings {
  return {
    appsyncEndpoint: r.appsyncEndpoint,
    directSend: c.direct_send,
    fallbackToQueue: c.fallback_to_queue,
    clientDeliveryChoice: c.client_delivery_choice,
    defaultModelId: c.models.default_model_id,
    allowedModelIds: c.models.allowed_model_ids,
    batchMode: c.batching.mode,
    batchMaxDelayMs: c.batching.max_delay_ms,
    batchMaxChars: c.batching.max_chars,
    batchReadingTokensPerSecond: c.batching.reading_tokens_per_second,
    batchMaxWindowMs: c.batching.max_window_ms,
    // One of the two, by ingress; the other is empty (nothing else reads them, and the 4 KB environment has no room for both).
    inboundTopicArn: c.ingress === "async" ? "" : r.inboundTopicArn,
    // Our own name (config/names.ts), known at synth: a literal in the 4 KB environment, as the table names are.
    workerFunctionName: c.ingress === "async" ? resourceNames(c).functions.streamWorker : "",
    outboundTopicArn: r.outboundTopicArn,
    relayRetrySeconds: c.queue.relay_retry_seconds,
    idempotencyTableName: r.idempotencyTableName,
    historyTableName: c.history.enabled ? r.historyTableName : "",
    messagesTableName: r.messagesTableName,
    historyTtlDays: c.history.ttl_days,
    maxPromptChars: c.generation.max_prompt_chars,
    maxTokens: c.generation.max_tokens,
    temperature: c.generation.temperature,
    systemPrompt: c.generation.system_prompt,
    usageTableName: r.usageTableName,
    maxConcurrentGenerations: c.limits.max_concurrent_generations_per_user,
    dailyOutputTokens: c.limits.daily_output_tokens_per_user,
    generationSlotSeconds: c.lambda.timeout_seconds + SLOT_EXPIRY_MARGIN_SECONDS,
    guardrailId: c.guardrail?.id ?? "",
    guardrailVersion: c.guardrail?.version ?? "",
    guardrailStreamMode: c.guardrail?.stream_processing_mode ?? "",
    toolsFile: toolSpecsFor(c) ? (r.toolsFile ?? TOOL_SPEC_FILE_NAME) : "",
  };
}

/**
 * The worker's tool spec file (contracts/toolSpecs.ts) for the environment, or undefined when it enables no tool. The
 * schema files are read here, from the absolute paths the loader resolved (config/toolSchemas.ts checked them).
 */
export function toolSpecsFor(c: EnvironmentConfig): ToolSpecFile | undefined {
  const { enabled, lambdas, max_rounds } = c.tools;
  if (enabled.length === 0 && lambdas.length === 0) return undefined;
  return {
    maxRounds: max_rounds,
    builtIn: enabled,
    lambdas: lambdas.map((l) => {
      const read = readToolInputSchema(l.input_schema_file);
      if ("problem" in read) throw new Error(`tools.lambdas: input_schema_file ${read.problem}`);
      return { name: l.name, description: l.description, inputSchema: read.schema, lambdaArn: l.lambda_arn, notice: l.notice };
    }),
  };
}

/** The user pool the Function URL's tokens must come from: its issuer (the tokens' `iss`) and app client. */
export interface TrustedUserPool {
  issuerUrl: string;
  clientId: string;
}

/** The Function URL function's own settings: the user pool it trusts and function_url.max_answer_bytes. */
export function functionUrlSettingsFor(c: EnvironmentConfig, pool: TrustedUserPool): FunctionUrlSettings {
  return { jwtIssuer: pool.issuerUrl, jwtClientId: pool.clientId, maxAnswerBytes: c.function_url.max_answer_bytes };
}

/** The batching the clients are told about (client config `batching`, the stack's `batching` output). */
export function clientBatchingFor(c: EnvironmentConfig): ClientBatching {
  const b = c.batching;
  return { mode: b.mode, maxDelayMs: b.max_delay_ms, maxWindowMs: b.max_window_ms, readingTokensPerSecond: b.reading_tokens_per_second };
}
