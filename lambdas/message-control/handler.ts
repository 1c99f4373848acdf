/** AppSync Lambda resolver for `Query.message` and `Mutation.stopGeneration`: see messageControl.ts. */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { readRuntimeSettings } from "../../contracts/runtimeSettings";
import { MessageStore } from "../shared/messageStore";
import { createPowertools, withPowertools } from "../shared/powertools";
import { messageControl, type MessageControlEvent } from "./messageControl";

const powertools = createPowertools("message-control");
const { tracer } = powertools;
const settings = readRuntimeSettings();
const dynamo = tracer.captureAWSv3Client(new DynamoDBClient({}));
const messages = new MessageStore({ doc: DynamoDBDocumentClient.from(dynamo), tableName: settings.messagesTableName, ttlDays: settings.historyTtlDays });

export const handler = withPowertools(powertools, (event: MessageControlEvent) => messageControl(event, { messages }));
