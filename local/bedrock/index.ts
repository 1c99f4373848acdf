export { startBedrockStandIn, FAULTS, REASONING_MARKER, TOKENS_BEFORE_FAULT } from "./server";
export type { BedrockStandIn, BedrockStandInOptions, BedrockTiming, StandInRequest, EmittedToken } from "./server";
export { answerFor, reasoningFor, tokenize, MARKER_PATTERN } from "./answer";
