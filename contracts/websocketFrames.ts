/**
 * The API Gateway WebSocket transport's wire format: the routes, the frames a client sends (`action` picks the route,
 * route selection `$request.body.action`), the frames the route function answers with, how the token travels at
 * $connect, and API Gateway's limits the platform designs around. The stream events themselves are unchanged
 * (contracts/streamEvents.ts): each one is a WebSocket message of its own, told apart from these frames by `action`
 * (events) versus `type` (frames). Pure: no Node or AWS imports, so the web page bundles it too.
 */
import { z } from "zod";
import { MAX_EVENT_BYTES, type StreamEvent, streamEventSchema } from "./streamEvents";

/** The subprotocol a client offers (beside its token) and the $connect response selects. */
export const WEBSOCKET_SUBPROTOCOL = "llm-stream";

/** API Gateway's route selection expression: the `action` field of a JSON message picks its route. */
export const ROUTE_SELECTION_EXPRESSION = "$request.body.action";

/** The actions a client may send, each a route of its own; anything else goes to `$default`. */
export const WEBSOCKET_ACTIONS = ["sendQuery", "stopGeneration", "ping"] as const;
export type WebsocketAction = (typeof WEBSOCKET_ACTIONS)[number];

/** Every route of the API; the message routes answer through a route response (two-way), $connect and $disconnect do not. */
export const WEBSOCKET_ROUTES = { connect: "$connect", disconnect: "$disconnect", default: "$default", sendQuery: "sendQuery", stopGeneration: "stopGeneration", ping: "ping" } as const;
export type WebsocketRouteKey = (typeof WEBSOCKET_ROUTES)[keyof typeof WEBSOCKET_ROUTES];
/** The routes whose function answer is sent back to the client (a route response). */
export const TWO_WAY_ROUTES: readonly WebsocketRouteKey[] = ["sendQuery", "stopGeneration", "ping", "$default"];

/** API Gateway WebSocket quotas (not adjustable): one message, one frame, the idle timeout and a connection's life. */
export const WEBSOCKET_LIMITS = {
  messageBytes: 128 * 1024,
  frameBytes: 32 * 1024,
  idleTimeoutMs: 10 * 60 * 1000,
  connectionMs: 2 * 60 * 60 * 1000,
} as const;

/** How often a client sends `{"action":"ping"}`: well inside the 10-minute idle timeout. */
export const PING_INTERVAL_MS = 5 * 60 * 1000;

// Every event the worker posts must fit one WebSocket message, whatever a final carries.
if (MAX_EVENT_BYTES >= WEBSOCKET_LIMITS.messageBytes) throw new Error("MAX_EVENT_BYTES must stay under API Gateway's 128 KB WebSocket message limit");

/** The two ways a client hands its Cognito token (ID or access) to $connect. */
export const TOKEN_QUERY_PARAMETER = "token";

/** The subprotocols a browser offers: `new WebSocket(url, websocketProtocols(token))`. */
export function websocketProtocols(token: string): string[] {
  return [WEBSOCKET_SUBPROTOCOL, token];
}

/** The `Sec-WebSocket-Protocol` value of a request's headers, whatever case the client sent the name in. */
export function protocolHeader(headers: Record<string, string | undefined> | null | undefined): string | undefined {
  for (const [name, value] of Object.entries(headers ?? {})) if (name.toLowerCase() === "sec-websocket-protocol") return value;
  return undefined;
}

/** The offered subprotocols of a `Sec-WebSocket-Protocol` header value, in order. */
export function offeredProtocols(header: string | undefined): string[] {
  return (header ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean);
}

/** The token of a `Sec-WebSocket-Protocol` header that offers `llm-stream` beside exactly one other value. */
export function tokenFromProtocols(header: string | undefined): string | undefined {
  const offered = offeredProtocols(header);
  if (!offered.includes(WEBSOCKET_SUBPROTOCOL)) return undefined;
  const others = offered.filter((p) => p !== WEBSOCKET_SUBPROTOCOL);
  return others.length === 1 ? others[0] : undefined;
}

/** `{"action":"sendQuery","input":{sessionId, messageId?, prompt, modelId?}}`: the input of the GraphQL mutation. */
export interface SendQueryFrame {
  action: "sendQuery";
  input: { sessionId: string; messageId?: string; prompt: string; modelId?: string };
}

/** `{"action":"stopGeneration","input":{sessionId, messageId}}`. */
export interface StopGenerationFrame {
  action: "stopGeneration";
  input: { sessionId: string; messageId: string };
}

/** `{"action":"ping"}`, the keep-alive; answered by a pong. */
export interface PingFrame {
  action: "ping";
}

export type ClientFrame = SendQueryFrame | StopGenerationFrame | PingFrame;

/** What the route function answers: ack, error or pong, each as one WebSocket message. */
export const ackFrameSchema = z.object({
  type: z.literal("ack"),
  action: z.enum(["sendQuery", "stopGeneration"]),
  sessionId: z.string(),
  messageId: z.string(),
  /** stopGeneration only: whether this stopped the message (false when it had ended or was already stopped). */
  stopped: z.boolean().optional(),
});

export const errorFrameSchema = z.object({
  type: z.literal("error"),
  /** The action refused, when the frame named a known one. */
  action: z.string().optional(),
  /** The ids of the refused request, when its input carried them. */
  sessionId: z.string().optional(),
  messageId: z.string().optional(),
  /** Safe to show: validation and limit messages, never an internal error's text. */
  message: z.string(),
  /** As the GraphQL API names them: ValidationError, LimitExceeded, Unauthorized, UnsupportedAction, InternalFailure. */
  errorType: z.string(),
  /** LimitExceeded: `{limit, resetsAt?}` (contracts/usage.ts LimitExceededInfo), as GraphQL's errorInfo. */
  errorInfo: z.record(z.unknown()).optional(),
});

export const pongFrameSchema = z.object({ type: z.literal("pong") });

export const serverFrameSchema = z.discriminatedUnion("type", [ackFrameSchema, errorFrameSchema, pongFrameSchema]);
export type AckFrame = z.infer<typeof ackFrameSchema>;
export type ErrorFrame = z.infer<typeof errorFrameSchema>;
export type PongFrame = z.infer<typeof pongFrameSchema>;
export type ServerFrame = z.infer<typeof serverFrameSchema>;

/** One message from the server: a frame of the route function or a stream event of the worker. */
export type ServerMessage = { kind: "frame"; frame: ServerFrame } | { kind: "event"; event: StreamEvent };

/** Parses one server message; throws on anything else (not JSON, neither a frame nor an event). */
export function parseServerMessage(json: string): ServerMessage {
  const value: unknown = JSON.parse(json);
  if (typeof value === "object" && value !== null && "type" in value) return { kind: "frame", frame: serverFrameSchema.parse(value) };
  return { kind: "event", event: streamEventSchema.parse(value) };
}
