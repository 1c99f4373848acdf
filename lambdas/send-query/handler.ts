/** AppSync Lambda resolver for `sendQuery`: see sendQuery.ts. Clients, settings and Powertools live at module scope. */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SNSClient } from "@aws-sdk/client-sns";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { readRuntimeSettings } from "../../contracts/runtimeSettings";
import { MessageStore } from "../shared/messageStore";
import { createLambdaInvoker } from "../shared/lambdaInvoker";
import { createPowertools, withPowertools } from "../shared/powertools";
import { countQueryOutcome } from "./queryMetrics";
import { UsageTable } from "../shared/usageTable";
import { sendQuery, type SendQueryEvent, type SendQueryResult } from "./sendQuery";

const powertools = createPowertools("send-query");
const { logger, metrics, tracer } = powertools;
const sns = tracer.captureAWSv3Client(new SNSClient({}));
const settings = readRuntimeSettings();
const dynamo = tracer.captureAWSv3Client(new DynamoDBClient({}));
const doc = DynamoDBDocumentClient.from(dynamo);
const messages = new MessageStore({ doc, tableName: settings.messagesTableName, ttlDays: settings.historyTtlDays });
// The async ingress invokes the worker (WORKER_FUNCTION_NAME set); the queued one publishes to the inbound topic.
const lambda = settings.workerFunctionName ? createLambdaInvoker() : undefined;
const limits = { table: new UsageTable({ doc, tableName: settings.usageTableName }), settings };

/** Logs and counts what became of one query: accepted and published, or rejected (and by which limit). */
function recordResult(result: SendQueryResult): SendQueryResult {
  if ("error" in result) {
    logger.info("sendQuery rejected", { reason: result.error.message, type: result.error.type, limit: result.error.info?.limit });
  } else {
    logger.info(settings.workerFunctionName ? "work request handed to the worker" : "work request published", { sessionId: result.sessionId, messageId: result.messageId });
  }
  countQueryOutcome(metrics, "error" in result ? result.error : undefined);
  return result;
}

export const handler = withPowertools(powertools, async (event: SendQueryEvent) => recordResult(await sendQuery(event, { sns, lambda, settings, messages, limits })));
