import * as path from "node:path";
import { Construct } from "constructs";
import { TerraformOutput, TerraformStack } from "cdktf";
import { EnvironmentConfig, stackName } from "../config/schema";
import { resourceNames } from "../config/names";
import { runtimeSettingsFor } from "../config/runtime";
import { observabilityVariables, runtimeVariables } from "../contracts/runtimeSettings";
import { DeploymentTarget } from "./deploymentTarget";
import { EncryptionKey } from "./encryptionKey";
import { Messaging } from "./messaging";
import { ConversationTables } from "./conversationTables";
import { UserDirectory } from "./userDirectory";
import { StreamingApi } from "./streamingApi";
import { BundledFunction } from "./bundledFunction";
import { PlatformAlarms } from "./platformAlarms";
import { bedrockModelArns, permissionsBoundaryArn, publishResponseFieldArn } from "./arns";
import { Statement } from "./policy";

export const LAMBDAS_DIR = path.resolve(__dirname, "..", "lambdas");

/** Names of the stack outputs: scripts/clientConfig.ts reads them back from `terraform output -json`. */
export const OUTPUTS = {
  environment: "environment",
  region: "region",
  graphqlUrl: "graphql_url",
  realtimeUrl: "realtime_url",
  userPoolId: "user_pool_id",
  userPoolClientId: "user_pool_client_id",
  models: "models",
} as const;

export interface PlatformStackProps {
  /** The validated config of one environment (config/load.ts). */
  readonly config: EnvironmentConfig;
}

/** One environment's whole platform, self-contained: its own provider, backend, key, messaging, API, functions and alarms. */
export class PlatformStack extends TerraformStack {
  public readonly config: EnvironmentConfig;

  constructor(scope: Construct, props: PlatformStackProps) {
    const c = props.config;
    super(scope, stackName(c));
    this.config = c;
    const names = resourceNames(c);
    const prefix = stackName(c);
    const account = c.account_id;
    const region = c.region;
    // Production data and users survive an accidental destroy.
    const protect = c.name === "prod";

    // Every role carries the environment's boundary (bootstrap stack): the deploy role cannot create an unbounded one.
    const boundary = permissionsBoundaryArn(region, account, prefix);

    new DeploymentTarget(this, "aws", { config: c });
    const key = new EncryptionKey(this, "key", { alias: prefix, accountId: account, region });
    const messaging = new Messaging(this, "messaging", {
      names,
      fifo: c.queue.fifo,
      kmsKeyArn: key.keyArn,
      maxReceiveCount: c.queue.max_receive_count,
      visibilityTimeoutSeconds: c.queue.visibility_timeout_seconds,
      consumerTimeoutSeconds: c.lambda.timeout_seconds,
    });
    const tables = new ConversationTables(this, "tables", {
      historyTableName: names.historyTable,
      idempotencyTableName: names.idempotencyTable,
      historyEnabled: c.history.enabled,
      kmsKeyArn: key.keyArn,
      deletionProtection: protect,
    });
    const users = new UserDirectory(this, "users", { name: prefix, existingUserPoolId: c.cognito.existing_user_pool_id, deletionProtection: protect });
    const api = new StreamingApi(this, "api", {
      name: names.api,
      accountId: account,
      region,
      userPoolId: users.userPoolId,
      userPoolClientId: users.userPoolClientId,
      xray: c.appsync.xray,
      fieldLogLevel: c.appsync.field_log_level,
      introspection: c.appsync.introspection,
      logRetentionDays: c.lambda.log_retention_days,
      permissionsBoundaryArn: boundary,
    });

    const variables = runtimeVariables(
      runtimeSettingsFor(c, {
        appsyncEndpoint: api.graphqlUrl,
        inboundTopicArn: messaging.inboundTopic.topicArn,
        outboundTopicArn: messaging.outboundTopic.topicArn,
        idempotencyTableName: tables.idempotency.tableName,
        historyTableName: tables.history?.tableName ?? "",
      }),
    );
    const useKey: Statement = { sid: "UseEnvironmentKey", actions: ["kms:Decrypt", "kms:GenerateDataKey"], resources: [key.keyArn] };
    const publishTo = (topicArn: string): Statement => ({ sid: "PublishToTopic", actions: ["sns:Publish"], resources: [topicArn] });
    const consume = (queueArn: string): Statement => ({
      sid: "ConsumeOwnQueue",
      actions: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"],
      resources: [queueArn],
    });
    const publishResponse: Statement = { sid: "PublishResponseOnly", actions: ["appsync:GraphQL"], resources: [publishResponseFieldArn(region, account, api.apiId)] };

    const fn = (id: string, functionName: string, dir: string, statements: Statement[]) =>
      new BundledFunction(this, id, {
        functionName,
        entry: path.join(LAMBDAS_DIR, dir, "handler.ts"),
        memoryMb: c.lambda.memory_mb,
        timeoutSeconds: c.lambda.timeout_seconds,
        reservedConcurrency: c.lambda.reserved_concurrency,
        logRetentionDays: c.lambda.log_retention_days,
        variables: { ...variables, ...observabilityVariables({ serviceName: dir, metricsNamespace: c.project, environment: c.name }) },
        statements,
        permissionsBoundaryArn: boundary,
      });

    const sendQuery = fn("send-query", names.functions.sendQuery, "send-query", [publishTo(messaging.inboundTopic.topicArn), useKey]);

    // The worker signs publishResponse itself only when it may send directly; it needs the outbound topic unless it never queues.
    const workerSendsDirect = c.direct_send || c.client_delivery_choice;
    const workerQueues = !c.direct_send || c.fallback_to_queue || c.client_delivery_choice;
    const stateTables = [
      { sid: "IdempotencyRecords", actions: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"], resources: [tables.idempotency.tableArn] },
      ...(tables.history
        ? [{ sid: "ConversationHistory", actions: ["dynamodb:Query", "dynamodb:PutItem"], resources: [tables.history.tableArn] }]
        : []),
    ];
    const streamWorker = fn("stream-worker", names.functions.streamWorker, "stream-worker", [
      consume(messaging.workQueue.queueArn),
      { sid: "StreamAllowedModels", actions: ["bedrock:InvokeModelWithResponseStream"], resources: bedrockModelArns(c.models.allowed_model_ids, region, account) },
      ...stateTables,
      ...(workerQueues ? [publishTo(messaging.outboundTopic.topicArn)] : []),
      ...(workerSendsDirect ? [publishResponse] : []),
      useKey,
    ]);
    // One request at a time: a generation is long and must not be retried with unrelated messages. The worker answers
    // with batchItemFailures (it never throws for a bad record), which Lambda only honours with ReportBatchItemFailures.
    streamWorker.consumeQueue("work-queue", { queueArn: messaging.workQueue.queueArn, batchSize: 1, reportBatchItemFailures: true });

    // The relay shortens the visibility of the records it reports failed, so it looks up its own queue's URL.
    const findOwnQueue: Statement = { sid: "FindOwnQueueUrl", actions: ["sqs:GetQueueUrl"], resources: [messaging.outboundQueue.queueArn] };
    const outboundRelay = fn("outbound-relay", names.functions.outboundRelay, "outbound-relay", [consume(messaging.outboundQueue.queueArn), findOwnQueue, publishResponse, useKey]);
    outboundRelay.consumeQueue("outbound-queue", { queueArn: messaging.outboundQueue.queueArn, batchSize: 10, reportBatchItemFailures: true });

    api.attachResolvers({ sendQueryFunctionArn: sendQuery.functionArn });

    if (c.alarms) {
      new PlatformAlarms(this, "alarms", {
        prefix,
        accountId: account,
        email: c.alarms.email,
        snsTopicArn: c.alarms.sns_topic_arn,
        kmsKeyArn: key.keyArn,
        deadLetterQueueNames: [names.workDeadLetterQueue, names.outboundDeadLetterQueue],
        functionNames: [names.functions.sendQuery, names.functions.streamWorker, names.functions.outboundRelay],
        apiId: api.apiId,
      });
    }

    new TerraformOutput(this, OUTPUTS.environment, { value: c.name });
    new TerraformOutput(this, OUTPUTS.region, { value: region });
    new TerraformOutput(this, OUTPUTS.graphqlUrl, { value: api.graphqlUrl });
    new TerraformOutput(this, OUTPUTS.realtimeUrl, { value: api.realtimeUrl });
    new TerraformOutput(this, OUTPUTS.userPoolId, { value: users.userPoolId });
    new TerraformOutput(this, OUTPUTS.userPoolClientId, { value: users.userPoolClientId });
    new TerraformOutput(this, OUTPUTS.models, { value: { defaultModelId: c.models.default_model_id, allowedModelIds: c.models.allowed_model_ids } });
  }
}
