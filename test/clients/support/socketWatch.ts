/**
 * Node 20 has no global WebSocket, and the published AppSync clients need one: like any Node user of them, we give
 * them the `ws` package, here a subclass that also notes every frame the server sends. Apollo Client 4 drops the
 * subscription link's start_ack, so the frames are how a test knows a subscription is live before it sends.
 */
import WebSocket from "ws";

/** The real-time message types that end a subscription's start: it is live, or it was refused. */
export const START_OUTCOMES = ["start_ack", "error", "connection_error"] as const;
export type StartOutcome = (typeof START_OUTCOMES)[number];

/** One server frame as the client received it. */
export interface Frame {
  type: string;
  id?: string;
  payload?: unknown;
}

/** The frames of every socket the clients opened, and a wait for the next one of some types. */
export class SocketWatch {
  readonly frames: Frame[] = [];
  readonly urls: string[] = [];
  private readonly open = new Set<WebSocket>();
  private readonly waiters = new Set<() => void>();

  /** Installs the watching `ws` subclass as globalThis.WebSocket. */
  install(): void {
    const watch = this;
    class WatchedWebSocket extends WebSocket {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        watch.urls.push(String(url));
        watch.open.add(this);
        this.addEventListener("message", (event) => watch.record(String(event.data)));
        this.addEventListener("close", () => {
          watch.open.delete(this);
          watch.wakeAll();
        });
      }
    }
    (globalThis as { WebSocket?: unknown }).WebSocket = WatchedWebSocket;
  }

  /** Resolves with the first frame of one of `types` that arrives after this call; fails after `timeoutMs`. */
  nextFrame(types: readonly string[], timeoutMs = 15_000): Promise<Frame> {
    const from = this.frames.length;
    const since = () => this.frames.slice(from);
    return this.until(() => since().find((f) => types.includes(f.type)), () => `a ${types.join("/")} frame (frames since: ${JSON.stringify(since().map((f) => f.type))})`, timeoutMs);
  }

  /** Resolves once every socket the clients opened has closed (a library closes an idle one on its own timer). */
  async allClosed(timeoutMs = 15_000): Promise<void> {
    await this.until(() => this.open.size === 0 || undefined, () => `${this.open.size} open sockets to close`, timeoutMs);
  }

  /** Resolves with `found()` once it is defined, checked now and after every frame or close; fails after `timeoutMs`. */
  private until<T>(found: () => T | undefined, what: () => string, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const check = () => {
        const value = found();
        if (value === undefined) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve(value);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  private record(text: string): void {
    try {
      this.frames.push(JSON.parse(text) as Frame);
    } catch {
      this.frames.push({ type: "unparsable", payload: text });
    }
    this.wakeAll();
  }

  private wakeAll(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}
