/**
 * The WebSocket API's route function, one per connection event: `$connect` records the connection under the
 * authorizer's verified user id (and selects the `llm-stream` subprotocol the browser offered with its token),
 * `$disconnect` removes it, `sendQuery` runs send-query's own logic (validation, limits, the QUEUED record, the
 * hand-off through the environment's ingress) with the request marked `transport: "websocket"`, `stopGeneration`
 * message-control's, `ping` answers a pong, and `$default` names the actions. Every message route answers with one
 * frame (contracts/websocketFrames.ts) through the route response, within milliseconds: the generation itself runs in
 * the worker, far inside API Gateway's 29 s integration limit.
 */
import { ID_PATTERN } from "../../contracts/ids";
import { offeredProtocols, protocolHeader, WEBSOCKET_ACTIONS, WEBSOCKET_ROUTES, WEBSOCKET_SUBPROTOCOL, type ErrorFrame, type ServerFrame } from "../../contracts/websocketFrames";
import { messageControl, type MessageControlDeps } from "../message-control/messageControl";
import { countQueryOutcome } from "../send-query/queryMetrics";
import { sendQuery, type SendQueryDeps } from "../send-query/sendQuery";
import type { ConnectionTable } from "../shared/connectionTable";
import type { RuntimeLogger, RuntimeMetrics } from "../shared/telemetry";

/** The parts of API Gateway's WebSocket proxy event that the routes read. */
export interface WebsocketRouteEvent {
  requestContext: {
    routeKey: string;
    connectionId: string;
    /** One per message: send-query's one-generation-per-request check keys on it. */
    requestId?: string;
    /** What the $connect authorizer allowed the connection with (websocket-authorizer/authorizer.ts). */
    authorizer?: { principalId?: string; userId?: string } | null;
  };
  headers?: Record<string, string | undefined> | null;
  body?: string | null;
}

/** The integration's answer: $connect's status and subprotocol; a message route's frame as the body. */
export interface RouteResponse {
  statusCode: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface WebsocketRouteDeps {
  connections: ConnectionTable;
  /** send-query's clients and settings, as its handler builds them. */
  sendQuery: SendQueryDeps;
  /** message-control's stores. */
  control: MessageControlDeps;
  logger: RuntimeLogger;
  /** QueriesAccepted / RejectedQueries, as send-query counts them. */
  metrics: Pick<RuntimeMetrics, "addMetric">;
}

const frame = (f: ServerFrame): RouteResponse => ({ statusCode: 200, body: JSON.stringify(f) });
const refuse = (message: string, errorType: string, extra: Partial<ErrorFrame> = {}): RouteResponse => frame({ type: "error", ...extra, message, errorType });

/** The route's answer; an unexpected failure is logged and answered as the GraphQL resolver answers it. */
export async function handleRoute(event: WebsocketRouteEvent, deps: WebsocketRouteDeps): Promise<RouteResponse> {
  const { routeKey, connectionId } = event.requestContext;
  const userId = event.requestContext.authorizer?.userId;
  // Only $connect's authorizer sets it, and API Gateway passes it to every route of the connection.
  if (!userId) return routeKey === WEBSOCKET_ROUTES.connect ? { statusCode: 401 } : refuse("Sign in first", "Unauthorized");
  switch (routeKey) {
    case WEBSOCKET_ROUTES.connect:
      return connect(event, userId, deps);
    case WEBSOCKET_ROUTES.disconnect:
      await deps.connections.remove(userId, connectionId);
      return { statusCode: 200 };
    case WEBSOCKET_ROUTES.ping:
      return frame({ type: "pong" });
    case WEBSOCKET_ROUTES.sendQuery:
    case WEBSOCKET_ROUTES.stopGeneration:
      return messageRoute(routeKey, event, userId, deps);
    default:
      return refuse(`action must be one of ${WEBSOCKET_ACTIONS.join(", ")}, as {"action": "<name>", ...}`, "UnsupportedAction");
  }
}

/** Records the connection; a browser that offered `llm-stream` (beside its token) gets it selected, as the handshake requires. */
async function connect(event: WebsocketRouteEvent, userId: string, deps: WebsocketRouteDeps): Promise<RouteResponse> {
  const offered = offeredProtocols(protocolHeader(event.headers));
  if (offered.length > 0 && !offered.includes(WEBSOCKET_SUBPROTOCOL)) return { statusCode: 400 };
  await deps.connections.put(userId, event.requestContext.connectionId);
  return offered.length > 0 ? { statusCode: 200, headers: { "Sec-WebSocket-Protocol": WEBSOCKET_SUBPROTOCOL } } : { statusCode: 200 };
}

/** The frame's `input` object, or the error frame refusing a body that carries none. */
function inputOf(body: string | null | undefined): { input: Record<string, unknown> } | { refused: RouteResponse } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body ?? "");
  } catch {
    return { refused: refuse("the message must be JSON", "ValidationError") };
  }
  const input = (parsed as { input?: unknown })?.input;
  if (typeof input !== "object" || input === null || Array.isArray(input)) return { refused: refuse('the message needs an "input" object', "ValidationError") };
  return { input: input as Record<string, unknown> };
}

/** The ids a refusal echoes, when the input carried well-formed ones. */
function idsOf(input: Record<string, unknown>): Partial<ErrorFrame> {
  const id = (v: unknown) => (typeof v === "string" && ID_PATTERN.test(v) ? v : undefined);
  return { sessionId: id(input.sessionId), messageId: id(input.messageId) };
}

async function messageRoute(action: "sendQuery" | "stopGeneration", event: WebsocketRouteEvent, userId: string, deps: WebsocketRouteDeps): Promise<RouteResponse> {
  const parsed = inputOf(event.body);
  if ("refused" in parsed) return parsed.refused;
  const { input } = parsed;
  const echo = { action, ...idsOf(input) };
  try {
    return action === "sendQuery" ? await query(input, userId, event.requestContext.requestId, deps, echo) : await stop(input, userId, deps, echo);
  } catch (error) {
    deps.logger.error("websocket route failed", { action, connectionId: event.requestContext.connectionId, error });
    return refuse("The request could not be processed", "InternalFailure", echo);
  }
}

async function query(input: Record<string, unknown>, userId: string, requestId: string | undefined, deps: WebsocketRouteDeps, echo: Partial<ErrorFrame>): Promise<RouteResponse> {
  // The worker's choice of AppSync path means nothing here: the answer comes back on this connection's user's sockets.
  if (input.delivery != null) {
    countQueryOutcome(deps.metrics, { type: "ValidationError" });
    return refuse("delivery chooses an AppSync path; omit it on the WebSocket", "ValidationError", echo);
  }
  const result = await sendQuery({ arguments: { input }, identity: { sub: userId }, requestId, transport: "websocket" }, deps.sendQuery);
  countQueryOutcome(deps.metrics, "error" in result ? result.error : undefined);
  if ("error" in result) return refuse(result.error.message, result.error.type, { ...echo, ...(result.error.info ? { errorInfo: { ...result.error.info } } : {}) });
  return frame({ type: "ack", action: "sendQuery", sessionId: result.sessionId, messageId: result.messageId });
}

async function stop(input: Record<string, unknown>, userId: string, deps: WebsocketRouteDeps, echo: Partial<ErrorFrame>): Promise<RouteResponse> {
  const result = await messageControl({ field: "stopGeneration", arguments: input, identity: { sub: userId } }, deps.control);
  if (result && "error" in result) return refuse(result.error.message, result.error.type, echo);
  const stopped = result as { sessionId: string; messageId: string; stopped: boolean };
  return frame({ type: "ack", action: "stopGeneration", sessionId: stopped.sessionId, messageId: stopped.messageId, stopped: stopped.stopped });
}
