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
 */
import { z } from "zod";
import { idSchema as id } from "./ids";

export const EVENT_ACTIONS = { token: "on_new_llm_token", final: "final_response", error: "error" } as const;

/** The envelope's version (see the list above); documentation for clients, not a field on the wire. */
export const STREAM_EVENTS_VERSION = 2;

/**
 * Budget for one serialized event. AppSync caps a subscription payload at 240 KB; the event travels inside the
 * Channel object, JSON-escaped once more, so stay well below.
 */
export const MAX_EVENT_BYTES = 96 * 1024;

const base = { userId: z.string().min(1), timestamp: z.string() };

export const tokenEventSchema = z.object({
  action: z.literal(EVENT_ACTIONS.token),
  ...base,
  data: z.object({
    sessionId: id,
    messageId: id,
    /** runId: one id per generation run (a rerun of the same message gets a new one and numbers from 0 again). */
    token: z.object({ runId: z.string(), sequenceNumber: z.number().int().min(0), value: z.string() }),
  }),
});

export const usageSchema = z.object({ inputTokens: z.number().int().min(0), outputTokens: z.number().int().min(0) });

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
  }),
});

export const streamEventSchema = z.discriminatedUnion("action", [tokenEventSchema, finalEventSchema, errorEventSchema]);

export type TokenEvent = z.infer<typeof tokenEventSchema>;
export type FinalEvent = z.infer<typeof finalEventSchema>;
export type ErrorEvent = z.infer<typeof errorEventSchema>;
export type StreamEvent = z.infer<typeof streamEventSchema>;
export type Usage = z.infer<typeof usageSchema>;

/** One token chunk as the envelope numbers it. */
export interface Chunk {
  sequenceNumber: number;
  value: string;
}

/** The chunk a final carries (version 2), or undefined when it carries none. */
export function finalTail(final: FinalEvent["data"]): Chunk | undefined {
  return final.tail === undefined ? undefined : { sequenceNumber: final.lastSequenceNumber, value: final.tail };
}

/** Token events the producer sent for the message: every chunk but the tail the final carried. */
export function tokenEventCount(final: FinalEvent["data"]): number {
  return final.lastSequenceNumber + 1 - (final.tail === undefined ? 0 : 1);
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

export function toPublishVariables(event: StreamEvent): PublishVariables {
  return { sessionId: event.data.sessionId, userId: event.userId, data: serializeEvent(event) };
}
