/** What became of one query, counted the same on every transport (AppSync, Function URL, WebSocket). */
import { LIMIT_EXCEEDED, type LimitExceededInfo, type LimitName } from "../../contracts/usage";
import type { RuntimeMetrics } from "../shared/telemetry";

/** The count of each limit's refusals, beside RejectedQueries (every refusal). */
const LIMIT_METRICS: Record<LimitName, string> = { quota: "QuotaRejected", concurrency: "ConcurrencyRejected", request: "RequestLimitRejected" };

/** `QueriesAccepted` without a refusal; otherwise `RejectedQueries`, plus the refusing limit's own count. */
export function countQueryOutcome(metrics: Pick<RuntimeMetrics, "addMetric">, refusal?: { type: string; info?: LimitExceededInfo }): void {
  if (!refusal) {
    metrics.addMetric("QueriesAccepted", "Count", 1);
    return;
  }
  metrics.addMetric("RejectedQueries", "Count", 1);
  if (refusal.type === LIMIT_EXCEEDED && refusal.info) metrics.addMetric(LIMIT_METRICS[refusal.info.limit], "Count", 1);
}
