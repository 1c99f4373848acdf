/**
 * The latency the per-user limit checks add to sendQuery, on the local stack (dynalite and fauxqs in this process):
 * sendQuery runs in process with and without its limits, alternating, each sample a request of its own (users
 * taken in turn, each with usage rows of today and a slots item, as a returning user has), and the admission step
 * alone (lambdas/send-query/admission.ts: one Query of today's rows and the slots, one conditional UpdateItem) is
 * timed apart. Each admitted slot is released again between samples, outside the timing. The work queue's poller is
 * stopped first, so no generation competes with the measurement. Bounded in count and time like every bench loop.
 */
import { performance } from "node:perf_hooks";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { usageDay } from "../contracts/usage";
import { admitGeneration, type AdmissionSettings } from "../lambdas/send-query/admission";
import { sendQuery, type SendQueryDeps } from "../lambdas/send-query/sendQuery";
import { MessageStore } from "../lambdas/shared/messageStore";
import { slotKeyOf, UsageTable } from "../lambdas/shared/usageTable";
import { startLocalStack, type LocalStack } from "../local/stack";
import { round, summarize } from "./stats";

export interface LimitChecksPlan {
  /** Samples of each kind: sendQuery with limits, without, and the admission alone. */
  samples: number;
  /** Distinct users the samples take in turn. */
  users: number;
  /** Give up at this time (epoch ms): fewer samples are reported rather than a late bench. */
  deadlineAt: number;
}

type Percentiles = { p50: number; p99: number };

export interface LimitChecksResults {
  samples: number;
  /** sendQuery in process (validation, record, publish to fauxqs), ms. */
  sendQueryMs: { withLimits: Percentiles; withoutLimits: Percentiles };
  /** withLimits minus withoutLimits, per percentile. */
  addedMs: Percentiles;
  /** The admission alone: one Query and one conditional UpdateItem against dynalite. */
  admissionMs: Percentiles;
  /** DynamoDB requests the checks add to one sendQuery. */
  dynamoRequestsAdded: number;
}

const pick = (values: number[]): Percentiles => {
  const s = summarize(values);
  return { p50: round(s.p50, 2), p99: round(s.p99, 2) };
};

/** Starts a local stack of its own, measures, stops it. */
export async function benchLimitChecksOnLocalStack(plan: LimitChecksPlan): Promise<LimitChecksResults> {
  const stack = await startLocalStack({ writeClientConfig: false });
  try {
    await stack.pollers.work.stop();
    return await benchLimitChecks(stack, plan);
  } finally {
    await stack.stop();
  }
}

/** The measurement on a running stack (whose work poller is stopped). */
export async function benchLimitChecks(stack: LocalStack, plan: LimitChecksPlan): Promise<LimitChecksResults> {
  const c = stack.config;
  const doc = DynamoDBDocumentClient.from(stack.dynamo.client);
  const table = new UsageTable({ doc, tableName: stack.dynamo.tables.usage });
  const limits: AdmissionSettings = { maxConcurrentGenerations: c.limits.max_concurrent_generations_per_user, dailyOutputTokens: c.limits.daily_output_tokens_per_user, maxTokens: c.generation.max_tokens, generationSlotSeconds: c.lambda.timeout_seconds + 30 };
  const deps: SendQueryDeps = {
    sns: stack.messaging.clients.sns,
    settings: { inboundTopicArn: stack.messaging.topics.inboundArn, maxPromptChars: c.generation.max_prompt_chars, defaultModelId: c.models.default_model_id, allowedModelIds: c.models.allowed_model_ids, clientDeliveryChoice: c.client_delivery_choice },
    messages: new MessageStore({ doc, tableName: stack.dynamo.tables.messages, ttlDays: c.history.ttl_days }),
  };
  const users = Array.from({ length: plan.users }, (_, i) => `bench-limits-user-${i}`);
  await Promise.all(users.map((u) => table.addUsage(u, usageDay(Date.now()), c.models.default_model_id, { inputTokens: 50, outputTokens: 100, costNanoUsd: 0, guardrailIntervened: false }, Date.now())));
  const timed = { with: [] as number[], without: [] as number[], admission: [] as number[] };
  for (let i = 0; i < plan.samples && Date.now() < plan.deadlineAt; i++) {
    const user = users[i % users.length]!;
    const event = (tag: string) => ({ arguments: { input: { sessionId: "bench-limits-session", messageId: `bench-${tag}-${i}-${Date.now()}`, prompt: "limits" } }, identity: { sub: user }, requestId: `bench-${tag}-${i}` });
    const withLimits = { ...deps, limits: { table, settings: limits } };
    // Alternating order, so neither variant always runs on a warmer connection.
    for (const variant of i % 2 ? (["with", "without"] as const) : (["without", "with"] as const)) {
      const e = event(variant);
      const t0 = performance.now();
      const result = await sendQuery(e, variant === "with" ? withLimits : deps);
      timed[variant].push(performance.now() - t0);
      if (!("messageId" in result)) throw new Error(`bench sendQuery refused: ${result.error.message}`);
      if (variant === "with") await table.releaseSlot(user, slotKeyOf("bench-limits-session", result.messageId));
    }
    const t0 = performance.now();
    const admitted = await admitGeneration(table, { userId: user, slotKey: `bench-admission/${i}`, requestId: `bench-admission-${i}` }, limits);
    timed.admission.push(performance.now() - t0);
    if (admitted.admitted) await table.releaseSlot(user, admitted.slot.key, admitted.slot.expiresAt);
  }
  const [withLimits, withoutLimits] = [pick(timed.with), pick(timed.without)];
  return {
    samples: timed.with.length,
    sendQueryMs: { withLimits, withoutLimits },
    addedMs: { p50: round(withLimits.p50 - withoutLimits.p50, 2), p99: round(withLimits.p99 - withoutLimits.p99, 2) },
    admissionMs: pick(timed.admission),
    dynamoRequestsAdded: 2,
  };
}

/** The BENCHMARKS.md section (bench/report.ts). */
export function limitChecksSection(l: LimitChecksResults): string[] {
  const ms = (p: Percentiles) => `p50 ${p.p50} ms, p99 ${p.p99} ms`;
  return [
    "## Limit checks on sendQuery",
    "",
    "| figure | value |",
    "| --- | --- |",
    `| sendQuery with the limit checks (${l.samples} samples) | ${ms(l.sendQueryMs.withLimits)} |`,
    `| sendQuery without them | ${ms(l.sendQueryMs.withoutLimits)} |`,
    `| **added by the checks** | **${ms(l.addedMs)}** |`,
    `| the admission alone (${l.dynamoRequestsAdded} DynamoDB requests: one Query, one conditional UpdateItem) | ${ms(l.admissionMs)} |`,
    "",
    "In process against the local stack's dynalite and fauxqs (no network), alternating with and without the checks, each sample a request of its own; the added figure is the difference of the two percentiles, so at p99 it carries both runs' noise. On AWS each of the two DynamoDB requests is a single-digit-millisecond round trip inside the region, which this local figure does not include.",
    "",
  ];
}
