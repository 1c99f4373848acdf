/**
 * The Function URL transport (config `transports` "function_url"): one POST per question, the user pool token in
 * `Authorization`, the sendQuery input as its JSON body; the answer streams back on the same response as NDJSON, one
 * stream event (streamEvents.ts, unchanged) per line, token events then the final_response or error event. A request
 * refused before streaming gets an HTTP error status and a JSON body with the GraphQL error's message and type.
 * Pure: the web page bundles it.
 */
import { z } from "zod";
import { parseEvent, serializeEvent, type StreamEvent } from "./streamEvents";
import { LIMIT_EXCEEDED, type LimitExceededInfo } from "./usage";

/** The streamed answer's content type: newline-delimited JSON. */
export const NDJSON_CONTENT_TYPE = "application/x-ndjson";

/** The request body: SendQueryInput's fields as the Function URL takes them (its delivery is always its own response). */
export interface FunctionUrlRequest {
  sessionId: string;
  /** Chosen by the client (8-64 letters, digits, - or _), or by the function when absent. */
  messageId?: string;
  prompt: string;
  modelId?: string;
}

/** The errorType of a refused token, as AppSync answers it (the message says "Token has expired." or why not). */
export const UNAUTHORIZED_EXCEPTION = "UnauthorizedException";

export const functionUrlErrorSchema = z.object({
  error: z.object({
    message: z.string(),
    /** ValidationError, LimitExceeded (with `info`), UnauthorizedException, as the GraphQL API's errorType. */
    type: z.string(),
    /** A limit's errorInfo: which limit, and when the quota resets. */
    info: z.object({ limit: z.enum(["request", "concurrency", "quota"]), resetsAt: z.string().optional() }).optional(),
  }),
});

/** The body of a request refused before streaming. */
export interface FunctionUrlErrorBody {
  error: { message: string; type: string; info?: LimitExceededInfo };
}

/** The status of each refusal; any other type is a 400. */
export const FUNCTION_URL_ERROR_STATUS: Readonly<Record<string, number>> = {
  ValidationError: 400,
  Unauthorized: 401,
  [UNAUTHORIZED_EXCEPTION]: 401,
  MethodNotAllowed: 405,
  [LIMIT_EXCEEDED]: 429,
};

export function functionUrlErrorStatus(type: string): number {
  return FUNCTION_URL_ERROR_STATUS[type] ?? 400;
}

/** One event as one line of the streamed answer. */
export function ndjsonLine(event: StreamEvent): string {
  return `${serializeEvent(event)}\n`;
}

/** One non-empty line of the streamed answer as its event; throws on anything malformed. */
export function parseNdjsonLine(line: string): StreamEvent {
  return parseEvent(line);
}
