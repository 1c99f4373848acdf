/**
 * The Function URL transport: one POST, one answer streamed back on its own response as NDJSON. The caller's user
 * pool token is verified first (aws-jwt-verify, AppSync's rules: lambdas/shared/userPoolToken.ts), before the body is
 * read, anything is written or the model is called; then the same step as sendQuery (admitQuery: validation, the
 * limits, the QUEUED record) and the same generation as the worker (runGeneration), in this invocation, its events
 * delivered "direct" to the response with no queue to fall back to. A refusal before streaming is an HTTP error with
 * a JSON body; the client's disconnect flags the message for stop, exactly as stopGeneration does.
 */
import { randomUUID } from "node:crypto";
import type { Context, LambdaFunctionURLEvent } from "aws-lambda";
import { functionUrlErrorStatus, NDJSON_CONTENT_TYPE, UNAUTHORIZED_EXCEPTION, type FunctionUrlErrorBody } from "../../contracts/functionUrl";
import { admitQuery, type AdmitSettings, type AdmittedQuery } from "../send-query/sendQuery";
import type { AdmissionSettings } from "../send-query/admission";
import { countQueryOutcome } from "../send-query/queryMetrics";
import type { EventPublisher } from "../shared/eventPublisher";
import type { MessageStore } from "../shared/messageStore";
import type { UserPoolTokenResult } from "../shared/userPoolToken";
import { slotKeyOf, type UsageTable } from "../shared/usageTable";
import { generationDeadlines, type DeadlineMargins } from "../stream-worker/deadlines";
import { errorEvent } from "../stream-worker/events";
import { runGeneration, type GenerationDeps } from "../stream-worker/generation";
import { internalFailure } from "../stream-worker/generationErrors";
import { createNdjsonSink, type NdjsonSink } from "./ndjsonSink";

/** The response stream the runtime gives a streaming handler (the `awslambda` globals are typed by @types/aws-lambda). */
export type ResponseStream = awslambda.HttpResponseStream;

/** The status and headers a Function URL answers with, written before the body (the prelude). */
export type HttpResponseMetadata = { statusCode: number; headers: Record<string, string> };

/** Writes the prelude before the first body write: `awslambda.HttpResponseStream.from` in Lambda. */
export type HttpResponseStreamFrom = (stream: ResponseStream, metadata: HttpResponseMetadata) => ResponseStream;

export interface UrlStreamDeps {
  /** The user pool's tokens, verified as AppSync verifies them. */
  tokens: { verify(token: string): Promise<UserPoolTokenResult> };
  /** Input validation settings (the same as sendQuery's; no client delivery choice here). */
  admitSettings: AdmitSettings;
  messages: MessageStore;
  limits: { table: UsageTable; settings: AdmissionSettings };
  /** The generation's clients and settings; its sinks are this response's. */
  generation: Omit<GenerationDeps, "direct" | "queue" | "messages" | "usage" | "newRunId">;
  httpResponseStream: HttpResponseStreamFrom;
  margins?: DeadlineMargins;
}

/** A refusal before streaming: its status comes from its type (contracts/functionUrl.ts). */
type Refusal = FunctionUrlErrorBody;

const refusal = (message: string, type: string): Refusal => ({ error: { message, type } });

/** Handles one request to the Function URL: refuses it, or streams its answer. Never throws. */
export async function urlStream(event: LambdaFunctionURLEvent, responseStream: ResponseStream, context: Context, deps: UrlStreamDeps): Promise<void> {
  let admitted: AdmittedQuery | Refusal;
  try {
    admitted = await admit(event, context, deps);
  } catch (error) {
    deps.generation.logger.error("the request could not be admitted", { error });
    return respondRefused(responseStream, refusal("An internal error occurred.", "InternalFailure"), deps, 500);
  }
  if ("error" in admitted) return respondRefused(responseStream, admitted, deps);
  await streamAnswer(admitted, responseStream, context, deps);
}

/** The token first, then the method and the body, then sendQuery's own step; a refusal, or the admitted query. */
async function admit(event: LambdaFunctionURLEvent, context: Context, deps: UrlStreamDeps): Promise<AdmittedQuery | Refusal> {
  const caller = await authenticate(event.headers?.authorization, deps.tokens);
  if ("error" in caller) return caller;
  if (event.requestContext?.http?.method !== "POST") return refusal("Send the question as a POST with a JSON body.", "MethodNotAllowed");
  const input = parseBody(event);
  if ("error" in input) return input;
  const { limits, messages, admitSettings: settings } = deps;
  return admitQuery({ arguments: { input: input.body }, identity: { sub: caller.sub }, requestId: context.awsRequestId }, { settings, messages, limits });
}

/** The verified caller's sub, or AppSync's refusal of the token (a raw token or `Bearer <token>`, as the API takes it). */
async function authenticate(header: string | undefined, tokens: UrlStreamDeps["tokens"]): Promise<{ sub: string } | Refusal> {
  const token = header?.replace(/^Bearer\s+/i, "").trim();
  if (!token) return refusal("Valid authorization header not provided.", UNAUTHORIZED_EXCEPTION);
  const verified = await tokens.verify(token);
  if (!verified.ok) return refusal(verified.message, UNAUTHORIZED_EXCEPTION);
  return { sub: String(verified.claims.sub) };
}

/** The JSON body (base64 when the URL says so), or the refusal of one that is not a JSON object. */
function parseBody(event: LambdaFunctionURLEvent): { body: unknown } | Refusal {
  const raw = event.body === undefined ? "" : event.isBase64Encoded ? Buffer.from(event.body, "base64").toString("utf8") : event.body;
  try {
    const body: unknown = JSON.parse(raw);
    if (typeof body === "object" && body !== null && !Array.isArray(body)) return { body };
  } catch {
    // Said below, the same for every body that is not a JSON object.
  }
  return refusal("The body must be a JSON object: {sessionId, messageId?, prompt, modelId?}.", "ValidationError");
}

/** Answers a refusal with its status and JSON body; nothing was written or generated. */
function respondRefused(responseStream: ResponseStream, body: Refusal, deps: UrlStreamDeps, status = functionUrlErrorStatus(body.error.type)): Promise<void> {
  deps.generation.logger.info("Function URL request refused", { status, type: body.error.type, reason: body.error.message });
  countQueryOutcome(deps.generation.metrics, body.error);
  const out = deps.httpResponseStream(responseStream, { statusCode: status, headers: { "content-type": "application/json", "cache-control": "no-store" } });
  return new Promise<void>((resolve) => {
    out.on("error", () => resolve()); // a client gone before its refusal arrived changes nothing
    // write, then end(cb): the runtime writes the prelude on the first write, and its end() takes a callback only.
    out.write(JSON.stringify(body));
    out.end(() => resolve());
  });
}

/** No queue behind this transport: the answer is delivered to its own response, or not at all. */
const NO_QUEUE: EventPublisher = { publish: () => Promise.reject(new Error("the Function URL delivers only to its own response")) };

/** Streams the admitted query's answer as NDJSON; the client's disconnect flags the message for stop. */
async function streamAnswer(admitted: AdmittedQuery, responseStream: ResponseStream, context: Context, deps: UrlStreamDeps): Promise<void> {
  const { request, ref } = admitted;
  const { logger, metrics } = deps.generation;
  countQueryOutcome(deps.generation.metrics);
  const out = deps.httpResponseStream(responseStream, { statusCode: 200, headers: { "content-type": NDJSON_CONTENT_TYPE, "cache-control": "no-store" } });
  const sink = createNdjsonSink(out, () => {
    metrics.addMetric("ClientDisconnects", "Count", 1);
    logger.info("the client went away mid-answer; stopping the generation", ref);
    // The same flag stopGeneration sets: the generation's stop watch aborts the model call within its poll.
    deps.messages.requestStop(ref).catch((error: unknown) => logger.error("the stop flag could not be set after a disconnect", { ...ref, error }));
  });
  const runId = randomUUID();
  try {
    await runGeneration({ ...request, delivery: "direct" }, generationDepsFor(deps, sink, runId), generationDeadlines(context.getRemainingTimeInMillis?.(), deps.margins));
  } catch (error) {
    await abandon(admitted, runId, error, sink, deps);
  } finally {
    await sink.end();
  }
}

/**
 * A run that threw: it could not begin and could not end its record either, so it sent nothing. No retry follows
 * here, as SQS's would: the client still gets an error line and the slot is released; the record waits for its TTL.
 */
async function abandon({ request, ref }: AdmittedQuery, runId: string, error: unknown, sink: NdjsonSink, deps: UrlStreamDeps): Promise<void> {
  deps.generation.logger.error("the generation failed and its record could not be ended", { ...ref, runId, error });
  const event = errorEvent({ request, runId, eventSequence: 0, timestamp: new Date().toISOString() }, internalFailure());
  await Promise.allSettled([deps.limits.table.releaseSlot(ref.userId, slotKeyOf(ref.sessionId, ref.messageId)), sink.publish(event)]);
}

/** The worker's generation, its events to this response only. */
function generationDepsFor(deps: UrlStreamDeps, sink: NdjsonSink, runId: string): GenerationDeps {
  const settings = { ...deps.generation.settings, directSend: true, fallbackToQueue: false };
  return { ...deps.generation, settings, direct: sink, queue: NO_QUEUE, messages: deps.messages, usage: deps.limits.table, newRunId: () => runId };
}
