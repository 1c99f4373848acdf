/**
 * Per-user usage and limits as the API returns them: `Query.myUsage` rows (graphql/schema.graphql `UsageRow`), the
 * `LimitExceeded` error sendQuery answers past a limit, and the UTC day both count in. Pure: the web page bundles it.
 */

/** The errorType of a sendQuery refused by a limit (one generation per request, concurrency, daily quota). */
export const LIMIT_EXCEEDED = "LimitExceeded";

/** Which limit refused a sendQuery: in the error's `errorInfo.limit`, beside `resetsAt` for the quota. */
export type LimitName = "request" | "concurrency" | "quota";

export interface LimitExceededInfo {
  limit: LimitName;
  /** The quota's reset (next midnight UTC, ISO 8601); only for `quota`. */
  resetsAt?: string;
}

/** One user's usage of one model on one UTC day. */
export interface UsageRow {
  /** yyyy-mm-dd, UTC. */
  day: string;
  modelId: string;
  /** Messages that ended (completed, stopped, failed) that day. */
  messages: number;
  inputTokens: number;
  outputTokens: number;
  /** Messages a guardrail ended (stopReason guardrail_intervened). */
  guardrailInterventions: number;
  /** Estimated from contracts/modelPrices.ts when the message ended. */
  costUsd: number;
}

const DAY_MS = 86_400_000;

/** The UTC day of a time: usage counts in the day a message ends, the quota in the day a request arrives. */
export function usageDay(at: Date | number): string {
  return new Date(at).toISOString().slice(0, 10);
}

/** The day `days` after `day` (negative: before). */
export function addDays(day: string, days: number): string {
  return usageDay(Date.parse(`${day}T00:00:00.000Z`) + days * DAY_MS);
}

/** When the daily quota of the day of `at` resets: the next midnight UTC, ISO 8601. */
export function quotaResetsAt(at: Date | number): string {
  return `${addDays(usageDay(at), 1)}T00:00:00.000Z`;
}

/** yyyy-mm-dd, or an AWSDate with a time zone offset (`2026-11-23Z`, `2026-11-23+05:30`), of which the date counts. */
export const AWS_DATE_PATTERN = /^(\d{4}-\d{2}-\d{2})(Z|[+-]\d{2}:\d{2}(:\d{2})?)?$/;

/** The date part of an AWSDate, when it is a real calendar date; undefined otherwise. */
export function dayOf(awsDate: string): string | undefined {
  const day = AWS_DATE_PATTERN.exec(awsDate)?.[1];
  return day && !Number.isNaN(Date.parse(`${day}T00:00:00.000Z`)) && usageDay(Date.parse(`${day}T00:00:00.000Z`)) === day ? day : undefined;
}
