/**
 * The Lambda Node.js runtime's response-streaming globals, as aws-lambda-nodejs-runtime-interface-client defines them
 * (src/HttpResponseStream.js, src/ResponseStream.js), for running the real streaming handler locally:
 * - `awslambda.streamifyResponse(handler)` marks the handler as streaming (the runtime's symbol) and returns it;
 * - the response stream is a Writable with `setContentType` (too late once written) whose `_onBeforeFirstWrite` hook
 *   runs on the first `write`, not on `end(chunk)`, as the runtime's does;
 * - `awslambda.HttpResponseStream.from(stream, prelude)` sets the http-integration content type and writes the prelude
 *   JSON and 8 null bytes before the first body write: how Lambda frames status and headers for a Function URL.
 * Written here: the runtime client is not a package the handlers can load, and these are three small pieces.
 */
import { Writable } from "node:stream";

/** The runtime's marker on a streaming handler (Symbol.for, so any copy of this module agrees). */
export const HANDLER_STREAMING = Symbol.for("aws.lambda.runtime.handler.streaming");
export const STREAM_RESPONSE = "response";
/** The content type of a response that opens with a prelude (status, headers, cookies) and 8 null bytes. */
export const HTTP_INTEGRATION_CONTENT_TYPE = "application/vnd.awslambda.http-integration-response";
export const PRELUDE_DELIMITER = new Uint8Array(8);
const DEFAULT_CONTENT_TYPE = "application/octet-stream";

/** Where the runtime sends a response stream's bytes: what Lambda's Runtime API receives for one invocation. */
export interface ResponseSink {
  /** One chunk, with the content type set when the stream's first byte went out. */
  bytes(chunk: Buffer, contentType: string): void;
  /** The handler ended the stream. */
  end(contentType: string): void;
}

/** The response stream a streaming handler is given. */
export class LocalResponseStream extends Writable {
  /** Set by HttpResponseStream.from: writes the prelude before the first body chunk. */
  _onBeforeFirstWrite?: (write: (chunk: string | Uint8Array) => void) => void;
  private contentType = DEFAULT_CONTENT_TYPE;
  private written = false;

  constructor(private readonly sink: ResponseSink) {
    super();
  }

  setContentType(contentType: string): void {
    if (this.written) throw new Error("Cannot set content-type, too late.");
    this.contentType = contentType;
  }

  override write(chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
    if (!this.written && typeof this._onBeforeFirstWrite === "function") this._onBeforeFirstWrite((c) => super.write(c));
    this.written = true;
    return super.write(chunk, encoding as BufferEncoding, callback as (error?: Error | null) => void);
  }

  override _write(chunk: Buffer | string, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.written = true;
    this.sink.bytes(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, encoding), this.contentType);
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.sink.end(this.contentType);
    callback();
  }
}

export type StreamingHandler = ((event: unknown, stream: LocalResponseStream, context: unknown) => Promise<unknown>) & { [HANDLER_STREAMING]?: string };

/** `awslambda.streamifyResponse`: marks the handler as streaming. */
function streamifyResponse(handler: StreamingHandler): StreamingHandler {
  handler[HANDLER_STREAMING] = STREAM_RESPONSE;
  return handler;
}

/** `awslambda.HttpResponseStream.from`: the same stream, with the prelude written before its first body write. */
function from(stream: LocalResponseStream, prelude: Record<string, unknown>): LocalResponseStream {
  stream.setContentType(HTTP_INTEGRATION_CONTENT_TYPE);
  // JSON.stringify, as the runtime's: a null byte cannot occur in it, so the delimiter is unambiguous.
  const metadata = JSON.stringify(prelude);
  stream._onBeforeFirstWrite = (write) => {
    write(metadata);
    write(PRELUDE_DELIMITER);
  };
  return stream;
}

/** True for a handler streamifyResponse marked. */
export function isStreamingHandler(handler: unknown): handler is StreamingHandler {
  return typeof handler === "function" && (handler as StreamingHandler)[HANDLER_STREAMING] === STREAM_RESPONSE;
}

/**
 * Adds `streamifyResponse` and `HttpResponseStream` to `globalThis.awslambda` as the Node.js runtime provides them,
 * unless they are there already; other members stay (@aws/lambda-invoke-store, under Powertools, keeps its own there).
 */
export function installLambdaStreamingGlobals(): void {
  const g = globalThis as { awslambda?: Record<string, unknown> };
  const awslambda = (g.awslambda ??= {});
  awslambda.streamifyResponse ??= streamifyResponse;
  awslambda.HttpResponseStream ??= { from };
}
