/**
 * The work request: sendQuery -> inbound topic -> work queue -> worker (raw delivery, so the SQS body is exactly this
 * JSON), or, on the async ingress, sendQuery -> the worker's Event invocation, whose payload is exactly this JSON.
 */
import { z } from "zod";
import { idSchema as id } from "./ids";

/** What sendQuery puts on the inbound topic and the worker consumes. `userId` always comes from the caller's identity. */
export const workRequestSchema = z.object({
  sessionId: id,
  messageId: id,
  userId: z.string().min(1),
  prompt: z.string().min(1),
  modelId: z.string().min(1),
  requestedAt: z.string(),
  /** Set only when the environment allows a client's choice; otherwise the worker's DIRECT_SEND decides. */
  delivery: z.enum(["direct", "queued"]).optional(),
  /** The API Gateway WebSocket route sent it: the worker posts its events to the user's connections. Absent: AppSync. */
  transport: z.literal("websocket").optional(),
});
export type WorkRequest = z.infer<typeof workRequestSchema>;
