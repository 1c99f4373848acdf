/**
 * A client of the websocket transport (contracts/websocketFrames.ts): opens the API Gateway WebSocket with the Cognito
 * token as a subprotocol beside `llm-stream` (what a browser can send) or in the `token` query parameter, hands every
 * stream event to `onEvent`, and answers `sendQuery` / `stopGeneration` / `ping` with the frame the route sent back
 * (an ack resolves, an error frame rejects with WebsocketFrameError). Keeps the connection alive under API Gateway's
 * 10-minute idle timeout with a ping every PING_INTERVAL_MS. Works with the browser's WebSocket and Node's `ws`
 * (passed in); no reconnect: a dropped answer is replayed from its record with the `message` query.
 */
import type { StreamEvent } from "../contracts/streamEvents";
import {
  PING_INTERVAL_MS, parseServerMessage, TOKEN_QUERY_PARAMETER, websocketProtocols, type AckFrame, type ErrorFrame, type SendQueryFrame, type ServerFrame,
} from "../contracts/websocketFrames";
import type { WebSocketConstructor, WebSocketLike } from "./realtime";

export interface WebsocketStreamOptions {
  /** wss://<api id>.execute-api.<region>.amazonaws.com/<stage> (client config `websocketUrl`), or the local stand-in's. */
  websocketUrl: string;
  /** A Cognito ID or access token (the local issuer's locally). */
  token: string;
  WebSocketImpl: WebSocketConstructor;
  /** `protocol` (default): `["llm-stream", token]` as subprotocols; `query`: `?token=`. */
  tokenIn?: "protocol" | "query";
  /** Every stream event, as it arrives (any message of the user's, on any of their connections' sessions). */
  onEvent(event: StreamEvent): void;
  /** The connection closed (by either side) after it opened. */
  onClose?(code: number, reason: string): void;
  /** Default PING_INTERVAL_MS; 0 sends none. */
  pingIntervalMs?: number;
  /** Give up opening after this long (default 10 s). */
  openTimeoutMs?: number;
  /** A request with no answer after this long fails (default 29 s, API Gateway's integration limit). */
  replyTimeoutMs?: number;
}

/** A refusal the route function sent: validation, limits, authorization; `frame` as received. */
export class WebsocketFrameError extends Error {
  constructor(readonly frame: ErrorFrame) {
    super(`${frame.errorType}: ${frame.message}`);
    this.name = "WebsocketFrameError";
  }
}

/** A request waiting for its frame. */
interface Pending {
  action: "sendQuery" | "stopGeneration" | "ping";
  messageId?: string;
  resolve(frame: ServerFrame): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

const OPEN = 1;

/** The URL and subprotocols for the token's way in. */
function connectArgs(o: WebsocketStreamOptions): [string, string[] | undefined] {
  if (o.tokenIn === "query") {
    const url = new URL(o.websocketUrl);
    url.searchParams.set(TOKEN_QUERY_PARAMETER, o.token);
    return [url.toString(), undefined];
  }
  return [o.websocketUrl, websocketProtocols(o.token)];
}

export class WebsocketStream {
  private readonly pending: Pending[] = [];
  private pinger: ReturnType<typeof setInterval> | undefined;
  private isClosed = false;

  private constructor(
    private readonly ws: WebSocketLike,
    private readonly o: WebsocketStreamOptions,
  ) {}

  /** Resolves once the connection is open (the authorizer and $connect accepted it); rejects when it is refused. */
  static open(o: WebsocketStreamOptions): Promise<WebsocketStream> {
    const [url, protocols] = connectArgs(o);
    const ws = protocols ? new o.WebSocketImpl(url, protocols) : new o.WebSocketImpl(url);
    const stream = new WebsocketStream(ws, o);
    return new Promise((resolve, reject) => {
      let why = "the connection was refused";
      const timer = setTimeout(() => (ws.close(), reject(new Error(`no connection within ${o.openTimeoutMs ?? 10_000} ms`))), o.openTimeoutMs ?? 10_000);
      ws.onerror = (ev: { message?: string; error?: Error }) => (why = ev?.message ?? ev?.error?.message ?? why);
      ws.onclose = (ev: { code?: number }) => (clearTimeout(timer), reject(new Error(`${why} (close ${ev?.code ?? "?"})`)));
      ws.onopen = () => {
        clearTimeout(timer);
        stream.attach();
        resolve(stream);
      };
    });
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Sends `{"action":"sendQuery","input":...}`; resolves with the ack (its messageId), rejects with the error frame. */
  async sendQuery(input: SendQueryFrame["input"]): Promise<AckFrame> {
    return (await this.request("sendQuery", { action: "sendQuery", input }, input.messageId)) as AckFrame;
  }

  /** Sends `{"action":"stopGeneration","input":{sessionId, messageId}}`; the ack says whether it stopped the message. */
  async stopGeneration(sessionId: string, messageId: string): Promise<AckFrame> {
    return (await this.request("stopGeneration", { action: "stopGeneration", input: { sessionId, messageId } }, messageId)) as AckFrame;
  }

  /** Sends `{"action":"ping"}`; resolves on the pong. */
  async ping(): Promise<void> {
    await this.request("ping", { action: "ping" });
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    clearInterval(this.pinger);
    this.failPending(new Error("the connection was closed"));
    this.ws.close(1000, "");
  }

  private attach(): void {
    this.ws.onmessage = (ev: { data: unknown }) => this.receive(typeof ev.data === "string" ? ev.data : String(ev.data));
    this.ws.onerror = () => {};
    this.ws.onclose = (ev: { code?: number; reason?: string }) => {
      this.isClosed = true;
      clearInterval(this.pinger);
      this.failPending(new Error(`the connection closed (${ev?.code ?? "?"})`));
      this.o.onClose?.(ev?.code ?? 1006, ev?.reason ?? "");
    };
    const every = this.o.pingIntervalMs ?? PING_INTERVAL_MS;
    if (every > 0) this.pinger = setInterval(() => void this.ping().catch(() => {}), every);
  }

  private request(action: Pending["action"], frame: object, messageId?: string): Promise<ServerFrame> {
    if (this.isClosed || this.ws.readyState !== OPEN) return Promise.reject(new Error("the connection is closed"));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.settle(entry, new Error(`no answer to ${action} within ${this.o.replyTimeoutMs ?? 29_000} ms`)), this.o.replyTimeoutMs ?? 29_000);
      const entry: Pending = { action, messageId, resolve, reject, timer };
      this.pending.push(entry);
      this.ws.send(JSON.stringify(frame));
    });
  }

  /** A stream event goes to onEvent; a frame answers the request it belongs to (same action, same messageId when both have one). */
  private receive(text: string): void {
    let message;
    try {
      message = parseServerMessage(text);
    } catch {
      // API Gateway's own answer to a failed integration ({"message": "Internal server error", ...}): the oldest request failed.
      const oldest = this.pending[0];
      if (oldest) this.settle(oldest, new Error(`the WebSocket API answered: ${text.slice(0, 200)}`));
      return;
    }
    if (message.kind === "event") return this.o.onEvent(message.event);
    const frame = message.frame;
    const action = frame.type === "pong" ? "ping" : frame.action;
    const messageId = frame.type === "pong" ? undefined : frame.messageId;
    const entry = this.pending.find((p) => p.action === action && (!p.messageId || !messageId || p.messageId === messageId)) ?? (frame.type === "error" ? this.pending[0] : undefined);
    if (entry) this.settle(entry, frame.type === "error" ? new WebsocketFrameError(frame) : frame);
  }

  private settle(entry: Pending, outcome: ServerFrame | Error): void {
    const i = this.pending.indexOf(entry);
    if (i < 0) return;
    this.pending.splice(i, 1);
    clearTimeout(entry.timer);
    if (outcome instanceof Error) entry.reject(outcome);
    else entry.resolve(outcome);
  }

  private failPending(error: Error): void {
    for (const entry of [...this.pending]) this.settle(entry, error);
  }
}
