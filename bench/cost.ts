/** Cost per million output tokens from measured request counts and bench/prices.json (us-east-1, free tiers ignored). */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import type { DeliveryPrices } from "../web/src/requestEstimate";
import type { AwsRequests } from "./counters";

/** bench/prices.json: every price the bench and the page's estimate (DeliveryPrices) use. */
export interface PriceTable extends DeliveryPrices {
  region: string;
  dateRead: string;
  appsync: { queryOrMutationPerMillion: number; realtimeUpdatePerMillion: number; sources: { url: string }[] };
  sns: { standardPublishPerMillion: number; fifoPublishPerMillion: number; sqsDeliveryPerMillion: number; sources: { url: string }[] };
  sqs: { standardRequestPerMillion: number; fifoRequestPerMillion: number; sources: { url: string }[] };
  lambda: { requestPerMillion: number; arm64GbSecond: number; sources: { url: string }[] };
  dynamodb: { writeRequestPerMillion: number; readRequestPerMillion: number; sources: { url: string }[] };
  appsyncInboundMessagesPerSecond: { value: number };
  /** Default service quotas the bench's capacity on paper divides by (each with its source). */
  quotas: Record<"lambdaConcurrentExecutions" | "apigatewayAccountRequestsPerSecond" | "apigatewayWebsocketNewConnectionsPerSecond", { value: number; sources: { url: string }[] }>;
}

export const PRICES_PATH = path.join(__dirname, "prices.json");

export function loadPrices(file = PRICES_PATH): PriceTable {
  const p = JSON.parse(readFileSync(file, "utf8")) as PriceTable;
  const numbers = [
    p.appsync.queryOrMutationPerMillion,
    p.appsync.realtimeUpdatePerMillion,
    p.sns.standardPublishPerMillion,
    p.sqs.standardRequestPerMillion,
    p.lambda.requestPerMillion,
    p.lambda.arm64GbSecond,
    p.appsyncInboundMessagesPerSecond.value,
    p.dynamodb.writeRequestPerMillion,
    p.dynamodb.readRequestPerMillion,
    p.lambdaResponseStreaming.bytesPerGb,
    p.lambdaResponseStreaming.freeBytesPerRequest,
    p.apigatewayWebsocket.messagePerMillion,
    p.apigatewayWebsocket.connectionMinutesPerMillion,
    p.quotas.lambdaConcurrentExecutions.value,
    p.quotas.apigatewayAccountRequestsPerSecond.value,
    p.quotas.apigatewayWebsocketNewConnectionsPerSecond.value,
  ];
  if (numbers.some((n) => typeof n !== "number" || !(n >= 0))) throw new Error(`${file}: every price must be a number >= 0`);
  return p;
}

export interface CostBreakdown {
  appsyncOperations: number;
  appsyncRealtimeUpdates: number;
  sns: number;
  sqs: number;
  lambdaRequests: number;
  lambdaDurationRelay: number;
  lambdaDurationWorker: number;
  /** Everything but the worker's duration, which is mostly waiting on the model and alike in every mode. */
  deliveryTotal: number;
  total: number;
}

export function costPerMillionTokens(r: AwsRequests, outputTokens: number, p: PriceTable, fifo: boolean): CostBreakdown {
  const scale = outputTokens > 0 ? 1_000_000 / outputTokens : Number.NaN;
  const perM = (count: number, pricePerMillion: number) => ((count * scale) / 1_000_000) * pricePerMillion;
  const c = {
    appsyncOperations: perM(r.appsyncMutations, p.appsync.queryOrMutationPerMillion),
    appsyncRealtimeUpdates: perM(r.appsyncRealtimeUpdates, p.appsync.realtimeUpdatePerMillion),
    sns: perM(r.snsPublishes, fifo ? p.sns.fifoPublishPerMillion : p.sns.standardPublishPerMillion),
    sqs: perM(r.sqsRequests, fifo ? p.sqs.fifoRequestPerMillion : p.sqs.standardRequestPerMillion),
    lambdaRequests: perM(r.lambdaInvocations, p.lambda.requestPerMillion),
    lambdaDurationRelay: r.relayGbSeconds * scale * p.lambda.arm64GbSecond,
    lambdaDurationWorker: r.workerGbSeconds * scale * p.lambda.arm64GbSecond,
  };
  const deliveryTotal = c.appsyncOperations + c.appsyncRealtimeUpdates + c.sns + c.sqs + c.lambdaRequests + c.lambdaDurationRelay;
  return { ...c, deliveryTotal, total: deliveryTotal + c.lambdaDurationWorker };
}
