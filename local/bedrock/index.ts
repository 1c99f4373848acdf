export { startBedrockStandIn, CONTROL_PREFIX, FAULTS, REASONING_MARKER, TOKENS_BEFORE_FAULT } from "./server";
export type { BedrockStandIn, BedrockStandInOptions, BedrockTiming, StandInRequest, EmittedToken } from "./server";
export { converseScript, readConverseRequest } from "./script";
export type { ConverseRequest, Fault, ScriptStep } from "./script";
export { answerFor, reasoningFor, tokenize, MARKER_PATTERN } from "./answer";
