/**
 * One conversation (sessionId) with one subscription: subscribe first, then send each prompt with a client-chosen
 * messageId, so every event can be routed to its MessageAssembler even if it arrives before sendQuery returns.
 * No DOM here: the page renders from `MessageRun` on each `onUpdate`.
 */
import { MessageAssembler } from "../../client/assembler";
import type { ClientConfig } from "../../client/config";
import type { GraphQLResponse } from "../../client/graphql";
import type { SubscribeOptions, Subscription } from "../../client/realtime";
import { RECEIVE_MESSAGES_SUBSCRIPTION, SEND_QUERY_MUTATION } from "../../contracts/graphqlOperations";
import { parseEvent } from "../../contracts/streamEvents";
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
  /** Settles when the run is done or failed; never rejects. */
  readonly settled: Promise<MessageRun>;
}

export interface SendOptions {
  delivery?: DeliveryPath;
  modelId?: string;
  /** Called after every change (event, status); the page re-renders from the run. */
  onUpdate?(run: MessageRun): void;
  /** Fail the run when no event arrived for this long (default 60 s). */
  idleTimeoutMs?: number;
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
  private readonly runs = new Map<string, { run: MessageRun; touch(): void; finish(status: RunStatus, failure?: string, retryable?: boolean): void }>();
  private subscription: Subscription | undefined;
  private lost: string | undefined;

  private constructor(
    private readonly deps: StreamDeps,
    readonly sessionId: string,
  ) {}

  /** Opens the subscription; resolves after start_ack, so a prompt sent afterwards loses no tokens. */
  static async open(deps: StreamDeps, sessionId: string = newId()): Promise<StreamSession> {
    const session = new StreamSession(deps, sessionId);
    try {
      session.subscription = await deps.subscribe({
        realtimeUrl: deps.config.realtimeUrl,
        graphqlUrl: deps.config.graphqlUrl,
        authorization: await deps.idToken(),
        query: RECEIVE_MESSAGES_SUBSCRIPTION,
        variables: { sessionId },
        WebSocketImpl: deps.WebSocketImpl,
        onData: (data) => session.onData(data),
        onError: () => session.onLost("The connection to the answer stream was lost."),
      });
    } catch {
      throw new Error("Could not open the answer stream (subscription). Check that the API is reachable and try again.");
    }
    return session;
  }

  get closed(): boolean {
    return this.lost !== undefined || this.subscription === undefined;
  }

  private onData(data: Record<string, unknown>): void {
    const channel = data.receiveMessages as { data?: unknown } | undefined;
    if (!channel || typeof channel.data !== "string") return;
    const receivedAt = this.deps.now();
    let event;
    try {
      event = parseEvent(channel.data);
    } catch {
      return; // malformed event: nothing a user could act on; the final content still reconciles
    }
    const entry = this.runs.get(event.data.messageId);
    if (!entry) return;
    const { run } = entry;
    const outcome = run.assembler.accept(event, receivedAt);
    if (outcome === "final") entry.finish("done");
    else if (outcome === "error") entry.finish("failed", run.assembler.error?.message, run.assembler.error?.retryable ?? true);
    else {
      if (run.status === "sending") run.status = "streaming";
      entry.touch();
    }
  }

  private onLost(message: string): void {
    this.lost = message;
    for (const { finish } of [...this.runs.values()]) finish("failed", message, true);
  }

  /** Sends one prompt; the returned run updates as events arrive. */
  send(prompt: string, options: SendOptions = {}): MessageRun {
    const messageId = newId();
    const assembler = new MessageAssembler(messageId, { now: this.deps.now });
    let resolveSettled!: (r: MessageRun) => void;
    const settled = new Promise<MessageRun>((r) => (resolveSettled = r));
    const run: MessageRun = {
      messageId,
      prompt,
      delivery: options.delivery,
      assembler,
      sentAt: this.deps.now(),
      status: "sending",
      retryable: true,
      settled,
    };
    const idleMs = options.idleTimeoutMs ?? 60_000;
    let idle: ReturnType<typeof setTimeout> | undefined;
    const update = (): void => options.onUpdate?.(run);
    const finish = (status: RunStatus, failure?: string, retryable = true): void => {
      if (run.status === "done" || run.status === "failed") return;
      clearTimeout(idle);
      run.status = status;
      if (status === "failed") {
        run.failure = failure ?? "Something went wrong.";
        run.retryable = retryable;
      }
      this.runs.delete(messageId);
      update();
      resolveSettled(run);
    };
    const touch = (): void => {
      clearTimeout(idle);
      idle = setTimeout(() => finish("failed", `No answer arrived within ${Math.ceil(idleMs / 1000)} s.`, true), idleMs);
      update();
    };
    this.runs.set(messageId, { run, touch, finish });
    if (this.lost) {
      finish("failed", this.lost, true);
      return run;
    }
    touch();
    void (async () => {
      const input: Record<string, unknown> = { sessionId: this.sessionId, messageId, prompt, modelId: options.modelId ?? this.deps.config.models.defaultModelId };
      if (options.delivery) input.delivery = options.delivery;
      let res: GraphQLResponse;
      try {
        res = await this.deps.graphqlRequest(this.deps.config.graphqlUrl, SEND_QUERY_MUTATION, { input }, { Authorization: await this.deps.idToken() });
      } catch (err) {
        finish("failed", err instanceof Error && err.name === "SignInError" ? err.message : "Could not reach the API. Check your connection and try again.", true);
        return;
      }
      if (res.errors || !res.data) {
        const { message, retryable } = describeSendFailure(res);
        finish("failed", message, retryable);
      }
    })();
    return run;
  }

  close(): void {
    for (const { finish } of [...this.runs.values()]) finish("failed", "Stopped.", true);
    this.subscription?.close();
    this.subscription = undefined;
  }
}
