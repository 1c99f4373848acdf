/** The built-in tools by name (contracts/toolSpecs.ts BUILT_IN_TOOL_NAMES): each name has exactly one implementation here. */
import type { BuiltInToolName } from "../../../contracts/toolSpecs";
import { calculator } from "./calculator";
import { currentTime } from "./currentTime";
import type { ToolDefinition } from "./toolDefinition";

export const BUILT_IN_TOOLS: Readonly<Record<BuiltInToolName, ToolDefinition>> = {
  current_time: currentTime,
  calculator,
};
