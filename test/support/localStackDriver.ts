/**
 * Drives a local stack running as a child process (see localStackProcess.ts) the way users and operators reach it:
 * tokens from the issuer, subscriptions over the real-time socket, sendQuery over HTTP, the gateway's fault and stats
 * hooks, the Bedrock stand-in's request log and the queues' depths through an SQS client on fauxqs' endpoint.
 */
import { randomUUID } from "node:crypto";
import { SNSClient } from "@aws-sdk/client-sns";
import { SQSClient } from "@aws-sdk/client-sqs";
import WebSocket from "ws";
import { MessageAssembler } from "../../client/assembler";
import { graphqlRequest, type GraphQLResponse } from "../../client/graphql";
import { subscribe, type Subscription, type WebSocketConstructor } from "../../client/realtime";
import { EVENT_ACTIONS, parseEvent, type ErrorEvent, type FinalEvent, type StreamEvent, type TokenEvent } from "../../contracts/streamEvents";
import { RECEIVE_MESSAGES_SUBSCRIPTION, SEND_QUERY_MUTATION } from "../../contracts/graphqlOperations";
import type { GatewayStats, PublishFaultOptions } from "../../local/appsync/faults";
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

  /** True once an error event arrived, or a final event and every chunk up to its lastSequenceNumber. */
  ended(messageId: string): boolean {
    if (this.errors(messageId).length > 0) return true;
    const final = this.finals(messageId)[0];
    if (!final) return false;
    const seen = new Set(this.tokens(messageId).map((t) => t.data.token.sequenceNumber));
    for (let n = 0; n <= final.data.lastSequenceNumber; n++) if (!seen.has(n)) return false;
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
  /** Chunk values joined in sequence-number order. */
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
    const tokens = recorder.tokens(messageId);
    const streamedText = [...tokens]
      .sort((a, b) => a.data.token.sequenceNumber - b.data.token.sequenceNumber)
      .map((t) => t.data.token.value)
      .join("");
    return { messageId, recorder, tokens, final: recorder.finals(messageId)[0], error: recorder.errors(messageId)[0], streamedText };
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
    return queueDepths(this.sqs, this.ready.queues);
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

/** A fresh session id (the ID_PATTERN allows letters, digits, - and _). */
export function newSessionId(label: string): string {
  return `${label}-${randomUUID().slice(0, 13)}`;
}

/**
 * The properties every complete answer must have: chunk sequence numbers 0..n-1 each exactly once, their text in that
 * order equal to final_response.content, equal to the stand-in's answer; exactly one final event and no error event;
 * the client's assembler shows exactly that text.
 */
export function expectExactAnswer(answer: Answer, expectedText: string): void {
  expect(answer.error).toBeUndefined();
  expect(answer.recorder.finals(answer.messageId)).toHaveLength(1);
  const seqs = answer.tokens.map((t) => t.data.token.sequenceNumber).sort((a, b) => a - b);
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
}
