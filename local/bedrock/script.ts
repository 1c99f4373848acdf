/**
 * The stand-in's answer and fault script: WHAT a converse-stream request gets, as a lazy sequence of typed steps (a
 * pre-stream HTTP error, or events with their pacing, then a mid-stream exception or the end with its stop reason).
 * It knows nothing of HTTP/2 or event-stream frames: framing.ts plays the steps onto a stream.
 */
import { answerFor, reasoningFor, tokenize } from "./answer";
import { toolLeadInTokens, toolMarkers, toolRequestFor, toolResultsText, turnProgress, type RequestMessage, type ToolRequest, type ToolResultSeen } from "./toolUse";
import { readGuardrailConfig, STAND_IN_BLOCKED_MESSAGE, STAND_IN_UNSAFE_TEXT, type GuardrailConfigBody, type StandInGuardrail } from "./guardrail";

/** Markers a test puts in the prompt to script a failure. */
export const FAULTS = {
  throttleMidStream: "[[fault:throttle-mid-stream]]",
  validation: "[[fault:validation]]",
  accessDenied: "[[fault:access-denied]]",
  streamError: "[[fault:stream-error]]",
} as const;

/** A scripted failure, named as in FAULTS. */
export type Fault = keyof typeof FAULTS;

/** Marker a test puts in the prompt to get a reasoning block (content block 0) before the text. */
export const REASONING_MARKER = "[[reasoning]]";

/**
 * Marker for a guardrail intervention mid-stream (guardrailIntervention below), only when the request names a
 * guardrail (guardrailConfig), as Bedrock intervenes only then.
 */
export const GUARDRAIL_MARKER = "[[guardrail]]";

/** Tokens sent before a mid-stream fault. */
export const TOKENS_BEFORE_FAULT = 3;

export interface BedrockTiming {
  /** Delay between the request and the first delta. */
  firstTokenMs: number;
  /** Deltas per second after the first; 0 or less = as fast as possible. */
  tokensPerSecond: number;
}

/** The parts of a ConverseStream request body the stand-in reads. */
export interface ConverseRequestBody {
  messages?: RequestMessage[];
  system?: { text?: string }[];
  inferenceConfig?: { maxTokens?: number };
  guardrailConfig?: GuardrailConfigBody;
  toolConfig?: { tools?: { toolSpec?: { name?: string } }[] };
}

/** A converse-stream request as the script sees it. */
export interface ConverseRequest {
  modelId: string;
  /** Text of the last user message that has text (after it come the turn's tool rounds). */
  prompt: string;
  fault?: Fault;
  /** This round asks for this tool (the prompt's `[[tool:<name>]]` markers, one per round). */
  toolCall?: ToolRequest;
  /** The turn's answered calls: the last round's text reports them. */
  toolResults: ToolResultSeen[];
  /** Rounds of this turn already answered (0 for the first request). */
  round: number;
  /** The tools the request's toolConfig offers, by name. */
  toolNames: string[];
  /** inferenceConfig.maxTokens when it is a positive number. */
  maxTokens?: number;
  /** Rough input token count for the usage metadata. */
  inputTokens: number;
  /** The request's guardrailConfig, when it names one. */
  guardrail?: StandInGuardrail;
  /** The guardrail intervenes mid-stream: the request names one and the prompt carries GUARDRAIL_MARKER. */
  intervene: boolean;
}

/** Why a stream ended normally. */
export type StopReason = "end_turn" | "max_tokens" | "guardrail_intervened" | "tool_use";

/** Refuse before streaming: an HTTP error response (`x-amzn-errortype: type`) instead of the event stream. */
export interface HttpErrorStep {
  kind: "httpError";
  status: number;
  type: string;
  message: string;
}

/** One ConverseStream event; `token` is the answer text it carries, for the emission log. */
export interface EventStep {
  kind: "event";
  type: "messageStart" | "contentBlockStart" | "contentBlockDelta" | "contentBlockStop" | "messageStop" | "metadata";
  body: unknown;
  /** Wait after the previous frame, read from the live timing when the step is taken. */
  delayMs: number;
  token?: string;
}

/** A modelled exception in the event stream; the stream ends after it. */
export interface ExceptionStep {
  kind: "exception";
  type: "throttlingException" | "modelStreamErrorException";
  body: unknown;
}

/** The stream ended normally, right after its last event. */
export interface EndStep {
  kind: "end";
  stopReason: StopReason;
}

/** One step of a script: either a lone httpError, or events ending in an exception or an end. */
export type ScriptStep = HttpErrorStep | EventStep | ExceptionStep | EndStep;

/** Reads what the script needs from a request body: the prompt, its markers, the turn's tool rounds, maxTokens, input size. */
export function readConverseRequest(modelId: string, body: ConverseRequestBody): ConverseRequest {
  const user = (body.messages ?? []).filter((m) => m.role === "user" && (m.content ?? []).some((c) => c.text)).pop();
  const prompt = (user?.content ?? []).map((c) => c.text ?? "").join("");
  const fault = (Object.keys(FAULTS) as Fault[]).find((k) => prompt.includes(FAULTS[k]));
  const maxTokens = body.inferenceConfig?.maxTokens;
  const guardrail = readGuardrailConfig(body.guardrailConfig);
  const { rounds, results } = turnProgress(body.messages ?? []);
  const marker = toolMarkers(prompt)[rounds];
  const toolNames = (body.toolConfig?.tools ?? []).flatMap((t) => (t.toolSpec?.name ? [t.toolSpec.name] : []));
  // As Bedrock, the stand-in asks only for a tool the request offers.
  const toolCall = marker === undefined ? undefined : toolRequestFor(marker, rounds);
  return {
    modelId,
    prompt,
    fault,
    toolCall: toolCall && toolNames.includes(toolCall.name) ? toolCall : undefined,
    toolResults: results,
    round: rounds,
    toolNames,
    maxTokens: typeof maxTokens === "number" && maxTokens > 0 ? maxTokens : undefined,
    inputTokens: estimateTokens(body),
    guardrail,
    intervene: guardrail !== undefined && prompt.includes(GUARDRAIL_MARKER),
  };
}

/**
 * The script for one request. Lazy on purpose: each delta's delay is read from `timing` when the step is taken, so
 * a timing change applies from the next delta on, as it did when the stand-in paced frames inline.
 */
export function* converseScript(request: ConverseRequest, timing: BedrockTiming): Generator<ScriptStep, void, void> {
  const refusal = refusalOf(request);
  if (refusal) {
    yield refusal;
    return;
  }
  const answer = [...tokenize(toolResultsText(request.toolResults)), ...answerFor(request.prompt, request.modelId)];
  const tokens = request.maxTokens ? answer.slice(0, request.maxTokens) : answer;
  const reasoning = request.round === 0 && request.prompt.includes(REASONING_MARKER) ? reasoningFor(request.prompt) : [];
  const textIndex = reasoning.length ? 1 : 0;
  const pace = pacer(timing);
  if (request.toolCall) {
    yield* toolRound(request, request.toolCall, reasoning, pace);
    return;
  }
  if (request.intervene) {
    yield* guardrailIntervention(request, tokens, pace);
    return;
  }
  const midStream = midStreamException(request.fault);

  yield event("messageStart", { role: "assistant" });
  if (reasoning.length) yield* reasoningBlock(reasoning, pace);
  for (const token of midStream ? tokens.slice(0, TOKENS_BEFORE_FAULT) : tokens) {
    yield { ...event("contentBlockDelta", { contentBlockIndex: textIndex, delta: { text: token } }, pace()), token };
  }
  if (midStream) {
    yield midStream;
    return;
  }

  const stopReason: StopReason = tokens.length < answer.length ? "max_tokens" : "end_turn";
  const outputTokens = tokens.length + reasoning.length;
  yield event("contentBlockStop", { contentBlockIndex: textIndex });
  yield event("messageStop", { stopReason });
  yield event("metadata", { usage: { inputTokens: request.inputTokens, outputTokens, totalTokens: request.inputTokens + outputTokens }, metrics: { latencyMs: 0 } });
  yield { kind: "end", stopReason };
}

/**
 * A guardrail intervening mid-stream: TOKENS_BEFORE_FAULT deltas of the answer, then (async mode only: the guardrail
 * screens behind the stream) the text it blocks, then its blocked message, and the stop reason guardrail_intervened.
 */
function* guardrailIntervention(request: ConverseRequest, tokens: string[], pace: () => number): Generator<ScriptStep, void, void> {
  const streamed = [...tokens.slice(0, TOKENS_BEFORE_FAULT), ...(request.guardrail?.mode === "async" ? [STAND_IN_UNSAFE_TEXT] : []), STAND_IN_BLOCKED_MESSAGE];
  yield event("messageStart", { role: "assistant" });
  for (const token of streamed) yield { ...event("contentBlockDelta", { contentBlockIndex: 0, delta: { text: token } }, pace()), token };
  yield event("contentBlockStop", { contentBlockIndex: 0 });
  yield event("messageStop", { stopReason: "guardrail_intervened" });
  yield event("metadata", { usage: { inputTokens: request.inputTokens, outputTokens: streamed.length, totalTokens: request.inputTokens + streamed.length }, metrics: { latencyMs: 0 } });
  yield { kind: "end", stopReason: "guardrail_intervened" };
}

/**
 * A round that asks for a tool: the reasoning (first round only), a short text, then the toolUse block with its input
 * streamed as JSON in two pieces, and the stop reason tool_use.
 */
function* toolRound(request: ConverseRequest, call: ToolRequest, reasoning: string[], pace: () => number): Generator<ScriptStep, void, void> {
  const leadIn = toolLeadInTokens(call.name);
  const textIndex = reasoning.length ? 1 : 0;
  const input = JSON.stringify(call.input);
  const half = Math.ceil(input.length / 2);
  yield event("messageStart", { role: "assistant" });
  if (reasoning.length) yield* reasoningBlock(reasoning, pace);
  for (const token of leadIn) yield { ...event("contentBlockDelta", { contentBlockIndex: textIndex, delta: { text: token } }, pace()), token };
  yield event("contentBlockStop", { contentBlockIndex: textIndex });
  yield event("contentBlockStart", { contentBlockIndex: textIndex + 1, start: { toolUse: { toolUseId: call.toolUseId, name: call.name } } });
  for (const piece of [input.slice(0, half), input.slice(half)]) yield event("contentBlockDelta", { contentBlockIndex: textIndex + 1, delta: { toolUse: { input: piece } } }, pace());
  yield event("contentBlockStop", { contentBlockIndex: textIndex + 1 });
  yield event("messageStop", { stopReason: "tool_use" });
  const outputTokens = leadIn.length + 1 + reasoning.length;
  yield event("metadata", { usage: { inputTokens: request.inputTokens, outputTokens, totalTokens: request.inputTokens + outputTokens }, metrics: { latencyMs: 0 } });
  yield { kind: "end", stopReason: "tool_use" };
}

/** The pre-stream errors: no user text, or a validation / access-denied marker. */
function refusalOf({ prompt, fault }: ConverseRequest): HttpErrorStep | undefined {
  const refuse = (status: number, type: string, message: string): HttpErrorStep => ({ kind: "httpError", status, type, message });
  if (!prompt) return refuse(400, "ValidationException", "A conversation must start with a user message.");
  if (fault === "validation") return refuse(400, "ValidationException", "Scripted fault: the request is invalid.");
  if (fault === "accessDenied") return refuse(403, "AccessDeniedException", "Scripted fault: you don't have access to the model with the specified model ID.");
  return undefined;
}

/** The exception that cuts a stream after TOKENS_BEFORE_FAULT deltas, for the mid-stream faults. */
function midStreamException(fault: Fault | undefined): ExceptionStep | undefined {
  if (fault === "throttleMidStream") {
    return { kind: "exception", type: "throttlingException", body: { message: "Scripted fault: too many requests, please wait before trying again." } };
  }
  if (fault === "streamError") {
    return { kind: "exception", type: "modelStreamErrorException", body: { message: "Scripted fault: the model stream failed.", originalStatusCode: 500, originalMessage: "stand-in" } };
  }
  return undefined;
}

/** Content block 0: paced reasoning deltas, then the signature and the block's stop. */
function* reasoningBlock(reasoning: string[], pace: () => number): Generator<EventStep, void, void> {
  for (const text of reasoning) yield event("contentBlockDelta", { contentBlockIndex: 0, delta: { reasoningContent: { text } } }, pace());
  yield event("contentBlockDelta", { contentBlockIndex: 0, delta: { reasoningContent: { signature: "stand-in-signature" } } });
  yield event("contentBlockStop", { contentBlockIndex: 0 });
}

/** Delay before each paced delta: time to first token before the first, then 1 / tokensPerSecond. */
function pacer(timing: BedrockTiming): () => number {
  let paced = 0;
  return () => (paced++ === 0 ? timing.firstTokenMs : timing.tokensPerSecond > 0 ? 1000 / timing.tokensPerSecond : 0);
}

/** An event step; without a delay it follows the previous frame at once. */
function event(type: EventStep["type"], body: unknown, delayMs = 0): EventStep {
  return { kind: "event", type, body, delayMs };
}

/** Rough input token count (about 4 characters a token), good enough for usage metadata. */
function estimateTokens(body: ConverseRequestBody): number {
  const chars = [...(body.system ?? []), ...(body.messages ?? []).flatMap((m) => m.content ?? [])].reduce((n, c) => n + (c.text ?? "").length, 0);
  return Math.max(1, Math.ceil(chars / 4));
}
