export { startBedrockStandIn, CONTROL_PREFIX, FAULTS, REASONING_MARKER, TOKENS_BEFORE_FAULT, GUARDRAIL_MARKER, STAND_IN_BLOCKED_MESSAGE, STAND_IN_UNSAFE_TEXT } from "./server";
export type { BedrockStandIn, BedrockStandInOptions, BedrockTiming, StandInRequest, EmittedToken, GuardrailCheck } from "./server";
export { converseScript, readConverseRequest } from "./script";
export type { ConverseRequest, Fault, ScriptStep } from "./script";
export { answerFor, reasoningFor, tokenize, MARKER_PATTERN } from "./answer";
export { FAILING_EXPRESSION, FAILING_TOOL, STAND_IN_EXPRESSION, TOOL_MARKER, toolLeadIn, toolResultLine, toolResultsText } from "./toolUse";
export type { ToolRequest, ToolResultSeen } from "./toolUse";
