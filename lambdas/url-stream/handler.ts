/** The Function URL's streaming handler (invoke mode RESPONSE_STREAM): see urlStream.ts. Clients, settings and Powertools live at module scope. */
import * as path from "node:path";
import { BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { LambdaFunctionURLEvent } from "aws-lambda";
import { readFunctionUrlSettings } from "../../contracts/runtimeSettings";
import { createLambdaInvoker } from "../shared/lambdaInvoker";
import { MessageStore } from "../shared/messageStore";
import { createPowertools, withPowertools } from "../shared/powertools";
import { powertoolsMetrics } from "../shared/telemetry";
import { UsageTable } from "../shared/usageTable";
import { UserPoolTokenVerifier } from "../shared/userPoolToken";
import { HistoryStore } from "../stream-worker/history";
import { loadToolRegistry } from "../stream-worker/tools/toolRegistry";
import { urlStream, type HttpResponseMetadata, type ResponseStream } from "./urlStream";

const powertools = createPowertools("url-stream");
const { logger, metrics, tracer } = powertools;
const settings = readFunctionUrlSettings();
// The JWKS is fetched once per instance and cached, so a token check costs no network call after the first.
const tokens = new UserPoolTokenVerifier({ issuerUrl: settings.jwtIssuer, clientId: settings.jwtClientId });
const bedrock = tracer.captureAWSv3Client(new BedrockRuntimeClient({}));
const dynamo = tracer.captureAWSv3Client(new DynamoDBClient({ requestHandler: { requestTimeout: 2000, connectionTimeout: 1000 } }));
const doc = DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } });
// The same tools as the worker's, from the spec file beside the code (TOOLS_FILE), so tool_action events stream here too.
const tools = settings.toolsFile ? loadToolRegistry(path.resolve(__dirname, settings.toolsFile), createLambdaInvoker({}, tracer.captureAWSv3Client(new LambdaClient({})))) : undefined;
const deps = {
  tokens,
  // One delivery only (this response): a client's choice of delivery is refused as elsewhere without the option.
  admitSettings: { ...settings, clientDeliveryChoice: false },
  messages: new MessageStore({ doc, tableName: settings.messagesTableName, ttlDays: settings.historyTtlDays }),
  limits: { table: new UsageTable({ doc, tableName: settings.usageTableName }), settings },
  generation: {
    bedrock,
    settings: { ...settings, directSend: true, fallbackToQueue: false },
    history: settings.historyTableName ? new HistoryStore({ doc, tableName: settings.historyTableName, ttlDays: settings.historyTtlDays }) : undefined,
    maxAnswerBytes: settings.maxAnswerBytes,
    tools,
    logger,
    metrics: powertoolsMetrics(metrics),
  },
  httpResponseStream: (stream: ResponseStream, metadata: HttpResponseMetadata) => awslambda.HttpResponseStream.from(stream, metadata),
};

/** The wrapper takes one event; the response stream travels beside it. */
interface StreamingCall {
  event: LambdaFunctionURLEvent;
  responseStream: ResponseStream;
}

const run = withPowertools(powertools, ({ event, responseStream }: StreamingCall, context) => urlStream(event, responseStream, context, deps));

export const handler = awslambda.streamifyResponse<LambdaFunctionURLEvent>((event, responseStream, context) => run({ event, responseStream }, context));
