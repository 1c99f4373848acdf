/** AppSync Lambda resolver for `Query.message`, `Mutation.stopGeneration` and `Query.myUsage`: see messageControl.ts. */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { readRuntimeSettings } from "../../contracts/runtimeSettings";
import { MessageStore } from "../shared/messageStore";
import { createPowertools, withPowertools } from "../shared/powertools";
import { UsageTable } from "../shared/usageTable";
import { messageControl, type MessageControlEvent } from "./messageControl";

const powertools = createPowertools("message-control");
const { tracer } = powertools;
const settings = readRuntimeSettings();
const dynamo = tracer.captureAWSv3Client(new DynamoDBClient({}));
const doc = DynamoDBDocumentClient.from(dynamo);
const messages = new MessageStore({ doc, tableName: settings.messagesTableName, ttlDays: settings.historyTtlDays });
const usage = new UsageTable({ doc, tableName: settings.usageTableName });

export const handler = withPowertools(powertools, (event: MessageControlEvent) => messageControl(event, { messages, usage }));
