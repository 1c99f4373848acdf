/**
 * sendQuery: `admitQuery`, then the hand-off. `admitQuery` validates the caller's input, builds the work request
 * (userId from the verified identity only), admits it against the per-user limits (admission.ts: one generation per
 * request, concurrency, daily quota) and creates the message's durable record (QUEUED; a message id this user already
 * used in the session is refused); the Function URL (lambdas/url-stream) takes the same step. sendQuery then hands the
 * work request to the worker: exactly one message to the inbound topic (the queued ingress), or, when
 * WORKER_FUNCTION_NAME is set (the async ingress), one Event invocation of the worker with the request as its payload.
 * Bad input or a limit returns `{error}` (the resolver turns it into a GraphQL error) and writes and hands off
 * nothing; a failed hand-off undoes the record and the slot, and throws.
 */
import { randomUUID } from "node:crypto";
import { PublishCommand, type SNSClient } from "@aws-sdk/client-sns";
import { z } from "zod";
import { ID_PATTERN } from "../../contracts/ids";
import { LIMIT_EXCEEDED, type LimitExceededInfo } from "../../contracts/usage";
import { byteLength } from "../../contracts/utf8";
import { workRequestSchema, type WorkRequest } from "../../contracts/workRequest";
import type { RuntimeSettings } from "../../contracts/runtimeSettings";
import { sessionGroupId, topicPublishInput, workRequestDeduplicationId } from "../shared/fifoIds";
import type { MessageRef, MessageStore } from "../shared/messageStore";
import type { AsyncInvoker } from "../shared/lambdaInvoker";
import { slotKeyOf, type UsageTable } from "../shared/usageTable";
import { admitGeneration, type AdmissionSettings, type Refusal } from "./admission";

/** The AppSync Lambda resolver payload built by graphql/resolvers/sendQuery.js. */
export interface SendQueryEvent {
  arguments?: { input?: unknown };
  identity?: { sub?: string } | null;
  /** AppSync's id of the GraphQL request (its `x-amzn-requestid` header): every field of one request shares it. */
  requestId?: string | null;
  /** Set by the WebSocket route only (the resolver never sends it): the worker then posts to the user's connections. */
  transport?: "websocket";
}

/** What the resolver turns into a GraphQL error: message, errorType and, for a limit, errorInfo. */
export interface SendQueryError {
  error: { message: string; type: string; info?: LimitExceededInfo };
}

export type SendQueryResult = { sessionId: string; messageId: string } | SendQueryError;

/** What admitQuery validates the input against. */
export type AdmitSettings = Pick<RuntimeSettings, "maxPromptChars" | "defaultModelId" | "allowedModelIds" | "clientDeliveryChoice">;

export type SendQuerySettings = AdmitSettings & Pick<RuntimeSettings, "inboundTopicArn"> & Partial<Pick<RuntimeSettings, "workerFunctionName">>;

/** What admitQuery needs: the settings, the records and the limits (no hand-off). */
export interface AdmitDeps {
  settings: AdmitSettings;
  /** The durable message records; absent only in tests of validation alone. */
  messages?: MessageStore;
  /** The per-user limits; absent only in tests of validation alone. */
  limits?: { table: UsageTable; settings: AdmissionSettings };
  /** Message id when the client sends none (default crypto.randomUUID). */
  newMessageId?: () => string;
  now?: () => Date;
}

export interface SendQueryDeps extends AdmitDeps {
  sns: SNSClient;
  /** Invokes the worker on the async ingress (settings.workerFunctionName set); unused on the queued one. */
  lambda?: AsyncInvoker;
  settings: SendQuerySettings;
}

/** An admitted query: its work request (and JSON body), its record's key, and the undo of its slot. */
export interface AdmittedQuery {
  request: WorkRequest;
  body: string;
  ref: MessageRef;
  /** Frees the generation slot admission claimed (a no-op when no limits are kept). */
  releaseSlot(): Promise<void>;
}

const idField = (name: string) => z.string({ required_error: `${name} is required`, invalid_type_error: `${name} must be a string` }).regex(ID_PATTERN, `${name} must be 8-64 letters, digits, '-' or '_'`);

function inputSchema(s: AdmitSettings) {
  return z.object({
    sessionId: idField("sessionId"),
    messageId: idField("messageId").nullish(),
    prompt: z
      .string({ required_error: "prompt is required", invalid_type_error: "prompt must be a string" })
      .refine((p) => p.trim().length > 0, "prompt must not be empty")
      .refine((p) => p.length <= s.maxPromptChars, `prompt must be at most ${s.maxPromptChars} characters`),
    modelId: z
      .string()
      .nullish()
      .refine((m) => m == null || s.allowedModelIds.includes(m), { message: `modelId must be one of: ${s.allowedModelIds.join(", ")}` }),
    delivery: z
      .enum(["DIRECT", "QUEUED"], { errorMap: () => ({ message: "delivery must be DIRECT or QUEUED" }) })
      .nullish()
      .refine((d) => d == null || s.clientDeliveryChoice, "delivery cannot be chosen in this environment; omit it"),
  });
}

/**
 * SNS's largest message and Lambda's largest asynchronous invocation payload, both 256 KiB of UTF-8: a larger Publish
 * or Invoke fails, so such a prompt is rejected as invalid input instead.
 */
export const MAX_WORK_REQUEST_BYTES = 256 * 1024;

const invalid = (message: string): SendQueryError => ({ error: { message, type: "ValidationError" } });

const reusedId = (messageId: string) => invalid(`messageId ${messageId} was already used in this session; send a new messageId (or none, to get one)`);

/** A limit's refusal as the resolver passes it on: errorType LimitExceeded, which limit, and when the quota resets. */
function refused(refusal: Refusal, messageId: string): SendQueryError {
  if (refusal.limit === "reused") return reusedId(messageId);
  return { error: { message: refusal.message, type: LIMIT_EXCEEDED, info: { limit: refusal.limit, ...(refusal.resetsAt ? { resetsAt: refusal.resetsAt } : {}) } } };
}

export async function sendQuery(event: SendQueryEvent, deps: SendQueryDeps): Promise<SendQueryResult> {
  const admitted = await admitQuery(event, deps);
  if ("error" in admitted) return admitted;
  const { request, body, ref } = admitted;
  try {
    await handOff(request, body, deps).catch(async (error: unknown) => {
      await deps.messages?.discard(ref).catch(() => {}); // nothing half-done: the id may be sent again
      throw error;
    });
  } catch (error) {
    await admitted.releaseSlot().catch(() => {}); // the slot is free again
    throw error;
  }
  return { sessionId: request.sessionId, messageId: request.messageId };
}

/**
 * Validates the input, admits it against the limits and creates its QUEUED record; returns the admitted query, or the
 * error that refuses it with nothing written (a reused id's slot is released again). Throws when a table call fails.
 */
export async function admitQuery(event: SendQueryEvent, deps: AdmitDeps): Promise<AdmittedQuery | SendQueryError> {
  const built = buildWorkRequest(event, deps);
  if ("error" in built) return built;
  const { request, body } = built;
  const ref: MessageRef = { userId: request.userId, sessionId: request.sessionId, messageId: request.messageId };
  const clock = deps.now && (() => deps.now!().getTime());
  const slotRequest = { userId: ref.userId, slotKey: slotKeyOf(ref.sessionId, ref.messageId), requestId: event.requestId ?? undefined };
  const admission = deps.limits && (await admitGeneration(deps.limits.table, slotRequest, deps.limits.settings, clock));
  if (admission && !admission.admitted) return refused(admission.refusal, request.messageId);
  const releaseSlot = () => (admission?.admitted ? deps.limits!.table.releaseSlot(ref.userId, admission.slot.key, admission.slot.expiresAt) : Promise.resolve());
  try {
    // A reused id would be deduplicated by the idempotency record and never answered: refuse it instead.
    if (deps.messages && !(await deps.messages.create(ref))) {
      await releaseSlot();
      return reusedId(request.messageId);
    }
  } catch (error) {
    await releaseSlot().catch(() => {}); // the slot is free again
    throw error;
  }
  return { request, body, ref, releaseSlot };
}

/** The work request to the worker: an Event invocation on the async ingress, else one message to the inbound topic. */
async function handOff(request: WorkRequest, body: string, deps: SendQueryDeps): Promise<void> {
  const worker = deps.settings.workerFunctionName;
  if (worker) {
    if (!deps.lambda) throw new Error("sendQuery: the async ingress needs a Lambda invoker");
    return deps.lambda.invokeEvent(worker, body);
  }
  await deps.sns.send(new PublishCommand(topicPublishInput(deps.settings.inboundTopicArn, body, sessionGroupId(request.userId, request.sessionId), workRequestDeduplicationId(request))));
}

/** The caller's identity and input as a work request and its JSON body, or the error that refuses them. */
function buildWorkRequest(event: SendQueryEvent, deps: AdmitDeps): { request: WorkRequest; body: string } | SendQueryError {
  const userId = event.identity?.sub;
  if (typeof userId !== "string" || userId.length === 0) return { error: { message: "Sign in to send a query", type: "Unauthorized" } };
  const parsed = inputSchema(deps.settings).safeParse(event.arguments?.input);
  if (!parsed.success) return invalid(parsed.error.issues.map((i) => i.message).join("; "));
  const input = parsed.data;
  const request: WorkRequest = workRequestSchema.parse({
    sessionId: input.sessionId,
    messageId: input.messageId ?? (deps.newMessageId ?? randomUUID)(),
    userId,
    prompt: input.prompt,
    modelId: input.modelId ?? deps.settings.defaultModelId,
    requestedAt: (deps.now?.() ?? new Date()).toISOString(),
    ...(input.delivery ? { delivery: input.delivery === "DIRECT" ? "direct" : "queued" } : {}),
    ...(event.transport ? { transport: event.transport } : {}),
  });
  const body = JSON.stringify(request);
  // The char limit alone does not bound bytes: 100,000 CJK characters are ~300 KB of UTF-8.
  const bytes = byteLength(body);
  if (bytes > MAX_WORK_REQUEST_BYTES) {
    return invalid(`prompt is too large: the request would be ${bytes} bytes of UTF-8, over the 256 KiB (${MAX_WORK_REQUEST_BYTES} bytes) message limit; shorten the prompt`);
  }
  return { request, body };
}
