/**
 * AppSync's real-time WebSocket protocol (subprotocol `graphql-ws`) as AWS documents it: base64 `header`/`payload`
 * query parameters, connection_init/connection_ack, ka, start/start_ack/data/error, stop/complete.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { appSyncError, type AppSyncErrorEntry, type GraphQLEngine, type RegisteredSubscription } from "./engine";
import type { GatewayStats } from "./faults";
import type { AuthResult, IdentityVerifier } from "./identity";
import { isSigV4Authorization } from "./sigv4";
import { matchesArguments, matchesFilter } from "./subscriptionFilter";

export interface RealtimeOptions {
  engine: GraphQLEngine;
  verifier: IdentityVerifier;
  stats: GatewayStats;
  /** Path of the HTTP endpoint (`/graphql`): IAM signatures are made for it (+ `/connect` on connect). */
  graphqlPath: string;
  keepAliveIntervalMs: number;
  connectionTimeoutMs: number;
  isAllowedHost(host: string | undefined): boolean;
}

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
  auth: Promise<AuthResult>;
  acked: boolean;
  subscriptions: Map<string, ActiveSubscription>;
  keepAlive?: NodeJS.Timeout;
}

const MAX_SUBSCRIPTIONS_PER_CONNECTION = 100;
const MAX_MESSAGE_BYTES = 256 * 1024;

/** Query values are decoded without turning '+' into a space: clients often send raw base64. */
function queryParam(rawQuery: string, name: string): string | undefined {
  for (const part of rawQuery.split("&")) {
    const eq = part.indexOf("=");
    const key = eq < 0 ? part : part.slice(0, eq);
    if (key === name) {
      try {
        return decodeURIComponent(eq < 0 ? "" : part.slice(eq + 1));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

function decodeJsonBase64(value: string | undefined): { text: string; json: unknown } | null {
  if (value === undefined) return null;
  try {
    const text = Buffer.from(value, "base64").toString("utf8");
    return { text, json: JSON.parse(text) };
  } catch {
    return null;
  }
}

function stringHeaders(obj: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (obj && typeof obj === "object") {
    for (const [k, v] of Object.entries(obj)) if (typeof v === "string") out[k.toLowerCase()] = v;
  }
  return out;
}

export class RealtimeServer {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  private readonly byField = new Map<string, Set<ActiveSubscription>>();
  private readonly connections = new Set<Connection>();

  constructor(private readonly opts: RealtimeOptions) {}

  /** Authorizes an auth header object as AppSync does for the connect URL (`/connect`, body = payload) or a start. */
  private authorize(headerObj: unknown, signedPath: string, body: string, sourceIp: string): Promise<AuthResult> {
    const headers = stringHeaders(headerObj);
    const authorization = headers["authorization"];
    if (!authorization) return Promise.resolve({ ok: false, message: "Valid authorization header not provided." });
    if (isSigV4Authorization(authorization)) {
      return this.opts.verifier.verifyIam({ method: "POST", path: signedPath, headers, body }, sourceIp);
    }
    return this.opts.verifier.verifyJwt(authorization, sourceIp);
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const [pathname, rawQuery = ""] = (req.url ?? "/").split("?", 2);
    const reject = (status: string): void => {
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (!this.opts.isAllowedHost(req.headers.host)) return reject("421 Misdirected Request");
    if (pathname !== this.opts.graphqlPath && pathname !== `${this.opts.graphqlPath}/realtime`) return reject("404 Not Found");
    const protocols = (req.headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim());
    if (!protocols.includes("graphql-ws")) return reject("400 Bad Request");
    const header = decodeJsonBase64(queryParam(rawQuery, "header"));
    const payload = decodeJsonBase64(queryParam(rawQuery, "payload") ?? "e30=");
    const sourceIp = req.socket.remoteAddress ?? "127.0.0.1";
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const auth =
        header && payload
          ? this.authorize(header.json, `${this.opts.graphqlPath}/connect`, payload.text, sourceIp)
          : Promise.resolve<AuthResult>({ ok: false, message: "header and payload query parameters must be base64 JSON" });
      this.onConnection({ ws, sourceIp, auth, acked: false, subscriptions: new Map() });
    });
  }

  private send(conn: Connection, message: unknown): void {
    if (conn.ws.readyState === conn.ws.OPEN) conn.ws.send(JSON.stringify(message));
  }

  private onConnection(conn: Connection): void {
    this.connections.add(conn);
    this.opts.stats.connections += 1;
    conn.ws.on("message", (raw, isBinary) => {
      let msg: { type?: unknown; id?: unknown; payload?: unknown };
      try {
        msg = JSON.parse(isBinary ? Buffer.from(raw as Buffer).toString("utf8") : raw.toString());
      } catch {
        return this.send(conn, { type: "error", payload: { errors: [appSyncError("Message is not valid JSON", "BadRequestException")] } });
      }
      void this.onMessage(conn, msg).catch((err: unknown) => {
        this.send(conn, {
          type: "error",
          id: typeof msg.id === "string" ? msg.id : undefined,
          payload: { errors: [appSyncError(err instanceof Error ? err.message : String(err), "InternalFailure")] },
        });
      });
    });
    conn.ws.on("close", () => this.dropConnection(conn));
    conn.ws.on("error", () => this.dropConnection(conn));
  }

  private dropConnection(conn: Connection): void {
    if (!this.connections.delete(conn)) return;
    this.opts.stats.connections -= 1;
    clearInterval(conn.keepAlive);
    for (const active of conn.subscriptions.values()) this.unregister(active);
    conn.subscriptions.clear();
  }

  private unregister(active: ActiveSubscription): void {
    const set = this.byField.get(active.sub.fieldName);
    if (set?.delete(active)) this.opts.stats.activeSubscriptions -= 1;
  }

  /** Checks the connect URL's auth header once; on failure sends connection_error and closes, as AppSync does. */
  private async accept(conn: Connection): Promise<boolean> {
    const auth = await conn.auth;
    if (!auth.ok) {
      this.opts.stats.rejectedAuth += 1;
      this.send(conn, {
        type: "connection_error",
        payload: { errors: [{ errorType: "UnauthorizedException", message: auth.message, errorCode: 401 }] },
      });
      conn.ws.close(1000);
      return false;
    }
    conn.acked = true;
    return true;
  }

  private startKeepAlive(conn: Connection): void {
    if (conn.keepAlive) return;
    this.send(conn, { type: "ka" });
    conn.keepAlive = setInterval(() => this.send(conn, { type: "ka" }), this.opts.keepAliveIntervalMs);
    conn.keepAlive.unref();
  }

  private async onMessage(conn: Connection, msg: { type?: unknown; id?: unknown; payload?: unknown }): Promise<void> {
    switch (msg.type) {
      case "connection_init": {
        if (conn.acked || !(await this.accept(conn))) return;
        this.send(conn, { type: "connection_ack", payload: { connectionTimeoutMs: this.opts.connectionTimeoutMs } });
        this.startKeepAlive(conn);
        return;
      }
      case "start":
        return this.onStart(conn, msg.id, msg.payload);
      case "stop": {
        if (typeof msg.id !== "string") return;
        const active = conn.subscriptions.get(msg.id);
        if (active) {
          conn.subscriptions.delete(msg.id);
          this.unregister(active);
        }
        this.send(conn, { type: "complete", id: msg.id });
        return;
      }
      default:
        this.send(conn, {
          type: "error",
          payload: { errors: [appSyncError(`${String(msg.type ?? "unknown")} not supported through the realtime channel`, "UnsupportedOperation")] },
        });
    }
  }

  private async onStart(conn: Connection, id: unknown, payload: unknown): Promise<void> {
    const fail = (errors: AppSyncErrorEntry[]): void => this.send(conn, { type: "error", id, payload: { errors } });
    // AWS documents connection_init as optional: a start on a fresh connection is authorized by the connect header.
    if (!conn.acked) {
      if (!(await this.accept(conn))) return;
      this.startKeepAlive(conn);
    }
    if (typeof id !== "string" || id.length === 0 || id.length > 128) return fail([appSyncError("start needs an id", "BadRequestException")]);
    if (conn.subscriptions.has(id)) return fail([appSyncError(`Subscription id ${id} is already in use`, "DuplicatedOperation")]);
    if (conn.subscriptions.size >= MAX_SUBSCRIPTIONS_PER_CONNECTION) {
      return fail([appSyncError("Too many subscriptions on this connection", "MaxSubscriptionsReachedError")]);
    }
    const p = (payload ?? {}) as { data?: unknown; extensions?: { authorization?: unknown } };
    if (typeof p.data !== "string") return fail([appSyncError("payload.data must be a JSON string", "BadRequestException")]);
    const auth = await this.authorize(p.extensions?.authorization, this.opts.graphqlPath, p.data, conn.sourceIp);
    if (!auth.ok) {
      this.opts.stats.rejectedAuth += 1;
      return fail([appSyncError(auth.message, "UnauthorizedException")]);
    }
    let request: { query?: unknown; variables?: unknown; operationName?: unknown };
    try {
      request = JSON.parse(p.data);
    } catch {
      return fail([appSyncError("payload.data is not valid JSON", "BadRequestException")]);
    }
    const prepared = this.opts.engine.prepare(request.query, request.variables, request.operationName);
    if ("errors" in prepared) return fail(prepared.errors);
    if (prepared.operation.operation !== "subscription") {
      return fail([appSyncError(`${prepared.operation.operation} not supported through the realtime channel`, "UnsupportedOperation")]);
    }
    const registered = await this.opts.engine.subscribe(prepared, auth.caller, stringHeaders(p.extensions?.authorization));
    if ("errors" in registered) return fail(registered.errors);
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
        active.tail = active.tail.then(async () => {
          const rendered = await this.opts.engine.render(active.sub, payload);
          if (!active.connection.subscriptions.has(active.id)) return;
          this.send(active.connection, { type: "data", id: active.id, payload: rendered });
          this.opts.stats.deliveries += 1;
        }).catch(() => undefined); // a failed render must not stall this subscriber's later events
        pending.push(active.tail);
      }
    }
    return Promise.all(pending).then(() => undefined);
  }

  close(): void {
    for (const conn of [...this.connections]) {
      conn.ws.terminate();
      this.dropConnection(conn);
    }
    this.wss.close();
  }
}
