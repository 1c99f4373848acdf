/**
 * What a tool is to the worker: a name, a description and an input JSON schema the model reads, a one-line notice
 * template for the user, and an implementation that takes the input and who it runs for and returns JSON or text.
 * Built-in tools are written with a zod schema (`defineTool`), converted to JSON Schema once, when the module loads.
 */
// Named imports only: zod's v4 namespace object would pull in every locale (about 150 KB of the bundle).
import { toJSONSchema, type output, type ZodObject } from "zod/v4";
import type { ToolContext, ToolOutput } from "../../../contracts/toolSpecs";

/** Who a call runs for, the deadline it runs under, and the clock (for tests). */
export interface ToolRunContext extends ToolContext {
  /** Fires at the message's deadline or its stop: a long call gives up. */
  signal?: AbortSignal;
  now: () => number;
}

export interface ToolDefinition {
  name: string;
  description: string;
  /** A JSON Schema object (`"type": "object"`), as Bedrock's toolSpec.inputSchema.json takes it. */
  inputSchema: Record<string, unknown>;
  /** The user-facing notice, e.g. `Looking up order {orderId}...`: only the named input fields are rendered (notice.ts). */
  notice: string;
  /** Runs the call; throws when it fails (the model is told why, as an error toolResult). */
  run(input: Record<string, unknown>, context: ToolRunContext): Promise<ToolOutput>;
}

/** Raised when the model's input does not match the tool's schema: the model sees the problem and may try again. */
export class ToolInputError extends Error {
  override readonly name = "ToolInputError";
}

export interface BuiltInToolSpec<S extends ZodObject> {
  name: string;
  description: string;
  input: S;
  notice: string;
  run(input: output<S>, context: ToolRunContext): ToolOutput | Promise<ToolOutput>;
}

/** A tool from its zod input schema: the JSON Schema is computed here, once; each call's input is parsed with the schema first. */
export function defineTool<S extends ZodObject>(spec: BuiltInToolSpec<S>): ToolDefinition {
  const { $schema: _dialect, ...inputSchema } = toJSONSchema(spec.input) as Record<string, unknown>;
  return {
    name: spec.name,
    description: spec.description,
    inputSchema,
    notice: spec.notice,
    async run(input, context) {
      const parsed = spec.input.safeParse(input);
      if (!parsed.success) throw new ToolInputError(parsed.error.issues.map((i) => `${i.path.join(".") || "input"}: ${i.message}`).join("; "));
      return spec.run(parsed.data, context);
    },
  };
}
