/**
 * The tools one environment offers the model: its enabled built-ins and its tool Lambdas, read once from the tool spec
 * file (contracts/toolSpecs.ts, `TOOLS_FILE`), and the round bound. It gives ConverseStream its `toolConfig`, renders
 * a call's notice and runs a call: a failure of any kind (unknown tool, bad input, the tool's own error, a timeout)
 * becomes an error toolResult the model sees, never an exception. A result is bounded in size; its `sources` are
 * kept apart for final_response.references.
 */
import { readFileSync } from "node:fs";
import type { ToolConfiguration, ToolResultBlock, ToolResultContentBlock } from "@aws-sdk/client-bedrock-runtime";
import { MAX_REFERENCE_TITLE_CHARS, MAX_REFERENCE_URL_CHARS, type Reference } from "../../../contracts/streamEvents";
import { toolSourcesSchema, toolSpecFileSchema, type ToolOutput, type ToolSpecFile } from "../../../contracts/toolSpecs";
import type { SyncInvoker } from "../../shared/lambdaInvoker";
import { BUILT_IN_TOOLS } from "./builtInTools";
import { lambdaTool } from "./lambdaTool";
import { renderNotice } from "./notice";
import { ToolInputError, type ToolDefinition, type ToolRunContext } from "./toolDefinition";

/** A tool result the model gets is at most this many characters (JSON text); a longer one is cut and says so. */
export const MAX_TOOL_RESULT_CHARS = 20_000;
/** An error result's text at most. */
const MAX_TOOL_ERROR_CHARS = 1000;

/** One toolUse block of the model's answer; `input` undefined when its streamed JSON did not parse to an object. */
export interface ToolCall {
  toolUseId: string;
  name: string;
  input: Record<string, unknown> | undefined;
}

/** What became of a call: the toolResult block for the model, the sources it named, and the error when it failed. */
export interface ToolCallOutcome {
  result: ToolResultBlock;
  sources: Reference[];
  error?: string;
}

export class ToolRegistry {
  private readonly byName: Map<string, ToolDefinition>;

  constructor(
    tools: readonly ToolDefinition[],
    /** Rounds of tool calls one message may make (tools.max_rounds). */
    readonly maxRounds: number,
  ) {
    this.byName = new Map(tools.map((t) => [t.name, t]));
  }

  get names(): string[] {
    return [...this.byName.keys()];
  }

  /** ConverseStream's toolConfig: every tool's name, description and input schema. */
  get toolConfig(): ToolConfiguration {
    return { tools: [...this.byName.values()].map((t) => ({ toolSpec: { name: t.name, description: t.description, inputSchema: { json: t.inputSchema as never } } })) };
  }

  /** The notice the user sees while the call runs. */
  notice(call: ToolCall): string {
    const tool = this.byName.get(call.name);
    return tool ? renderNotice(tool.notice, call.input ?? {}) : "Trying a tool that is not available...";
  }

  /** Runs the call; never throws. */
  async call(call: ToolCall, context: ToolRunContext): Promise<ToolCallOutcome> {
    const tool = this.byName.get(call.name);
    try {
      if (!tool) throw new Error(`there is no tool named ${JSON.stringify(call.name.slice(0, 64))}; the tools are ${this.names.join(", ")}`);
      if (!call.input) throw new Error("the tool input was not a JSON object");
      const output = await tool.run(call.input, context);
      return { result: { toolUseId: call.toolUseId, status: "success", content: [resultContent(output)] }, sources: sourcesOf(output) };
    } catch (e) {
      // A bad input or a plain Error says what is wrong in its message; other kinds (a timeout, an abort) name themselves.
      const error = e instanceof Error ? `${e.name === "Error" || e instanceof ToolInputError ? "" : `${e.name}: `}${e.message}` : String(e);
      const text = `The tool call failed: ${error}`.slice(0, MAX_TOOL_ERROR_CHARS);
      return { result: { toolUseId: call.toolUseId, status: "error", content: [{ text }] }, sources: [], error };
    }
  }
}

/** The registry a spec file describes: the built-ins it names, then its tool Lambdas, invoked through `invoker`. */
export function toolRegistryFrom(spec: ToolSpecFile, invoker: SyncInvoker): ToolRegistry {
  return new ToolRegistry([...spec.builtIn.map((name) => BUILT_IN_TOOLS[name]), ...spec.lambdas.map((l) => lambdaTool(l, invoker))], spec.maxRounds);
}

/** Reads the spec file once (the worker's module scope); a malformed file fails the function's start, loudly. */
export function loadToolRegistry(file: string, invoker: SyncInvoker): ToolRegistry {
  return toolRegistryFrom(toolSpecFileSchema.parse(JSON.parse(readFileSync(file, "utf8"))), invoker);
}

/** The result as the model reads it: text as text, an object as JSON, anything else inside `{result}`; cut when too long. */
function resultContent(output: ToolOutput): ToolResultContentBlock {
  if (typeof output === "string") return { text: output.length > MAX_TOOL_RESULT_CHARS ? `${output.slice(0, MAX_TOOL_RESULT_CHARS)} [cut]` : output };
  const json = output !== null && typeof output === "object" && !Array.isArray(output) ? output : { result: output };
  const text = JSON.stringify(json);
  return text.length > MAX_TOOL_RESULT_CHARS ? { text: `${text.slice(0, MAX_TOOL_RESULT_CHARS)} [cut: the result was ${text.length} characters]` } : { json: json as never };
}

/** The well-formed `{title, url}` entries of an object result's `sources` (http and https links only), bounded. */
function sourcesOf(output: ToolOutput): Reference[] {
  if (output === null || typeof output !== "object" || Array.isArray(output) || !Array.isArray(output.sources)) return [];
  return output.sources.flatMap((s) => {
    const one = toolSourcesSchema.element.safeParse(s);
    if (!one.success || one.data.url.length > MAX_REFERENCE_URL_CHARS) return [];
    return [{ title: one.data.title.slice(0, MAX_REFERENCE_TITLE_CHARS), url: one.data.url }];
  });
}
