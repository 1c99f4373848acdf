/**
 * message-control: `Query.message` (the durable record of the caller's own message, for replay) and
 * `Mutation.stopGeneration` (flags the caller's own message for the worker to stop). The user id is always the
 * verified identity's sub, so another user's message is indistinguishable from one that does not exist.
 */
import { z } from "zod";
import { ID_PATTERN } from "../../contracts/ids";
import type { MessageState, StopGenerationResult } from "../../contracts/messageState";
import type { MessageRef, MessageStore } from "../shared/messageStore";

/** The AppSync Lambda resolver payload built by graphql/resolvers/messageControl.js. */
export interface MessageControlEvent {
  field?: string;
  arguments?: { sessionId?: unknown; messageId?: unknown; afterSequence?: unknown };
  identity?: { sub?: string } | null;
}

export type MessageControlResult = MessageState | StopGenerationResult | null | { error: { message: string; type: string } };

export interface MessageControlDeps {
  messages: MessageStore;
}

const idField = (name: string) => z.string({ required_error: `${name} is required`, invalid_type_error: `${name} must be a string` }).regex(ID_PATTERN, `${name} must be 8-64 letters, digits, '-' or '_'`);
const argsSchema = z.object({
  sessionId: idField("sessionId"),
  messageId: idField("messageId"),
  afterSequence: z.number({ invalid_type_error: "afterSequence must be a number" }).int("afterSequence must be a whole number").min(-1, "afterSequence must be -1 or more").nullish(),
});

const invalid = (message: string) => ({ error: { message, type: "ValidationError" } });

export async function messageControl(event: MessageControlEvent, deps: MessageControlDeps): Promise<MessageControlResult> {
  const userId = event.identity?.sub;
  if (typeof userId !== "string" || userId.length === 0) return { error: { message: "Sign in first", type: "Unauthorized" } };
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
