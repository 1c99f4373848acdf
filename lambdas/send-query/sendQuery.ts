/**
 * sendQuery: validates the caller's input, builds the work request (userId from the verified identity only), creates
 * the message's durable record (QUEUED; a message id this user already used in the session is refused) and publishes
 * exactly one message to the inbound topic. Bad input returns `{error}` (the resolver turns it into a GraphQL error)
 * and writes and publishes nothing; a failed publish removes the record again and throws.
 */
import { randomUUID } from "node:crypto";
import { PublishCommand, type SNSClient } from "@aws-sdk/client-sns";
import { z } from "zod";
import { ID_PATTERN } from "../../contracts/ids";
import { byteLength } from "../../contracts/utf8";
import { workRequestSchema, type WorkRequest } from "../../contracts/workRequest";
import type { RuntimeSettings } from "../../contracts/runtimeSettings";
import { sessionGroupId, topicPublishInput, workRequestDeduplicationId } from "../shared/fifoIds";
import type { MessageStore } from "../shared/messageStore";

/** The AppSync Lambda resolver payload built by graphql/resolvers/sendQuery.js. */
export interface SendQueryEvent {
  arguments?: { input?: unknown };
  identity?: { sub?: string } | null;
}

export type SendQueryResult = { sessionId: string; messageId: string } | { error: { message: string; type: string } };

export type SendQuerySettings = Pick<RuntimeSettings, "inboundTopicArn" | "maxPromptChars" | "defaultModelId" | "allowedModelIds" | "clientDeliveryChoice">;

export interface SendQueryDeps {
  sns: SNSClient;
  settings: SendQuerySettings;
  /** The durable message records; absent only in tests of validation alone. */
  messages?: MessageStore;
  /** Message id when the client sends none (default crypto.randomUUID). */
  newMessageId?: () => string;
  now?: () => Date;
}

const idField = (name: string) => z.string({ required_error: `${name} is required`, invalid_type_error: `${name} must be a string` }).regex(ID_PATTERN, `${name} must be 8-64 letters, digits, '-' or '_'`);

function inputSchema(s: SendQuerySettings) {
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

/** SNS's largest message (256 KiB of UTF-8): a larger Publish fails, so such a prompt is rejected as invalid input instead. */
export const MAX_WORK_REQUEST_BYTES = 256 * 1024;

const invalid = (message: string): SendQueryResult => ({ error: { message, type: "ValidationError" } });

export async function sendQuery(event: SendQueryEvent, deps: SendQueryDeps): Promise<SendQueryResult> {
  const userId = event.identity?.sub;
  if (typeof userId !== "string" || userId.length === 0) return { error: { message: "Sign in to send a query", type: "Unauthorized" } };

  const parsed = inputSchema(deps.settings).safeParse(event.arguments?.input);
  if (!parsed.success) {
    return invalid(parsed.error.issues.map((i) => i.message).join("; "));
  }
  const input = parsed.data;
  const request: WorkRequest = workRequestSchema.parse({
    sessionId: input.sessionId,
    messageId: input.messageId ?? (deps.newMessageId ?? randomUUID)(),
    userId,
    prompt: input.prompt,
    modelId: input.modelId ?? deps.settings.defaultModelId,
    requestedAt: (deps.now?.() ?? new Date()).toISOString(),
    ...(input.delivery ? { delivery: input.delivery === "DIRECT" ? "direct" : "queued" } : {}),
  });
  const body = JSON.stringify(request);
  // The char limit alone does not bound bytes: 100,000 CJK characters are ~300 KB of UTF-8.
  const bytes = byteLength(body);
  if (bytes > MAX_WORK_REQUEST_BYTES) {
    return invalid(`prompt is too large: the request would be ${bytes} bytes of UTF-8, over the 256 KiB (${MAX_WORK_REQUEST_BYTES} bytes) message limit; shorten the prompt`);
  }
  const ref = { userId, sessionId: request.sessionId, messageId: request.messageId };
  // A reused id would be deduplicated by the idempotency record and never answered: refuse it instead.
  if (deps.messages && !(await deps.messages.create(ref))) {
    return invalid(`messageId ${request.messageId} was already used in this session; send a new messageId (or none, to get one)`);
  }
  try {
    await deps.sns.send(new PublishCommand(topicPublishInput(deps.settings.inboundTopicArn, body, sessionGroupId(userId, request.sessionId), workRequestDeduplicationId(request))));
  } catch (error) {
    await deps.messages?.discard(ref).catch(() => {}); // nothing half-done: the id may be sent again
    throw error;
  }
  return { sessionId: request.sessionId, messageId: request.messageId };
}
