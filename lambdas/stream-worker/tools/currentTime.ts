/** Built-in tool `current_time`: the time now, in UTC. No input, no network; the same clock always gives the same answer. */
import { object } from "zod/v4";
import { defineTool } from "./toolDefinition";

export const currentTime = defineTool({
  name: "current_time",
  description: "Returns the current date and time in UTC, as an ISO 8601 timestamp and as Unix seconds. Takes no input.",
  input: object({}),
  notice: "Checking the current time...",
  run: (_input, { now }) => {
    const at = new Date(now());
    return { utc: at.toISOString(), unixSeconds: Math.floor(at.getTime() / 1000) };
  },
});
