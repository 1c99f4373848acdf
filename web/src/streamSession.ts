/**
 * One conversation (sessionId) with one resuming stream (client/sessionStream.ts): subscribe first, then send each
 * prompt with a client-chosen messageId, so every event can be routed to its MessageAssembler even if it arrives
 * before sendQuery returns; a dropped connection, a gap or silence resumes the answer from the durable record, and
 * Stop calls stopGeneration. No DOM here: the page renders from `MessageRun` on each `onUpdate`.
 */
import type { MessageAssembler } from "../../client/assembler";
import type { ClientConfig } from "../../client/config";
import type { GraphQLResponse } from "../../client/graphql";
import type { SubscribeOptions, Subscription } from "../../client/realtime";
import { SessionStream, type ConnectionState, type TrackedMessage } from "../../client/sessionStream";
import { SEND_QUERY_MUTATION, STOP_GENERATION_MUTATION } from "../../contracts/graphqlOperations";
import type { DeliveryPath } from "./requestEstimate";

export interface StreamDeps {
  config: ClientConfig;
  idToken(): Promise<string>;
  subscribe(opts: SubscribeOptions): Promise<Subscription>;
  graphqlRequest(url: string, document: string, variables: Record<string, unknown>, headers: Record<string, string>): Promise<GraphQLResponse>;
  WebSocketImpl: SubscribeOptions["WebSocketImpl"];
  /** Monotonic milliseconds (performance.now in the page). */
  now(): number;
}

export type RunStatus = "sending" | "streaming" | "done" | "failed";

export interface MessageRun {
  readonly messageId: string;
  readonly prompt: string;
  readonly delivery: DeliveryPath | undefined;
  readonly assembler: MessageAssembler;
  /** When the user pressed send (before sendQuery went out); time to first token counts from here. */
  readonly sentAt: number;
  status: RunStatus;
  /** A message fit for the page when status is "failed". */
  failure?: string;
  /** Whether retrying may help (false for e.g. a rejected prompt). */
  retryable: boolean;
  /** True once the user pressed Stop (the stopped final follows). */
  stopping?: boolean;
  /** The page's re-render, called after every change. */
  readonly onUpdate?: () => void;
  /** Settles when the run is done or failed; never rejects. */
  readonly settled: Promise<MessageRun>;
}

export interface SessionOptions {
  /** Called when the connection drops ("reconnecting") and comes back ("live"). */
  onConnection?(state: ConnectionState): void;
  /** An answer unreachable (no event, no record) this long fails with a friendly message (default 120 s). */
  giveUpAfterMs?: number;
}

export interface SendOptions {
  delivery?: DeliveryPath;
  modelId?: string;
  /** Called after every change (event, status); the page re-renders from the run. */
  onUpdate?(run: MessageRun): void;
}

/** UUIDs match ID_PATTERN (contracts/ids.ts); crypto.randomUUID needs a secure context (https or loopback). */
export function newId(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** Turns a failed sendQuery answer into words for the page. */
export function describeSendFailure(res: GraphQLResponse): { message: string; retryable: boolean } {
  const first = res.errors?.[0];
  if (res.status === 401 || res.status === 403 || first?.errorType === "UnauthorizedException" || first?.errorType === "Unauthorized") {
    return { message: "Your sign-in was not accepted (it may have expired). Sign in again.", retryable: false };
  }
  if (res.status >= 500 || res.status === 429 || first?.errorType === "HttpError") {
    return { message: "The API is not answering right now. Try again in a moment.", retryable: true };
  }
  const detail = first?.message ? `: ${first.message}` : "";
  return { message: `The request was rejected${detail}`, retryable: false };
}

export class StreamSession {
  private readonly runs = new Map<string, MessageRun>();

  private constructor(
    private readonly deps: StreamDeps,
    private readonly stream: SessionStream,
  ) {}

  /**
   * Opens the session's stream; resolves after start_ack, so a prompt sent afterwards loses no tokens. The stream
   * reconnects and resumes unfinished answers from the durable record on its own (client/sessionStream.ts).
   */
  static async open(deps: StreamDeps, sessionId: string = newId(), options: SessionOptions = {}): Promise<StreamSession> {
    let session: StreamSession | undefined;
    let stream: SessionStream;
    try {
      stream = await SessionStream.open({
        realtimeUrl: deps.config.realtimeUrl,
        graphqlUrl: deps.config.graphqlUrl,
        sessionId,
        token: () => deps.idToken(),
        WebSocketImpl: deps.WebSocketImpl,
        subscribe: deps.subscribe,
        request: deps.graphqlRequest,
        now: deps.now,
        giveUpAfterMs: options.giveUpAfterMs,
        onChange: (messageId) => session?.onChange(messageId),
        onConnection: (state) => options.onConnection?.(state),
      });
    } catch {
      throw new Error("Could not open the answer stream (subscription). Check that the API is reachable and try again.");
    }
    session = new StreamSession(deps, stream);
    return session;
  }

  get sessionId(): string {
    return this.stream.sessionId;
  }

  /** True once closed: open a new session to send again. */
  get closed(): boolean {
    return this.stream.connection === "closed";
  }

  /** The connection's state, for a "reconnecting" indicator. */
  get connection(): ConnectionState {
    return this.stream.connection;
  }

  private onChange(messageId: string): void {
    const run = this.runs.get(messageId);
    if (!run || run.status === "done" || run.status === "failed") return;
    // The first event of any kind: a chunk, or (envelope version 3) reasoning or a tool notice before the text.
    if (run.status === "sending" && (run.assembler.chunkCount > 0 || run.assembler.eventCount > 0)) run.status = "streaming";
    run.onUpdate?.();
  }

  /** Sends one prompt; the returned run updates as events arrive, and is resumed from the record when the stream breaks. */
  send(prompt: string, options: SendOptions = {}): MessageRun {
    const messageId = newId();
    const tracked = this.stream.track(messageId);
    const run: MessageRun = {
      messageId,
      prompt,
      delivery: options.delivery,
      assembler: tracked.assembler,
      sentAt: this.deps.now(),
      status: "sending",
      retryable: true,
      onUpdate: options.onUpdate ? () => options.onUpdate!(run) : undefined,
      settled: tracked.ended.then(() => this.settle(run, tracked)),
    };
    this.runs.set(messageId, run);
    void this.sendQuery(run, options);
    return run;
  }

  /** Asks the API to stop the run's generation; the final (stopReason "stopped") ends the run as usual. */
  async stop(run: MessageRun): Promise<void> {
    if (run.status === "done" || run.status === "failed") return;
    run.stopping = true;
    run.onUpdate?.();
    const variables = { sessionId: this.sessionId, messageId: run.messageId };
    try {
      await this.deps.graphqlRequest(this.deps.config.graphqlUrl, STOP_GENERATION_MUTATION, variables, { Authorization: await this.deps.idToken() });
    } catch {
      run.stopping = false; // the user may press Stop again
      run.onUpdate?.();
    }
  }

  /** The browser went offline: drop the connection at once (see SessionStream.offline). */
  offline(): void {
    this.stream.offline();
  }

  /** The browser is back online: reconnect and resume now. */
  online(): void {
    this.stream.online();
  }

  close(): void {
    this.stream.close();
  }

  /** sendQuery for the run; a refusal or an unreachable API fails it without waiting for events. */
  private async sendQuery(run: MessageRun, options: SendOptions): Promise<void> {
    const input: Record<string, unknown> = { sessionId: this.sessionId, messageId: run.messageId, prompt: run.prompt, modelId: options.modelId ?? this.deps.config.models.defaultModelId };
    if (options.delivery) input.delivery = options.delivery;
    let res: GraphQLResponse;
    try {
      res = await this.deps.graphqlRequest(this.deps.config.graphqlUrl, SEND_QUERY_MUTATION, { input }, { Authorization: await this.deps.idToken() });
    } catch (err) {
      return this.fail(run, err instanceof Error && err.name === "SignInError" ? err.message : "Could not reach the API. Check your connection and try again.", true);
    }
    if (res.errors || !res.data) {
      const { message, retryable } = describeSendFailure(res);
      this.fail(run, message, retryable);
    }
  }

  private fail(run: MessageRun, failure: string, retryable: boolean): void {
    if (run.status === "done" || run.status === "failed") return;
    run.status = "failed";
    run.failure = failure;
    run.retryable = retryable;
    this.runs.delete(run.messageId);
    this.stream.abandon(run.messageId, failure);
    run.onUpdate?.();
  }

  /** The run's end, from its tracked message: done on a final, failed on an error event or an unreachable answer. */
  private settle(run: MessageRun, tracked: TrackedMessage): MessageRun {
    if (run.status === "failed") return run;
    const error = tracked.assembler.error;
    if (error) this.fail(run, error.message, error.retryable);
    else if (tracked.failure) this.fail(run, tracked.failure, true);
    else {
      run.status = "done";
      this.runs.delete(run.messageId);
      run.onUpdate?.();
    }
    return run;
  }
}
