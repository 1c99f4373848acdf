/** stream-worker: work queue consumer (see worker.ts and generation.ts). Clients, settings and Powertools singletons live at module scope. */
import { DynamoDBPersistenceLayer } from "@aws-lambda-powertools/idempotency/dynamodb";
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { Tracer } from "@aws-lambda-powertools/tracer";
import { BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SNSClient } from "@aws-sdk/client-sns";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { createAppSyncPublisher } from "../shared/appsyncPublisher";
import { metricsNamespace, readRuntimeSettings } from "../../contracts/runtimeSettings";
import { createQueuePublisher } from "../shared/queuePublisher";
import { powertoolsMetrics } from "../shared/telemetry";
import { HistoryStore } from "./history";
import { createStreamWorker } from "./worker";

const serviceName = "stream-worker";
const logger = new Logger({ serviceName });
const metrics = new Metrics({ serviceName, namespace: metricsNamespace() });
const tracer = new Tracer({ serviceName });
const settings = readRuntimeSettings();

// Endpoints come from the SDK's own variables (AWS_ENDPOINT_URL_BEDROCK_RUNTIME, ..._SNS, ..._DYNAMODB); the Bedrock
// client keeps its default handler, which speaks HTTP/2 for the event stream.
const bedrock = tracer.captureAWSv3Client(new BedrockRuntimeClient({}));
const sns = tracer.captureAWSv3Client(new SNSClient({}));
const dynamo = tracer.captureAWSv3Client(new DynamoDBClient({}));

const worker = createStreamWorker({
  persistenceStore: new DynamoDBPersistenceLayer({ tableName: settings.idempotencyTableName, awsSdkV3Client: dynamo }),
  generation: {
    bedrock,
    settings,
    direct: createAppSyncPublisher({ endpoint: settings.appsyncEndpoint, logger }),
    queue: createQueuePublisher({ sns, topicArn: settings.outboundTopicArn }),
    history: settings.historyTableName
      ? new HistoryStore({ doc: DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } }), tableName: settings.historyTableName, ttlDays: settings.historyTtlDays })
      : undefined,
    logger,
    metrics: powertoolsMetrics(metrics),
  },
});

export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  logger.addContext(context);
  try {
    return await worker(event, context);
  } finally {
    // Nothing to publish is normal (e.g. a batch with no events); Powertools would warn on every such invocation.
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  }
};
