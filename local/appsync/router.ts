/**
 * The gateway's HTTP router: the route table (method + path -> handler in routes/), the checks every request
 * passes first (loopback Host, parseable URL, loopback peer for /_local/), and the one place answers are written:
 * a handler's JSON reply, or a thrown GatewayError rendered in its shape.
 */
import type * as http from "node:http";
import type { GraphQLEngine, InternalErrorLog } from "./engine";
import type { GatewayFaults, GatewayStats } from "./faults";
import { GatewayError } from "./gatewayError";
import type { IdentityVerifier } from "./identity";
import type { RealtimeServer } from "./realtime";
import { CORS_HEADERS, graphqlPreflight, postGraphql } from "./routes/graphql";
import { getStats, postFaults } from "./routes/localHooks";
import { getStaticFile } from "./routes/staticFiles";

/** The HTTP and WebSocket path of the GraphQL API, as on AWS. */
export const GRAPHQL_PATH = "/graphql";
/** Test hooks live under this prefix and answer loopback peers only. */
const LOCAL_HOOKS_PREFIX = "/_local/";
/** A route path that matches any path outside the test hooks (the web console's files). */
const ANY_PAGE = "*";
const LOOPBACK_PEERS = ["127.0.0.1", "::ffff:127.0.0.1", "::1"];

/** What every route may use: the gateway's parts, built once by startGateway. */
export interface GatewayContext {
  engine: GraphQLEngine;
  verifier: IdentityVerifier;
  realtime: RealtimeServer;
  stats: GatewayStats;
  faults: GatewayFaults;
  /** Folder served at GET / when given. */
  staticDir?: string;
  /** Only `127.0.0.1:<port>` and `localhost:<port>` are served (DNS rebinding). */
  isAllowedHost(host: string | undefined): boolean;
  /** Where errors no client may see are logged. */
  onInternalError: InternalErrorLog;
}

/** One HTTP request as a route sees it. */
export interface Exchange {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  url: URL;
}

/** A JSON answer for the router to write; a route that wrote `res` itself (a file, a 204) returns nothing. */
export interface RouteReply {
  status: number;
  body: unknown;
}

/** A route's handler: answers a reply, writes `res` itself, or throws a GatewayError. */
export type RouteHandler = (exchange: Exchange, ctx: GatewayContext) => Promise<RouteReply | void> | RouteReply | void;

/** One row of the table: `path` is exact, or ANY_PAGE. */
interface Route {
  method: string;
  path: string;
  handler: RouteHandler;
  /** Sent with every JSON answer of this route, errors included. */
  headers?: Record<string, string>;
}

const ROUTES: Route[] = [
  { method: "OPTIONS", path: GRAPHQL_PATH, handler: graphqlPreflight },
  { method: "POST", path: GRAPHQL_PATH, handler: postGraphql, headers: CORS_HEADERS },
  { method: "POST", path: `${LOCAL_HOOKS_PREFIX}faults`, handler: postFaults },
  { method: "GET", path: `${LOCAL_HOOKS_PREFIX}stats`, handler: getStats },
  { method: "GET", path: ANY_PAGE, handler: getStaticFile },
];

/** The server's request listener: check, match, run the route, write its reply or its error. */
export async function routeRequest(req: http.IncomingMessage, res: http.ServerResponse, ctx: GatewayContext): Promise<void> {
  let route: Route | undefined;
  try {
    const url = checkedUrl(req, ctx);
    route = matchRoute(req, url);
    const reply = await route.handler({ req, res, url }, ctx);
    if (reply) sendJson(res, reply.status, reply.body, route.headers);
  } catch (err) {
    sendError(res, err, route?.headers, ctx.onInternalError);
  }
}

/** The request's URL, once its Host is ours (421 otherwise) and its target parses (400 otherwise). */
function checkedUrl(req: http.IncomingMessage, ctx: GatewayContext): URL {
  if (!ctx.isAllowedHost(req.headers.host)) throw new GatewayError(421, "MisdirectedRequest", "misdirected request", "local");
  try {
    return new URL(req.url ?? "/", "http://127.0.0.1");
  } catch {
    throw new GatewayError(400, "BadRequest", "bad request", "local");
  }
}

/** The route for this method and path; test hooks refuse other peers (403); nothing matching is a 404. */
function matchRoute(req: http.IncomingMessage, url: URL): Route {
  const isHook = url.pathname.startsWith(LOCAL_HOOKS_PREFIX);
  if (isHook && !LOOPBACK_PEERS.includes(req.socket.remoteAddress ?? "")) {
    throw new GatewayError(403, "Forbidden", "forbidden", "local");
  }
  const route = ROUTES.find((r) => r.method === req.method && (r.path === url.pathname || (r.path === ANY_PAGE && !isHook)));
  if (!route) throw new GatewayError(404, "NotFound", "not found", "local");
  return route;
}

/** Renders a thrown error in its shape; an unexpected one is logged and answered InternalFailure, without the route's headers. */
function sendError(res: http.ServerResponse, err: unknown, routeHeaders: Record<string, string> | undefined, log: InternalErrorLog): void {
  if (err instanceof GatewayError && !res.headersSent) return sendJson(res, err.status, err.body(), routeHeaders);
  if (!(err instanceof GatewayError)) log(err, `answering ${res.req.method} ${res.req.url}`);
  if (res.headersSent) return void res.destroy();
  const failure = GatewayError.internalFailure();
  sendJson(res, failure.status, failure.body());
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json; charset=UTF-8", "cache-control": "no-store", ...extra });
  res.end(JSON.stringify(body));
}
