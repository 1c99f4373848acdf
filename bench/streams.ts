/**
 * Drives concurrent chats against a running local stack the way a user's client does: every stream subscribes
 * first (AppSync real-time protocol over `ws`), then all send at once; each chunk's arrival is stamped on the same
 * clock the Bedrock stand-in stamps its emissions with. Bounded: gives up at `deadlineMs` and reports what arrived.
 */
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import WebSocket from "ws";
import { graphqlRequest } from "../client/graphql";
import { subscribe, type Subscription, type WebSocketConstructor } from "../client/realtime";
import { finalTail, parseEvent } from "../contracts/streamEvents";
import { RECEIVE_MESSAGES_SUBSCRIPTION, SEND_QUERY_MUTATION } from "../contracts/graphqlOperations";
import type { LocalStack } from "../local/stack";
import type { ReceivedChunk } from "./latency";

export type Delivery = "DIRECT" | "QUEUED";

export interface StreamRun {
  sessionId: string;
  prompt: string;
  /** Epoch ms just before sendQuery left. */
  sentAt: number;
  chunks: ReceivedChunk[];
  /** UTF-8 size of every `data` message's event (tokens, final, error), for the real-time update meter. */
  payloadBytes: number[];
  finalContent?: string;
  lastSequenceNumber?: number;
  error?: string;
  /** final_response arrived and every chunk up to its lastSequenceNumber too. */
  completed: boolean;
}

export interface StreamBatchOptions {
  count: number;
  /** Answer length in stand-in tokens (`[[length:N]]`). */
  tokens: number;
  /** DIRECT or QUEUED per request; undefined sends none, so the worker takes the environment's own (direct_send). */
  delivery: Delivery | undefined;
  /** Goes into session ids and prompts, so each run's stand-in log entries are its own. */
  tag: string;
  /** Give up this long after sending. */
  deadlineMs: number;
}

/** The clock the Bedrock stand-in stamps its emissions with (one process). */
export const now = () => performance.timeOrigin + performance.now();
const utf8 = (s: string) => Buffer.byteLength(s, "utf8");

/** What one stream saw so far, and how a stream settles: completed once every chunk to the final's last one is in, or failed. */
export interface StreamTracker {
  /** Records one event of the stream's answer, as it arrived. */
  record(r: StreamRun, raw: string, receivedAt: number): void;
  fail(r: StreamRun, message: string): void;
  /** Resolves when every stream settled or `deadlineMs` passed (then the unsettled ones fail as incomplete). */
  settled(deadlineMs: number): Promise<void>;
}

/** The runs of one batch, each with its own session and prompt (`[[length:N]]`), nothing sent yet. */
export function newStreamRuns(o: Pick<StreamBatchOptions, "count" | "tokens" | "tag">): StreamRun[] {
  const run = randomBytes(4).toString("hex");
  return Array.from({ length: o.count }, (_, i) => ({
    sessionId: `bench-${o.tag}-${run}-${i}`.slice(0, 64),
    prompt: `Benchmark ${o.tag} run ${run} stream ${i} [[length:${o.tokens}]]`,
    sentAt: 0,
    chunks: [],
    payloadBytes: [],
    completed: false,
  }));
}

/** The tracker of a batch: every transport's runner hands it each event's raw JSON as it arrives. */
export function trackStreams(runs: StreamRun[]): StreamTracker {
  let pending = runs.length;
  let allDone!: () => void;
  const finished = new Promise<void>((resolve) => (allDone = resolve));
  const end = (r: StreamRun) => --pending === 0 && allDone();
  const fail = (r: StreamRun, message: string) => {
    if (r.completed || r.error) return;
    r.error = message;
    end(r);
  };
  const record = (r: StreamRun, raw: string, receivedAt: number) => {
    r.payloadBytes.push(utf8(raw));
    const event = parseEvent(raw);
    if (event.action === "on_new_llm_token") {
      const { sequenceNumber, value } = event.data.token;
      if (!r.chunks.some((c) => c.sequenceNumber === sequenceNumber)) r.chunks.push({ sequenceNumber, value, receivedAt });
    } else if (event.action === "final_response") {
      r.finalContent = event.data.content;
      r.lastSequenceNumber = event.data.lastSequenceNumber;
      // Envelope version 2: the final may carry the last chunk; it reaches the reader with the final.
      const tail = finalTail(event.data);
      if (tail && !r.chunks.some((c) => c.sequenceNumber === tail.sequenceNumber)) r.chunks.push({ ...tail, receivedAt });
    } else if (event.action === "error") {
      return fail(r, `error event ${event.data.code}: ${event.data.message}`);
    }
    if (!r.completed && !r.error && r.lastSequenceNumber !== undefined && r.chunks.length >= r.lastSequenceNumber + 1) {
      r.completed = true;
      end(r);
    }
  };
  const settled = async (deadlineMs: number) => {
    if (pending === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([finished, new Promise<void>((resolve) => (timer = setTimeout(resolve, deadlineMs)))]);
    clearTimeout(timer);
    for (const r of runs) if (!r.completed && !r.error) r.error = `incomplete after ${deadlineMs} ms`;
  };
  return { record, fail, settled };
}

/** AppSync: every stream subscribes first, then all send at once (DIRECT, QUEUED or the environment's own delivery). */
export async function runStreams(stack: LocalStack, o: StreamBatchOptions): Promise<StreamRun[]> {
  const token = await stack.issuer.mintIdToken("bench-user");
  const runs = newStreamRuns(o);
  const tracker = trackStreams(runs);
  const subs: Subscription[] = [];
  try {
    const started = await Promise.allSettled(
      runs.map((r) =>
        subscribe({
          realtimeUrl: stack.endpoints.realtimeUrl,
          graphqlUrl: stack.endpoints.graphqlUrl,
          authorization: token,
          query: RECEIVE_MESSAGES_SUBSCRIPTION,
          variables: { sessionId: r.sessionId },
          WebSocketImpl: WebSocket as unknown as WebSocketConstructor,
          onError: (e) => tracker.fail(r, `subscription: ${e.message}`),
          onData: (data) => tracker.record(r, (data.receiveMessages as { data: string }).data, now()),
        }),
      ),
    );
    for (const [i, s] of started.entries()) {
      if (s.status === "fulfilled") subs.push(s.value);
      else tracker.fail(runs[i]!, `subscribe failed: ${(s.reason as Error).message}`);
    }
    await Promise.all(
      runs.map(async (r) => {
        if (r.error) return;
        r.sentAt = now();
        const sent = await graphqlRequest(stack.endpoints.graphqlUrl, SEND_QUERY_MUTATION, { input: { sessionId: r.sessionId, prompt: r.prompt, delivery: o.delivery } }, { authorization: token }).catch(
          (e: Error) => ({ errors: [{ message: e.message }] }),
        );
        if (sent.errors) tracker.fail(r, `sendQuery: ${sent.errors[0]?.message}`);
      }),
    );
    await tracker.settled(o.deadlineMs);
    return runs;
  } finally {
    for (const s of subs) s.close();
  }
}
