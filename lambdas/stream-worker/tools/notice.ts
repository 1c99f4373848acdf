/**
 * The user-facing notice of a tool call, rendered from its template (`Looking up order {orderId}...`) and the model's
 * input. Only the fields the template names are rendered, each as plain text on one line and cut short, and the whole
 * notice fits the envelope's bound (MAX_TOOL_NOTICE_CHARS): whatever else the input holds never reaches the user.
 */
import { MAX_TOOL_NOTICE_CHARS } from "../../../contracts/streamEvents";

/** One rendered field at most this many characters. */
export const MAX_NOTICE_FIELD_CHARS = 40;

const FIELD = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** The notice for `input`; a field that is missing, or not a string, number or boolean, renders as "…". */
export function renderNotice(template: string, input: Record<string, unknown>): string {
  const text = template.replace(FIELD, (_, name: string) => fieldText(input[name]));
  return truncate(oneLine(text), MAX_TOOL_NOTICE_CHARS);
}

function fieldText(value: unknown): string {
  if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") return "…";
  return truncate(oneLine(String(value)), MAX_NOTICE_FIELD_CHARS);
}

/** Control characters and line breaks become spaces, runs of whitespace one space. */
function oneLine(text: string): string {
  return text.replace(/[\p{Cc}\p{Zl}\p{Zp}]/gu, " ").replace(/\s+/g, " ").trim();
}

/** At most `max` code points, the last one "…" when cut. */
function truncate(text: string, max: number): string {
  const points = Array.from(text);
  return points.length <= max ? text : `${points.slice(0, max - 1).join("")}…`;
}
