/**
 * AppSync's real-time WebSocket protocol (subprotocol `graphql-ws`) as AWS documents it: the connect header from base64
 * `header`/`payload` query parameters or a `header-<base64url>` subprotocol (connectHeader.ts), connection_init/ack,
 * ka, start/start_ack/data/error, stop/complete. Every frame is checked before it is read (realtimeFrames.ts) and every
 * handler is guarded: a client can get an error, never an exception out of the gateway or the text of one.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type RawData, type WebSocket } from "ws";
import { GRAPHQL_WS, offeredSubprotocols, readConnectHeader } from "./connectHeader";
import { appSyncError, internalFailure, type AppSyncErrorEntry, type GraphQLEngine, type InternalErrorLog, type RegisteredSubscription } from "./engine";
import type { GatewayStats } from "./faults";
import type { AuthResult, IdentityVerifier } from "./identity";
import { MAX_FRAME_BYTES, parseFrame, unsupportedOperation, type ClientMessage } from "./realtimeFrames";
import { isSigV4Authorization } from "./sigv4";
import { matchesArguments, matchesFilter } from "./subscriptionFilter";

/** What the real-time server is built from: the gateway's engine, verifier and stats, and its protocol settings. */
export interface RealtimeOptions {
  engine: GraphQLEngine;
  verifier: IdentityVerifier;
  stats: GatewayStats;
  /** Path of the HTTP endpoint (`/graphql`): IAM signatures are made for it (+ `/connect` on connect). */
  graphqlPath: string;
  keepAliveIntervalMs: number;
  connectionTimeoutMs: number;
  /** A connection that has sent neither connection_init nor a start by then is closed (4408). */
  connectionInitTimeoutMs: number;
  isAllowedHost(host: string | undefined): boolean;
  /** Where errors no client may see are logged. */
  onInternalError: InternalErrorLog;
}

/** AppSync's limit on subscriptions per connection. */
export const MAX_SUBSCRIPTIONS_PER_CONNECTION = 100;
/** The close code of a connection that never began the protocol (graphql-transport-ws's "init timeout"). */
export const INIT_TIMEOUT_CLOSE_CODE = 4408;
const MAX_SUBSCRIPTION_ID_LENGTH = 128;

interface ActiveSubscription {
  id: string;
  sub: RegisteredSubscription;
  connection: Connection;
  /** Sends to one subscriber are chained so they leave in mutation order. */
  tail: Promise<void>;
}

interface Connection {
  ws: WebSocket;
  sourceIp: string;
  /** The connect header's verification, started at the upgrade; never rejects. */
  auth: Promise<AuthResult>;
  /** Set on the first connection_init or start: whether the connect header verified (on failure the socket is closing). */
  accepted?: Promise<boolean>;
  ackSent: boolean;
  subscriptions: Map<string, ActiveSubscription>;
  /** Starts still being authorized, by id, each with its own ticket: they count against the cap from the moment they arrive. */
  pendingStarts: Map<string, object>;
  keepAlive?: NodeJS.Timeout;
  initTimer?: NodeJS.Timeout;
}

/** A start's `payload` once its shape was checked: the request's JSON text and the caller's auth header. */
interface StartPayload {
  data: string;
  extensions?: { authorization?: unknown };
}

/** Lower-cased string headers of an auth header object; anything else in it is ignored. */
function stringHeaders(obj: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (obj && typeof obj === "object") {
    for (const [k, v] of Object.entries(obj)) if (typeof v === "string") out[k.toLowerCase()] = v;
  }
  return out;
}

/** The refusal of a start's shape, checked before anything is awaited; null when the id and payload are usable. */
function startShapeError(conn: Connection, id: unknown, payload: unknown): AppSyncErrorEntry | null {
  if (typeof id !== "string" || id.length === 0 || id.length > MAX_SUBSCRIPTION_ID_LENGTH) return appSyncError("start needs an id", "BadRequestException");
  if (conn.subscriptions.has(id) || conn.pendingStarts.has(id)) return appSyncError(`Subscription id ${id} is already in use`, "DuplicatedOperation");
  if (conn.subscriptions.size + conn.pendingStarts.size >= MAX_SUBSCRIPTIONS_PER_CONNECTION) {
    return appSyncError("Too many subscriptions on this connection", "MaxSubscriptionsReachedError");
  }
  const data = payload && typeof payload === "object" ? (payload as { data?: unknown }).data : undefined;
  if (typeof data !== "string") return appSyncError("payload.data must be a JSON string", "BadRequestException");
  return null;
}

/** The WebSocket side of the gateway: connections, their subscriptions, and delivery of published mutations. */
export class RealtimeServer {
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_FRAME_BYTES,
    handleProtocols: (protocols) => (protocols.has(GRAPHQL_WS) ? GRAPHQL_WS : false),
  });
  private readonly byField = new Map<string, Set<ActiveSubscription>>();
  private readonly connections = new Set<Connection>();

  constructor(private readonly opts: RealtimeOptions) {}

  /** Authorizes an auth header object as AppSync does for the connect (`/connect`, body = payload) or a start. */
  private authorize(headerObj: unknown, signedPath: string, body: string, sourceIp: string): Promise<AuthResult> {
    const headers = stringHeaders(headerObj);
    const authorization = headers["authorization"];
    if (!authorization) return Promise.resolve({ ok: false, message: "Valid authorization header not provided." });
    const verified = isSigV4Authorization(authorization)
      ? this.opts.verifier.verifyIam({ method: "POST", path: signedPath, headers, body }, sourceIp)
      : this.opts.verifier.verifyJwt(authorization, sourceIp);
    return verified.catch((err: unknown) => {
      this.opts.onInternalError(err, "verifying a real-time auth header");
      return { ok: false, message: "You are not authorized to make this call." };
    });
  }

  /** The server's `upgrade` listener: refuses wrong hosts, paths and subprotocols, then opens the connection. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on("error", () => socket.destroy()); // a client that resets mid-handshake must not become an uncaught error
    try {
      this.upgrade(req, socket, head);
    } catch (err) {
      this.opts.onInternalError(err, "upgrading to WebSocket");
      socket.destroy();
    }
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const [pathname, rawQuery = ""] = (req.url ?? "/").split("?", 2);
    const reject = (status: string): void => {
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (!this.opts.isAllowedHost(req.headers.host)) return reject("421 Misdirected Request");
    if (pathname !== this.opts.graphqlPath && pathname !== `${this.opts.graphqlPath}/realtime`) return reject("404 Not Found");
    const subprotocols = offeredSubprotocols(req.headers["sec-websocket-protocol"]);
    if (!subprotocols.includes(GRAPHQL_WS)) return reject("400 Bad Request");
    const connectHeader = readConnectHeader(rawQuery, subprotocols);
    const sourceIp = req.socket.remoteAddress ?? "127.0.0.1";
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const auth = connectHeader.ok
        ? this.authorize(connectHeader.value.header, `${this.opts.graphqlPath}/connect`, connectHeader.value.payloadText, sourceIp)
        : Promise.resolve<AuthResult>({ ok: false, message: connectHeader.message });
      this.onConnection({ ws, sourceIp, auth, ackSent: false, subscriptions: new Map(), pendingStarts: new Map() });
    });
  }

  private send(conn: Connection, message: unknown): void {
    if (conn.ws.readyState === conn.ws.OPEN) conn.ws.send(JSON.stringify(message));
  }

  private sendError(conn: Connection, id: unknown, errors: AppSyncErrorEntry[]): void {
    this.send(conn, { type: "error", id: typeof id === "string" ? id : undefined, payload: { errors } });
  }

  private onConnection(conn: Connection): void {
    this.connections.add(conn);
    this.opts.stats.connections += 1;
    conn.initTimer = setTimeout(() => conn.ws.close(INIT_TIMEOUT_CLOSE_CODE, "connection_init timeout"), this.opts.connectionInitTimeoutMs);
    conn.initTimer.unref();
    conn.ws.on("message", (raw) => this.onFrame(conn, raw));
    conn.ws.on("close", () => this.dropConnection(conn));
    // A protocol error (a frame over MAX_FRAME_BYTES, a bad opcode) is the client's: ws closes the socket itself, and the
    // connection stays listed until it has closed, so that close() can still terminate it.
    conn.ws.on("error", () => undefined);
  }

  /** One frame: parsed, answered or handled; whatever goes wrong is logged and answered InternalFailure. */
  private onFrame(conn: Connection, raw: RawData): void {
    let id: unknown;
    try {
      const frame = parseFrame(raw);
      if (!frame.ok) return this.sendError(conn, undefined, [frame.error]);
      id = frame.message.id;
      this.onMessage(conn, frame.message).catch((err: unknown) => this.internalFailure(conn, id, err));
    } catch (err) {
      this.internalFailure(conn, id, err);
    }
  }

  private internalFailure(conn: Connection, id: unknown, err: unknown): void {
    this.opts.onInternalError(err, "handling a real-time message");
    try {
      this.sendError(conn, id, [internalFailure()]);
    } catch (sendErr) {
      this.opts.onInternalError(sendErr, "answering a real-time message");
    }
  }

  private dropConnection(conn: Connection): void {
    if (!this.connections.delete(conn)) return;
    this.opts.stats.connections -= 1;
    clearInterval(conn.keepAlive);
    clearTimeout(conn.initTimer);
    for (const active of conn.subscriptions.values()) this.unregister(active);
    conn.subscriptions.clear();
    conn.pendingStarts.clear();
  }

  private unregister(active: ActiveSubscription): void {
    const set = this.byField.get(active.sub.fieldName);
    if (set?.delete(active)) this.opts.stats.activeSubscriptions -= 1;
  }

  /** The connect header's verdict, reached once per connection: on failure connection_error and close, as AppSync does. */
  private accept(conn: Connection): Promise<boolean> {
    clearTimeout(conn.initTimer);
    conn.accepted ??= conn.auth.then((auth) => {
      if (auth.ok) return true;
      this.opts.stats.rejectedAuth += 1;
      this.send(conn, { type: "connection_error", payload: { errors: [{ errorType: "UnauthorizedException", message: auth.message, errorCode: 401 }] } });
      conn.ws.close(1000);
      return false;
    });
    return conn.accepted;
  }

  private startKeepAlive(conn: Connection): void {
    if (conn.keepAlive || conn.ws.readyState !== conn.ws.OPEN) return;
    this.send(conn, { type: "ka" });
    conn.keepAlive = setInterval(() => this.send(conn, { type: "ka" }), this.opts.keepAliveIntervalMs);
    conn.keepAlive.unref();
  }

  private async onMessage(conn: Connection, msg: ClientMessage): Promise<void> {
    switch (msg.type) {
      case "connection_init":
        return this.onConnectionInit(conn);
      case "start":
        return this.onStart(conn, msg.id, msg.payload);
      case "stop":
        return this.onStop(conn, msg.id);
      default:
        this.sendError(conn, undefined, [unsupportedOperation()]);
    }
  }

  private async onConnectionInit(conn: Connection): Promise<void> {
    if (!(await this.accept(conn)) || conn.ackSent) return;
    conn.ackSent = true;
    this.send(conn, { type: "connection_ack", payload: { connectionTimeoutMs: this.opts.connectionTimeoutMs } });
    this.startKeepAlive(conn);
  }

  /** stop: ends the subscription, or cancels a start still being authorized; answered complete either way. */
  private onStop(conn: Connection, id: unknown): void {
    if (typeof id !== "string") return;
    conn.pendingStarts.delete(id);
    const active = conn.subscriptions.get(id);
    if (active) {
      conn.subscriptions.delete(id);
      this.unregister(active);
    }
    this.send(conn, { type: "complete", id });
  }

  /**
   * start: the id takes its place under the cap before anything is awaited, so starts sent back to back cannot pass
   * it; the subscription goes live only if its start was not stopped (or the connection closed) meanwhile.
   */
  private async onStart(conn: Connection, id: unknown, payload: unknown): Promise<void> {
    const refusal = startShapeError(conn, id, payload);
    if (refusal) {
      void this.accept(conn); // a start begins the protocol even when refused, as connection_init does
      return this.sendError(conn, id, [refusal]);
    }
    const startId = id as string;
    const ticket = {}; // a stop and a new start with the same id must not be mistaken for this one
    conn.pendingStarts.set(startId, ticket);
    try {
      const registered = await this.registerStart(conn, startId, payload as StartPayload);
      if (registered && conn.pendingStarts.get(startId) === ticket) this.activate(conn, startId, registered);
    } finally {
      if (conn.pendingStarts.get(startId) === ticket) conn.pendingStarts.delete(startId);
    }
  }

  /** AWS documents connection_init as optional: a start on a fresh connection is authorized by the connect header. */
  private async registerStart(conn: Connection, id: string, payload: StartPayload): Promise<RegisteredSubscription | null> {
    const fail = (errors: AppSyncErrorEntry[]): null => {
      this.sendError(conn, id, errors);
      return null;
    };
    if (!(await this.accept(conn))) return null;
    this.startKeepAlive(conn);
    const authorization = payload.extensions?.authorization;
    const auth = await this.authorize(authorization, this.opts.graphqlPath, payload.data, conn.sourceIp);
    if (!auth.ok) {
      this.opts.stats.rejectedAuth += 1;
      return fail([appSyncError(auth.message, "UnauthorizedException")]);
    }
    let request: { query?: unknown; variables?: unknown; operationName?: unknown } | null;
    try {
      request = JSON.parse(payload.data);
    } catch {
      return fail([appSyncError("payload.data is not valid JSON", "BadRequestException")]);
    }
    const prepared = this.opts.engine.prepare(request?.query, request?.variables, request?.operationName);
    if ("errors" in prepared) return fail(prepared.errors);
    if (prepared.operation.operation !== "subscription") return fail([unsupportedOperation(prepared.operation.operation)]);
    const registered = await this.opts.engine.subscribe(prepared, auth.caller, stringHeaders(authorization));
    return "errors" in registered ? fail(registered.errors) : registered;
  }

  private activate(conn: Connection, id: string, registered: RegisteredSubscription): void {
    if (conn.ws.readyState !== conn.ws.OPEN || conn.subscriptions.has(id)) return;
    const active: ActiveSubscription = { id, sub: registered, connection: conn, tail: Promise.resolve() };
    conn.subscriptions.set(id, active);
    const set = this.byField.get(registered.fieldName) ?? new Set<ActiveSubscription>();
    set.add(active);
    this.byField.set(registered.fieldName, set);
    this.opts.stats.activeSubscriptions += 1;
    this.send(conn, { type: "start_ack", id });
  }

  /**
   * Delivers a mutation's result to every subscription of the fields that @aws_subscribe to it, where the basic
   * argument filter and the enhanced filter both match. Resolves when every resulting message has been sent.
   */
  publish(mutationField: string, payload: unknown): Promise<void> {
    const pending: Promise<void>[] = [];
    for (const fieldName of this.opts.engine.triggers.get(mutationField) ?? []) {
      for (const active of this.byField.get(fieldName) ?? []) {
        if (!matchesArguments(active.sub.args, payload) || !matchesFilter(active.sub.filter, payload)) continue;
        active.tail = active.tail
          .then(() => this.deliver(active, payload))
          .catch((err: unknown) => this.opts.onInternalError(err, "delivering a subscription event")); // later events still go out
        pending.push(active.tail);
      }
    }
    return Promise.all(pending).then(() => undefined);
  }

  private async deliver(active: ActiveSubscription, payload: unknown): Promise<void> {
    const rendered = await this.opts.engine.render(active.sub, payload);
    if (!active.connection.subscriptions.has(active.id)) return;
    this.send(active.connection, { type: "data", id: active.id, payload: rendered });
    this.opts.stats.deliveries += 1;
  }

  /** Terminates every connection (their subscriptions go with them) and stops accepting new ones. */
  close(): void {
    for (const conn of [...this.connections]) {
      conn.ws.terminate();
      this.dropConnection(conn);
    }
    this.wss.close();
  }
}
