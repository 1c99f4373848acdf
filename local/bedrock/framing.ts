/**
 * HOW the stand-in emits a script: each step becomes an AWS event-stream frame (@smithy/eventstream-codec) written to
 * an HTTP/2 stream, spaced by timers, and the emission log records what went out and when. What to emit is script.ts.
 */
import * as http2 from "node:http2";
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { EventStreamCodec, MessageHeaders } from "@smithy/eventstream-codec";
import { fromUtf8, toUtf8 } from "@smithy/util-utf8";
import type { StandInGuardrail } from "./guardrail";
import type { EventStep, ExceptionStep, Fault, ScriptStep } from "./script";
import type { ToolRequest, ToolResultSeen } from "./toolUse";

export interface EmittedToken {
  value: string;
  /** Epoch milliseconds (performance.timeOrigin + performance.now()) when the frame was written. */
  at: number;
}

/** One converse-stream request in the emission log. */
export interface StandInRequest {
  modelId: string;
  /** Text of the last user message. */
  prompt: string;
  /** Epoch milliseconds when the request arrived. */
  receivedAt: number;
  tokens: EmittedToken[];
  fault?: Fault;
  /** The request's guardrailConfig, when it named one. */
  guardrail?: StandInGuardrail;
  /** A later round of a turn that calls tools (1, 2, ...); absent for a turn's first request. */
  round?: number;
  /** The tool this round asked for. */
  toolCall?: ToolRequest;
  /** The results the request carried, which the round's text reports. */
  toolResults?: ToolResultSeen[];
  /** The tool names the request's toolConfig offered. */
  toolsOffered?: string[];
  /** Set when the stream ended normally: `end_turn`, `max_tokens` or `guardrail_intervened`. */
  stopReason?: string;
  /** The client went away (cancelled the stream) before it ended. */
  aborted?: boolean;
  /** When it did (epoch ms, as `tokens[].at`). */
  abortedAt?: number;
}

/** Runs `fn` after `ms` on a timer the server cancels when it closes. */
export type Later = (ms: number, fn: () => void) => void;

const codec = new EventStreamCodec(toUtf8, fromUtf8);

/** Epoch milliseconds with sub-millisecond precision: the clock of the emission log. */
export const now = (): number => performance.timeOrigin + performance.now();

/** Encodes an event or exception step as one event-stream message. */
export function encodeFrame(step: EventStep | ExceptionStep): Uint8Array {
  const headers: MessageHeaders = {
    ":message-type": { type: "string", value: step.kind },
    [step.kind === "event" ? ":event-type" : ":exception-type"]: { type: "string", value: step.type },
    ":content-type": { type: "string", value: "application/json" },
  };
  return codec.encode({ headers, body: fromUtf8(JSON.stringify(step.body)) });
}

/** Answers with an AWS JSON error; the SDK turns `x-amzn-errortype` into its typed exception. */
export function sendHttpError(stream: http2.ServerHttp2Stream, error: { status: number; type: string; message: string }): void {
  if (stream.closed || stream.destroyed) return;
  stream.respond({ ":status": error.status, "content-type": "application/json", "x-amzn-errortype": error.type, "x-amzn-requestid": randomUUID() });
  stream.end(JSON.stringify({ message: error.message }));
}

/**
 * Plays a script onto a stream: an httpError answers the request; otherwise the event stream opens on the first
 * frame, each frame is written after its step's delay (never a busy loop), and the stream ends after an exception
 * or the end step. Token frames are logged with their write time; a client that leaves early marks the entry aborted.
 */
export function playScript(stream: http2.ServerHttp2Stream, script: Iterator<ScriptStep, void>, entry: StandInRequest, later: Later): void {
  const take = (step: ScriptStep): void => {
    if (stream.closed || stream.destroyed) return;
    if (step.kind === "httpError") return sendHttpError(stream, step);
    if (step.kind === "end") {
      entry.stopReason = step.stopReason;
      return void stream.end();
    }
    if (!stream.headersSent) openEventStream(stream, entry);
    stream.write(encodeFrame(step));
    if (step.kind === "event" && step.token !== undefined) entry.tokens.push({ value: step.token, at: now() });
    const next = script.next();
    if (next.done) return void stream.end();
    const { value } = next;
    if (value.kind === "event" && value.delayMs > 0) later(value.delayMs, () => take(value));
    else if (value.kind === "event" || value.kind === "exception") setImmediate(() => take(value)); // yield between frames so other streams progress
    else take(value); // the end goes out in the same tick as the last frame
  };
  const first = script.next();
  if (!first.done) take(first.value);
}

/** Sends the 200 event-stream headers and watches for a client that leaves before the end. */
function openEventStream(stream: http2.ServerHttp2Stream, entry: StandInRequest): void {
  stream.respond({ ":status": 200, "content-type": "application/vnd.amazon.eventstream", "x-amzn-requestid": randomUUID() });
  stream.on("close", () => {
    // A client that cancels resets the stream (RST_STREAM CANCEL); Node then reports it finished, so look at the code.
    if (!entry.stopReason && stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) {
      entry.aborted = true;
      entry.abortedAt = now();
    }
  });
}
