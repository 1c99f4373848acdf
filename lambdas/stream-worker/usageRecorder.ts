/**
 * One run's part in the per-user limits and usage (lambdas/shared/usageTable.ts): it refreshes the message's
 * generation slot when the run starts (so a crashed run's slot lapses the Lambda timeout plus a margin after that),
 * and when the message ends it adds the message to the day's usage row for the model and releases the slot, both
 * before the final or error event goes out, so a client that sees the end can send again at once and the daily quota
 * already counts the answer. Failures are counted (`USAGE_WRITE_FAILED`) and logged, never thrown: the answer still
 * reaches the user; an unreleased slot lapses on its own.
 */
import { costNanoUsd } from "../../contracts/modelPrices";
import type { Usage } from "../../contracts/streamEvents";
import { usageDay } from "../../contracts/usage";
import type { WorkRequest } from "../../contracts/workRequest";
import type { RuntimeLogger, RuntimeMetrics } from "../shared/telemetry";
import { slotKeyOf, type UsageTable } from "../shared/usageTable";

export interface UsageRecorderOptions {
  table: UsageTable;
  request: WorkRequest;
  /** The slot's lifetime from a refresh (GENERATION_SLOT_SECONDS). */
  slotSeconds: number;
  logger: RuntimeLogger;
  metrics: RuntimeMetrics;
  now: () => number;
}

/** The slot send-query claimed for this message. */
const slotKey = (r: WorkRequest) => slotKeyOf(r.sessionId, r.messageId);

export class UsageRecorder {
  constructor(private readonly options: UsageRecorderOptions) {}

  /** The run starts: the slot lives GENERATION_SLOT_SECONDS from now. */
  async refresh(): Promise<void> {
    const { table, request, slotSeconds, now } = this.options;
    await this.guard("slot refresh", () => table.refreshSlot(request.userId, slotKey(request), now() + slotSeconds * 1000));
  }

  /** The message ended (any way): its usage is added, its slot released, at once. */
  async settle(usage: Usage, guardrailIntervened: boolean): Promise<void> {
    const { table, request, now, metrics } = this.options;
    metrics.countModelTokens(request.modelId, usage);
    const add = { ...usage, costNanoUsd: costNanoUsd(request.modelId, usage), guardrailIntervened };
    const at = now();
    await Promise.all([
      this.guard("usage", () => table.addUsage(request.userId, usageDay(at), request.modelId, add, at)),
      this.release(),
    ]);
  }

  /** Frees the slot (also for a message that had already ended). */
  async release(): Promise<void> {
    const { table, request } = this.options;
    await this.guard("slot release", () => table.releaseSlot(request.userId, slotKey(request)));
  }

  private async guard(what: string, write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } catch (error) {
      this.options.metrics.countError("USAGE_WRITE_FAILED");
      this.options.logger.error(`usage table write failed (${what}); the answer is unaffected`, { sessionId: this.options.request.sessionId, messageId: this.options.request.messageId, error });
    }
  }
}
