/**
 * A team's tool that is a Lambda function (tools.lambdas in tfvars): invoked synchronously (RequestResponse) with the
 * model's input and who it runs for (contracts/toolSpecs.ts ToolLambdaEvent), under a timeout and the message's
 * deadline. Its answer is JSON when it parses, else text; a function error fails the call with the function's message.
 */
import type { ToolLambdaEvent, ToolLambdaSpec, ToolOutput } from "../../../contracts/toolSpecs";
import type { SyncInvoker } from "../../shared/lambdaInvoker";
import type { ToolDefinition } from "./toolDefinition";

/** How long a tool Lambda may take before the call fails (the model is told it timed out). */
export const TOOL_LAMBDA_TIMEOUT_MS = 10_000;

export function lambdaTool(spec: ToolLambdaSpec, invoker: SyncInvoker, timeoutMs = TOOL_LAMBDA_TIMEOUT_MS): ToolDefinition {
  return {
    name: spec.name,
    description: spec.description,
    inputSchema: spec.inputSchema,
    notice: spec.notice,
    async run(input, { userId, sessionId, signal }) {
      const event: ToolLambdaEvent = { toolName: spec.name, input, context: { userId, sessionId } };
      const body = await invoker.invokeRequestResponse(spec.lambdaArn, JSON.stringify(event), { timeoutMs, signal });
      return outputOf(body);
    },
  };
}

/** The function's response payload: its JSON value, or the text itself when it is not JSON. */
function outputOf(body: string): ToolOutput {
  try {
    return JSON.parse(body) as ToolOutput;
  } catch {
    return body;
  }
}
