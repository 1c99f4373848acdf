/**
 * Stop and replay on the local stack: how long a stopGeneration takes to cancel the model stream (the Bedrock
 * stand-in records when its stream was reset), and what the durable message record costs in DynamoDB: the writes a
 * message makes (read back from the table: each event item written once, the state item three times), the read
 * units of one whole-message replay, and the stop flag's polling, priced per 1,000 output tokens and per stream-hour.
 * Bounded in count and time like every bench loop.
 */
import { randomBytes } from "node:crypto";
import { ScanCommand } from "@aws-sdk/client-dynamodb";
import WebSocket from "ws";
import { graphqlRequest } from "../client/graphql";
import type { WebSocketConstructor } from "../client/realtime";
import { SessionStream } from "../client/sessionStream";
import { MESSAGE_QUERY, SEND_QUERY_MUTATION, STOP_GENERATION_MUTATION } from "../contracts/graphqlOperations";
import { STOP_POLL_INTERVAL_MS } from "../lambdas/stream-worker/stopWatch";
import { startLocalStack, type LocalStack } from "../local/stack";
import type { PriceTable } from "./cost";
import type { TargetResult } from "./targets";
import { summarize } from "./stats";

export interface LifecyclePlan {
  /** Messages stopped after their first chunks. */
  stops: number;
  /** Messages run to the end and replayed. */
  replays: number;
  /** Answer length in stand-in tokens. */
  tokens: number;
  /** Give up on the whole measurement at this time (epoch ms). */
  deadlineAt: number;
}

export interface LifecycleResults {
  /** stopGeneration sent -> model stream cancelled at the stand-in, ms. */
  stop: { samples: number; p50Ms: number; p99Ms: number; maxMs: number };
  replay: {
    messages: number;
    outputTokens: number;
    /** DynamoDB write request units the records took (1 per KB per item write). */
    writeUnits: number;
    writeUnitsPer1kTokens: number;
    /** Read request units of one strongly consistent replay of a whole message (Query.message), on average. */
    readUnitsPerReplay: number;
    /** The stop flag's polls while a message streams (strongly consistent GetItem of a small item: 1 unit each). */
    readUnitsPerStreamSecond: number;
    costPer1kTokensUsd: number;
    stopPollCostPerStreamHourUsd: number;
  };
}

type Gql = <T>(document: string, variables: Record<string, unknown>) => Promise<T>;

/** Runs the measurement on a local stack of its own (shipped batching), at the bench's model pace. */
export async function benchLifecycleOnLocalStack(plan: LifecyclePlan, pace: { firstTokenMs: number; tokensPerSecond: number }, prices: PriceTable): Promise<LifecycleResults> {
  const stack = await startLocalStack({ bedrock: pace, writeClientConfig: false, retryDelaySeconds: 1 });
  try {
    return await benchLifecycle(stack, plan, prices);
  } finally {
    await stack.stop();
  }
}

export async function benchLifecycle(stack: LocalStack, plan: LifecyclePlan, prices: PriceTable): Promise<LifecycleResults> {
  const token = await stack.issuer.mintIdToken("bench-lifecycle");
  const gql: Gql = async (document, variables) => {
    const res = await graphqlRequest(stack.endpoints.graphqlUrl, document, variables, { authorization: token });
    if (res.errors) throw new Error(`${res.errors[0]?.errorType}: ${res.errors[0]?.message}`);
    return res.data as never;
  };
  const stops = await measureStops(stack, token, gql, plan);
  const replay = await measureRecords(stack, token, gql, plan, prices);
  const s = summarize(stops);
  return { stop: { samples: s.count, p50Ms: s.p50, p99Ms: s.p99, maxMs: s.max }, replay };
}

/** Sends each message, stops it once two chunks arrived, and reads from the stand-in when its stream was cancelled. */
async function measureStops(stack: LocalStack, token: string, gql: Gql, plan: LifecyclePlan): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < plan.stops && Date.now() < plan.deadlineAt; i++) {
    const { stream, sessionId, messageId, prompt } = await openOne(stack, token, `stop-${i}`, plan.tokens);
    try {
      const tracked = stream.track(messageId);
      await gql(SEND_QUERY_MUTATION, { input: { sessionId, messageId, prompt } });
      await until(() => tracked.assembler.chunkCount >= 2, plan.deadlineAt);
      const stoppedAt = Date.now();
      await gql(STOP_GENERATION_MUTATION, { sessionId, messageId });
      await tracked.ended;
      const request = stack.bedrock.log.requests.find((r) => r.prompt === prompt);
      if (request?.abortedAt !== undefined) latencies.push(request.abortedAt - stoppedAt);
    } finally {
      stream.close();
    }
  }
  return latencies;
}

/** Runs messages to the end, then reads their records back: write units from the items, read units of a replay. */
async function measureRecords(stack: LocalStack, token: string, gql: Gql, plan: LifecyclePlan, prices: PriceTable): Promise<LifecycleResults["replay"]> {
  let outputTokens = 0;
  let replayBytes = 0;
  const messageIds: string[] = [];
  for (let i = 0; i < plan.replays && Date.now() < plan.deadlineAt; i++) {
    const { stream, sessionId, messageId, prompt } = await openOne(stack, token, `replay-${i}`, plan.tokens);
    try {
      const tracked = stream.track(messageId);
      await gql(SEND_QUERY_MUTATION, { input: { sessionId, messageId, prompt } });
      await tracked.ended;
      outputTokens += tracked.assembler.final?.usage.outputTokens ?? 0;
      const state = await gql<{ message: { events: string[] } }>(MESSAGE_QUERY, { sessionId, messageId });
      replayBytes += state.message.events.reduce((n, e) => n + Buffer.byteLength(e), 0);
      messageIds.push(messageId);
    } finally {
      stream.close();
    }
  }
  const writeUnits = await recordWriteUnits(stack, messageIds);
  const readUnitsPerStreamSecond = 1000 / STOP_POLL_INTERVAL_MS;
  const { writeRequestPerMillion, readRequestPerMillion } = prices.dynamodb;
  const writeUnitsPer1kTokens = outputTokens ? (writeUnits / outputTokens) * 1000 : 0;
  return {
    messages: messageIds.length,
    outputTokens,
    writeUnits,
    writeUnitsPer1kTokens,
    readUnitsPerReplay: messageIds.length ? Math.ceil(replayBytes / messageIds.length / 4096) : 0,
    readUnitsPerStreamSecond,
    costPer1kTokensUsd: (writeUnitsPer1kTokens * writeRequestPerMillion) / 1e6,
    stopPollCostPerStreamHourUsd: (readUnitsPerStreamSecond * 3600 * readRequestPerMillion) / 1e6,
  };
}

/**
 * The write units the messages' records took, from the items in the table: every token item is written once
 * (ceil(size / 1 KB) units); the state item three times (created by sendQuery, started by the worker, each small, and
 * ended with the final event, at its full size).
 */
async function recordWriteUnits(stack: LocalStack, messageIds: string[]): Promise<number> {
  const table = stack.dynamo.tables.messages;
  const wanted = new Set(messageIds.map((id) => `#MESSAGE#${id}`));
  let units = 0;
  let startKey: Record<string, never> | undefined;
  do {
    const page = await stack.dynamo.client.send(new ScanCommand({ TableName: table, ExclusiveStartKey: startKey }));
    for (const item of page.Items ?? []) {
      const pk = item.pk?.S ?? "";
      if (![...wanted].some((w) => pk.endsWith(w))) continue;
      const size = Buffer.byteLength(JSON.stringify(item));
      units += item.sk?.S === "S" ? 2 + Math.ceil(size / 1024) : Math.ceil(size / 1024);
    }
    startKey = page.LastEvaluatedKey as Record<string, never> | undefined;
  } while (startKey);
  return units;
}

async function openOne(stack: LocalStack, token: string, tag: string, tokens: number) {
  const id = `${tag}-${randomBytes(4).toString("hex")}`;
  const stream = await SessionStream.open({
    realtimeUrl: stack.endpoints.realtimeUrl,
    graphqlUrl: stack.endpoints.graphqlUrl,
    sessionId: `bench-life-${id}`,
    token: async () => token,
    WebSocketImpl: WebSocket as unknown as WebSocketConstructor,
    request: graphqlRequest,
  });
  return { stream, sessionId: stream.sessionId, messageId: `msg-${id}`, prompt: `Lifecycle bench ${id} [[length:${tokens}]]` };
}

/** Polls a condition every 10 ms until it holds; throws at the deadline. */
async function until(check: () => boolean, deadlineAt: number): Promise<void> {
  while (!check()) {
    if (Date.now() > deadlineAt) throw new Error("lifecycle bench: deadline passed");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The stop target: stopGeneration reaches the model within 1 s at p99, measured locally. */
export function lifecycleTargets(l: LifecycleResults): TargetResult[] {
  const met = l.stop.samples > 0 && l.stop.p99Ms <= 1000;
  return [
    {
      target: "stopGeneration cancels the model stream within 1 s (p99, local)",
      measured: `p99 ${Math.round(l.stop.p99Ms)} ms over ${l.stop.samples} stops (max ${Math.round(l.stop.maxMs)} ms)`,
      status: met ? "PASS" : "MISS",
      reason: met ? undefined : "the worker polls the stop flag every 500 ms; on a loaded machine a poll, the abort and the stand-in's reset can take longer",
    },
  ];
}
