/**
 * Chat sessions over the two other transports, with the surface of StreamSession (AppSync) so the chat and the
 * comparison take any of them: the WebSocket API (one socket per session: sendQuery and stopGeneration frames on it,
 * the events back on it) and the Function URL (one POST per answer, its events the NDJSON lines of the response; Stop
 * calls stopGeneration, and leaving closes the response, which the function also takes as a stop). Neither resumes a
 * dropped answer live: its record stays readable with `message(...)`, and the run fails with a message saying so.
 */
import { MessageAssembler } from "../../client/assembler";
import type { ClientConfig } from "../../client/config";
import { FunctionUrlError, streamFromFunctionUrl } from "../../client/functionUrlStream";
import type { GraphQLResponse } from "../../client/graphql";
import { WebsocketFrameError, WebsocketStream } from "../../client/websocketStream";
import { STOP_GENERATION_MUTATION } from "../../contracts/graphqlOperations";
import type { StreamEvent } from "../../contracts/streamEvents";
import { newId, type MessageRun, type SendOptions, type StreamDeps } from "./streamSession";

/** What the chat and the comparison need of a session, whichever transport carries it (StreamSession is one). */
export interface ChatSession {
  readonly sessionId: string;
  readonly closed: boolean;
  send(prompt: string, options?: SendOptions): MessageRun;
  stop(run: MessageRun): Promise<void>;
  offline(): void;
  online(): void;
  close(): void;
}

/** A run of this module's sessions: settles on its final or error event, or when the transport fails it. */
function newRun(deps: StreamDeps, prompt: string, options: SendOptions): { run: MessageRun; end(failure?: string, retryable?: boolean): void } {
  const messageId = newId();
  let settle!: (run: MessageRun) => void;
  const run: MessageRun = {
    messageId,
    prompt,
    delivery: undefined,
    assembler: new MessageAssembler(messageId, { now: deps.now }),
    sentAt: deps.now(),
    status: "sending",
    retryable: true,
    onUpdate: options.onUpdate ? () => options.onUpdate!(run) : undefined,
    settled: new Promise((resolve) => (settle = resolve)),
  };
  const end = (failure?: string, retryable = true): void => {
    if (run.status === "done" || run.status === "failed") return;
    const error = run.assembler.error;
    if (failure !== undefined || error) Object.assign(run, { status: "failed", failure: failure ?? error!.message, retryable: failure !== undefined ? retryable : error!.retryable });
    else run.status = "done";
    run.onUpdate?.();
    settle(run);
  };
  return { run, end };
}

/** Feeds one event to its run; ends the run on its final or error event. */
function deliver(run: MessageRun, end: (failure?: string) => void, event: StreamEvent, now: number): void {
  run.assembler.accept(event, now);
  if (run.status === "sending" && run.assembler.chunkCount > 0) run.status = "streaming";
  if (run.assembler.done) end();
  else run.onUpdate?.();
}

/** A refusal's words for the page: the API's own message for validation and limits, a sign-in hint for a bad token. */
function refusalText(err: unknown): { message: string; retryable: boolean } {
  if (err instanceof FunctionUrlError && err.status === 401) return { message: "Your sign-in was not accepted (it may have expired). Sign in again.", retryable: false };
  if (err instanceof FunctionUrlError && err.status < 500) return { message: `The request was rejected: ${err.message}`, retryable: err.status === 429 };
  if (err instanceof WebsocketFrameError) return { message: `The request was rejected: ${err.frame.message}`, retryable: err.frame.errorType === "LimitExceeded" };
  return { message: "The answer stream broke off; the answer stays in its record (message query).", retryable: true };
}

/** stopGeneration through the GraphQL API: the same stop on every transport. */
async function stopThroughApi(deps: StreamDeps, sessionId: string, run: MessageRun): Promise<GraphQLResponse> {
  return deps.graphqlRequest(deps.config.graphqlUrl, STOP_GENERATION_MUTATION, { sessionId, messageId: run.messageId }, { Authorization: await deps.idToken() });
}

/** One POST per answer to the environment's Function URL. */
export class FunctionUrlSession implements ChatSession {
  private isClosed = false;
  private readonly inFlight = new Set<AbortController>();

  constructor(
    private readonly deps: StreamDeps,
    private readonly url: string,
    readonly sessionId: string = newId(),
  ) {}

  get closed(): boolean {
    return this.isClosed;
  }

  send(prompt: string, options: SendOptions = {}): MessageRun {
    const { run, end } = newRun(this.deps, prompt, options);
    const abort = new AbortController();
    this.inFlight.add(abort);
    void this.read(run, end, options, abort).finally(() => this.inFlight.delete(abort));
    return run;
  }

  private async read(run: MessageRun, end: (failure?: string, retryable?: boolean) => void, options: SendOptions, abort: AbortController): Promise<void> {
    const request = { sessionId: this.sessionId, messageId: run.messageId, prompt: run.prompt, modelId: options.modelId ?? this.deps.config.models.defaultModelId };
    try {
      for await (const event of streamFromFunctionUrl(this.url, await this.deps.idToken(), request, { signal: abort.signal })) deliver(run, end, event, this.deps.now());
      end(run.assembler.done ? undefined : "The answer stream ended before the answer did; the answer stays in its record (message query).");
    } catch (err) {
      const { message, retryable } = refusalText(err);
      end(message, retryable);
    }
  }

  async stop(run: MessageRun): Promise<void> {
    if (run.status === "done" || run.status === "failed") return;
    run.stopping = true;
    run.onUpdate?.();
    await stopThroughApi(this.deps, this.sessionId, run).catch(() => (run.stopping = false));
  }

  offline(): void {}
  online(): void {}

  /** Closing the responses stops their generations (the function takes a closed response as a stop). */
  close(): void {
    this.isClosed = true;
    for (const a of this.inFlight) a.abort();
  }
}

/** One WebSocket per session; the user's events arrive on it, each routed to its run by messageId. */
export class WebsocketSession implements ChatSession {
  private readonly runs = new Map<string, { run: MessageRun; end: (failure?: string, retryable?: boolean) => void }>();
  private stream!: WebsocketStream;

  private constructor(
    private readonly deps: StreamDeps,
    readonly sessionId: string,
  ) {}

  /** Opens the socket; rejects when $connect refuses it (a bad token) or the API cannot be reached. */
  static async open(deps: StreamDeps, url: string, sessionId: string = newId()): Promise<WebsocketSession> {
    const session = new WebsocketSession(deps, sessionId);
    const token = await deps.idToken();
    try {
      session.stream = await WebsocketStream.open({
        websocketUrl: url,
        token,
        WebSocketImpl: deps.WebSocketImpl,
        onEvent: (event) => session.onEvent(event),
        onClose: () => session.failAll("The connection closed; the answer stays in its record (message query)."),
      });
    } catch {
      throw new Error("Could not open the WebSocket. Check that the API is reachable and that you are signed in.");
    }
    return session;
  }

  get closed(): boolean {
    return this.stream.closed;
  }

  send(prompt: string, options: SendOptions = {}): MessageRun {
    const entry = newRun(this.deps, prompt, options);
    this.runs.set(entry.run.messageId, entry);
    void entry.run.settled.then(() => this.runs.delete(entry.run.messageId));
    const input = { sessionId: this.sessionId, messageId: entry.run.messageId, prompt, modelId: options.modelId ?? this.deps.config.models.defaultModelId };
    this.stream.sendQuery(input).catch((err: unknown) => {
      const { message, retryable } = refusalText(err);
      entry.end(message, retryable);
    });
    return entry.run;
  }

  async stop(run: MessageRun): Promise<void> {
    if (run.status === "done" || run.status === "failed") return;
    run.stopping = true;
    run.onUpdate?.();
    await this.stream.stopGeneration(this.sessionId, run.messageId).catch(() => (run.stopping = false));
  }

  offline(): void {}
  online(): void {}

  close(): void {
    this.stream.close();
  }

  private onEvent(event: StreamEvent): void {
    const entry = this.runs.get(event.data.messageId);
    if (entry) deliver(entry.run, entry.end, event, this.deps.now());
  }

  private failAll(failure: string): void {
    for (const { end } of [...this.runs.values()]) end(failure, true);
  }
}

/** The chat's transports, as the client config enables them: AppSync always, the others when their URL is there. */
export type ChatTransport = "appsync" | "function_url" | "websocket";

export function enabledTransports(config: ClientConfig): ChatTransport[] {
  return ["appsync", ...(config.functionUrl ? (["function_url"] as const) : []), ...(config.websocketUrl ? (["websocket"] as const) : [])];
}
