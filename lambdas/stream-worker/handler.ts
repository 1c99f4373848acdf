/** stream-worker: work queue consumer (see worker.ts and generation.ts). Clients, settings and Powertools live at module scope. */
import { DynamoDBPersistenceLayer } from "@aws-lambda-powertools/idempotency/dynamodb";
import { BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SNSClient } from "@aws-sdk/client-sns";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { readRuntimeSettings } from "../../contracts/runtimeSettings";
import { createAppSyncPublisher } from "../shared/appsyncPublisher";
import { createPowertools, withPowertools } from "../shared/powertools";
import { createQueuePublisher } from "../shared/queuePublisher";
import { powertoolsMetrics } from "../shared/telemetry";
import { HistoryStore } from "./history";
import { createStreamWorker } from "./worker";

const powertools = createPowertools("stream-worker");
const { logger, metrics, tracer } = powertools;
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

export const handler = withPowertools(powertools, worker);
