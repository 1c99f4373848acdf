/** Builds the stream events of one message (contracts/streamEvents.ts), keeping the final event within MAX_EVENT_BYTES. */
import { EVENT_ACTIONS, MAX_EVENT_BYTES, serializeEvent, type ErrorEvent, type FinalEvent, type TokenEvent, type Usage } from "../../contracts/streamEvents";
import { byteLength, splitByBytes } from "../../contracts/utf8";
import { type WorkRequest } from "../../contracts/workRequest";
import type { GenerationFailure } from "./generationErrors";

/** Ends a cut `content` for readers that ignore the `truncated` flag; the token chunks carry the whole answer. */
export const TRUNCATION_MARKER = "\n\n[truncated: the full answer is longer than one event can carry; it was streamed in full as tokens]";

/** `runId` identifies one generation run of the message (a rerun gets a new one), so clients and FIFO dedup ids tell runs apart. */
export function tokenEvent(request: WorkRequest, runId: string, sequenceNumber: number, value: string, timestamp: string): TokenEvent {
  return {
    action: EVENT_ACTIONS.token,
    userId: request.userId,
    timestamp,
    data: { sessionId: request.sessionId, messageId: request.messageId, token: { runId, sequenceNumber, value } },
  };
}

export function errorEvent(request: WorkRequest, runId: string, failure: GenerationFailure, timestamp: string): ErrorEvent {
  return {
    action: EVENT_ACTIONS.error,
    userId: request.userId,
    timestamp,
    data: { sessionId: request.sessionId, messageId: request.messageId, message: failure.message, code: failure.code, retryable: failure.retryable, runId },
  };
}

export interface FinalContent {
  content: string;
  reasoningContent?: string;
  usage: Usage;
  stopReason: string;
  lastSequenceNumber: number;
  /** The text of chunk `lastSequenceNumber`, for the final to carry (envelope version 2) instead of a token event. */
  tail?: string;
}

export interface FittedFinalEvent {
  event: FinalEvent;
  /** What had to go so the event fits: nothing, the reasoning, or the reasoning and part of the content. */
  trimmed: "none" | "reasoning" | "content";
}

const fits = (event: FinalEvent) => byteLength(serializeEvent(event)) <= MAX_EVENT_BYTES;

/**
 * The final_response, fitted to MAX_EVENT_BYTES: whole when it fits, else without the reasoning, else with `content`
 * cut and marked `truncated`. A `tail` only ever travels in a whole final (`trimmed: "none"`); a caller whose tail did
 * not fit sends it as a token event and asks again without it.
 */
export function finalEvent(request: WorkRequest, runId: string, final: FinalContent, timestamp: string): FittedFinalEvent {
  const data: FinalEvent["data"] = {
    sessionId: request.sessionId,
    messageId: request.messageId,
    content: final.content,
    ...(final.reasoningContent ? { reasoningContent: final.reasoningContent } : {}),
    usage: final.usage,
    stopReason: final.stopReason,
    lastSequenceNumber: final.lastSequenceNumber,
    ...(final.tail ? { tail: final.tail } : {}),
    runId,
  };
  const event: FinalEvent = { action: EVENT_ACTIONS.final, userId: request.userId, timestamp, data };
  if (fits(event)) return { event, trimmed: "none" };
  delete event.data.tail;
  delete event.data.reasoningContent;
  if (fits(event)) return { event, trimmed: "reasoning" };
  // JSON escaping can make a byte count several times; shrink until it fits (a few rounds at most).
  let budget = Math.max(4, byteLength(final.content) - (byteLength(serializeEvent(event)) - MAX_EVENT_BYTES) - byteLength(TRUNCATION_MARKER) - 256);
  event.data.truncated = true;
  for (;;) {
    event.data.content = splitByBytes(final.content, budget)[0]! + TRUNCATION_MARKER;
    if (fits(event) || budget === 4) return { event, trimmed: "content" };
    budget = Math.max(4, Math.floor(budget * 0.7));
  }
}
