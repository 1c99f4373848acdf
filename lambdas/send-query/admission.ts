/**
 * Admission of one generation: the per-user limits sendQuery checks before it writes a record or publishes anything.
 * One Query reads the day's output tokens and the user's slots (lambdas/shared/usageTable.ts), one conditional update
 * claims a slot; on a lost race it reads again (a few times at most).
 *
 * - One generation per AppSync request: the slots item remembers the request id of the last claim; another field of the
 *   same request (aliases: AppSync runs a mutation's fields one after the other) is refused.
 * - Concurrency: at most `maxConcurrentGenerations` live slots; lapsed ones (a crashed worker's) are dropped on the way.
 * - Daily quota: admitted while the day's output tokens plus one full answer (`maxTokens`) per generation in flight stay
 *   under `dailyOutputTokens`, so however many run at once, the day ends at most one answer over the quota. The quota
 *   resets at midnight UTC, which the refusal names.
 */
import type { RuntimeSettings } from "../../contracts/runtimeSettings";
import { quotaResetsAt, usageDay, type LimitName } from "../../contracts/usage";
import type { SlotClaim, UsageTable, UserLimitsState } from "../shared/usageTable";

export type AdmissionSettings = Pick<RuntimeSettings, "maxConcurrentGenerations" | "dailyOutputTokens" | "maxTokens" | "generationSlotSeconds">;

/** What is asked for: a slot for one message of one user, in one AppSync request. */
export interface AdmissionRequest {
  userId: string;
  /** `<sessionId>/<messageId>` (usageTable.ts slotKeyOf). */
  slotKey: string;
  /** AppSync's request id (absent: the one-per-request check is skipped, AppSync's resolver count limit still holds). */
  requestId?: string;
}

/** Why a request was refused: a limit, or a message id still in flight (reported as the ValidationError of a reused id). */
export interface Refusal {
  limit: LimitName | "reused";
  message: string;
  /** The quota's reset, for `quota`. */
  resetsAt?: string;
}

export type Admission = { admitted: true; slot: { key: string; expiresAt: number } } | { admitted: false; refusal: Refusal };

/** Claims lost to concurrent writes before the request is refused as too busy. */
const MAX_ATTEMPTS = 4;

/** Reads the user's state and claims a slot, or says which limit refuses the request. */
export async function admitGeneration(table: UsageTable, request: AdmissionRequest, settings: AdmissionSettings, now: () => number = Date.now): Promise<Admission> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const at = now();
    const state = await table.readToday(request.userId, usageDay(at));
    const refusal = refusalOf(state, request, settings, at);
    if (refusal) return { admitted: false, refusal };
    const claim = claimFor(state, request, settings, at);
    if (await table.claimSlot(request.userId, claim)) return { admitted: true, slot: { key: claim.slotKey, expiresAt: claim.expiresAt } };
  }
  return { admitted: false, refusal: { limit: "concurrency", message: "Too many requests from this user at once; try again in a moment." } };
}

/** The entries of the slots item that have not lapsed at `at`. */
function liveSlots(state: UserLimitsState, at: number): string[] {
  return Object.entries(state.slots ?? {})
    .filter(([, expiresAt]) => expiresAt > at)
    .map(([key]) => key);
}

/** The first limit the request breaks, in the order a user can act on: this request, the id, concurrency, quota. */
export function refusalOf(state: UserLimitsState, request: AdmissionRequest, settings: AdmissionSettings, at: number): Refusal | undefined {
  if (request.requestId !== undefined && state.lastRequestId === request.requestId) {
    return { limit: "request", message: "This request already started a generation: one sendQuery per request (send the others as requests of their own)." };
  }
  const live = liveSlots(state, at);
  if (live.includes(request.slotKey)) return { limit: "reused", message: "" };
  if (live.length >= settings.maxConcurrentGenerations) {
    return { limit: "concurrency", message: `${live.length} of your answers are still being generated, the most this environment allows at once (${settings.maxConcurrentGenerations}); wait for one to finish, or stop one.` };
  }
  const committed = state.outputTokensToday + live.length * settings.maxTokens;
  if (committed < settings.dailyOutputTokens) return undefined;
  const resetsAt = quotaResetsAt(at);
  const used = `${state.outputTokensToday} of ${settings.dailyOutputTokens} output tokens used today (UTC)`;
  const message =
    state.outputTokensToday >= settings.dailyOutputTokens
      ? `Daily quota reached: ${used}. It resets at ${resetsAt}.`
      : `Daily quota nearly reached: ${used}, and ${live.length} answer(s) in progress may use up to ${settings.maxTokens} each; try again when one ends. The quota resets at ${resetsAt}.`;
  return { limit: "quota", message, resetsAt };
}

/** The write that claims the slot: it drops the lapsed entries it read, so the limit counts live ones only. */
function claimFor(state: UserLimitsState, request: AdmissionRequest, settings: AdmissionSettings, at: number): SlotClaim {
  const lapsed = Object.entries(state.slots ?? {}).filter(([, expiresAt]) => expiresAt <= at);
  // A lapsed entry under the request's own key is overwritten, not dropped (one write cannot set and remove a path).
  const replaces = lapsed.find(([key]) => key === request.slotKey)?.[1];
  const drop = Object.fromEntries(lapsed.filter(([key]) => key !== request.slotKey));
  return {
    slotKey: request.slotKey,
    expiresAt: at + settings.generationSlotSeconds * 1000,
    requestId: request.requestId,
    drop,
    replaces,
    maxEntriesBefore: settings.maxConcurrentGenerations + Object.keys(drop).length + (replaces === undefined ? 0 : 1),
    create: state.slots === undefined,
  };
}
