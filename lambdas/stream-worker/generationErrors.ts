/**
 * Maps what can go wrong in a generation (Bedrock errors before or during the stream, timeouts, anything else) to a
 * message that is safe to show users, a stable code and whether trying again later may help. The internal error is
 * logged by the caller, never sent.
 */

export interface GenerationFailure {
  code: string;
  message: string;
  retryable: boolean;
}

const RULES: { names: string[]; failure: GenerationFailure }[] = [
  {
    names: ["ThrottlingException", "ServiceQuotaExceededException", "TooManyRequestsException"],
    failure: { code: "THROTTLED", message: "The model is busy right now. Please try again in a moment.", retryable: true },
  },
  {
    names: ["ValidationException"],
    failure: { code: "INVALID_REQUEST", message: "The model could not accept this request. Try a shorter prompt or start a new conversation.", retryable: false },
  },
  {
    names: ["AccessDeniedException", "UnrecognizedClientException"],
    failure: { code: "ACCESS_DENIED", message: "This model is not available to the service. Please contact your administrator.", retryable: false },
  },
  {
    names: ["ResourceNotFoundException"],
    failure: { code: "MODEL_NOT_FOUND", message: "The selected model is not available. Please choose another model.", retryable: false },
  },
  {
    names: ["ModelTimeoutException", "TimeoutError", "RequestTimeout", "RequestTimeoutException", "AbortError"],
    failure: { code: "MODEL_TIMEOUT", message: "The model took too long to answer. Please try again.", retryable: true },
  },
  {
    names: ["ServiceUnavailableException", "InternalServerException", "ModelNotReadyException"],
    failure: { code: "SERVICE_UNAVAILABLE", message: "The model service is temporarily unavailable. Please try again shortly.", retryable: true },
  },
  {
    names: ["ModelStreamErrorException", "ModelErrorException"],
    failure: { code: "MODEL_STREAM_ERROR", message: "The model stopped while answering. Please try again.", retryable: true },
  },
];

const INTERNAL: GenerationFailure = { code: "INTERNAL_ERROR", message: "Something went wrong while generating the answer. Please try again.", retryable: true };

/** The failure of a run that could not begin (its record or history unreadable): never the model's, whatever the error's name. */
export function internalFailure(): GenerationFailure {
  return { ...INTERNAL };
}

const TIMEOUT_CODES = new Set(["ETIMEDOUT", "ESOCKETTIMEDOUT"]);
const CONNECTION_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "ECONNABORTED", "EPIPE", "EAI_AGAIN"]);

export function mapGenerationError(error: unknown): GenerationFailure {
  const e = (error ?? {}) as { name?: unknown; code?: unknown; $metadata?: { httpStatusCode?: number } };
  const name = typeof e.name === "string" ? e.name : "";
  for (const rule of RULES) if (rule.names.includes(name)) return { ...rule.failure };
  if (typeof e.code === "string" && TIMEOUT_CODES.has(e.code)) return mapGenerationError({ name: "TimeoutError" });
  if (typeof e.code === "string" && CONNECTION_CODES.has(e.code)) return mapGenerationError({ name: "ServiceUnavailableException" });
  const status = e.$metadata?.httpStatusCode;
  if (status === 429) return mapGenerationError({ name: "ThrottlingException" });
  if (status === 503 || status === 500) return mapGenerationError({ name: "ServiceUnavailableException" });
  return { ...INTERNAL };
}
