/**
 * The four delivery paths side by side (issue 13): one local stack with every transport and client_delivery_choice,
 * the same answers on each path, one path after the other: AppSync direct, AppSync queued, the Function URL stream and
 * the WebSocket API. Per path: time to first token and token delivery latency p50 / p99 (the stand-in's emission of a
 * token to its chunk's arrival, one clock), the AWS requests the delivery leg makes and its cost per 1M output tokens
 * (web/src/requestEstimate.ts from the events each answer produced, at bench/prices.json's prices), and, on paper,
 * the concurrent streams each service's default quota admits at the measured event rate. Bounded in count and time.
 */
import WebSocket from "ws";
import { streamFromFunctionUrl } from "../client/functionUrlStream";
import type { WebSocketConstructor } from "../client/realtime";
import { WebsocketStream } from "../client/websocketStream";
import { serializeEvent } from "../contracts/streamEvents";
import { startLocalStack, type LocalStack } from "../local/stack";
import { COMPARED_PATHS, deliveryCostPer1MTokens, deliveryRequests, type ComparedPath } from "../web/src/requestEstimate";
import type { PriceTable } from "./cost";
import { batchFigures } from "./figures";
import { round, summarize } from "./stats";
import { newStreamRuns, now, runStreams, trackStreams, type StreamRun } from "./streams";

export interface TransportPlan {
  firstTokenMs: number;
  tokensPerSecond: number;
  /** Answer length of every stream, in stand-in tokens. */
  tokens: number;
  /** Streams per path, all at once after an unmeasured warm-up. */
  streams: number;
  streamDeadlineMs: number;
}

type Percentiles = { p50: number; p99: number };

export interface TransportFigures {
  path: ComparedPath;
  streams: number;
  completed: number;
  errors: string[];
  outputTokens: number;
  textMatches: boolean;
  ttftMs: Percentiles;
  latencyMs: Percentiles;
  /** Events per answer (token events plus the final), on average. */
  eventsPerAnswer: number;
  /** Events per second of streaming, per stream: what a quota in messages per second divides. */
  eventsPerStreamSecond: number;
  requestsPer1kTokens: number;
  costPerMillionTokensUsd: number;
  /** The default quota that bounds concurrent streams on this path, and the streams it admits. */
  capacity: { quota: string; streams: number };
}

export interface TransportResults {
  plan: TransportPlan;
  batching: string;
  paths: TransportFigures[];
}

const pick = (values: number[]): Percentiles => {
  const s = summarize(values);
  return { p50: round(s.p50, 1), p99: round(s.p99, 1) };
};

/** The Function URL: one POST per stream, its NDJSON lines recorded as they arrive. */
async function functionUrlStreams(stack: LocalStack, runs: StreamRun[], deadlineMs: number): Promise<void> {
  const token = await stack.issuer.mintIdToken("bench-user");
  const tracker = trackStreams(runs);
  const read = async (r: StreamRun) => {
    r.sentAt = now();
    try {
      for await (const event of streamFromFunctionUrl(stack.endpoints.functionUrl!, token, { sessionId: r.sessionId, prompt: r.prompt })) tracker.record(r, serializeEvent(event), now());
    } catch (e) {
      tracker.fail(r, `function url: ${(e as Error).message}`);
    }
  };
  const all = Promise.all(runs.map(read));
  await tracker.settled(deadlineMs);
  await all;
}

/**
 * The WebSocket API: one connection per stream, each its own user's (the worker posts a message's events to every
 * connection of its user, so one user's sockets would each get every stream's events), opened first, then every
 * sendQuery at once.
 */
async function websocketStreams(stack: LocalStack, runs: StreamRun[], deadlineMs: number): Promise<void> {
  const tracker = trackStreams(runs);
  const sockets = await Promise.all(
    runs.map(async (r, i) =>
      WebsocketStream.open({
        websocketUrl: stack.endpoints.websocketUrl!,
        token: await stack.issuer.mintIdToken(`bench-ws-user-${i}`),
        WebSocketImpl: WebSocket as unknown as WebSocketConstructor,
        pingIntervalMs: 0,
        onEvent: (event) => tracker.record(r, serializeEvent(event), now()),
      }),
    ),
  );
  try {
    await Promise.all(
      runs.map((r, i) => {
        r.sentAt = now();
        return sockets[i]!.sendQuery({ sessionId: r.sessionId, prompt: r.prompt }).catch((e: Error) => tracker.fail(r, `sendQuery: ${e.message}`));
      }),
    );
    await tracker.settled(deadlineMs);
  } finally {
    for (const s of sockets) s.close();
  }
}

/** One batch of streams on one path. */
async function streamsOn(stack: LocalStack, path: ComparedPath, o: { count: number; tokens: number; tag: string; deadlineMs: number }): Promise<StreamRun[]> {
  if (path === "DIRECT" || path === "QUEUED") return runStreams(stack, { ...o, delivery: path });
  const runs = newStreamRuns(o);
  await (path === "FUNCTION_URL" ? functionUrlStreams : websocketStreams)(stack, runs, o.deadlineMs);
  return runs;
}

/** Each path's default quota in events per second, and the streams it admits (Lambda's concurrency holds one per stream). */
function capacityOf(path: ComparedPath, eventsPerStreamSecond: number, stack: LocalStack, prices: PriceTable): TransportFigures["capacity"] {
  const lambda = prices.quotas.lambdaConcurrentExecutions.value;
  if (path === "FUNCTION_URL") {
    const reserved = stack.config.function_url.reserved_concurrency;
    return { quota: `the function's reserved concurrency (function_url.reserved_concurrency ${reserved}; Lambda's regional default is ${lambda})`, streams: reserved };
  }
  const [rate, name] =
    path === "WEBSOCKET"
      ? [prices.quotas.apigatewayAccountRequestsPerSecond.value, "API Gateway's account-level requests per second"]
      : [prices.appsyncInboundMessagesPerSecond.value, "AppSync's inbound messages per second"];
  const byRate = Math.floor(rate / eventsPerStreamSecond);
  return byRate < lambda ? { quota: `${name} (${rate})`, streams: byRate } : { quota: `Lambda's concurrent executions (${lambda}; the worker holds one per stream)`, streams: lambda };
}

/** A path's figures from its runs and the stand-in's emission log. */
function figuresOf(stack: LocalStack, path: ComparedPath, runs: StreamRun[], plan: TransportPlan, prices: PriceTable): TransportFigures {
  const f = batchFigures(stack.bedrock.log.requests, runs, { tokensPerSecond: plan.tokensPerSecond, readingTokensPerSecond: stack.config.batching.reading_tokens_per_second }, 0);
  const done = runs.filter((r) => r.completed);
  // Each event received is one payload: the token events, then the final.
  const events = done.map((r) => r.payloadBytes.length);
  const eventsPerAnswer = events.length ? events.reduce((a, b) => a + b, 0) / events.length : Number.NaN;
  const eventsPerStreamSecond = f.streamSeconds > 0 ? events.reduce((a, b) => a + b, 0) / f.streamSeconds : Number.NaN;
  const requests = done.reduce((n, r) => n + deliveryRequests(path, r.payloadBytes.length - 1).total, 0);
  // Every answer has plan.tokens tokens: the batch's cost per 1M tokens is the mean of the answers'.
  const cost = done.reduce((n, r) => n + (deliveryCostPer1MTokens(path, answerOf(r, plan), prices) ?? 0), 0) / Math.max(1, done.length);
  return {
    path,
    streams: f.streams,
    completed: f.completed,
    errors: f.errors,
    outputTokens: f.outputTokens,
    textMatches: f.textMatches,
    ttftMs: pick(runs.filter((r) => r.chunks.length).map((r) => Math.min(...r.chunks.map((c) => c.receivedAt)) - r.sentAt)),
    latencyMs: { p50: round(f.latencyMs.p50, 1), p99: round(f.latencyMs.p99, 1) },
    eventsPerAnswer: round(eventsPerAnswer, 1),
    eventsPerStreamSecond: round(eventsPerStreamSecond, 2),
    requestsPer1kTokens: round(f.outputTokens > 0 ? (requests * 1000) / f.outputTokens : Number.NaN, 1),
    costPerMillionTokensUsd: round(cost, 4),
    capacity: capacityOf(path, eventsPerStreamSecond, stack, prices),
  };
}

/** What one answer produced, as the estimate prices it: its events, tokens, time on the wire and response bytes. */
function answerOf(r: StreamRun, plan: TransportPlan) {
  const last = Math.max(...r.chunks.map((c) => c.receivedAt));
  return { tokenEvents: r.payloadBytes.length - 1, outputTokens: plan.tokens, durationMs: last - r.sentAt, responseBytes: r.payloadBytes.reduce((a, b) => a + b + 1, 0) };
}

/** Every path on one stack with every transport, one after the other (they share the model and the machine). */
export async function benchTransports(plan: TransportPlan, prices: PriceTable, log: (s: string) => void): Promise<TransportResults> {
  const stack = await startLocalStack({
    configOverrides: { transports: ["appsync", "function_url", "websocket"], client_delivery_choice: true, function_url: { reserved_concurrency: Math.max(10, plan.streams) } },
    bedrock: { firstTokenMs: plan.firstTokenMs, tokensPerSecond: plan.tokensPerSecond },
    writeClientConfig: false,
    retryDelaySeconds: 1,
  });
  try {
    const paths: TransportFigures[] = [];
    for (const path of COMPARED_PATHS) {
      // Warm-up (not measured): JIT, connections, lazy module paths.
      await streamsOn(stack, path, { count: 2, tokens: 10, tag: `tr-${path}-warm`, deadlineMs: plan.streamDeadlineMs });
      stack.bedrock.log.requests.length = 0;
      const runs = await streamsOn(stack, path, { count: plan.streams, tokens: plan.tokens, tag: `tr-${path}`, deadlineMs: plan.streamDeadlineMs });
      const f = figuresOf(stack, path, runs, plan, prices);
      log(`  ${path}: ${f.completed}/${f.streams} streams, TTFT p50 ${f.ttftMs.p50} ms, latency p50 ${f.latencyMs.p50} / p99 ${f.latencyMs.p99} ms, $${f.costPerMillionTokensUsd} per 1M tokens`);
      paths.push(f);
    }
    return { plan, batching: `${stack.config.batching.mode}, max_delay_ms ${stack.config.batching.max_delay_ms}`, paths };
  } finally {
    await stack.stop();
  }
}
