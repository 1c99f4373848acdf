/**
 * The stream events: worker -> AppSync publishResponse.data, or worker -> outbound topic -> relay -> AppSync. Every
 * producer, the relay, the local stack and every client (CLI, web page, bench) import them from here. Pure: no Node or
 * AWS imports, so the web page bundles it too.
 */
import { z } from "zod";
import { idSchema as id } from "./ids";

export const EVENT_ACTIONS = { token: "on_new_llm_token", final: "final_response", error: "error" } as const;

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
    /** Sequence number of the last token chunk, -1 when none was sent; lets a client detect gaps. */
    lastSequenceNumber: z.number().int().min(-1),
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
