/**
 * The API Gateway WebSocket API of the local stack, on one 127.0.0.1 port: `ws` carries the connections at
 * `ws://127.0.0.1:<port>/<stage>`, and the same port serves the @connections management API (managementApi.ts) that
 * the real ApiGatewayManagementApiClient reaches by endpoint override, as the deployed API serves both on one host.
 * A connection runs as API Gateway runs it: the REQUEST authorizer first (an error "Unauthorized" is a 401 on the
 * upgrade, a Deny or no Allow a 403, and nothing else runs), then $connect (a non-2xx answer refuses the upgrade; its
 * `Sec-WebSocket-Protocol` is the one selected), each message routed by its `action` (route selection
 * `$request.body.action`, else `$default`) with the two-way routes' answers sent back, and $disconnect when it closes.
 * Connections close after 10 idle minutes and after 2 hours, as on AWS. `ws` is the well-kept WebSocket server; the
 * API Gateway behaviour around it is ours, since no local emulator of WebSocket APIs runs in-process handlers.
 */
import { randomUUID } from "node:crypto";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import type { Context } from "aws-lambda";
import { WebSocket, WebSocketServer } from "ws";
import { protocolHeader, TWO_WAY_ROUTES, WEBSOCKET_LIMITS, WEBSOCKET_ROUTES } from "../../contracts/websocketFrames";
import type { LocalCredentials } from "../appsync/sigv4";
import { authorizerEvent, handshakeOf, newConnectionId, routeEvent, type ApiInfo, type ConnectionInfo, type HandshakeRequest } from "./events";
import { serveManagementApi, type ConnectionControl } from "./managementApi";

/** A Lambda handler as the local stack loaded it. */
export type WebsocketHandler = (event: unknown, context: Context) => Promise<unknown>;

/** The deployed API's two functions (modules/websocketTransport.ts). */
export interface WebsocketFunctions {
  authorizer: WebsocketHandler;
  routes: WebsocketHandler;
}

export interface WebsocketApiOptions {
  region: string;
  accountId: string;
  /** The stage: the URL's path, as on AWS. */
  stage: string;
  /** The identity the @connections callers must sign with (SigV4, service execute-api). */
  credentials: LocalCredentials;
  /** The handlers once loaded (they read this API's endpoint, so they load after it listens); until then upgrades get a 503. */
  functions: () => WebsocketFunctions | undefined;
  contextFor: (fn: keyof WebsocketFunctions) => Context;
  port?: number;
  /** Serve wss:// and https:// with this certificate (`npm start -- --tls`). */
  tls?: { key: string; cert: string };
  /** Defaults: API Gateway's 10 minutes and 2 hours. */
  idleTimeoutMs?: number;
  maxConnectionMs?: number;
  /** A function that threw where API Gateway would answer 500 (default console.error). */
  onInternalError?: (error: unknown) => void;
}

export interface WebsocketApiStats {
  open: number;
  connects: number;
  /** Upgrades refused, by HTTP status (401 no token, 403 denied, 400/500 from $connect, ...). */
  refused: Record<string, number>;
  messages: number;
  disconnects: number;
  /** $disconnect events not delivered on purpose (faults.loseDisconnects), as API Gateway's best-effort delivery may. */
  lostDisconnects: number;
  posts: { delivered: number; gone: number; refused: number };
}

export interface LocalWebsocketApi {
  /** ws(s)://127.0.0.1:<port>/<stage>: what clients connect to (client config `websocketUrl`). */
  url: string;
  /** http(s)://127.0.0.1:<port>/<stage>: the @connections endpoint (WS_ENDPOINT). */
  managementEndpoint: string;
  readonly stats: WebsocketApiStats;
  close(): Promise<void>;
}

/** One open connection. */
interface Open {
  info: ConnectionInfo;
  socket: WebSocket;
  lastActiveAt: number;
  idle?: NodeJS.Timeout;
  life?: NodeJS.Timeout;
}

/** What the handshake and the connections share. */
interface Ctx {
  o: WebsocketApiOptions;
  api: ApiInfo;
  stats: WebsocketApiStats;
  faults: { loseDisconnects: number };
  open: Map<string, Open>;
  /** Set by close(): the stack is stopping, so closing sockets runs no $disconnect. */
  closing: boolean;
  wss: WebSocketServer;
}

/** The integration's answer as API Gateway reads it. */
interface RouteAnswer {
  statusCode?: number;
  headers?: Record<string, string | undefined>;
  body?: string;
}

const STATUS_TEXT: Record<number, string> = { 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 500: "Internal Server Error", 503: "Service Unavailable" };

/** Refuses an upgrade with API Gateway's status and body. */
function refuseUpgrade(ctx: Ctx | undefined, socket: Socket, status: number): void {
  if (ctx) ctx.stats.refused[status] = (ctx.stats.refused[status] ?? 0) + 1;
  const body = JSON.stringify({ message: status === 500 ? "Internal server error" : (STATUS_TEXT[status] ?? "Error") });
  socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Error"}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/** A policy resource as IAM matches it against the method ARN (`*` any characters). */
const resourceMatches = (pattern: string, arn: string) => new RegExp(`^${pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`).test(arn);

/** The authorizer's verdict: the context to keep, or the status API Gateway answers. */
async function authorize(ctx: Ctx, fns: WebsocketFunctions, conn: ConnectionInfo, handshake: HandshakeRequest): Promise<{ context: Record<string, unknown> } | { status: number }> {
  const event = authorizerEvent(ctx.api, conn, handshake);
  let result: { principalId?: string; policyDocument?: { Statement?: { Effect?: string; Action?: string | string[]; Resource?: string | string[] }[] }; context?: Record<string, unknown> };
  try {
    result = (await fns.authorizer(event, ctx.o.contextFor("authorizer"))) as typeof result;
  } catch (error) {
    if ((error as Error)?.message === "Unauthorized") return { status: 401 };
    (ctx.o.onInternalError ?? console.error)(error);
    return { status: 500 };
  }
  const statements = (result?.policyDocument?.Statement ?? []).filter((s) => [s.Action].flat().includes("execute-api:Invoke") && [s.Resource].flat().some((r) => typeof r === "string" && resourceMatches(r, event.methodArn)));
  if (statements.some((s) => s.Effect === "Deny") || !statements.some((s) => s.Effect === "Allow")) return { status: 403 };
  return { context: { ...(result.context ?? {}), principalId: result.principalId } };
}

/** Invokes the route function; undefined when it threw (API Gateway answers that as an internal error). */
async function invokeRoute(ctx: Ctx, fns: WebsocketFunctions, conn: ConnectionInfo, routeKey: string, extra: Parameters<typeof routeEvent>[3]): Promise<RouteAnswer | undefined> {
  try {
    return ((await fns.routes(routeEvent(ctx.api, conn, routeKey, extra), ctx.o.contextFor("routes"))) ?? {}) as RouteAnswer;
  } catch (error) {
    (ctx.o.onInternalError ?? console.error)(error);
    return undefined;
  }
}

/** The upgrade: the authorizer, then $connect, then the WebSocket with the subprotocol $connect selected. */
async function handshake(ctx: Ctx, req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
  const { pathname } = new URL(req.url ?? "/", "http://localhost");
  if (pathname.replace(/\/$/, "") !== `/${ctx.o.stage}`) return refuseUpgrade(ctx, socket, 404);
  const fns = ctx.o.functions();
  if (!fns) return refuseUpgrade(ctx, socket, 503);
  const conn: ConnectionInfo = { connectionId: newConnectionId(), connectedAt: Date.now(), sourceIp: req.socket.remoteAddress ?? "127.0.0.1", userAgent: req.headers["user-agent"] };
  const shake = handshakeOf(req);
  const verdict = await authorize(ctx, fns, conn, shake);
  if ("status" in verdict) return refuseUpgrade(ctx, socket, verdict.status);
  conn.authorizer = verdict.context;
  const answer = await invokeRoute(ctx, fns, conn, WEBSOCKET_ROUTES.connect, { handshake: shake });
  const status = answer ? (answer.statusCode ?? 200) : 500;
  if (status < 200 || status > 299) return refuseUpgrade(ctx, socket, status);
  (req as IncomingMessage & { selectedProtocol?: string }).selectedProtocol = protocolHeader(answer?.headers);
  if (socket.destroyed) return void invokeRoute(ctx, fns, conn, WEBSOCKET_ROUTES.disconnect, { disconnect: { statusCode: 1006, reason: "client went away during $connect" } });
  ctx.wss.handleUpgrade(req, socket, head, (ws) => accept(ctx, fns, conn, ws));
}

/** Restarts the idle timer: any message in either direction counts, as on AWS. */
function touch(ctx: Ctx, open: Open): void {
  open.lastActiveAt = Date.now();
  clearTimeout(open.idle);
  open.idle = setTimeout(() => open.socket.close(1001, "Going away"), ctx.o.idleTimeoutMs ?? WEBSOCKET_LIMITS.idleTimeoutMs);
}

/** The route of a message: its JSON `action` when a route has that key, else $default. */
function routeOf(text: string): string {
  try {
    const action = (JSON.parse(text) as { action?: unknown })?.action;
    const routed = Object.values(WEBSOCKET_ROUTES).filter((k) => !k.startsWith("$")) as string[];
    return typeof action === "string" && routed.includes(action) ? action : WEBSOCKET_ROUTES.default;
  } catch {
    return WEBSOCKET_ROUTES.default;
  }
}

async function onMessage(ctx: Ctx, fns: WebsocketFunctions, open: Open, text: string): Promise<void> {
  ctx.stats.messages++;
  touch(ctx, open);
  const routeKey = routeOf(text);
  const answer = await invokeRoute(ctx, fns, open.info, routeKey, { body: text });
  if (open.socket.readyState !== WebSocket.OPEN) return;
  if (!answer) open.socket.send(JSON.stringify({ message: "Internal server error", connectionId: open.info.connectionId, requestId: randomUUID() }));
  else if (TWO_WAY_ROUTES.includes(routeKey as (typeof TWO_WAY_ROUTES)[number]) && typeof answer.body === "string") open.socket.send(answer.body);
}

/** A connection API Gateway accepted: registered for @connections, its messages routed, $disconnect when it closes. */
function accept(ctx: Ctx, fns: WebsocketFunctions, info: ConnectionInfo, socket: WebSocket): void {
  const open: Open = { info, socket, lastActiveAt: Date.now() };
  ctx.open.set(info.connectionId, open);
  ctx.stats.connects++;
  touch(ctx, open);
  open.life = setTimeout(() => socket.close(1001, "Going away"), ctx.o.maxConnectionMs ?? WEBSOCKET_LIMITS.connectionMs);
  socket.on("message", (data: Buffer, isBinary: boolean) => void onMessage(ctx, fns, open, isBinary ? data.toString("base64") : data.toString("utf8")));
  socket.on("close", (code: number, reason: Buffer) => {
    clearTimeout(open.idle);
    clearTimeout(open.life);
    ctx.open.delete(info.connectionId);
    if (ctx.closing) return;
    if (ctx.faults.loseDisconnects > 0) {
      ctx.faults.loseDisconnects--;
      ctx.stats.lostDisconnects++;
      return;
    }
    ctx.stats.disconnects++;
    void invokeRoute(ctx, fns, info, WEBSOCKET_ROUTES.disconnect, { disconnect: { statusCode: code, reason: reason.toString("utf8") } });
  });
}

/** The registry as the management API sees it. */
function connectionControl(ctx: Ctx): ConnectionControl {
  const live = (id: string) => {
    const open = ctx.open.get(id);
    return open && open.socket.readyState === WebSocket.OPEN ? open : undefined;
  };
  return {
    post(id, data) {
      const open = live(id);
      if (!open) return false;
      open.socket.send(data);
      touch(ctx, open);
      return true;
    },
    describe(id) {
      const open = live(id);
      return open && { connectedAt: open.info.connectedAt, lastActiveAt: open.lastActiveAt, sourceIp: open.info.sourceIp, userAgent: open.info.userAgent };
    },
    disconnect(id) {
      const open = live(id);
      open?.socket.close(1000, "");
      return !!open;
    },
  };
}

/** `GET /_local/stats`, `POST /_local/faults {"loseDisconnects": n}` (the next n closes run no $disconnect). */
async function serveLocalHooks(ctx: Ctx, req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
  const json = (status: number, body: unknown) => (res.writeHead(status, { "content-type": "application/json" }), res.end(JSON.stringify(body)), true);
  if (url.pathname === "/_local/stats" && req.method === "GET") return json(200, { ...ctx.stats, open: ctx.open.size, connectionIds: [...ctx.open.keys()] });
  if (url.pathname !== "/_local/faults" || req.method !== "POST") return false;
  let body = "";
  for await (const chunk of req as AsyncIterable<Buffer>) body += chunk.toString("utf8");
  const n = (JSON.parse(body || "{}") as { loseDisconnects?: unknown }).loseDisconnects;
  if (!Number.isInteger(n) || (n as number) < 0) return json(400, { error: "loseDisconnects must be a whole number" });
  ctx.faults.loseDisconnects = n as number;
  return json(200, { loseDisconnects: n });
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
  });
}

export async function startWebsocketApi(o: WebsocketApiOptions): Promise<LocalWebsocketApi> {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: WEBSOCKET_LIMITS.messageBytes,
    handleProtocols: (offered, req) => {
      const selected = (req as IncomingMessage & { selectedProtocol?: string }).selectedProtocol;
      return selected !== undefined && offered.has(selected) ? selected : false;
    },
  });
  const stats: WebsocketApiStats = { open: 0, connects: 0, refused: {}, messages: 0, disconnects: 0, lostDisconnects: 0, posts: { delivered: 0, gone: 0, refused: 0 } };
  const api: ApiInfo = { apiId: "localws0001", stage: o.stage, region: o.region, accountId: o.accountId, domainName: "127.0.0.1" };
  const ctx: Ctx = { o, api, stats, faults: { loseDisconnects: 0 }, open: new Map(), wss, closing: false };
  const management = { region: o.region, credentials: o.credentials, connections: connectionControl(ctx), onPost: (outcome: keyof WebsocketApiStats["posts"]) => void stats.posts[outcome]++ };
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const served = async () => (await serveLocalHooks(ctx, req, res, url)) || (await serveManagementApi(req, res, url, management));
    served().then(
      (done) => void (done || (res.writeHead(426, { "content-type": "application/json" }), res.end(JSON.stringify({ message: "Upgrade Required" })))),
      (error: unknown) => ((o.onInternalError ?? console.error)(error), res.headersSent || res.writeHead(500), res.end()),
    );
  };
  const server = o.tls ? createHttpsServer({ key: o.tls.key, cert: o.tls.cert }, onRequest) : createHttpServer(onRequest);
  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => void handshake(ctx, req, socket, head).catch((error: unknown) => ((o.onInternalError ?? console.error)(error), refuseUpgrade(ctx, socket, 500))));
  const port = await listen(server, o.port ?? 0);
  api.domainName = `127.0.0.1:${port}`;
  const secure = o.tls ? "s" : "";
  return {
    url: `ws${secure}://127.0.0.1:${port}/${o.stage}`,
    managementEndpoint: `http${secure}://127.0.0.1:${port}/${o.stage}`,
    get stats() {
      return { ...stats, open: ctx.open.size };
    },
    async close() {
      ctx.closing = true;
      for (const open of ctx.open.values()) open.socket.terminate();
      wss.close();
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
