/**
 * FIFO ids and the SNS Publish input: a message group per (user, session) and a deduplication id per work request and
 * per event and run, so order holds per session, a retried publish is not delivered twice, and no user's ids can
 * collide with (and so suppress or delay) another user's messages. Used by send-query (inbound) and the worker (outbound).
 */
import { createHash } from "node:crypto";
import type { PublishCommandInput } from "@aws-sdk/client-sns";
import { EVENT_ACTIONS, type StreamEvent } from "../../contracts/streamEvents";
import type { WorkRequest } from "../../contracts/workRequest";

/** sha256 hex (64 characters, within SNS's 128) of the parts joined by `|`; session and message ids cannot hold `|`. */
export function fifoKey(...parts: string[]): string {
  return createHash("sha256").update(parts.join("|")).digest("hex");
}

/** One FIFO message group per session of a user: a session's events stay in order, another user's session id never shares the group. */
export function sessionGroupId(userId: string, sessionId: string): string {
  return fifoKey(userId, sessionId);
}

/** Dedup id of the inbound work request: one per message of a user's session. */
export function workRequestDeduplicationId(request: Pick<WorkRequest, "userId" | "sessionId" | "messageId">): string {
  return fifoKey(request.userId, request.sessionId, request.messageId);
}

export function isFifoTopic(topicArn: string): boolean {
  return topicArn.endsWith(".fifo");
}

/** The PublishCommand input for one message; the FIFO fields only where the topic is FIFO. */
export function topicPublishInput(topicArn: string, message: string, groupId: string, deduplicationId: string): PublishCommandInput {
  const input: PublishCommandInput = { TopicArn: topicArn, Message: message };
  if (isFifoTopic(topicArn)) {
    input.MessageGroupId = groupId;
    input.MessageDeduplicationId = deduplicationId;
  }
  return input;
}

/**
 * Dedup id of a stream event: user, session, message, run and what tells it apart within the run: the sequence number
 * (tokens), `reasoning` and its index, `tool`, the invocation number and the status, or `final`/`error`.
 */
export function eventDeduplicationId(event: StreamEvent): string {
  const { userId, data } = event;
  switch (event.action) {
    case EVENT_ACTIONS.token:
      return fifoKey(userId, data.sessionId, data.messageId, event.data.token.runId, String(event.data.token.sequenceNumber));
    case EVENT_ACTIONS.final:
      return fifoKey(userId, data.sessionId, data.messageId, event.data.runId ?? "", "final");
    case EVENT_ACTIONS.error:
      return fifoKey(userId, data.sessionId, data.messageId, event.data.runId ?? "", "error");
    case EVENT_ACTIONS.reasoning:
      return fifoKey(userId, data.sessionId, data.messageId, event.data.runId, "reasoning", String(event.data.index));
    case EVENT_ACTIONS.toolAction:
      return fifoKey(userId, data.sessionId, data.messageId, event.data.runId, "tool", String(event.data.invocationNumber), event.data.status);
  }
}
