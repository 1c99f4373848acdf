/**
 * Estimated AWS requests and cost a delivery path adds per answer, from what one answer actually produced. Only the
 * delivery leg is counted: the generation itself (the model call, the function that runs it) is alike on every path.
 * Pure: the page, the bench and the tests share it.
 */

/** AppSync's two delivery paths, as a client may choose them per request (sendQuery's `delivery`). */
export type DeliveryPath = "DIRECT" | "QUEUED";
/** The four columns of the comparison: AppSync direct and queued, the Function URL stream and the WebSocket API. */
export type ComparedPath = DeliveryPath | "FUNCTION_URL" | "WEBSOCKET";
export const COMPARED_PATHS: readonly ComparedPath[] = ["DIRECT", "QUEUED", "FUNCTION_URL", "WEBSOCKET"];

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
  /** API Gateway WebSocket messages: one PostToConnection per event, each under the 32 KB metering unit (WebSocket only). */
  apiGatewayMessages: number;
  total: number;
}

const NONE = { appsyncMutations: 0, snsPublishes: 0, sqsRequests: 0, relayInvocations: 0, apiGatewayMessages: 0 };

/**
 * The delivery leg's requests for one answer of `tokenEvents` token events (its chunks, less a last chunk the final
 * carried: contracts/streamEvents.ts tokenEventCount) and its final_response.
 */
export function deliveryRequests(path: ComparedPath, tokenEvents: number, relayBatch = CONSERVATIVE_RELAY_BATCH): RequestBreakdown {
  if (!Number.isInteger(tokenEvents) || tokenEvents < 0) throw new RangeError("tokenEvents must be a non-negative integer");
  if (!Number.isInteger(relayBatch) || relayBatch < 1 || relayBatch > 10_000) throw new RangeError("relayBatch must be 1-10000");
  const events = tokenEvents + 1;
  // The events are lines of the invocation's own streamed response: no request of their own.
  if (path === "FUNCTION_URL") return { ...NONE, total: 0 };
  if (path === "WEBSOCKET") return { ...NONE, apiGatewayMessages: events, total: events };
  if (path === "DIRECT") return { ...NONE, appsyncMutations: events, total: events };
  const batches = Math.ceil(events / relayBatch);
  const b = { ...NONE, appsyncMutations: events, snsPublishes: events, sqsRequests: 2 * batches, relayInvocations: batches };
  return { ...b, total: b.appsyncMutations + b.snsPublishes + b.sqsRequests + b.relayInvocations };
}

/** Requests per 1,000 output tokens, or undefined when the answer reported no tokens. */
export function requestsPer1kTokens(path: ComparedPath, tokenEvents: number, outputTokens: number, relayBatch = CONSERVATIVE_RELAY_BATCH): number | undefined {
  if (!(outputTokens > 0)) return undefined;
  return (deliveryRequests(path, tokenEvents, relayBatch).total * 1000) / outputTokens;
}

/** The published prices the estimate uses (bench/prices.json; its `sources` say where each was read). */
export interface DeliveryPrices {
  appsync: { queryOrMutationPerMillion: number; realtimeUpdatePerMillion: number };
  sns: { standardPublishPerMillion: number };
  sqs: { standardRequestPerMillion: number };
  lambda: { requestPerMillion: number };
  lambdaResponseStreaming: { bytesPerGb: number; freeBytesPerRequest: number };
  apigatewayWebsocket: { messagePerMillion: number; connectionMinutesPerMillion: number };
}

/** What one answer produced on its path, beside its token events. */
export interface AnswerShape {
  tokenEvents: number;
  outputTokens: number;
  /** From the request to the final event (WebSocket connection minutes; the socket is open at least this long). */
  durationMs: number;
  /** UTF-8 bytes of the streamed response (Function URL: billed past freeBytesPerRequest). */
  responseBytes: number;
}

/**
 * Delivery cost per 1M output tokens in USD, or undefined without tokens. AppSync: each event is one mutation and one
 * real-time update to the one subscriber (events are under the 5 KB unit); queued adds its publish, receive, delete
 * and relay invocation (the relay's duration is measured by the bench, not here). WebSocket: one metered message per
 * event plus the answer's connection minutes. Function URL: only bytes past the per-request free 6 MB.
 */
export function deliveryCostPer1MTokens(path: ComparedPath, answer: AnswerShape, p: DeliveryPrices): number | undefined {
  if (!(answer.outputTokens > 0)) return undefined;
  const r = deliveryRequests(path, answer.tokenEvents);
  const perM = (count: number, pricePerMillion: number) => (count * pricePerMillion) / 1_000_000;
  const appsync = perM(r.appsyncMutations, p.appsync.queryOrMutationPerMillion + p.appsync.realtimeUpdatePerMillion);
  const queued = perM(r.snsPublishes, p.sns.standardPublishPerMillion) + perM(r.sqsRequests, p.sqs.standardRequestPerMillion) + perM(r.relayInvocations, p.lambda.requestPerMillion);
  const websocket = path === "WEBSOCKET" ? perM(r.apiGatewayMessages, p.apigatewayWebsocket.messagePerMillion) + perM(answer.durationMs / 60_000, p.apigatewayWebsocket.connectionMinutesPerMillion) : 0;
  const billedBytes = path === "FUNCTION_URL" ? Math.max(0, answer.responseBytes - p.lambdaResponseStreaming.freeBytesPerRequest) : 0;
  const perAnswer = appsync + queued + websocket + (billedBytes / 2 ** 30) * p.lambdaResponseStreaming.bytesPerGb;
  return (perAnswer * 1_000_000) / answer.outputTokens;
}

/** The formula in words, for the page's tooltip and the README. */
export const REQUEST_FORMULA =
  "Per answer, E = token events + 1 (the final_response included; a last chunk the final carries is no event of its own). " +
  "FUNCTION_URL = 0 (the events are lines of the invocation's own streamed response). WEBSOCKET = E PostToConnection messages. " +
  "DIRECT = E AppSync mutations. " +
  `QUEUED = E AppSync mutations + E SNS publishes + 2·⌈E/b⌉ SQS requests (receive + delete) + ⌈E/b⌉ relay invocations, b = ${CONSERVATIVE_RELAY_BATCH} (conservative: streamed chunks arrive one at a time). ` +
  "Scaled by 1,000 / output tokens. The shared legs (sendQuery, inbound topic and queue, worker) are not counted.";
