/** AppSync Lambda resolver for `sendQuery`: see sendQuery.ts. */
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { Tracer } from "@aws-lambda-powertools/tracer";
import { SNSClient } from "@aws-sdk/client-sns";
import type { Context } from "aws-lambda";
import { metricsNamespace, readRuntimeSettings } from "../../contracts/runtimeSettings";
import { sendQuery, type SendQueryEvent, type SendQueryResult } from "./sendQuery";

const serviceName = "send-query";
const logger = new Logger({ serviceName });
const metrics = new Metrics({ serviceName, namespace: metricsNamespace() });
const tracer = new Tracer({ serviceName });
const sns = tracer.captureAWSv3Client(new SNSClient({}));
const settings = readRuntimeSettings();

export const handler = async (event: SendQueryEvent, context: Context): Promise<SendQueryResult> => {
  logger.addContext(context);
  try {
    const result = await sendQuery(event, { sns, settings });
    if ("error" in result) {
      logger.info("sendQuery rejected", { reason: result.error.message });
      metrics.addMetric("RejectedQueries", "Count", 1);
    } else {
      logger.info("work request published", { sessionId: result.sessionId, messageId: result.messageId });
      metrics.addMetric("QueriesAccepted", "Count", 1);
    }
    return result;
  } finally {
    // Nothing to publish is normal (e.g. a batch with no events); Powertools would warn on every such invocation.
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  }
};
