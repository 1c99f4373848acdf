/**
 * Reads one Bedrock ConverseStream answer as typed deltas: text, reasoning (and its signature), the tool calls the
 * model asks for (a start with the tool's name, then its JSON input in pieces), usage and the stop. It raises what the
 * stream raises (an exception member, an abort, a stream that ends before messageStop) and knows nothing of delivery.
 */
import {
  ConverseStreamCommand, type BedrockRuntimeClient, type ConverseStreamOutput, type GuardrailStreamConfiguration, type Message, type ToolConfiguration,
} from "@aws-sdk/client-bedrock-runtime";
import type { RuntimeSettings } from "../../contracts/runtimeSettings";
import type { Usage } from "../../contracts/streamEvents";

/** One thing the model sent, as the generation needs it. */
export type ConverseDelta =
  | { kind: "text"; text: string }
  | { kind: "reasoning"; text: string }
  /** The reasoning block's signature (history sends the block back with it), or its redacted form. */
  | { kind: "reasoningSignature"; signature: string }
  | { kind: "reasoningRedacted"; data: Uint8Array }
  /** contentBlockStart of a toolUse block: the model asks for `name`; its input follows as toolUseInput pieces. */
  | { kind: "toolUseStart"; index: number; toolUseId: string; name: string }
  | { kind: "toolUseInput"; index: number; input: string }
  | { kind: "usage"; usage: Usage }
  /** messageStop: the answer is complete; `stopReason` when the model gave one. */
  | { kind: "stop"; stopReason?: string };

/**
 * The turn to answer: the model, the earlier turns of the session (oldest first), the new prompt, and within a turn
 * that calls tools the rounds so far (each assistant message with its toolUse blocks, then the user's toolResults).
 */
export interface ConverseTurn {
  modelId: string;
  history: Message[];
  prompt: string;
  followUp?: Message[];
  /** The tools the model may call; absent = none offered. */
  toolConfig?: ToolConfiguration;
}

export type ConverseSettings = Pick<RuntimeSettings, "maxTokens" | "temperature" | "systemPrompt" | "guardrailId" | "guardrailVersion" | "guardrailStreamMode">;

/**
 * Sends the ConverseStreamCommand and yields its deltas. `abortSignal` cancels the call and is checked before each
 * item and at the end; a stream that ends without messageStop throws a ModelStreamErrorException.
 */
export async function* readConverseStream(bedrock: BedrockRuntimeClient, turn: ConverseTurn, settings: ConverseSettings, abortSignal?: AbortSignal): AsyncGenerator<ConverseDelta, void> {
  const response = await bedrock.send(converseCommand(turn, settings), abortSignal ? { abortSignal } : {});
  if (!response.stream) throw new Error("ConverseStream returned no stream");
  let sawMessageStop = false;
  for await (const item of response.stream) {
    abortSignal?.throwIfAborted();
    const delta = toDelta(item);
    if (delta?.kind === "stop") sawMessageStop = true;
    if (delta) yield delta;
  }
  // An aborted request can end the stream quietly; so can a dropped connection: neither is a complete answer.
  abortSignal?.throwIfAborted();
  if (!sawMessageStop) throw Object.assign(new Error("the stream ended before messageStop"), { name: "ModelStreamErrorException" });
}

function converseCommand(turn: ConverseTurn, settings: ConverseSettings): ConverseStreamCommand {
  return new ConverseStreamCommand({
    modelId: turn.modelId,
    messages: [...turn.history, { role: "user", content: [{ text: turn.prompt }] }, ...(turn.followUp ?? [])],
    ...(settings.systemPrompt ? { system: [{ text: settings.systemPrompt }] } : {}),
    inferenceConfig: { maxTokens: settings.maxTokens, temperature: settings.temperature },
    ...(turn.toolConfig ? { toolConfig: turn.toolConfig } : {}),
    ...(settings.guardrailId ? { guardrailConfig: guardrailConfigOf(settings) } : {}),
  });
}

/** The environment's guardrail as ConverseStream takes it; an intervention ends the stream with stopReason guardrail_intervened. */
function guardrailConfigOf(settings: ConverseSettings): GuardrailStreamConfiguration {
  return {
    guardrailIdentifier: settings.guardrailId,
    guardrailVersion: settings.guardrailVersion,
    streamProcessingMode: settings.guardrailStreamMode === "async" ? "async" : "sync",
  };
}

/** The delta one stream item carries, undefined for items the generation does not use; throws an exception member. */
function toDelta(item: ConverseStreamOutput): ConverseDelta | undefined {
  const delta = item.contentBlockDelta?.delta;
  const index = item.contentBlockDelta?.contentBlockIndex ?? item.contentBlockStart?.contentBlockIndex ?? 0;
  if (delta?.text) return { kind: "text", text: delta.text };
  if (delta?.reasoningContent?.text) return { kind: "reasoning", text: delta.reasoningContent.text };
  if (delta?.reasoningContent?.signature) return { kind: "reasoningSignature", signature: delta.reasoningContent.signature };
  if (delta?.reasoningContent?.redactedContent) return { kind: "reasoningRedacted", data: delta.reasoningContent.redactedContent };
  if (delta?.toolUse) return { kind: "toolUseInput", index, input: delta.toolUse.input ?? "" };
  const toolUse = item.contentBlockStart?.start?.toolUse;
  if (toolUse?.toolUseId && toolUse.name) return { kind: "toolUseStart", index, toolUseId: toolUse.toolUseId, name: toolUse.name };
  if (item.messageStop) return { kind: "stop", stopReason: item.messageStop.stopReason };
  if (item.metadata?.usage) return { kind: "usage", usage: { inputTokens: item.metadata.usage.inputTokens ?? 0, outputTokens: item.metadata.usage.outputTokens ?? 0 } };
  const exception = streamException(item);
  if (exception) throw exception;
  return undefined;
}

/** A union member of the stream that carries an exception (the SDK usually throws these itself). */
function streamException(item: ConverseStreamOutput): Error | undefined {
  for (const [key, value] of Object.entries(item)) {
    if (key.endsWith("Exception") && value) {
      const error = value instanceof Error ? value : Object.assign(new Error(String((value as { message?: string }).message ?? key)), value);
      if (!error.name || error.name === "Error") error.name = key[0]!.toUpperCase() + key.slice(1);
      return error;
    }
  }
  return undefined;
}
