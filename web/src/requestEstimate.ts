/**
 * Estimated AWS requests a delivery path costs per 1,000 output tokens, from what one answer actually produced.
 * Only the delivery leg differs between the paths (sendQuery, the inbound topic/queue and the worker are the same),
 * so only that leg is counted. Pure: the page, the bench and the tests share it.
 */

export type DeliveryPath = "DIRECT" | "QUEUED";

/**
 * Messages a relay invocation is assumed to carry. Conservative: while an answer streams, chunks arrive tens of ms
 * apart and the event source mapping usually picks each one up alone, so one receive, one delete and one invocation
 * per event. Real batching only lowers the queued numbers.
 */
export const CONSERVATIVE_RELAY_BATCH = 1;

export interface RequestBreakdown {
  /** AppSync publishResponse mutations: one per token event plus one for final_response. */
  appsyncMutations: number;
  /** SNS Publish calls to the outbound topic (queued only). */
  snsPublishes: number;
  /** SQS ReceiveMessage + DeleteMessageBatch calls made by the relay's event source mapping (queued only). */
  sqsRequests: number;
  /** outbound-relay Lambda invocations (queued only). */
  relayInvocations: number;
  total: number;
}

/**
 * The delivery leg's requests for one answer of `tokenEvents` token events (its chunks, less a last chunk the final
 * carried: contracts/streamEvents.ts tokenEventCount) and its final_response.
 */
export function deliveryRequests(path: DeliveryPath, tokenEvents: number, relayBatch = CONSERVATIVE_RELAY_BATCH): RequestBreakdown {
  if (!Number.isInteger(tokenEvents) || tokenEvents < 0) throw new RangeError("tokenEvents must be a non-negative integer");
  if (!Number.isInteger(relayBatch) || relayBatch < 1 || relayBatch > 10_000) throw new RangeError("relayBatch must be 1-10000");
  const events = tokenEvents + 1;
  if (path === "DIRECT") return { appsyncMutations: events, snsPublishes: 0, sqsRequests: 0, relayInvocations: 0, total: events };
  const batches = Math.ceil(events / relayBatch);
  const b = { appsyncMutations: events, snsPublishes: events, sqsRequests: 2 * batches, relayInvocations: batches };
  return { ...b, total: b.appsyncMutations + b.snsPublishes + b.sqsRequests + b.relayInvocations };
}

/** Requests per 1,000 output tokens, or undefined when the answer reported no tokens. */
export function requestsPer1kTokens(path: DeliveryPath, tokenEvents: number, outputTokens: number, relayBatch = CONSERVATIVE_RELAY_BATCH): number | undefined {
  if (!(outputTokens > 0)) return undefined;
  return (deliveryRequests(path, tokenEvents, relayBatch).total * 1000) / outputTokens;
}

/** The formula in words, for the page's tooltip and the README. */
export const REQUEST_FORMULA =
  "Per answer, E = token events + 1 (the final_response included; a last chunk the final carries is no event of its own). " +
  "DIRECT = E AppSync mutations. " +
  `QUEUED = E AppSync mutations + E SNS publishes + 2·⌈E/b⌉ SQS requests (receive + delete) + ⌈E/b⌉ relay invocations, b = ${CONSERVATIVE_RELAY_BATCH} (conservative: streamed chunks arrive one at a time). ` +
  "Scaled by 1,000 / output tokens. The shared legs (sendQuery, inbound topic and queue, worker) are not counted.";
