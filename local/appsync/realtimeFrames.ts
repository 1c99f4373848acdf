/**
 * What a real-time client sends, checked before anything reads it: a frame becomes a ClientMessage (a JSON object's
 * `type`, `id` and `payload`, each as sent) or the `error` AppSync answers it with. Never throws.
 */
import type { RawData } from "ws";
import { appSyncError, type AppSyncErrorEntry } from "./engine";

/** A frame larger than this is answered with an error and not parsed (the connection stays open). */
export const MAX_MESSAGE_BYTES = 256 * 1024;
/** The socket itself refuses frames beyond this: it closes with 1009 (Message Too Big) before any handler runs. */
export const MAX_FRAME_BYTES = 1024 * 1024;

/** One client message; its fields are unknown until the handler of its type checks them. */
export interface ClientMessage {
  type: unknown;
  id: unknown;
  payload: unknown;
}

/** A message to handle, or the error entry to answer a frame with. */
export type FrameResult = { ok: true; message: ClientMessage } | { ok: false; error: AppSyncErrorEntry };

/** AppSync's answer to a message of a type it does not know; it names every such type "unknown". */
export function unsupportedOperation(operation = "unknown"): AppSyncErrorEntry {
  return appSyncError(`${operation} not supported through the realtime channel`, "UnsupportedOperation");
}

/** Reads one frame, text or binary. JSON that is not an object (null, a number, an array) has an unknown type. */
export function parseFrame(raw: RawData): FrameResult {
  const bytes = frameBytes(raw);
  if (bytes.length > MAX_MESSAGE_BYTES) {
    return { ok: false, error: appSyncError(`Message exceeds ${MAX_MESSAGE_BYTES} bytes`, "BadRequestException") };
  }
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString("utf8"));
  } catch {
    return { ok: false, error: appSyncError("Message is not valid JSON", "BadRequestException") };
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) return { ok: false, error: unsupportedOperation() };
  const { type, id, payload } = json as Record<string, unknown>;
  return { ok: true, message: { type, id, payload } };
}

function frameBytes(raw: RawData): Buffer {
  if (Buffer.isBuffer(raw)) return raw;
  if (Array.isArray(raw)) return Buffer.concat(raw);
  return Buffer.from(raw);
}
