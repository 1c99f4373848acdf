/**
 * Reads one answer from the Function URL transport (contracts/functionUrl.ts): POSTs the question with the user pool
 * token, then yields each NDJSON line of the response as its stream event, in order, as it arrives. A refusal (an HTTP
 * error with a JSON body) throws a FunctionUrlError with the API's message and type. Only fetch and ReadableStream, so
 * the web console can use it as the CLI does. Leaving the loop early (or aborting `signal`) closes the response, which
 * the function takes as a stop.
 */
import { functionUrlErrorSchema, parseNdjsonLine, type FunctionUrlRequest } from "../contracts/functionUrl";
import type { StreamEvent } from "../contracts/streamEvents";
import type { LimitExceededInfo } from "../contracts/usage";

/** A question the Function URL refused before streaming: the HTTP status, and the GraphQL API's message and errorType. */
export class FunctionUrlError extends Error {
  override readonly name = "FunctionUrlError";
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly info?: LimitExceededInfo,
  ) {
    super(message);
  }
}

export interface FunctionUrlStreamOptions {
  /** Aborting it closes the response (the function then stops the generation). */
  signal?: AbortSignal;
  /** Default: the global fetch. */
  fetchImpl?: typeof fetch;
}

/** POSTs `request` to `url` with `token` and yields the answer's events as they arrive. */
export async function* streamFromFunctionUrl(url: string, token: string, request: FunctionUrlRequest, options: FunctionUrlStreamOptions = {}): AsyncGenerator<StreamEvent> {
  const res = await (options.fetchImpl ?? fetch)(url, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(request),
    signal: options.signal,
  });
  if (!res.ok) throw await refusalOf(res);
  if (!res.body) throw new Error(`the Function URL answered ${res.status} without a body`);
  yield* ndjsonEvents(res.body);
}

/** The refusal in an error response, or a plain description when its body is not the transport's JSON error. */
async function refusalOf(res: Response): Promise<FunctionUrlError> {
  const text = await res.text();
  try {
    const { error } = functionUrlErrorSchema.parse(JSON.parse(text));
    return new FunctionUrlError(res.status, error.type, error.message, error.info);
  } catch {
    return new FunctionUrlError(res.status, "HttpError", `the Function URL answered HTTP ${res.status}: ${text.slice(0, 200)}`);
  }
}

/** The events of an NDJSON body, one per line, however its bytes are cut into chunks (a character may span two). */
export async function* ndjsonEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<StreamEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  let done = false;
  try {
    while (!done) {
      const chunk = await reader.read();
      done = chunk.done;
      buffered += done ? decoder.decode() : decoder.decode(chunk.value, { stream: true });
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) if (line.trim()) yield parseNdjsonLine(line);
    }
    // A last line without its newline is a cut answer: parsing it says so.
    if (buffered.trim()) yield parseNdjsonLine(buffered);
  } finally {
    if (!done) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
