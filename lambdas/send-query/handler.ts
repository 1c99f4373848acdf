/** AppSync Lambda resolver for `sendQuery`: see sendQuery.ts. Clients, settings and Powertools live at module scope. */
import { SNSClient } from "@aws-sdk/client-sns";
import { readRuntimeSettings } from "../../contracts/runtimeSettings";
import { createPowertools, withPowertools } from "../shared/powertools";
import { sendQuery, type SendQueryEvent, type SendQueryResult } from "./sendQuery";

const powertools = createPowertools("send-query");
const { logger, metrics, tracer } = powertools;
const sns = tracer.captureAWSv3Client(new SNSClient({}));
const settings = readRuntimeSettings();

/** Logs and counts what became of one query: accepted and published, or rejected. */
function recordResult(result: SendQueryResult): SendQueryResult {
  if ("error" in result) {
    logger.info("sendQuery rejected", { reason: result.error.message });
    metrics.addMetric("RejectedQueries", "Count", 1);
  } else {
    logger.info("work request published", { sessionId: result.sessionId, messageId: result.messageId });
    metrics.addMetric("QueriesAccepted", "Count", 1);
  }
  return result;
}

export const handler = withPowertools(powertools, async (event: SendQueryEvent) => recordResult(await sendQuery(event, { sns, settings })));
