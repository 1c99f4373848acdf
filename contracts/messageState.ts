/**
 * A message's durable state, as `Query.message` returns it (graphql/schema.graphql `MessageState`) and as the worker,
 * sendQuery and stopGeneration keep it: the subscription is the fast path, this record is the truth.
 */

/** QUEUED (accepted, not yet generating), STREAMING, then one of the three endings. */
export const MESSAGE_STATUSES = ["QUEUED", "STREAMING", "COMPLETE", "STOPPED", "FAILED"] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

/** A message in one of these has its final_response (COMPLETE, STOPPED) or error event (FAILED) in `events`. */
export const ENDED_STATUSES: readonly MessageStatus[] = ["COMPLETE", "STOPPED", "FAILED"];

/** The stopReason of the final_response of a message ended by stopGeneration. */
export const STOPPED_REASON = "stopped";

/**
 * The stopReason of a message whose model asked for another round of tool calls past `tools.max_rounds`: those calls
 * are not made, and the final's `content` is the text streamed so far.
 */
export const TOOL_ROUNDS_EXCEEDED_REASON = "max_tool_rounds";

/**
 * The stopReason of a message a Bedrock guardrail ended (Bedrock's own stop reason): its final_response `content` is
 * the guardrail's safe text, which replaces whatever was streamed before (clients show `content`, client/assembler.ts).
 */
export const GUARDRAIL_INTERVENED_REASON = "guardrail_intervened";

/**
 * The stopReason of a Function URL answer ended at `function_url.max_answer_bytes`: the model call was aborted, and the
 * final's `content` is exactly the text streamed, at most that many UTF-8 bytes. Its record is COMPLETE.
 */
export const MAX_BYTES_REASON = "max_bytes";

export interface MessageState {
  sessionId: string;
  messageId: string;
  status: MessageStatus;
  /** The stream events as the JSON strings Channel.data carries, in order; the final or error event last once ended. */
  events: string[];
}

export interface StopGenerationResult {
  sessionId: string;
  messageId: string;
  /** False when the message had already ended (or does not exist for this caller): stopping is idempotent. */
  stopped: boolean;
}
