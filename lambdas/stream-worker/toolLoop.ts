/**
 * The agent loop of one message, as Bedrock ConverseStream does tool use: each round streams the model's answer (text
 * to the text coalescer, reasoning to the reasoning coalescer, toolUse blocks assembled from their streamed JSON
 * input); a round that stops with `tool_use` has its calls run one by one, a tool_action `started` before each and
 * `completed` or `failed` after it, and answered as toolResult blocks, and the model is asked again. Text and
 * reasoning stream before and after the calls; the rounds' texts are joined by a blank line. Bounded by the registry's
 * round bound (the next round's calls are not made: stopReason max_tool_rounds) and by time (the abort signal: the
 * invocation's deadline, or a stop). Without tools it is one round, the plain stream. Failures are kept, never thrown.
 */
import type { BedrockRuntimeClient, ContentBlock, Message } from "@aws-sdk/client-bedrock-runtime";
import { TOOL_ROUNDS_EXCEEDED_REASON } from "../../contracts/messageState";
import { MAX_REFERENCES, type Reference, type Usage } from "../../contracts/streamEvents";
import type { ToolContext } from "../../contracts/toolSpecs";
import type { RuntimeLogger, RuntimeMetrics } from "../shared/telemetry";
import { readConverseStream, type ConverseDelta, type ConverseSettings, type ConverseTurn } from "./converseStream";
import type { AnswerCap } from "./answerCap";
import type { ToolAction } from "./events";
import type { TokenCoalescer } from "./tokenCoalescer";
import type { ToolCall, ToolRegistry } from "./tools/toolRegistry";

export interface AgentLoopDeps {
  bedrock: BedrockRuntimeClient;
  settings: ConverseSettings;
  /** Absent (or empty) = no tools offered: one round. */
  tools?: ToolRegistry;
  text: TokenCoalescer;
  reasoning: TokenCoalescer;
  /** The answer's cap in UTF-8 bytes (the Function URL's); past it no more text is taken and the cap aborts the call. */
  cap?: AnswerCap;
  /** Sends a tool call's notice (MessageEmitter.toolAction), in order with the chunks. */
  toolAction(action: ToolAction): Promise<void>;
  context: ToolContext;
  now: () => number;
  /** Called at the message's first text delta (time to first token). */
  onFirstText(): void;
  logger: RuntimeLogger;
  metrics: RuntimeMetrics;
}

/** The answer as the rounds produced it, up to the failure that ended it early (if any). */
export interface LoopAnswer {
  /** Every round's text, as streamed. */
  content: string;
  reasoning: string;
  /** Summed over the rounds. */
  usage: Usage;
  /** The last round's; "unknown" while a round has not stopped (an abort or a failure mid-round). */
  stopReason: string;
  /** Text deltas received: the output estimate of a stopped answer, for which Bedrock reports no usage. */
  textDeltas: number;
  failure?: unknown;
  /** The turn after the prompt, as Bedrock took it: each round's assistant message, the toolResults between them. */
  messages: Message[];
  /** The sources the tools' results named, once each. */
  references: Reference[];
  /** Tool calls made: the last invocationNumber. */
  toolCalls: number;
}

export function emptyAnswer(): LoopAnswer {
  return { content: "", reasoning: "", usage: { inputTokens: 0, outputTokens: 0 }, stopReason: "unknown", textDeltas: 0, messages: [], references: [], toolCalls: 0 };
}

/** Runs the rounds of one message. */
export async function runAgentLoop(deps: AgentLoopDeps, turn: ConverseTurn, signal?: AbortSignal): Promise<LoopAnswer> {
  const answer = emptyAnswer();
  const toolConfig = deps.tools?.names.length ? deps.tools.toolConfig : undefined;
  for (let toolRounds = 0; ; toolRounds++) {
    const calls = await streamRound(deps, { ...turn, toolConfig, followUp: answer.messages }, answer, signal);
    if (answer.failure !== undefined || answer.stopReason !== "tool_use" || calls.length === 0 || !deps.tools) return answer;
    if (toolRounds >= deps.tools.maxRounds) return endAtRoundBound(deps, answer, calls.length);
    await runCalls(deps, deps.tools, calls, answer, signal);
    if (signal?.aborted) return { ...answer, failure: signal.reason, stopReason: "unknown" };
  }
}

/** What one round streamed, for its assistant message. */
interface Round {
  text: string;
  reasoning: string;
  signature?: string;
  redacted: Uint8Array[];
  /** By content block index: the tool's id, name and the JSON input so far. */
  toolUses: Map<number, { toolUseId: string; name: string; input: string }>;
}

/** Streams one round into the coalescers and `answer`; returns the calls it asked for, its message added to the turn. */
async function streamRound(deps: AgentLoopDeps, turn: ConverseTurn, answer: LoopAnswer, signal?: AbortSignal): Promise<ToolCall[]> {
  const round: Round = { text: "", reasoning: "", redacted: [], toolUses: new Map() };
  answer.stopReason = "unknown";
  try {
    for await (const delta of readConverseStream(deps.bedrock, turn, deps.settings, signal)) {
      await take(deps, delta, round, answer);
      if (deps.cap?.reached) break; // leaving the loop closes the model's stream, whose call the cap aborted
    }
  } catch (error) {
    answer.failure = error;
  }
  const content = roundContent(round);
  if (content.length) answer.messages.push({ role: "assistant", content });
  return callsOf(round);
}

async function take(deps: AgentLoopDeps, delta: ConverseDelta, round: Round, answer: LoopAnswer): Promise<void> {
  switch (delta.kind) {
    case "text":
      return addText(deps, delta.text, round, answer);
    case "reasoning":
      if (round.reasoning === "" && answer.reasoning !== "") pushOn(deps.reasoning, answer, "reasoning", separatorAfter(answer.reasoning));
      round.reasoning += delta.text;
      return pushOn(deps.reasoning, answer, "reasoning", delta.text);
    case "reasoningSignature":
      round.signature = delta.signature;
      return;
    case "reasoningRedacted":
      round.redacted.push(delta.data);
      return;
    case "toolUseStart":
      round.toolUses.set(delta.index, { toolUseId: delta.toolUseId, name: delta.name, input: "" });
      return;
    case "toolUseInput": {
      const use = round.toolUses.get(delta.index);
      if (use) use.input += delta.input;
      return;
    }
    case "stop":
      answer.stopReason = delta.stopReason ?? answer.stopReason;
      return;
    case "usage":
      answer.usage = { inputTokens: answer.usage.inputTokens + delta.usage.inputTokens, outputTokens: answer.usage.outputTokens + delta.usage.outputTokens };
  }
}

/** A text delta; a round's first one waits for the reasoning so far to go out first, and after a tool round starts a new paragraph. */
async function addText(deps: AgentLoopDeps, text: string, round: Round, answer: LoopAnswer): Promise<void> {
  if (round.text === "") {
    await deps.reasoning.drain();
    // Text deltas are never empty, so empty content means this is the message's first one.
    if (answer.content === "") deps.onFirstText();
    else pushOn(deps.text, answer, "content", capped(deps, separatorAfter(answer.content)));
  }
  const kept = capped(deps, text);
  if (kept === "") return;
  round.text += kept;
  answer.textDeltas++;
  pushOn(deps.text, answer, "content", kept);
}

/** The part of `text` the answer's cap still takes (all of it without a cap). */
function capped(deps: AgentLoopDeps, text: string): string {
  return deps.cap ? deps.cap.take(text) : text;
}

function pushOn(coalescer: TokenCoalescer, answer: LoopAnswer, key: "content" | "reasoning", text: string): void {
  if (text === "") return;
  answer[key] += text;
  coalescer.push(text);
}

/** What joins a later round's text to the text so far: a blank line, unless it already ends with one. */
function separatorAfter(text: string): string {
  return text.endsWith("\n\n") ? "" : text.endsWith("\n") ? "\n" : "\n\n";
}

/**
 * The round's assistant message as Bedrock takes it back: the reasoning (only when signed or redacted: the model
 * checks it), the text, then the toolUse blocks (an input that did not parse goes back as `{}`).
 */
function roundContent(round: Round): ContentBlock[] {
  const blocks: ContentBlock[] = [];
  if (round.signature !== undefined) blocks.push({ reasoningContent: { reasoningText: { text: round.reasoning, signature: round.signature } } });
  for (const redactedContent of round.redacted) blocks.push({ reasoningContent: { redactedContent } });
  if (round.text !== "") blocks.push({ text: round.text });
  for (const call of callsOf(round)) blocks.push({ toolUse: { toolUseId: call.toolUseId, name: call.name, input: (call.input ?? {}) as never } });
  return blocks;
}

function callsOf(round: Round): ToolCall[] {
  return [...round.toolUses.entries()].sort(([a], [b]) => a - b).map(([, use]) => ({ toolUseId: use.toolUseId, name: use.name, input: parsedInput(use.input) }));
}

/** A toolUse block's streamed input as an object; "" is no input; undefined when it is not a JSON object. */
function parsedInput(json: string): Record<string, unknown> | undefined {
  if (json.trim() === "") return {};
  try {
    const value: unknown = JSON.parse(json);
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs a round's calls in order, after what streamed before them has gone out (the notices follow the text), and adds
 * their toolResults to the turn. Each call is numbered, announced, run and reported; a failure is the model's to read.
 */
async function runCalls(deps: AgentLoopDeps, tools: ToolRegistry, calls: ToolCall[], answer: LoopAnswer, signal?: AbortSignal): Promise<void> {
  await deps.reasoning.drain();
  await deps.text.drain();
  const results: ContentBlock[] = [];
  for (const call of calls) {
    // A stop or the deadline during a call: the calls after it are neither announced nor made.
    if (signal?.aborted) break;
    const action: ToolAction = { toolName: call.name.slice(0, 64) || "unknown", invocationNumber: ++answer.toolCalls, toolAction: tools.notice(call), status: "started" };
    await deps.toolAction(action);
    const outcome = await tools.call(call, { ...deps.context, signal, now: deps.now });
    await deps.toolAction({ ...action, status: outcome.error === undefined ? "completed" : "failed" });
    deps.metrics.addMetric("ToolCalls", "Count", 1);
    if (outcome.error !== undefined) {
      deps.metrics.countError("TOOL_FAILED");
      deps.logger.warn("tool call failed; the model is told", { toolName: action.toolName, invocationNumber: action.invocationNumber, error: outcome.error });
    }
    addReferences(answer.references, outcome.sources);
    results.push({ toolResult: outcome.result });
  }
  answer.messages.push({ role: "user", content: results });
}

function addReferences(references: Reference[], sources: Reference[]): void {
  for (const source of sources) {
    if (references.length >= MAX_REFERENCES) return;
    if (!references.some((r) => r.url === source.url)) references.push(source);
  }
}

/** The model asked for more calls past the bound: none is made, and its last message keeps only what is not a toolUse. */
function endAtRoundBound(deps: AgentLoopDeps, answer: LoopAnswer, refused: number): LoopAnswer {
  deps.logger.warn("tool round bound reached; the calls asked for are not made", { maxRounds: deps.tools?.maxRounds, refused });
  const last = answer.messages.at(-1);
  const kept = last?.content?.filter((b) => b.toolUse === undefined) ?? [];
  const messages = kept.length ? [...answer.messages.slice(0, -1), { role: "assistant" as const, content: kept }] : answer.messages.slice(0, -1);
  return { ...answer, messages, stopReason: TOOL_ROUNDS_EXCEEDED_REASON };
}
