/**
 * Drives a local stack running as a child process (see localStackProcess.ts) the way users and operators reach it:
 * tokens from the issuer, subscriptions over the real-time socket, sendQuery over HTTP, the gateway's fault and stats
 * hooks, the Bedrock stand-in's request log and the queues' depths through an SQS client on fauxqs' endpoint; on the
 * async ingress the local async invoker's faults and stats, its on-failure queue, and Event invocations of the worker.
 */
import { randomUUID } from "node:crypto";
import { SNSClient } from "@aws-sdk/client-sns";
import { ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import WebSocket from "ws";
import { MessageAssembler } from "../../client/assembler";
import { graphqlRequest, type GraphQLResponse } from "../../client/graphql";
import { subscribe, type Subscription, type WebSocketConstructor } from "../../client/realtime";
import { EVENT_ACTIONS, finalTail, parseEvent, type Chunk, type ErrorEvent, type FinalEvent, type StreamEvent, type TokenEvent } from "../../contracts/streamEvents";
import { RECEIVE_MESSAGES_SUBSCRIPTION, SEND_QUERY_MUTATION } from "../../contracts/graphqlOperations";
import { createLambdaInvoker } from "../../lambdas/shared/lambdaInvoker";
import type { GatewayStats, PublishFaultOptions } from "../../local/appsync/faults";
import type { AsyncInvokerStats, CrashFault } from "../../local/asyncInvoker";
import type { StandInRequest } from "../../local/bedrock";
import { requestToken } from "../../local/issuer/tokenCli";
import { queueDepths, type QueueDepth } from "../../local/messaging/depths";
import type { StackProcess } from "./localStackProcess";
import { waitFor } from "./waitFor";

// Node 20 is this project's supported runtime; the SDK's notice about its own future only adds noise to test output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

export type Delivery = "DIRECT" | "QUEUED";

export interface SendQueryInput {
  sessionId: string;
  prompt: string;
  messageId?: string;
  modelId?: string;
  delivery?: Delivery;
}

/** Every event a subscription received, in arrival order. */
export class SessionRecorder {
  readonly events: StreamEvent[] = [];
  private closed = false;
  failure: Error | undefined;

  constructor(
    readonly sessionId: string,
    private readonly subscription: Subscription,
  ) {}

  record(event: StreamEvent): void {
    this.events.push(event);
  }

  forMessage(messageId: string): StreamEvent[] {
    return this.events.filter((e) => e.data.messageId === messageId);
  }

  tokens(messageId: string): TokenEvent[] {
    return this.forMessage(messageId).filter((e): e is TokenEvent => e.action === EVENT_ACTIONS.token);
  }

  finals(messageId: string): FinalEvent[] {
    return this.forMessage(messageId).filter((e): e is FinalEvent => e.action === EVENT_ACTIONS.final);
  }

  errors(messageId: string): ErrorEvent[] {
    return this.forMessage(messageId).filter((e): e is ErrorEvent => e.action === EVENT_ACTIONS.error);
  }

  /** Every chunk of the message, in arrival order: the token events' and the tail its final carried (envelope version 2). */
  chunks(messageId: string): Chunk[] {
    const tail = this.finals(messageId).map((f) => finalTail(f.data)).find((t) => t !== undefined);
    return [...this.tokens(messageId).map((t) => ({ sequenceNumber: t.data.token.sequenceNumber, value: t.data.token.value })), ...(tail ? [tail] : [])];
  }

  /**
   * True once an error event arrived, or a final event and every chunk up to its lastSequenceNumber (its tail included)
   * and, from a version-3 producer, every event up to its eventSequence (tool notices and reasoning too).
   */
  ended(messageId: string): boolean {
    if (this.errors(messageId).length > 0) return true;
    const final = this.finals(messageId)[0];
    if (!final) return false;
    const seen = new Set(this.chunks(messageId).map((c) => c.sequenceNumber));
    for (let n = 0; n <= final.data.lastSequenceNumber; n++) if (!seen.has(n)) return false;
    const events = new Set(eventSequencesOf(this.forMessage(messageId)));
    for (let n = 0; n <= (final.data.eventSequence ?? -1); n++) if (!events.has(n)) return false;
    return true;
  }

  async waitForEnd(messageId: string, timeoutMs = 20_000): Promise<void> {
    await waitFor(
      () => {
        if (this.failure) throw this.failure;
        return this.ended(messageId);
      },
      { timeoutMs, intervalMs: 20, description: `the end of message ${messageId} on ${this.sessionId} (${this.forMessage(messageId).length} events so far)` },
    );
  }

  /** The message's events through the client's MessageAssembler, in arrival order. */
  assemble(messageId: string): MessageAssembler {
    const assembler = new MessageAssembler(messageId);
    for (const e of this.forMessage(messageId)) assembler.accept(e);
    return assembler;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.subscription.close();
  }
}

/** What one question produced on its subscription. */
export interface Answer {
  messageId: string;
  recorder: SessionRecorder;
  tokens: TokenEvent[];
  final?: FinalEvent;
  error?: ErrorEvent;
  /** Every chunk, the final's tail included, in arrival order. */
  chunks: Chunk[];
  /** Chunk values (the final's tail included) joined in sequence-number order. */
  streamedText: string;
}

export class LocalStackDriver {
  readonly sqs: SQSClient;
  readonly sns: SNSClient;
  private readonly recorders = new Set<SessionRecorder>();

  constructor(readonly stack: StackProcess) {
    const { ready } = stack;
    // fauxqs accepts any well-formed credentials; queue URLs name a .localhost host, so the endpoint is explicit.
    const common = { region: ready.region, credentials: { accessKeyId: "AKIDE2ETEST", secretAccessKey: "e2e-test" } };
    this.sqs = new SQSClient({ ...common, endpoint: ready.endpoints.sqs });
    this.sns = new SNSClient({ ...common, endpoint: ready.endpoints.sns });
  }

  get ready() {
    return this.stack.ready;
  }

  get defaultModelId(): string {
    return this.ready.clientConfig.models.defaultModelId;
  }

  token(user: string, expiresInSeconds?: number): Promise<string> {
    return requestToken(this.ready.endpoints.issuerUrl, user, expiresInSeconds);
  }

  sendQuery(token: string, input: SendQueryInput): Promise<GraphQLResponse<{ sendQuery: { sessionId: string; messageId: string } }>> {
    return graphqlRequest(this.ready.endpoints.graphqlUrl, SEND_QUERY_MUTATION, { input }, { authorization: token });
  }

  /** Subscribes (resolves after start_ack) and records everything the subscription receives. */
  async openSession(token: string, sessionId: string): Promise<SessionRecorder> {
    let recorder: SessionRecorder | undefined;
    const early: StreamEvent[] = [];
    let failure: Error | undefined;
    const subscription = await subscribe({
      realtimeUrl: this.ready.endpoints.realtimeUrl,
      graphqlUrl: this.ready.endpoints.graphqlUrl,
      authorization: token,
      query: RECEIVE_MESSAGES_SUBSCRIPTION,
      variables: { sessionId },
      WebSocketImpl: WebSocket as unknown as WebSocketConstructor,
      onData: (data) => {
        const event = parseEvent((data.receiveMessages as { data: string }).data);
        if (recorder) recorder.record(event);
        else early.push(event);
      },
      onError: (err) => {
        failure = err;
        if (recorder) recorder.failure = err;
      },
    });
    recorder = new SessionRecorder(sessionId, subscription);
    recorder.failure = failure;
    for (const e of early) recorder.record(e);
    this.recorders.add(recorder);
    return recorder;
  }

  /** Subscribes as `user`, sends the prompt, waits for the final or error event (and every chunk before a final). */
  async ask(user: string, input: Omit<SendQueryInput, "messageId"> & { messageId?: string }, timeoutMs = 20_000): Promise<Answer> {
    const token = await this.token(user);
    const recorder = await this.openSession(token, input.sessionId);
    const messageId = input.messageId ?? randomUUID();
    const sent = await this.sendQuery(token, { ...input, messageId });
    if (sent.errors) throw new Error(`sendQuery failed: ${JSON.stringify(sent.errors)}`);
    await recorder.waitForEnd(messageId, timeoutMs);
    return this.answerOf(recorder, messageId);
  }

  answerOf(recorder: SessionRecorder, messageId: string): Answer {
    const chunks = recorder.chunks(messageId);
    const streamedText = [...chunks]
      .sort((a, b) => a.sequenceNumber - b.sequenceNumber)
      .map((c) => c.value)
      .join("");
    return { messageId, recorder, tokens: recorder.tokens(messageId), final: recorder.finals(messageId)[0], error: recorder.errors(messageId)[0], chunks, streamedText };
  }

  /** POST /_local/faults on the gateway. */
  async faults(body: ({ failPublishes: number } & PublishFaultOptions) | { rejectPublishes: boolean; status?: number } | { clear: true }): Promise<void> {
    const res = await fetch(new URL("/_local/faults", this.ready.endpoints.graphqlUrl), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`POST /_local/faults answered ${res.status}: ${await res.text()}`);
  }

  async gatewayStats(): Promise<GatewayStats> {
    const res = await fetch(new URL("/_local/stats", this.ready.endpoints.graphqlUrl));
    if (!res.ok) throw new Error(`GET /_local/stats answered ${res.status}`);
    return (await res.json()) as GatewayStats;
  }

  /** The Bedrock stand-in's log: one entry per converse-stream request, in arrival order. */
  async bedrockRequests(): Promise<StandInRequest[]> {
    const res = await fetch(new URL("/_local/requests", this.ready.endpoints.bedrock));
    if (!res.ok) throw new Error(`GET /_local/requests answered ${res.status}`);
    return ((await res.json()) as { requests: StandInRequest[] }).requests;
  }

  depths(): Promise<Record<"work" | "outbound", QueueDepth>> {
    return queueDepths(this.sqs, { work: this.ready.queues.work, outbound: this.ready.queues.outbound });
  }

  /** The async ingress: POST /_local/faults on the local async invoker (local/asyncInvoker.ts). */
  async asyncFaults(body: CrashFault | { clear: true }): Promise<void> {
    const res = await fetch(new URL("/_local/faults", this.lambdaEndpoint()), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`POST /_local/faults answered ${res.status}: ${await res.text()}`);
  }

  async asyncStats(): Promise<AsyncInvokerStats> {
    const res = await fetch(new URL("/_local/stats", this.lambdaEndpoint()));
    if (!res.ok) throw new Error(`GET /_local/stats answered ${res.status}`);
    return (await res.json()) as AsyncInvokerStats;
  }

  /** The async ingress: one Event invocation of the worker with `payload`, signed as send-query signs it. */
  invokeWorker(payload: unknown): Promise<void> {
    const invoker = createLambdaInvoker({ region: this.ready.region, endpoint: this.lambdaEndpoint(), credentials: this.ready.credentials });
    return invoker.invokeEvent(this.ready.functions.streamWorker, JSON.stringify(payload));
  }

  /** The destination records in the worker's on-failure queue (each receive hides what it got, so this reads them once). */
  async asyncFailureRecords(): Promise<{ requestContext: { condition: string; approximateInvokeCount: number }; requestPayload: Record<string, unknown>; responsePayload?: { errorMessage: string } }[]> {
    const url = this.ready.queues.asyncFailures?.url;
    if (!url) throw new Error("this stack runs the queued ingress: it has no on-failure queue");
    const { Messages } = await this.sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    return (Messages ?? []).map((m) => JSON.parse(m.Body!));
  }

  private lambdaEndpoint(): string {
    const endpoint = this.ready.endpoints.lambda;
    if (!endpoint) throw new Error("this stack runs the queued ingress: it has no Lambda endpoint");
    return endpoint;
  }


  /** Waits until nothing is waiting or in flight on the work and outbound queues (processed and deleted). */
  async waitForQueuesDrained(timeoutMs = 15_000): Promise<Record<"work" | "outbound", QueueDepth>> {
    return waitFor(
      async () => {
        const d = await this.depths();
        return d.work.visible + d.work.inFlight + d.outbound.visible + d.outbound.inFlight === 0 && d;
      },
      { timeoutMs, intervalMs: 100, description: "empty work and outbound queues" },
    );
  }

  closeSessions(): void {
    for (const r of this.recorders) r.close();
    this.recorders.clear();
  }

  async close(): Promise<void> {
    this.closeSessions();
    this.sqs.destroy();
    this.sns.destroy();
  }
}

/** The events' message-wide numbers in arrival order (envelope version 3), a final's tail counted as its own (eventSequence - 1). */
export function eventSequencesOf(events: StreamEvent[]): number[] {
  return events.flatMap((e) => {
    const n = e.data.eventSequence;
    if (n === undefined) return [];
    return e.action === EVENT_ACTIONS.final && e.data.tail !== undefined ? [n - 1, n] : [n];
  });
}

/** A fresh session id (the ID_PATTERN allows letters, digits, - and _). */
export function newSessionId(label: string): string {
  return `${label}-${randomUUID().slice(0, 13)}`;
}

/**
 * The properties every complete answer must have: chunk sequence numbers 0..n-1 each exactly once (the last one may be
 * the tail the final carries), their text in that order equal to final_response.content, equal to the stand-in's
 * answer; exactly one final event and no error event; the client's assembler shows exactly that text, and so does a
 * version-1 assembler, which ignores the tail and takes the final's content for the chunk it never saw.
 */
export function expectExactAnswer(answer: Answer, expectedText: string): void {
  expect(answer.error).toBeUndefined();
  expect(answer.recorder.finals(answer.messageId)).toHaveLength(1);
  const seqs = answer.chunks.map((c) => c.sequenceNumber).sort((a, b) => a - b);
  expect(seqs).toEqual(seqs.map((_, i) => i));
  expect(answer.final!.data.lastSequenceNumber).toBe(seqs.length - 1);
  expect(answer.streamedText).toBe(expectedText);
  expect(answer.final!.data.content).toBe(expectedText);
  // What a client shows: the MessageAssembler over the events in arrival order. (On a standard queue a retried chunk
  // may arrive after the final event; the assembler then takes the final content, so no arrival-order check here.)
  const assembler = answer.recorder.assemble(answer.messageId);
  expect(assembler.done).toBe(true);
  expect(assembler.text).toBe(expectedText);
  expect(assembler.duplicateCount).toBe(0);
  expect(answer.final!.data.tail === undefined || !answer.final!.data.truncated).toBe(true);
  expect(assembleAsVersion1(answer.recorder.forMessage(answer.messageId), answer.messageId).text).toBe(expectedText);
}

/** What a client of envelope version 1 shows: its schema drops the unknown `tail`, so it only sees a chunk missing at the final. */
export function assembleAsVersion1(events: StreamEvent[], messageId: string): MessageAssembler {
  const assembler = new MessageAssembler(messageId);
  for (const e of events) {
    if (e.action !== EVENT_ACTIONS.final) assembler.accept(e);
    else {
      const { tail: _dropped, ...data } = e.data;
      assembler.accept({ ...e, data });
    }
  }
  return assembler;
}
