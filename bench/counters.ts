/**
 * AWS request counters for a window of bench traffic, read from the local stand-ins' own counters where they
 * exist and counted where they do not:
 * - AppSync mutations and real-time deliveries: the gateway's stats (`mutationsByField`, `deliveries`).
 * - Lambda invocations and durations: the event-source pollers' stats and batch outcomes; sendQuery runs once per
 *   request (its mutation count); on the async ingress, the worker's Event invocations from the local async invoker's
 *   stats (every attempt, retries included, as Lambda bills each attempt as a request).
 * - SQS requests made by the Lambda service's pollers (receive, delete, change visibility): a middleware on the
 *   pollers' SQS client counts every call, empty receives apart.
 * - SNS publishes: one per message landing in a queue (raw delivery, one subscription per topic, and the bench
 *   checks that no record failed or was retried), each also an SQS send made by SNS.
 */
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { LocalStack } from "../local/stack";

export interface SqsCallCounts {
  receiveWithMessages: number;
  receiveEmpty: number;
  deleteBatch: number;
  changeVisibility: number;
  other: number;
  /** Of the calls above, those on the work queue other than empty receives (the queued ingress's share). */
  workQueue: number;
}

export interface CounterSnapshot {
  publishResponse: number;
  sendQuery: number;
  deliveries: number;
  workInvocations: number;
  workRecords: number;
  outboundInvocations: number;
  outboundRecords: number;
  failedRecords: number;
  handlerErrors: number;
  workDurationMs: number;
  outboundDurationMs: number;
  /** The async ingress: the worker's attempts run by the local async invoker (0 on the queued ingress), and their duration. */
  asyncInvocations: number;
  asyncDurationMs: number;
  sqs: SqsCallCounts;
}

export type CounterDelta = CounterSnapshot;

export interface StackCounters {
  snapshot(): CounterSnapshot;
  /** Every invocation started so far has finished, deletes and listeners included. */
  settled(): boolean;
  detach(): void;
}

function countSqsCalls(client: SQSClient, counts: SqsCallCounts, workQueueUrl: string): () => void {
  const name = "benchSqsCallCounter";
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      const command = context.commandName ?? "";
      const onWorkQueue = (args.input as { QueueUrl?: string }).QueueUrl === workQueueUrl;
      if (command === "ReceiveMessageCommand") {
        const messages = (result.output as { Messages?: unknown[] }).Messages ?? [];
        if (messages.length) counts.receiveWithMessages++;
        else counts.receiveEmpty++;
        if (messages.length && onWorkQueue) counts.workQueue++;
        return result;
      }
      const kind = command === "DeleteMessageBatchCommand" || command === "DeleteMessageCommand" ? "deleteBatch" : command.startsWith("ChangeMessageVisibility") ? "changeVisibility" : "other";
      counts[kind]++;
      if (kind !== "other" && onWorkQueue) counts.workQueue++;
      return result;
    },
    { step: "initialize", name, override: true },
  );
  return () => void client.middlewareStack.remove(name);
}

export function attachCounters(stack: LocalStack): StackCounters {
  const sqs: SqsCallCounts = { receiveWithMessages: 0, receiveEmpty: 0, deleteBatch: 0, changeVisibility: 0, other: 0, workQueue: 0 };
  const durations = { work: 0, outbound: 0 };
  // Invocations already counted when attached must not be waited for (their outcomes went to no listener here).
  const finished = { work: stack.pollers.work.stats.invocations, outbound: stack.pollers.outbound.stats.invocations };
  const detachSqs = countSqsCalls(stack.messaging.clients.sqs, sqs, stack.messaging.queues.work.url);
  const offWork = stack.pollers.work.onBatch((b) => {
    durations.work += b.durationMs;
    finished.work++;
  });
  const offOutbound = stack.pollers.outbound.onBatch((b) => {
    durations.outbound += b.durationMs;
    finished.outbound++;
  });
  return {
    settled: () =>
      finished.work >= stack.pollers.work.stats.invocations &&
      finished.outbound >= stack.pollers.outbound.stats.invocations &&
      (stack.asyncInvoker ? stack.asyncInvoker.stats.finishedAttempts >= stack.asyncInvoker.stats.attempts : true),
    snapshot: () => {
      const g = stack.gateway.stats;
      const w = stack.pollers.work.stats;
      const out = stack.pollers.outbound.stats;
      return {
        publishResponse: g.mutationsByField.publishResponse ?? 0,
        sendQuery: g.mutationsByField.sendQuery ?? 0,
        deliveries: g.deliveries,
        workInvocations: w.invocations,
        workRecords: w.records,
        outboundInvocations: out.invocations,
        outboundRecords: out.records,
        failedRecords: w.failedRecords + out.failedRecords,
        handlerErrors: w.handlerErrors + out.handlerErrors,
        workDurationMs: durations.work,
        outboundDurationMs: durations.outbound,
        asyncInvocations: stack.asyncInvoker?.stats.attempts ?? 0,
        asyncDurationMs: stack.asyncInvoker?.stats.attemptDurationMs ?? 0,
        sqs: { ...sqs },
      };
    },
    detach: () => {
      detachSqs();
      offWork();
      offOutbound();
    },
  };
}

export function diffCounters(before: CounterSnapshot, after: CounterSnapshot): CounterDelta {
  const out = {} as Record<string, unknown>;
  for (const key of Object.keys(after) as (keyof CounterSnapshot)[]) {
    if (key === "sqs") {
      const s = {} as Record<string, number>;
      for (const k of Object.keys(after.sqs) as (keyof SqsCallCounts)[]) s[k] = after.sqs[k] - before.sqs[k];
      out.sqs = s;
    } else out[key] = (after[key] as number) - (before[key] as number);
  }
  return out as unknown as CounterDelta;
}

/** AWS requests a window caused, by service. SQS sends are the SNS fan-out (one per queued message). */
export interface AwsRequests {
  appsyncMutations: number;
  appsyncPublishResponse: number;
  appsyncRealtimeUpdates: number;
  snsPublishes: number;
  sqsRequests: number;
  sqsSends: number;
  sqsEmptyReceives: number;
  /** sendQuery, the stream worker (from its queue, or Event invocations on the async ingress) and the relay. */
  lambdaInvocations: number;
  /** Of lambdaInvocations: the worker's Event invocations on the async ingress (priced as any Lambda request). */
  lambdaAsyncInvocations: number;
  /** Stream-worker GB-seconds: mostly waiting on the model, alike in every mode. */
  workerGbSeconds: number;
  /** Outbound-relay GB-seconds (queued delivery only). */
  relayGbSeconds: number;
}

export function awsRequests(d: CounterDelta, realtimeUpdates: number, memoryMb: number): AwsRequests {
  const snsPublishes = d.workRecords + d.outboundRecords;
  const sqsSends = snsPublishes;
  return {
    appsyncMutations: d.publishResponse + d.sendQuery,
    appsyncPublishResponse: d.publishResponse,
    appsyncRealtimeUpdates: realtimeUpdates,
    snsPublishes,
    sqsSends,
    sqsRequests: sqsSends + d.sqs.receiveWithMessages + d.sqs.deleteBatch + d.sqs.changeVisibility,
    sqsEmptyReceives: d.sqs.receiveEmpty,
    lambdaInvocations: d.workInvocations + d.asyncInvocations + d.outboundInvocations + d.sendQuery,
    lambdaAsyncInvocations: d.asyncInvocations,
    workerGbSeconds: ((d.workDurationMs + d.asyncDurationMs) / 1000) * (memoryMb / 1024),
    relayGbSeconds: (d.outboundDurationMs / 1000) * (memoryMb / 1024),
  };
}
