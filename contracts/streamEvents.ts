/**
 * The stream events: worker -> AppSync publishResponse.data, or worker -> outbound topic -> relay -> AppSync. Every
 * producer, the relay, the local stack and every client (CLI, web page, bench) import them from here. Pure: no Node or
 * AWS imports, so the web page bundles it too.
 *
 * Versions of the envelope (STREAM_EVENTS_VERSION):
 * - 1: token chunks numbered 0..lastSequenceNumber, each its own `on_new_llm_token` event, then `final_response` with
 *   the full `content` (or `error`). A chunk missing at the final is filled from `content`.
 * - 2 (issue 18), the final carries the tail: a message that ends with a partial chunk buffered may send that last
 *   chunk inside `final_response` as `tail` instead of as its own token event, saving one AppSync message per answer.
 *   The tail is chunk number `lastSequenceNumber`; no token event of the run carries that number live (the durable
 *   record stores it as one, so a replay has every chunk). A final carries a tail only when its `content` is complete
 *   (never with `truncated`), so a version-1 client, which sees that chunk as missing and takes `content`, still shows
 *   the exact text. Version-2 clients take the tail as the last chunk (`finalTail`).
 * - 3 (issue 15), agent events: `tool_action` (a tool call started, completed or failed, in plain words) and
 *   `on_new_reasoning_token` (the model's reasoning, streamed live), and `final_response.references`.
 *
 * The sequencing rule (version 3), for every run of a message:
 * - `eventSequence`, message-wide: every event of the run, of every kind, is numbered 0, 1, 2, ... in the order the
 *   producer sent it; the final_response or error event has the highest number. Gap detection and replay
 *   (`message(sessionId, messageId, afterSequence)`: the events with eventSequence > afterSequence) cover every kind.
 *   A final that carries a `tail` also stands for the tail's token event, number `eventSequence - 1`.
 * - Per kind: token chunks keep `token.sequenceNumber` 0..lastSequenceNumber over the text chunks only, exactly as in
 *   versions 1 and 2, so a client that knows only `on_new_llm_token` (and ignores every other action) still assembles
 *   the exact text and detects text gaps as before; reasoning chunks have their own `index` 0, 1, 2, ...; tool calls
 *   their `invocationNumber` 1, 2, ... per message, each with a `started` event and then a `completed` or `failed` one.
 * - Every event carries `version`, the envelope version its producer wrote (absent before version 3): a client that
 *   knows version N reads events of versions up to N whole, and of a later one what it knows, ignoring unknown actions
 *   and fields.
 * - Clients ignore actions they do not know. A replay asked with a token sequence number (a version-2 client's
 *   afterSequence) returns a superset of what it lacks, since a token's eventSequence is never below its
 *   sequenceNumber: merging by sequence number drops what it already had.
 */
import { z } from "zod";
import { idSchema as id } from "./ids";

export const EVENT_ACTIONS = {
  token: "on_new_llm_token",
  final: "final_response",
  error: "error",
  toolAction: "tool_action",
  reasoning: "on_new_reasoning_token",
} as const;

/** The envelope's version (see the list above): every event's `version` field since version 3. */
export const STREAM_EVENTS_VERSION = 3;

/**
 * Budget for one serialized event. AppSync caps a subscription payload at 240 KB; the event travels inside the
 * Channel object, JSON-escaped once more, so stay well below.
 */
export const MAX_EVENT_BYTES = 96 * 1024;

/** A tool_action's `toolAction`, the notice shown to the user, is at most this many characters. */
export const MAX_TOOL_NOTICE_CHARS = 160;
/** At most this many references ride in a final_response; each title and url is bounded too. */
export const MAX_REFERENCES = 20;
export const MAX_REFERENCE_TITLE_CHARS = 200;
export const MAX_REFERENCE_URL_CHARS = 2048;

const base = {
  userId: z.string().min(1),
  timestamp: z.string(),
  /** Version 3 on: the envelope version of the producer (STREAM_EVENTS_VERSION); absent from older producers. */
  version: z.number().int().min(1).optional(),
};
/** Version 3: the event's place among every event of its run (see the sequencing rule); absent from older producers. */
const eventSequence = z.number().int().min(0);

export const tokenEventSchema = z.object({
  action: z.literal(EVENT_ACTIONS.token),
  ...base,
  data: z.object({
    sessionId: id,
    messageId: id,
    /** runId: one id per generation run (a rerun of the same message gets a new one and numbers from 0 again). */
    token: z.object({ runId: z.string(), sequenceNumber: z.number().int().min(0), value: z.string() }),
    eventSequence: eventSequence.optional(),
  }),
});

/** What the version-3 kinds carry to place them: the message, the run, the event's number among the run's. */
const agentEventIds = { sessionId: id, messageId: id, runId: z.string(), eventSequence };

export const reasoningEventSchema = z.object({
  action: z.literal(EVENT_ACTIONS.reasoning),
  ...base,
  data: z.object({
    ...agentEventIds,
    /** The reasoning chunk's own number, 0, 1, 2, ... per run: the chunks in this order are the whole reasoning. */
    index: z.number().int().min(0),
    value: z.string(),
  }),
});

export const TOOL_ACTION_STATUSES = ["started", "completed", "failed"] as const;
export type ToolActionStatus = (typeof TOOL_ACTION_STATUSES)[number];

export const toolActionEventSchema = z.object({
  action: z.literal(EVENT_ACTIONS.toolAction),
  ...base,
  data: z.object({
    ...agentEventIds,
    toolName: z.string().min(1),
    /** 1, 2, ... per message: a started event and then its completed or failed event share it. */
    invocationNumber: z.number().int().min(1),
    /** The notice in plain words ("Looking up order 42..."), rendered from the tool's template; never raw input. */
    toolAction: z.string().max(MAX_TOOL_NOTICE_CHARS),
    status: z.enum(TOOL_ACTION_STATUSES),
  }),
});

export const usageSchema = z.object({ inputTokens: z.number().int().min(0), outputTokens: z.number().int().min(0) });

/** A source a tool result named (`sources: [{title, url}]`), listed in final_response.references. */
export const referenceSchema = z.object({ title: z.string().max(MAX_REFERENCE_TITLE_CHARS), url: z.string().max(MAX_REFERENCE_URL_CHARS) });

export const finalEventSchema = z.object({
  action: z.literal(EVENT_ACTIONS.final),
  ...base,
  data: z.object({
    sessionId: id,
    messageId: id,
    content: z.string(),
    reasoningContent: z.string().optional(),
    usage: usageSchema,
    stopReason: z.string(),
    /** Sequence number of the last token chunk (the tail's, when the final carries one), -1 when there was none; lets a client detect gaps. */
    lastSequenceNumber: z.number().int().min(-1),
    /** Version 2: the text of chunk `lastSequenceNumber`, sent here instead of as a token event; only beside a complete `content`. */
    tail: z.string().min(1).optional(),
    /** The generation run that produced this event (the token events' runId); absent from older producers. */
    runId: z.string().optional(),
    /** Present (true) when `content` was cut to fit MAX_EVENT_BYTES: then only the token chunks carry the whole answer. */
    truncated: z.literal(true).optional(),
    eventSequence: eventSequence.optional(),
    /** Version 3: the sources the tools' results named, once each, in the order they came; absent when none. */
    references: z.array(referenceSchema).max(MAX_REFERENCES).optional(),
  }),
});

export const errorEventSchema = z.object({
  action: z.literal(EVENT_ACTIONS.error),
  ...base,
  data: z.object({
    sessionId: id,
    messageId: id,
    /** Safe to show to users: never an internal error text. */
    message: z.string(),
    code: z.string(),
    retryable: z.boolean(),
    /** The generation run that failed (the token events' runId); absent from older producers. */
    runId: z.string().optional(),
    eventSequence: eventSequence.optional(),
  }),
});

export const streamEventSchema = z.discriminatedUnion("action", [tokenEventSchema, finalEventSchema, errorEventSchema, toolActionEventSchema, reasoningEventSchema]);

export type TokenEvent = z.infer<typeof tokenEventSchema>;
export type FinalEvent = z.infer<typeof finalEventSchema>;
export type ErrorEvent = z.infer<typeof errorEventSchema>;
export type ToolActionEvent = z.infer<typeof toolActionEventSchema>;
export type ReasoningEvent = z.infer<typeof reasoningEventSchema>;
export type StreamEvent = z.infer<typeof streamEventSchema>;
export type Usage = z.infer<typeof usageSchema>;
export type Reference = z.infer<typeof referenceSchema>;

/** One token chunk as the envelope numbers it. */
export interface Chunk {
  sequenceNumber: number;
  value: string;
  /** Version 3: the chunk's event's place in the run (for the tail: the final's eventSequence - 1). */
  eventSequence?: number;
}

/** The chunk a final carries (version 2), or undefined when it carries none. */
export function finalTail(final: FinalEvent["data"]): Chunk | undefined {
  if (final.tail === undefined) return undefined;
  const eventSequence = final.eventSequence === undefined ? undefined : final.eventSequence - 1;
  return { sequenceNumber: final.lastSequenceNumber, value: final.tail, ...(eventSequence === undefined ? {} : { eventSequence }) };
}

/** Token events the producer sent for the message: every chunk but the tail the final carried. */
export function tokenEventCount(final: FinalEvent["data"]): number {
  return final.lastSequenceNumber + 1 - (final.tail === undefined ? 0 : 1);
}

/** The event's runId, whatever its kind (absent only from older producers' finals and errors). */
export function runIdOf(event: StreamEvent): string | undefined {
  return event.action === EVENT_ACTIONS.token ? event.data.token.runId : event.data.runId;
}

/** The `publishResponse` variables for an event: routing keys travel beside the JSON string, never inside a query. */
export interface PublishVariables {
  sessionId: string;
  userId: string;
  data: string;
}

export function serializeEvent(event: StreamEvent): string {
  return JSON.stringify(event);
}

/** Parses and validates one event; throws a ZodError/SyntaxError on anything malformed. */
export function parseEvent(json: string): StreamEvent {
  return streamEventSchema.parse(JSON.parse(json));
}

/** Like parseEvent, but undefined for anything it cannot read (an unknown action of a later version, a malformed event): what clients ignore. */
export function parseKnownEvent(json: string): StreamEvent | undefined {
  try {
    return parseEvent(json);
  } catch {
    return undefined;
  }
}

export function toPublishVariables(event: StreamEvent): PublishVariables {
  return { sessionId: event.data.sessionId, userId: event.userId, data: serializeEvent(event) };
}
