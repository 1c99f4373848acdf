/**
 * AppSync real-time subscription client (subprotocol `graphql-ws`), written to AWS's documented protocol so it
 * works unchanged against deployed AppSync and the local gateway: connect to `realtimeUrl` with base64 `header`
 * (graphql host + Authorization) and `payload` ({}), connection_init -> connection_ack, `start` with
 * extensions.authorization, resolve on `start_ack`. Works with the browser's WebSocket and Node's `ws` (passed in).
 */

/** Event handlers are typed loosely so both the DOM's and `ws`'s event classes fit. */
type Handler = ((ev: any) => void) | null;

/** What both the browser WebSocket and `ws` provide. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: Handler;
  onmessage: Handler;
  onerror: Handler;
  onclose: Handler;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** The browser's `WebSocket` or Node's `ws` class. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** One subscription: where to connect, with which token, which GraphQL subscription, and where its data goes. */
export interface SubscribeOptions {
  /** wss://<id>.appsync-realtime-api.<region>.amazonaws.com/graphql, or the local gateway's ws:// URL. */
  realtimeUrl: string;
  /** The HTTP GraphQL URL: its host goes into the auth header, as AppSync requires. */
  graphqlUrl: string;
  /** A Cognito (or local issuer) ID token. */
  authorization: string;
  query: string;
  variables?: Record<string, unknown>;
  /** Called with `payload.data` of every `data` message, e.g. `{ receiveMessages: {...} }`. */
  onData(data: Record<string, unknown>): void;
  /** Errors after start_ack: keep-alive timeout, server `error`, unexpected close. */
  onError?(error: Error): void;
  WebSocketImpl: WebSocketConstructor;
  /** Give up if start_ack has not arrived by then (default 15000 ms). */
  startTimeoutMs?: number;
}

/** A live subscription, as `subscribe` resolves it. */
export interface Subscription {
  /** Sends `stop` and closes the connection. */
  close(): void;
}

/** A failed handshake, server error, keep-alive timeout or unexpected close; `errors` as the server sent them. */
export class SubscriptionError extends Error {
  constructor(
    message: string,
    public readonly errors: Array<{ errorType?: string; message?: string; errorCode?: number }> = [],
  ) {
    super(message);
    this.name = "SubscriptionError";
  }
}

const OPEN = 1;
const DEFAULT_CONNECTION_TIMEOUT_MS = 300_000;
const DEFAULT_START_TIMEOUT_MS = 15_000;

type ProtocolErrors = Array<{ errorType?: string; message?: string }>;

/** One message from the server, as far as this client reads it. */
interface ServerMessage {
  type?: string;
  id?: string;
  payload?: { connectionTimeoutMs?: number; data?: unknown; errors?: ProtocolErrors };
}

/** The auth header AppSync wants in the connection URL and in every `start`: the GraphQL host and the token. */
type AuthHeader = { Authorization: string; host: string };

/** UTF-8 safe base64 in both the browser and Node. */
function base64Json(value: unknown): string {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

function randomId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  return c?.randomUUID ? c.randomUUID() : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

/** "ErrorType: message" of the first protocol error, for the SubscriptionError message. */
function describeErrors(errors: ProtocolErrors | undefined, fallback: string): string {
  const first = errors?.[0];
  return first ? `${first.errorType ?? "Error"}: ${first.message ?? ""}`.trim() : fallback;
}

/** The real-time URL with the base64 auth `header` and an empty `payload`, as AppSync's handshake requires. */
function connectionUrl(realtimeUrl: string, auth: AuthHeader): string {
  return `${realtimeUrl}?header=${encodeURIComponent(base64Json(auth))}&payload=${encodeURIComponent(base64Json({}))}`;
}

/** Parses a frame; a frame that is not JSON is ignored rather than failing the subscription. */
function parseMessage(data: unknown): ServerMessage | undefined {
  try {
    return JSON.parse(typeof data === "string" ? data : String(data));
  } catch {
    return undefined;
  }
}

/**
 * One subscription on its own connection, through the protocol's phases: connecting (connection_init until
 * connection_ack), starting (start until start_ack: failures reject the promise), started (data is delivered, failures
 * go to `onError`), closed. Each server message type has its own step.
 */
class RealtimeSubscription {
  private readonly id = randomId();
  private ws!: WebSocketLike;
  private started = false;
  private closedByUs = false;
  private startTimer: ReturnType<typeof setTimeout> | undefined;
  private keepAliveTimer: ReturnType<typeof setTimeout> | undefined;
  private connectionTimeoutMs = DEFAULT_CONNECTION_TIMEOUT_MS;

  constructor(
    private readonly opts: SubscribeOptions,
    private readonly auth: AuthHeader,
    private readonly resolve: (subscription: Subscription) => void,
    private readonly reject: (error: Error) => void,
  ) {}

  /** Opens the socket with the auth header and gives start_ack its deadline; connection_init follows on open. */
  open(url: string): void {
    const ws = new this.opts.WebSocketImpl(url, ["graphql-ws"]);
    this.ws = ws;
    const startTimeoutMs = this.opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    this.startTimer = setTimeout(() => this.fail(new SubscriptionError("timed out waiting for start_ack")), startTimeoutMs);
    ws.onopen = () => this.send({ type: "connection_init" });
    ws.onerror = () => this.fail(new SubscriptionError("WebSocket error"));
    ws.onclose = (ev: { code?: number; reason?: string }) => {
      if (!this.closedByUs) this.fail(new SubscriptionError(`connection closed (${ev?.code ?? "?"}${ev?.reason ? ` ${ev.reason}` : ""})`));
    };
    ws.onmessage = (ev: { data: unknown }) => {
      const msg = parseMessage(ev.data);
      if (msg) this.dispatch(msg);
    };
  }

  /** Routes a server message to its step; unknown types are ignored. */
  private dispatch(msg: ServerMessage): void {
    switch (msg.type) {
      case "connection_ack":
        return this.onConnectionAck(msg);
      case "ka":
        return this.armKeepAlive();
      case "start_ack":
        return this.onStartAck(msg);
      case "data":
        return this.onData(msg);
      case "connection_error":
        return this.fail(new SubscriptionError(describeErrors(msg.payload?.errors, "connection_error"), msg.payload?.errors));
      case "error":
        return this.onSubscriptionError(msg);
      case "complete":
        return this.onComplete(msg);
    }
  }

  /** Adopts the server's keep-alive timeout, starts watching it and sends `start` with the same auth header. */
  private onConnectionAck(msg: ServerMessage): void {
    const timeout = msg.payload?.connectionTimeoutMs;
    if (typeof timeout === "number" && timeout > 0) this.connectionTimeoutMs = timeout;
    this.armKeepAlive();
    const request = JSON.stringify({ query: this.opts.query, variables: this.opts.variables ?? {} });
    this.send({ id: this.id, type: "start", payload: { data: request, extensions: { authorization: this.auth } } });
  }

  /** The subscription is live: resolve with its handle (only once, only for our id). */
  private onStartAck(msg: ServerMessage): void {
    if (msg.id !== this.id || this.started) return;
    this.started = true;
    clearTimeout(this.startTimer);
    this.resolve({ close: () => this.close() });
  }

  private onData(msg: ServerMessage): void {
    if (msg.id === this.id && msg.payload?.data && typeof msg.payload.data === "object") {
      this.opts.onData(msg.payload.data as Record<string, unknown>);
    }
  }

  /** An `error` without an id is about the connection, so it is ours too. */
  private onSubscriptionError(msg: ServerMessage): void {
    if (msg.id !== undefined && msg.id !== this.id) return;
    this.fail(new SubscriptionError(describeErrors(msg.payload?.errors, "subscription error"), msg.payload?.errors));
  }

  private onComplete(msg: ServerMessage): void {
    if (msg.id === this.id && this.started) this.fail(new SubscriptionError("subscription completed by the server"));
  }

  /** Every `ka` restarts the clock: silence for the connection timeout means the connection is gone. */
  private armKeepAlive(): void {
    clearTimeout(this.keepAliveTimer);
    const ms = this.connectionTimeoutMs;
    this.keepAliveTimer = setTimeout(() => this.fail(new SubscriptionError(`no keep-alive within ${ms} ms`)), ms);
  }

  /** Closes, then reports: a rejection before start_ack, `onError` after it; nothing once we closed. */
  private fail(err: Error): void {
    if (this.closedByUs) return;
    const started = this.started;
    this.close();
    if (started) this.opts.onError?.(err);
    else this.reject(err);
  }

  /** Sends `stop` when started, then closes the socket; safe to call more than once. */
  close(): void {
    if (this.closedByUs) return;
    this.closedByUs = true;
    clearTimeout(this.startTimer);
    clearTimeout(this.keepAliveTimer);
    try {
      if (this.ws.readyState === OPEN) {
        if (this.started) this.send({ type: "stop", id: this.id });
        this.ws.close(1000);
      } else this.ws.close();
    } catch {
      // already closing
    }
  }

  private send(message: Record<string, unknown>): void {
    this.ws.send(JSON.stringify(message));
  }
}

/**
 * Opens one AppSync real-time subscription and resolves once the server acknowledged it (`start_ack`); rejects with a
 * `SubscriptionError` if the handshake fails or `startTimeoutMs` passes first.
 */
export function subscribe(opts: SubscribeOptions): Promise<Subscription> {
  const auth: AuthHeader = { Authorization: opts.authorization, host: new URL(opts.graphqlUrl).host };
  const url = connectionUrl(opts.realtimeUrl, auth);
  return new Promise<Subscription>((resolve, reject) => new RealtimeSubscription(opts, auth, resolve, reject).open(url));
}
