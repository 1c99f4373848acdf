/** stream-worker: work queue consumer (see worker.ts and generation.ts). Clients, settings and Powertools live at module scope. */
import * as path from "node:path";
import { DynamoDBPersistenceLayer } from "@aws-lambda-powertools/idempotency/dynamodb";
import { ApiGatewayManagementApiClient } from "@aws-sdk/client-apigatewaymanagementapi";
import { BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { SNSClient } from "@aws-sdk/client-sns";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { readRuntimeSettings, readWebsocketSettings } from "../../contracts/runtimeSettings";
import { createAppSyncPublisher } from "../shared/appsyncPublisher";
import { createConnectionPublisher } from "../shared/connectionPublisher";
import { ConnectionTable } from "../shared/connectionTable";
import { createLambdaInvoker } from "../shared/lambdaInvoker";
import { createPowertools, withPowertools } from "../shared/powertools";
import { createQueuePublisher } from "../shared/queuePublisher";
import { powertoolsMetrics } from "../shared/telemetry";
import { MessageStore } from "../shared/messageStore";
import { UsageTable } from "../shared/usageTable";
import { HistoryStore } from "./history";
import { loadToolRegistry } from "./tools/toolRegistry";
import { createStreamWorker } from "./worker";

const powertools = createPowertools("stream-worker");
const { logger, metrics, tracer } = powertools;
const settings = readRuntimeSettings();

// Endpoints come from the SDK's own variables (AWS_ENDPOINT_URL_BEDROCK_RUNTIME, ..._SNS, ..._DYNAMODB); the Bedrock
// client keeps its default handler, which speaks HTTP/2 for the event stream.
const bedrock = tracer.captureAWSv3Client(new BedrockRuntimeClient({}));
const sns = tracer.captureAWSv3Client(new SNSClient({}));
// Short request timeouts: a hung table call must not run the invocation into its timeout (SQS would re-run it).
const dynamo = tracer.captureAWSv3Client(new DynamoDBClient({ requestHandler: { requestTimeout: 2000, connectionTimeout: 1000 } }));
const doc = DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } });
// Only where the websocket transport is on (WS_ENDPOINT, WS_TABLE): the WebSocket route's messages go to the user's connections.
const ws = readWebsocketSettings();
const websocket = ws
  ? createConnectionPublisher({
      management: tracer.captureAWSv3Client(new ApiGatewayManagementApiClient({ endpoint: ws.websocketEndpoint, requestHandler: { requestTimeout: 3000, connectionTimeout: 1000 } })),
      connections: new ConnectionTable({ doc, tableName: ws.connectionsTableName }),
      logger,
      metrics: powertoolsMetrics(metrics),
    })
  : undefined;
// The tool specs are read once, from beside the code (TOOLS_FILE); tool Lambdas are invoked synchronously (AWS_ENDPOINT_URL_LAMBDA locally).
const tools = settings.toolsFile ? loadToolRegistry(path.resolve(__dirname, settings.toolsFile), createLambdaInvoker({}, tracer.captureAWSv3Client(new LambdaClient({})))) : undefined;

const worker = createStreamWorker({
  persistenceStore: new DynamoDBPersistenceLayer({ tableName: settings.idempotencyTableName, awsSdkV3Client: dynamo }),
  generation: {
    bedrock,
    settings,
    direct: createAppSyncPublisher({ endpoint: settings.appsyncEndpoint, logger }),
    queue: createQueuePublisher({ sns, topicArn: settings.outboundTopicArn }),
    websocket,
    history: settings.historyTableName ? new HistoryStore({ doc, tableName: settings.historyTableName, ttlDays: settings.historyTtlDays }) : undefined,
    tools,
    messages: new MessageStore({ doc, tableName: settings.messagesTableName, ttlDays: settings.historyTtlDays }),
    usage: new UsageTable({ doc, tableName: settings.usageTableName }),
    logger,
    metrics: powertoolsMetrics(metrics),
  },
});

export const handler = withPowertools(powertools, worker);
