/** The WebSocket API's route function ($connect, $disconnect, sendQuery, stopGeneration, ping, $default): see routes.ts. */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SNSClient } from "@aws-sdk/client-sns";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { readRuntimeSettings, readWebsocketSettings } from "../../contracts/runtimeSettings";
import { ConnectionTable } from "../shared/connectionTable";
import { createLambdaInvoker } from "../shared/lambdaInvoker";
import { MessageStore } from "../shared/messageStore";
import { createPowertools, withPowertools } from "../shared/powertools";
import { powertoolsMetrics } from "../shared/telemetry";
import { UsageTable } from "../shared/usageTable";
import { handleRoute, type WebsocketRouteEvent } from "./routes";

const powertools = createPowertools("websocket-routes");
const { logger, metrics, tracer } = powertools;
const settings = readRuntimeSettings();
const ws = readWebsocketSettings();
if (!ws) throw new Error("Invalid Lambda environment: WS_ENDPOINT and WS_TABLE are required");
const dynamo = tracer.captureAWSv3Client(new DynamoDBClient({}));
const doc = DynamoDBDocumentClient.from(dynamo);
const messages = new MessageStore({ doc, tableName: settings.messagesTableName, ttlDays: settings.historyTtlDays });
const usage = new UsageTable({ doc, tableName: settings.usageTableName });
// The same hand-off as send-query's: the inbound topic, or (WORKER_FUNCTION_NAME set) an Event invocation of the worker.
const sendQuery = {
  sns: tracer.captureAWSv3Client(new SNSClient({})),
  lambda: settings.workerFunctionName ? createLambdaInvoker() : undefined,
  settings,
  messages,
  limits: { table: usage, settings },
};
const connections = new ConnectionTable({ doc, tableName: ws.connectionsTableName });

export const handler = withPowertools(powertools, (event: WebsocketRouteEvent) => handleRoute(event, { connections, sendQuery, control: { messages, usage }, logger, metrics: powertoolsMetrics(metrics) }));
