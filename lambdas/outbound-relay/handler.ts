/** outbound-relay: outbound queue consumer (see relay.ts). Clients, settings and Powertools live at module scope. */
import type { SQSEvent } from "aws-lambda";
import { readRuntimeSettings } from "../../contracts/runtimeSettings";
import { createAppSyncPublisher } from "../shared/appsyncPublisher";
import { createPowertools, withPowertools } from "../shared/powertools";
import { powertoolsMetrics } from "../shared/telemetry";
import { createDeadLetterMover } from "./deadLetters";
import { createQueueUrls } from "./queueUrls";
import { createRedeliveryScheduler, createRelaySqsClient } from "./redelivery";
import { relayBatch } from "./relay";

const powertools = createPowertools("outbound-relay");
const { logger, metrics, tracer } = powertools;
const settings = readRuntimeSettings();
// The publisher uses fetch, not an SDK client; the SQS client (endpoint from AWS_ENDPOINT_URL_SQS locally) is traced.
const publisher = createAppSyncPublisher({ endpoint: settings.appsyncEndpoint, logger });
const sqs = tracer.captureAWSv3Client(createRelaySqsClient());
const queueUrls = createQueueUrls({ sqs, logger, callTimeoutMs: 2000 });
const redelivery = createRedeliveryScheduler({ sqs, logger, queueUrls });
const deadLetters = createDeadLetterMover({ sqs, queueUrls, logger });
const runtimeMetrics = powertoolsMetrics(metrics);

export const handler = withPowertools(powertools, async (event: SQSEvent, context) => {
  tracer.putAnnotation("records", event.Records.length);
  return relayBatch(event, {
    publisher,
    logger,
    metrics: runtimeMetrics,
    remainingTimeMs: () => context.getRemainingTimeInMillis(),
    redelivery,
    retryWindowSeconds: settings.relayRetrySeconds,
    deadLetters,
  });
});
