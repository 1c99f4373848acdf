/**
 * One session's answers that always end for the client. The subscription is the fast path; the durable record
 * (`Query.message`) is the truth. Each tracked message is resumed from the record, after its contiguous prefix, when:
 * - the WebSocket dropped (it reconnects with jittered backoff, then resumes every unfinished message);
 * - a sequence gap (a token chunk, or any event of a version-3 producer) has not filled within `gapTimeoutMs`;
 * - nothing arrived for `silenceTimeoutMs` while the message is not finished.
 * Replayed and live events go into the same MessageAssembler, which merges by sequence number and drops duplicates,
 * so the text ends exact whatever the interleaving. Events it cannot read (a kind of a later envelope version) are
 * skipped, live and in a replay. A message that cannot be reached for `giveUpAfterMs` ends with a
 * friendly failure. Pure TypeScript, no DOM or Node imports: the CLI, the web console, the bench and the tests share it.
 */
import { MESSAGE_QUERY, RECEIVE_MESSAGES_SUBSCRIPTION } from "../contracts/graphqlOperations";
import type { MessageState } from "../contracts/messageState";
import { parseKnownEvent, runIdOf } from "../contracts/streamEvents";
import { MessageAssembler } from "./assembler";
import type { GraphQLResponse } from "./graphql";
import { subscribe as realtimeSubscribe, type SubscribeOptions, type Subscription, type WebSocketConstructor } from "./realtime";

/** How the session's connection is doing, for a status line. */
export type ConnectionState = "live" | "reconnecting" | "closed";

export interface SessionStreamOptions {
  realtimeUrl: string;
  graphqlUrl: string;
  sessionId: string;
  /** The caller's token, asked again for every (re)connect and replay (it may have been refreshed). */
  token(): Promise<string>;
  WebSocketImpl: WebSocketConstructor;
  /** GraphQL over HTTP: client/graphql.ts's graphqlRequest, or a test double. */
  request(url: string, document: string, variables: Record<string, unknown>, headers: Record<string, string>): Promise<GraphQLResponse>;
  /** Called after any change to a tracked message (an event, a replay, its end). */
  onChange?(messageId: string): void;
  /** Called when the connection drops or comes back. */
  onConnection?(state: ConnectionState): void;
  /** A gap not filled after this long is fetched from the record (default 1500 ms). */
  gapTimeoutMs?: number;
  /** No event for this long while a message is unfinished: fetch it from the record (default 10000 ms). */
  silenceTimeoutMs?: number;
  /** Reconnect backoff: first wait and cap, full jitter (default 250 ms and 5000 ms). */
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  /** A message unreachable (no event, no record) for this long ends with a friendly failure (default 120000 ms). */
  giveUpAfterMs?: number;
  /** Clock for arrival times (performance.now in the page, Date.now by default). */
  now?(): number;
  /** The real-time client (injectable for tests). */
  subscribe?(opts: SubscribeOptions): Promise<Subscription>;
}

/** One message being followed. */
export interface TrackedMessage {
  readonly messageId: string;
  readonly assembler: MessageAssembler;
  /** Set when the message could not be reached: safe to show. */
  readonly failure?: string;
  /** Resolves once the message ended (final, error or failure); never rejects. */
  readonly ended: Promise<TrackedMessage>;
}

interface Tracked extends TrackedMessage {
  failure?: string;
  gapTimer?: ReturnType<typeof setTimeout>;
  silenceTimer?: ReturnType<typeof setTimeout>;
  resuming: boolean;
  /** When something (a live event or the record) was last heard for this message. */
  lastHeardAt: number;
  settle(): void;
}

const UNREACHABLE = "The answer could not be reached. Check your connection and try again.";

/** Whether an accepted event moved the message on (a duplicate or a stale event does not). */
const progressed = (outcome: ReturnType<MessageAssembler["accept"]>) => outcome !== "duplicate" && outcome !== "stale" && outcome !== "other-message";

export class SessionStream {
  private readonly messages = new Map<string, Tracked>();
  private subscription: Subscription | undefined;
  private state: ConnectionState = "live";
  private reconnectAttempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  /** Offline: no reconnect attempt until online(). */
  private paused = false;

  private constructor(private readonly o: SessionStreamOptions) {}

  /** Subscribes and resolves after start_ack, so a prompt sent afterwards loses nothing. */
  static async open(options: SessionStreamOptions): Promise<SessionStream> {
    const stream = new SessionStream(options);
    stream.subscription = await stream.connect();
    return stream;
  }

  get sessionId(): string {
    return this.o.sessionId;
  }

  get connection(): ConnectionState {
    return this.state;
  }

  /** Starts following a message: call before sendQuery, so no early event is dropped. */
  track(messageId: string): TrackedMessage {
    const existing = this.messages.get(messageId);
    if (existing) return existing;
    let settle!: () => void;
    const tracked = { messageId, assembler: new MessageAssembler(messageId, { now: this.o.now }), resuming: false, lastHeardAt: Date.now() } as Tracked;
    (tracked as { ended: Promise<TrackedMessage> }).ended = new Promise<TrackedMessage>((resolve) => (settle = () => resolve(tracked)));
    tracked.settle = settle;
    this.messages.set(messageId, tracked);
    this.armSilence(tracked);
    return tracked;
  }

  /** Fetches the message's record after its contiguous prefix and merges it (also what the timers and reconnects do). */
  async resume(messageId: string): Promise<void> {
    const t = this.messages.get(messageId);
    if (!t || this.isOver(t) || t.resuming) return;
    t.resuming = true;
    try {
      const state = await this.fetchRecord(t, t.assembler.contiguousThrough);
      // Another run than the chunks so far: its numbering started again, so take its record from the start.
      const record = state && this.startsAnotherRun(t, state) ? await this.fetchRecord(t, -1) : state;
      if (record) this.merge(t, record);
    } catch {
      // Unreachable for now (offline, API down): the silence timer tries again, until giveUpAfterMs.
    } finally {
      t.resuming = false;
      this.afterChange(t);
    }
  }

  /**
   * The device went offline (the browser's `offline` event): drop the socket now rather than wait for its keep-alive
   * to time out, and make no attempt until `online()`.
   */
  offline(): void {
    if (this.state === "closed") return;
    clearTimeout(this.reconnectTimer);
    this.paused = true;
    this.subscription?.close();
    this.subscription = undefined;
    this.setState("reconnecting");
  }

  /** The device is back online: reconnect at once and resume what is unfinished. */
  online(): void {
    if (!this.paused || this.state === "closed") return;
    this.paused = false;
    this.reconnectAttempt = 0;
    void this.reconnect();
  }

  /** Stops following a message that will not come (e.g. sendQuery refused it): it ends with `failure`. */
  abandon(messageId: string, failure: string): void {
    const t = this.messages.get(messageId);
    if (!t || this.isOver(t)) return;
    t.failure = failure;
    this.clearTimers(t);
    t.settle();
  }

  /** Stops following everything and closes the connection. */
  close(): void {
    this.state = "closed";
    clearTimeout(this.reconnectTimer);
    for (const t of this.messages.values()) {
      this.clearTimers(t);
      if (!this.isOver(t)) t.failure = "Stopped following this answer.";
      t.settle();
    }
    this.subscription?.close();
    this.subscription = undefined;
  }

  private async connect(): Promise<Subscription> {
    const subscribe = this.o.subscribe ?? realtimeSubscribe;
    return subscribe({
      realtimeUrl: this.o.realtimeUrl,
      graphqlUrl: this.o.graphqlUrl,
      authorization: await this.o.token(),
      query: RECEIVE_MESSAGES_SUBSCRIPTION,
      variables: { sessionId: this.o.sessionId },
      WebSocketImpl: this.o.WebSocketImpl,
      onData: (data) => this.onData(data),
      onError: () => this.onDropped(),
    });
  }

  /** A live event: into its message's assembler. */
  private onData(data: Record<string, unknown>): void {
    const channel = data.receiveMessages as { data?: unknown } | undefined;
    if (!channel || typeof channel.data !== "string") return;
    // A malformed event, or one of a kind this client does not know: the record still reconciles the text.
    const event = parseKnownEvent(channel.data);
    if (!event) return;
    const t = this.messages.get(event.data.messageId);
    if (!t || this.isOver(t)) return;
    if (progressed(t.assembler.accept(event, this.o.now?.()))) t.lastHeardAt = Date.now();
    this.afterChange(t);
  }

  /** The subscription dropped: reconnect with backoff, then resume what is unfinished. */
  private onDropped(): void {
    if (this.state === "closed" || this.paused) return;
    this.subscription = undefined;
    this.setState("reconnecting");
    const base = this.o.reconnectBaseMs ?? 250;
    const cap = this.o.reconnectMaxMs ?? 5000;
    const wait = Math.random() * Math.min(cap, base * 2 ** this.reconnectAttempt++);
    this.reconnectTimer = setTimeout(() => void this.reconnect(), wait);
  }

  private async reconnect(): Promise<void> {
    if (this.state === "closed" || this.paused) return;
    try {
      const subscription = await this.connect();
      // close() or offline() may have run while connecting.
      if (this.connection === "closed" || this.paused) return subscription.close();
      this.subscription = subscription;
      this.reconnectAttempt = 0;
      this.setState("live");
      for (const t of this.messages.values()) void this.resume(t.messageId);
    } catch {
      this.onDropped();
    }
  }

  private async fetchRecord(t: Tracked, afterSequence: number): Promise<MessageState | null> {
    const variables = { sessionId: this.o.sessionId, messageId: t.messageId, afterSequence };
    const res = await this.o.request(this.o.graphqlUrl, MESSAGE_QUERY, variables, { Authorization: await this.o.token() });
    if (res.errors || !res.data) throw new Error(res.errors?.[0]?.message ?? `HTTP ${res.status}`);
    return (res.data.message as MessageState | null) ?? null;
  }

  private startsAnotherRun(t: Tracked, state: MessageState): boolean {
    const run = t.assembler.currentRunId;
    if (run === undefined || t.assembler.contiguousThrough < 0) return false;
    return state.events.some((json) => {
      const event = parseKnownEvent(json);
      const eventRun = event && runIdOf(event);
      return eventRun !== undefined && eventRun !== run;
    });
  }

  private merge(t: Tracked, state: MessageState): void {
    for (const json of state.events) {
      const event = parseKnownEvent(json);
      if (event && progressed(t.assembler.accept(event, this.o.now?.()))) t.lastHeardAt = Date.now();
    }
  }

  /** After any change: end it, or (re)arm its gap and silence timers. */
  private afterChange(t: Tracked): void {
    if (this.isOver(t)) {
      this.clearTimers(t);
      t.settle();
    } else {
      this.armGap(t);
      this.armSilence(t);
    }
    this.o.onChange?.(t.messageId);
  }

  private armGap(t: Tracked): void {
    if (!t.assembler.hasGap) {
      clearTimeout(t.gapTimer);
      t.gapTimer = undefined;
    } else if (!t.gapTimer) {
      t.gapTimer = setTimeout(() => {
        t.gapTimer = undefined;
        void this.resume(t.messageId);
      }, this.o.gapTimeoutMs ?? 1500);
    }
  }

  private armSilence(t: Tracked): void {
    clearTimeout(t.silenceTimer);
    t.silenceTimer = setTimeout(() => this.onSilence(t), this.o.silenceTimeoutMs ?? 10_000);
  }

  private onSilence(t: Tracked): void {
    if (this.isOver(t)) return;
    if (Date.now() - t.lastHeardAt >= (this.o.giveUpAfterMs ?? 120_000)) {
      t.failure = UNREACHABLE;
      this.afterChange(t);
      return;
    }
    this.armSilence(t);
    void this.resume(t.messageId);
  }

  private isOver(t: Tracked): boolean {
    return t.assembler.done || t.failure !== undefined;
  }

  private clearTimers(t: Tracked): void {
    clearTimeout(t.gapTimer);
    clearTimeout(t.silenceTimer);
    t.gapTimer = t.silenceTimer = undefined;
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    this.o.onConnection?.(state);
  }
}
