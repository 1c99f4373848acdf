/**
 * The wire formats, in one place: the work request (sendQuery -> inbound topic -> worker) and the stream events
 * (worker -> AppSync publishResponse.data, or worker -> outbound topic -> relay -> AppSync). Every producer, the relay,
 * the local stack and every client (CLI, web page, bench) import them from here. Pure: no Node or AWS imports,
 * so the web page bundles it too.
 */
import { z } from "zod";

export const EVENT_ACTIONS = { token: "on_new_llm_token", final: "final_response", error: "error" } as const;

/** Session and message ids: 8-64 characters of letters, digits, `-` and `_` (UUIDs fit). Mirrored in graphql/resolvers/receiveMessages.js; a test keeps the two equal. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{7,63}$/;

/**
 * Budget for one serialized event. AppSync caps a subscription payload at 240 KB; the event travels inside the
 * Channel object, JSON-escaped once more, so stay well below.
 */
export const MAX_EVENT_BYTES = 96 * 1024;

const id = z.string().regex(ID_PATTERN, "must be 8-64 letters, digits, '-' or '_'");
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

/** What sendQuery puts on the inbound topic and the worker consumes. `userId` always comes from the caller's identity. */
export const workRequestSchema = z.object({
  sessionId: id,
  messageId: id,
  userId: z.string().min(1),
  prompt: z.string().min(1),
  modelId: z.string().min(1),
  requestedAt: z.string(),
  /** Set only when the environment allows a client's choice; otherwise the worker's DIRECT_SEND decides. */
  delivery: z.enum(["direct", "queued"]).optional(),
});
export type WorkRequest = z.infer<typeof workRequestSchema>;

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

/** The GraphQL document every producer sends; values only ever travel as variables. */
export const PUBLISH_RESPONSE_MUTATION = `mutation PublishResponse($sessionId: String!, $userId: String!, $data: String!) {
  publishResponse(sessionId: $sessionId, userId: $userId, data: $data) { sessionId userId data }
}`;

export const RECEIVE_MESSAGES_SUBSCRIPTION = `subscription ReceiveMessages($sessionId: String!) {
  receiveMessages(sessionId: $sessionId) { sessionId userId data }
}`;

export const SEND_QUERY_MUTATION = `mutation SendQuery($input: SendQueryInput!) {
  sendQuery(input: $input) { sessionId messageId }
}`;

const utf8 = new TextEncoder();

/** UTF-8 size of a string as it will travel. */
export function byteLength(s: string): number {
  return utf8.encode(s).length;
}

/**
 * Splits text into pieces of at most `maxBytes` UTF-8 bytes without cutting a code point in half,
 * so each piece can be its own token event. Concatenating the pieces gives the input back exactly.
 */
export function splitByBytes(text: string, maxBytes: number): string[] {
  if (maxBytes < 4) throw new RangeError("maxBytes must be at least 4");
  const pieces: string[] = [];
  let current = "";
  let size = 0;
  for (const ch of text) {
    const n = byteLength(ch);
    if (size + n > maxBytes) {
      pieces.push(current);
      current = "";
      size = 0;
    }
    current += ch;
    size += n;
  }
  if (current || pieces.length === 0) pieces.push(current);
  return pieces;
}
