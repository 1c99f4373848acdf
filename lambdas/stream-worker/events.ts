/** Builds the stream events of one message (contracts/streamEvents.ts), keeping the final event within MAX_EVENT_BYTES. */
import {
  EVENT_ACTIONS, MAX_EVENT_BYTES, serializeEvent, STREAM_EVENTS_VERSION, type ErrorEvent, type FinalEvent, type Reference, type ReasoningEvent, type TokenEvent, type ToolActionEvent, type Usage,
} from "../../contracts/streamEvents";
import { byteLength, splitByBytes } from "../../contracts/utf8";
import { type WorkRequest } from "../../contracts/workRequest";
import type { GenerationFailure } from "./generationErrors";

/** Ends a cut `content` for readers that ignore the `truncated` flag; the token chunks carry the whole answer. */
export const TRUNCATION_MARKER = "\n\n[truncated: the full answer is longer than one event can carry; it was streamed in full as tokens]";

/**
 * What every event of a run carries: the request's ids, the run's id (a rerun gets a new one, so clients and FIFO dedup
 * ids tell runs apart), the event's place among the run's events (envelope version 3) and its time.
 */
export interface EventStamp {
  request: WorkRequest;
  runId: string;
  eventSequence: number;
  timestamp: string;
}

const ids = ({ request }: EventStamp) => ({ sessionId: request.sessionId, messageId: request.messageId });
/** What every event carries beside its action and data: whose it is, the envelope version, when. */
// In the schema's key order (userId, timestamp, version), so a parsed and re-serialized event is the same text as the record's.
const head = (stamp: EventStamp) => ({ userId: stamp.request.userId, timestamp: stamp.timestamp, version: STREAM_EVENTS_VERSION });

export function tokenEvent(stamp: EventStamp, sequenceNumber: number, value: string): TokenEvent {
  return {
    action: EVENT_ACTIONS.token,
    ...head(stamp),
    data: { ...ids(stamp), token: { runId: stamp.runId, sequenceNumber, value }, eventSequence: stamp.eventSequence },
  };
}

export function reasoningEvent(stamp: EventStamp, index: number, value: string): ReasoningEvent {
  return { action: EVENT_ACTIONS.reasoning, ...head(stamp), data: { ...ids(stamp), runId: stamp.runId, eventSequence: stamp.eventSequence, index, value } };
}

/** What a tool_action says: which call of the message, in which words, and how far it got. */
export type ToolAction = Pick<ToolActionEvent["data"], "toolName" | "invocationNumber" | "toolAction" | "status">;

export function toolActionEvent(stamp: EventStamp, action: ToolAction): ToolActionEvent {
  return { action: EVENT_ACTIONS.toolAction, ...head(stamp), data: { ...ids(stamp), runId: stamp.runId, eventSequence: stamp.eventSequence, ...action } };
}

export function errorEvent(stamp: EventStamp, failure: GenerationFailure): ErrorEvent {
  return {
    action: EVENT_ACTIONS.error,
    ...head(stamp),
    data: { ...ids(stamp), message: failure.message, code: failure.code, retryable: failure.retryable, runId: stamp.runId, eventSequence: stamp.eventSequence },
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
  /** The sources the tools' results named (envelope version 3); none = no `references` field. */
  references?: Reference[];
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
export function finalEvent(stamp: EventStamp, final: FinalContent): FittedFinalEvent {
  const data: FinalEvent["data"] = {
    ...ids(stamp),
    content: final.content,
    ...(final.reasoningContent ? { reasoningContent: final.reasoningContent } : {}),
    usage: final.usage,
    stopReason: final.stopReason,
    lastSequenceNumber: final.lastSequenceNumber,
    ...(final.tail ? { tail: final.tail } : {}),
    runId: stamp.runId,
    eventSequence: stamp.eventSequence,
    ...(final.references?.length ? { references: final.references } : {}),
  };
  const event: FinalEvent = { action: EVENT_ACTIONS.final, ...head(stamp), data };
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
