/**
 * The tools the worker may offer the model (issue 15): the built-in tools' names, the tool spec file that the stacks
 * write beside the worker's code (and the local stack into its state folder) and the worker reads once at load
 * (`TOOLS_FILE`), and what a tool Lambda receives and returns. The stacks, the config and the worker import them from
 * here.
 */
import { z } from "zod";

/** The built-in tools, enabled per environment by name (tools.enabled); lambdas/stream-worker/tools/ implements each. */
export const BUILT_IN_TOOL_NAMES = ["current_time", "calculator"] as const;
export type BuiltInToolName = (typeof BUILT_IN_TOOL_NAMES)[number];

/** What Bedrock accepts as a tool's name (ToolSpecification.name). */
export const TOOL_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

/** The spec file's name beside the bundled worker (`TOOLS_FILE` is resolved against the code's folder). */
export const TOOL_SPEC_FILE_NAME = "tools.json";

/** A team's tool that is a Lambda function, as the worker needs it: the schema file's contents are in `inputSchema`. */
export const toolLambdaSpecSchema = z.object({
  name: z.string().regex(TOOL_NAME_PATTERN),
  description: z.string().min(1),
  /** A JSON Schema object (`"type": "object"`): what the model's input must look like. */
  inputSchema: z.record(z.unknown()),
  lambdaArn: z.string().min(1),
  /** The notice template, e.g. `Looking up order {orderId}...`: only the named input fields are rendered. */
  notice: z.string().min(1),
});

export const toolSpecFileSchema = z.object({
  /** Rounds of tool calls one message may make (tools.max_rounds). */
  maxRounds: z.number().int().min(1),
  builtIn: z.array(z.enum(BUILT_IN_TOOL_NAMES)),
  lambdas: z.array(toolLambdaSpecSchema),
});

export type ToolLambdaSpec = z.infer<typeof toolLambdaSpecSchema>;
export type ToolSpecFile = z.infer<typeof toolSpecFileSchema>;

/** Who a tool runs for: the verified caller and the session (never a client-given user id). */
export interface ToolContext {
  userId: string;
  sessionId: string;
}

/** The event a tool Lambda is invoked with (RequestResponse, synchronously, with a timeout). */
export interface ToolLambdaEvent {
  toolName: string;
  /** The model's input, an object shaped by the tool's input schema. */
  input: Record<string, unknown>;
  context: ToolContext;
}

/**
 * What a tool returns: any JSON value, or text. An object may carry `sources: [{title, url}]`; they are listed in
 * final_response.references. A tool Lambda fails by throwing (Lambda's FunctionError): the model sees the error text.
 */
export type ToolOutput = string | number | boolean | null | ToolOutput[] | { [key: string]: ToolOutput };

export const toolSourcesSchema = z.array(z.object({ title: z.string(), url: z.string().regex(/^https?:\/\//i) }));
