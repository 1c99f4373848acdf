/**
 * message-control, the caller's own records: `Query.message` (the durable record of a message, for replay),
 * `Mutation.stopGeneration` (flags a message for the worker to stop) and `Query.myUsage` (usage per day and model).
 * The user id is always the verified identity's sub, so another user's message is indistinguishable from one that does
 * not exist, and another user's usage is never read.
 */
import { z } from "zod";
import { ID_PATTERN } from "../../contracts/ids";
import type { MessageState, StopGenerationResult } from "../../contracts/messageState";
import { addDays, dayOf, usageDay, type UsageRow } from "../../contracts/usage";
import type { MessageRef, MessageStore } from "../shared/messageStore";
import type { UsageTable } from "../shared/usageTable";

/** The AppSync Lambda resolver payload built by graphql/resolvers/messageControl.js. */
export interface MessageControlEvent {
  field?: string;
  arguments?: { sessionId?: unknown; messageId?: unknown; afterSequence?: unknown; from?: unknown; to?: unknown };
  identity?: { sub?: string } | null;
}

export type MessageControlResult = MessageState | StopGenerationResult | UsageRow[] | null | { error: { message: string; type: string } };

export interface MessageControlDeps {
  messages: MessageStore;
  usage: UsageTable;
  /** Clock (ms), for myUsage's default range. */
  now?: () => number;
}

const idField = (name: string) => z.string({ required_error: `${name} is required`, invalid_type_error: `${name} must be a string` }).regex(ID_PATTERN, `${name} must be 8-64 letters, digits, '-' or '_'`);
const argsSchema = z.object({
  sessionId: idField("sessionId"),
  messageId: idField("messageId"),
  afterSequence: z.number({ invalid_type_error: "afterSequence must be a number" }).int("afterSequence must be a whole number").min(-1, "afterSequence must be -1 or more").nullish(),
});

/** myUsage without `from`: this many days up to `to`; a longer range is refused. */
export const DEFAULT_USAGE_DAYS = 30;
export const MAX_USAGE_DAYS = 366;

const invalid = (message: string) => ({ error: { message, type: "ValidationError" } });

export async function messageControl(event: MessageControlEvent, deps: MessageControlDeps): Promise<MessageControlResult> {
  const userId = event.identity?.sub;
  if (typeof userId !== "string" || userId.length === 0) return { error: { message: "Sign in first", type: "Unauthorized" } };
  if (event.field === "myUsage") return myUsage(userId, event.arguments ?? {}, deps);
  const parsed = argsSchema.safeParse(event.arguments ?? {});
  if (!parsed.success) return invalid(parsed.error.issues.map((i) => i.message).join("; "));
  const ref: MessageRef = { userId, sessionId: parsed.data.sessionId, messageId: parsed.data.messageId };
  switch (event.field) {
    case "message":
      return deps.messages.read(ref, parsed.data.afterSequence ?? -1);
    case "stopGeneration":
      return { sessionId: ref.sessionId, messageId: ref.messageId, stopped: await deps.messages.requestStop(ref) };
    default:
      return { error: { message: `message-control does not serve ${String(event.field)}`, type: "InternalFailure" } };
  }
}

/** The caller's rows from `from` to `to` (AWSDates, UTC days, inclusive). */
async function myUsage(userId: string, args: { from?: unknown; to?: unknown }, deps: MessageControlDeps): Promise<MessageControlResult> {
  const day = (name: string, value: unknown): string | { error: string } => {
    if (typeof value !== "string") return { error: `${name} must be a date such as 2026-11-23` };
    return dayOf(value) ?? { error: `${name} must be a date such as 2026-11-23, got ${value}` };
  };
  const to = args.to == null ? usageDay((deps.now ?? Date.now)()) : day("to", args.to);
  if (typeof to !== "string") return invalid(to.error);
  const from = args.from == null ? addDays(to, 1 - DEFAULT_USAGE_DAYS) : day("from", args.from);
  if (typeof from !== "string") return invalid(from.error);
  if (from > to) return invalid(`from (${from}) must not be after to (${to})`);
  if (addDays(from, MAX_USAGE_DAYS) <= to) return invalid(`the range may span at most ${MAX_USAGE_DAYS} days, got ${from} to ${to}`);
  return deps.usage.rows(userId, from, to);
}
