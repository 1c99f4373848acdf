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

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

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

export interface Subscription {
  /** Sends `stop` and closes the connection. */
  close(): void;
}

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

function describe(errors: Array<{ errorType?: string; message?: string }> | undefined, fallback: string): string {
  const first = errors?.[0];
  return first ? `${first.errorType ?? "Error"}: ${first.message ?? ""}`.trim() : fallback;
}

export function subscribe(opts: SubscribeOptions): Promise<Subscription> {
  const host = new URL(opts.graphqlUrl).host;
  const auth = { Authorization: opts.authorization, host };
  const url = `${opts.realtimeUrl}?header=${encodeURIComponent(base64Json(auth))}&payload=${encodeURIComponent(base64Json({}))}`;
  const id = randomId();

  return new Promise<Subscription>((resolve, reject) => {
    const ws = new opts.WebSocketImpl(url, ["graphql-ws"]);
    let started = false;
    let closedByUs = false;
    let kaTimer: ReturnType<typeof setTimeout> | undefined;
    let connectionTimeoutMs = DEFAULT_CONNECTION_TIMEOUT_MS;

    const startTimer = setTimeout(() => fail(new SubscriptionError("timed out waiting for start_ack")), opts.startTimeoutMs ?? 15_000);

    const cleanup = (): void => {
      clearTimeout(startTimer);
      clearTimeout(kaTimer);
    };
    const shutdown = (): void => {
      if (closedByUs) return;
      closedByUs = true;
      cleanup();
      try {
        if (ws.readyState === OPEN) {
          if (started) ws.send(JSON.stringify({ type: "stop", id }));
          ws.close(1000);
        } else ws.close();
      } catch {
        // already closing
      }
    };
    function fail(err: Error): void {
      if (closedByUs) return;
      if (!started) {
        shutdown();
        reject(err);
      } else {
        shutdown();
        opts.onError?.(err);
      }
    }
    const armKeepAlive = (): void => {
      clearTimeout(kaTimer);
      kaTimer = setTimeout(() => fail(new SubscriptionError(`no keep-alive within ${connectionTimeoutMs} ms`)), connectionTimeoutMs);
    };

    ws.onopen = () => ws.send(JSON.stringify({ type: "connection_init" }));
    ws.onerror = () => fail(new SubscriptionError("WebSocket error"));
    ws.onclose = (ev: { code?: number; reason?: string }) => {
      if (!closedByUs) fail(new SubscriptionError(`connection closed (${ev?.code ?? "?"}${ev?.reason ? ` ${ev.reason}` : ""})`));
    };
    ws.onmessage = (ev: { data: unknown }) => {
      let msg: { type?: string; id?: string; payload?: { connectionTimeoutMs?: number; data?: unknown; errors?: Array<{ errorType?: string; message?: string }> } };
      try {
        msg = JSON.parse(typeof ev.data === "string" ? ev.data : String(ev.data));
      } catch {
        return;
      }
      switch (msg.type) {
        case "connection_ack":
          if (typeof msg.payload?.connectionTimeoutMs === "number" && msg.payload.connectionTimeoutMs > 0) {
            connectionTimeoutMs = msg.payload.connectionTimeoutMs;
          }
          armKeepAlive();
          ws.send(
            JSON.stringify({
              id,
              type: "start",
              payload: {
                data: JSON.stringify({ query: opts.query, variables: opts.variables ?? {} }),
                extensions: { authorization: auth },
              },
            }),
          );
          return;
        case "ka":
          armKeepAlive();
          return;
        case "start_ack":
          if (msg.id !== id || started) return;
          started = true;
          clearTimeout(startTimer);
          resolve({ close: shutdown });
          return;
        case "data":
          if (msg.id === id && msg.payload?.data && typeof msg.payload.data === "object") {
            opts.onData(msg.payload.data as Record<string, unknown>);
          }
          return;
        case "connection_error":
          fail(new SubscriptionError(describe(msg.payload?.errors, "connection_error"), msg.payload?.errors));
          return;
        case "error":
          if (msg.id === undefined || msg.id === id) {
            fail(new SubscriptionError(describe(msg.payload?.errors, "subscription error"), msg.payload?.errors));
          }
          return;
        case "complete":
          if (msg.id === id && started) fail(new SubscriptionError("subscription completed by the server"));
          return;
        default:
          return;
      }
    };
  });
}
