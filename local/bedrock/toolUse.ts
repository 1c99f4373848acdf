/**
 * The stand-in's tool use, as Bedrock streams it: `[[tool:<name>]]` in the prompt asks for that tool, one marker per
 * round in the prompt's order (two markers = two tools in one message), each with a deterministic input; once every
 * marker's tool has answered (the toolResults in the conversation after the prompt), the last round's text uses the
 * results before the usual answer. `[[tool:failing]]` asks the calculator for `1 / 0`, a call that fails. Pure: what
 * to emit, never how (script.ts plays the rounds, framing.ts frames them).
 */
import { tokenize } from "./answer";

/** `[[tool:<name>]]`: the stand-in asks for tool <name> (the built-ins' inputs below; any other name gets `{}`). */
export const TOOL_MARKER = /\[\[tool:([a-z0-9_-]+)\]\]/g;
/** `[[tool:failing]]`: a call that fails, the calculator dividing by zero. */
export const FAILING_TOOL = "failing";
/** What a calculator call of the stand-in asks, and what the failing one asks. */
export const STAND_IN_EXPRESSION = "6 * 7";
export const FAILING_EXPRESSION = "1 / 0";

/** A content block of a request's messages, as far as the stand-in reads it. */
export interface RequestContentBlock {
  text?: string;
  toolUse?: { toolUseId?: string; name?: string; input?: unknown };
  toolResult?: { toolUseId?: string; status?: string; content?: { text?: string; json?: unknown }[] };
}

export interface RequestMessage {
  role?: string;
  content?: RequestContentBlock[];
}

/** A tool the stand-in asks for in one round. */
export interface ToolRequest {
  toolUseId: string;
  name: string;
  input: Record<string, unknown>;
}

/** One answered call in the turn, as the final round's text reports it. */
export interface ToolResultSeen {
  name: string;
  status: "success" | "error";
  /** The result's text, or its JSON. */
  text: string;
}

/** The tools the prompt's markers ask for, in order. */
export function toolMarkers(prompt: string): string[] {
  return [...prompt.matchAll(TOOL_MARKER)].map((m) => m[1]!);
}

/** The call round `round` (0-based) of a prompt asks for. */
export function toolRequestFor(marker: string, round: number): ToolRequest {
  const toolUseId = `tooluse_standin_${round}_${marker.replace(/[^A-Za-z0-9]/g, "")}`;
  if (marker === FAILING_TOOL) return { toolUseId, name: "calculator", input: { expression: FAILING_EXPRESSION } };
  if (marker === "calculator") return { toolUseId, name: marker, input: { expression: STAND_IN_EXPRESSION } };
  return { toolUseId, name: marker, input: {} };
}

/** The text a tool round streams before its call. */
export function toolLeadIn(name: string): string {
  return `Let me use the ${name} tool.`;
}

/** The line the last round's text reports a result with. */
export function toolResultLine(result: ToolResultSeen): string {
  return result.status === "error" ? `The ${result.name} tool failed: ${result.text}` : `The ${result.name} tool answered: ${result.text}`;
}

/** The last round's text before the answer: one line per result, then a blank line. */
export function toolResultsText(results: ToolResultSeen[]): string {
  return results.length ? `${results.map(toolResultLine).join("\n")}\n\n` : "";
}

/** The lead-in tokens of a tool round. */
export function toolLeadInTokens(name: string): string[] {
  return tokenize(toolLeadIn(name));
}

/**
 * What the conversation says of this turn: the messages after the last user message with text (the prompt), the
 * rounds the model already answered (its assistant messages) and every call's result, named by its toolUse.
 */
export function turnProgress(messages: RequestMessage[]): { rounds: number; results: ToolResultSeen[] } {
  const promptAt = messages.map((m) => m.role === "user" && (m.content ?? []).some((c) => c.text)).lastIndexOf(true);
  const turn = messages.slice(promptAt + 1);
  const names = new Map<string, string>();
  for (const block of turn.flatMap((m) => m.content ?? [])) if (block.toolUse?.toolUseId) names.set(block.toolUse.toolUseId, block.toolUse.name ?? "tool");
  const results = turn
    .flatMap((m) => m.content ?? [])
    .flatMap((b) => (b.toolResult ? [b.toolResult] : []))
    .map((r) => ({ name: names.get(r.toolUseId ?? "") ?? "tool", status: r.status === "error" ? ("error" as const) : ("success" as const), text: resultText(r.content ?? []).slice(0, 200) }));
  return { rounds: turn.filter((m) => m.role === "assistant").length, results };
}

function resultText(content: { text?: string; json?: unknown }[]): string {
  return content.map((c) => c.text ?? JSON.stringify(c.json)).join(" ");
}
