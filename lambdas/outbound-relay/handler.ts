/** outbound-relay: outbound queue consumer (see relay.ts). Clients, settings and Powertools singletons live at module scope. */
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { Tracer } from "@aws-lambda-powertools/tracer";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { createAppSyncPublisher } from "../shared/appsyncPublisher";
import { metricsNamespace, readRuntimeSettings } from "../../contracts/runtimeSettings";
import { powertoolsMetrics } from "../shared/telemetry";
import { createRedeliveryScheduler, createRelaySqsClient } from "./redelivery";
import { relayBatch } from "./relay";

const serviceName = "outbound-relay";
const logger = new Logger({ serviceName });
const metrics = new Metrics({ serviceName, namespace: metricsNamespace() });
// The publisher uses fetch, not an SDK client; the SQS client (endpoint from AWS_ENDPOINT_URL_SQS locally) is traced.
const tracer = new Tracer({ serviceName });
const settings = readRuntimeSettings();
const publisher = createAppSyncPublisher({ endpoint: settings.appsyncEndpoint, logger });
const redelivery = createRedeliveryScheduler({ sqs: tracer.captureAWSv3Client(createRelaySqsClient()), logger });
const runtimeMetrics = powertoolsMetrics(metrics);

export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  logger.addContext(context);
  tracer.putAnnotation("records", event.Records.length);
  try {
    return await relayBatch(event, { publisher, logger, metrics: runtimeMetrics, remainingTimeMs: () => context.getRemainingTimeInMillis(), redelivery });
  } finally {
    // Nothing to publish is normal (e.g. a batch with no events); Powertools would warn on every such invocation.
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  }
};
