import * as path from "node:path";
import { Construct } from "constructs";
import { Lazy, TerraformOutput, TerraformStack } from "cdktf";
import { EnvironmentConfig, stackName } from "../config/schema";
import { ResourceNames, resourceNames } from "../config/names";
import { outboundMaxReceiveCount } from "../config/messaging";
import { clientBatchingFor, functionUrlSettingsFor, runtimeSettingsFor, toolSpecsFor } from "../config/runtime";
import { functionUrlVariables, observabilityVariables, runtimeVariables, tokenVariables, websocketVariables, type RuntimeSettings } from "../contracts/runtimeSettings";
import { TOOL_SPEC_FILE_NAME } from "../contracts/toolSpecs";
import { DeploymentTarget } from "./deploymentTarget";
import { EncryptionKey } from "./encryptionKey";
import { Messaging } from "./messaging";
import { ConversationTables } from "./conversationTables";
import { UserDirectory } from "./userDirectory";
import { apiLogGroupName, StreamingApi } from "./streamingApi";
import { BundledFunction } from "./bundledFunction";
import { FunctionUrlTransport } from "./functionUrlTransport";
import { PlatformAlarms } from "./platformAlarms";
import { ApiFirewall } from "./apiFirewall";
import { WebsocketTransport } from "./websocketTransport";
import { bedrockModelArns, functionArn, guardrailArn, permissionsBoundaryArn, publishResponseFieldArn } from "./arns";
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
  batching: "batching",
  /** Only with "websocket" in transports. */
  websocketUrl: "websocket_url",
  /** Only with "function_url" in transports. */
  functionUrl: "function_url",
} as const;

export interface PlatformStackProps {
  /** The validated config of one environment (config/load.ts). */
  readonly config: EnvironmentConfig;
}

/** What the functions' grants and settings refer to. */
interface PlatformResources {
  readonly key: EncryptionKey;
  readonly messaging: Messaging;
  readonly tables: ConversationTables;
  readonly api: StreamingApi;
  /** Only with "websocket" in transports. */
  readonly websocket?: WebsocketTransport;
}

interface PlatformFunctions {
  readonly sendQuery: BundledFunction;
  readonly messageControl: BundledFunction;
  readonly streamWorker: BundledFunction;
  readonly outboundRelay: BundledFunction;
  /** Only with "websocket" in transports: the $connect authorizer and the route function. */
  readonly websocketAuthorizer?: BundledFunction;
  readonly websocketRoutes?: BundledFunction;
}

/** Production data and users survive an accidental destroy. */
function deletionProtected(c: EnvironmentConfig): boolean {
  return c.name === "prod";
}

/** The environment's key, which encrypts every table, topic, queue and log group. */
const useKeyOf = (key: EncryptionKey): Statement => ({ sid: "UseEnvironmentKey", actions: ["kms:Decrypt", "kms:GenerateDataKey"], resources: [key.keyArn] });

/** ConverseStream on the allowed models only. */
const streamModelsOf = (c: EnvironmentConfig): Statement => ({ sid: "StreamAllowedModels", actions: ["bedrock:InvokeModelWithResponseStream"], resources: bedrockModelArns(c.models.allowed_model_ids, c.region, c.account_id) });

/** ConverseStream with a guardrail needs ApplyGuardrail on it; the generation also asks it for an intervention's safe text. */
const applyGuardrailOf = (c: EnvironmentConfig): Statement[] =>
  c.guardrail ? [{ sid: "ApplyOwnGuardrail", actions: ["bedrock:ApplyGuardrail"], resources: [guardrailArn(c.region, c.account_id, c.guardrail.id)] }] : [];

/** The session's earlier turns in, the exchange out; none when history is off. */
const conversationHistoryOf = (tables: ConversationTables): Statement[] =>
  tables.history ? [{ sid: "ConversationHistory", actions: ["dynamodb:Query", "dynamodb:PutItem"], resources: [tables.history.tableArn] }] : [];

/** The generation (the worker, the Function URL's function) invokes the team's tool Lambdas (tools.lambdas) synchronously: exactly those ARNs, none when there are none. */
function toolInvokeStatements(c: EnvironmentConfig): Statement[] {
  const arns = [...new Set(c.tools.lambdas.map((l) => l.lambda_arn))];
  return arns.length ? [{ sid: "InvokeToolLambdas", actions: ["lambda:InvokeFunction"], resources: arns }] : [];
}

/** What each function may do beyond writing its logs and traces: named actions on named resources only. */
function functionStatements(c: EnvironmentConfig, { key, messaging, tables, api }: PlatformResources): Record<"sendQuery" | "messageControl" | "streamWorker" | "outboundRelay", Statement[]> {
  const useKey = useKeyOf(key);
  const publishTo = (topicArn: string): Statement => ({ sid: "PublishToTopic", actions: ["sns:Publish"], resources: [topicArn] });
  const consume = (queueArn: string): Statement => ({
    sid: "ConsumeOwnQueue",
    actions: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"],
    resources: [queueArn],
  });
  const publishResponse: Statement = { sid: "PublishResponseOnly", actions: ["appsync:GraphQL"], resources: [publishResponseFieldArn(c.region, c.account_id, api.apiId)] };
  // The worker signs publishResponse itself only when it may send directly; it needs the outbound topic unless it never queues.
  const workerSendsDirect = c.direct_send || c.client_delivery_choice;
  const workerQueues = !c.direct_send || c.fallback_to_queue || c.client_delivery_choice;
  const stateTables = [
    { sid: "IdempotencyRecords", actions: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"], resources: [tables.idempotency.tableArn] },
    ...conversationHistoryOf(tables),
  ];
  const messageRecords = (sid: string, actions: string[]): Statement => ({ sid, actions, resources: [tables.messages.tableArn] });
  const usageRecords = (sid: string, actions: string[]): Statement => ({ sid, actions, resources: [tables.usage.tableArn] });
  // The relay shortens the visibility of the records it reports failed, so it looks up its own queue's URL; it moves
  // events past their retry window to the DLQ itself (the budget is in time), so it may find and send to that DLQ.
  const findOwnQueue: Statement = { sid: "FindOwnQueueUrl", actions: ["sqs:GetQueueUrl"], resources: [messaging.outboundQueue.queueArn, messaging.outboundQueue.deadLetterQueueArn] };
  const deadLetter: Statement = { sid: "DeadLetterExpiredEvents", actions: ["sqs:SendMessage"], resources: [messaging.outboundQueue.deadLetterQueueArn] };
  // The ingress: send-query publishes to the inbound topic and the worker consumes the work queue, or send-query invokes
  // the worker (its ARN only) and Lambda sends a failed invocation to the on-failure queue with the worker's role.
  const asyncIngress = c.ingress === "async";
  const handOff: Statement = asyncIngress
    ? { sid: "InvokeWorkerAsynchronously", actions: ["lambda:InvokeFunction"], resources: [functionArn(c.region, c.account_id, resourceNames(c).functions.streamWorker)] }
    : publishTo(messaging.inboundTopic.topicArn);
  const receiveWork: Statement =
    asyncIngress && messaging.asyncFailureQueue
      ? { sid: "SendFailedInvocations", actions: ["sqs:SendMessage"], resources: [messaging.asyncFailureQueue.queueArn] }
      : consume(messaging.workQueue.queueArn);
  return {
    // send-query admits a generation (reads the day's usage and the slots, claims a slot), creates a message's record
    // (and removes both again when the publish fails).
    sendQuery: [
      handOff,
      usageRecords("AdmitGenerations", ["dynamodb:Query", "dynamodb:UpdateItem"]),
      messageRecords("CreateMessageRecords", ["dynamodb:PutItem", "dynamodb:DeleteItem"]),
      useKey,
    ],
    // message-control reads a record (replay), flags it (stop) and reads the caller's usage rows (myUsage).
    messageControl: [messageRecords("ReadAndStopMessages", ["dynamodb:Query", "dynamodb:UpdateItem"]), usageRecords("ReadOwnUsage", ["dynamodb:Query"]), useKey],
    streamWorker: [
      receiveWork,
      streamModelsOf(c),
      ...stateTables,
      messageRecords("KeepMessageRecords", ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]),
      // Refreshes and releases the message's slot, adds its usage (UpdateItem only: ADD, never read-modify-write).
      usageRecords("RecordUsageAndSlots", ["dynamodb:UpdateItem"]),
      ...applyGuardrailOf(c),
      ...toolInvokeStatements(c),
      ...(workerQueues ? [publishTo(messaging.outboundTopic.topicArn)] : []),
      ...(workerSendsDirect ? [publishResponse] : []),
      useKey,
    ],
    outboundRelay: [consume(messaging.outboundQueue.queueArn), findOwnQueue, deadLetter, publishResponse, useKey],
  };
}

/** The worker posts a WebSocket request's events to its user's connections (POST on this stage's @connections only) and removes gone ones. */
function websocketDelivery(websocket: WebsocketTransport): Statement[] {
  return [
    { sid: "PostToOwnConnections", actions: ["execute-api:ManageConnections"], resources: [websocket.postToConnectionsArn] },
    { sid: "FindAndForgetConnections", actions: ["dynamodb:Query", "dynamodb:DeleteItem"], resources: [websocket.connectionsTableArn] },
  ];
}

/**
 * The route function does send-query's work (the same grants) and message-control's stop (UpdateItem on the messages
 * table), and records and removes connections; it answers through the route response, so it posts nothing itself.
 */
function websocketRouteStatements(sendQuery: Statement[], tables: ConversationTables, websocket: WebsocketTransport): Statement[] {
  return [
    ...sendQuery,
    { sid: "StopOwnMessages", actions: ["dynamodb:UpdateItem"], resources: [tables.messages.tableArn] },
    { sid: "RecordConnections", actions: ["dynamodb:PutItem", "dynamodb:DeleteItem"], resources: [websocket.connectionsTableArn] },
  ];
}

/**
 * The Function URL's function: sendQuery's admission and record, then the worker's generation (models, guardrail,
 * history, the record, usage and slots); no topic, queue or AppSync API, since it delivers to its own response.
 */
function functionUrlStatements(c: EnvironmentConfig, { key, tables }: Pick<PlatformResources, "key" | "tables">): Statement[] {
  return [
    streamModelsOf(c),
    ...applyGuardrailOf(c),
    ...conversationHistoryOf(tables),
    ...toolInvokeStatements(c),
    // Creates the QUEUED record (removing it when it never started), starts, fills, stops and ends it, reads its stop flag.
    { sid: "KeepMessageRecords", actions: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"], resources: [tables.messages.tableArn] },
    // Admits (reads the day's usage and the slots, claims a slot), refreshes and releases the slot, adds the usage.
    { sid: "AdmitAndRecordUsage", actions: ["dynamodb:Query", "dynamodb:UpdateItem"], resources: [tables.usage.tableArn] },
    useKeyOf(key),
  ];
}

/** One environment's whole platform, self-contained: its own provider, backend, key, messaging, API, functions and alarms. */
export class PlatformStack extends TerraformStack {
  public readonly config: EnvironmentConfig;
  private readonly names: ResourceNames;
  /** `<project>-<env>`: the stack's name and the prefix of the names config/names.ts does not give. */
  private readonly prefix: string;
  /** Every role carries the environment's boundary (bootstrap stack): the deploy role cannot create an unbounded one. */
  private readonly boundaryArn: string;

  constructor(scope: Construct, props: PlatformStackProps) {
    const c = props.config;
    super(scope, stackName(c));
    this.config = c;
    this.names = resourceNames(c);
    this.prefix = stackName(c);
    this.boundaryArn = permissionsBoundaryArn(c.region, c.account_id, this.prefix);

    new DeploymentTarget(this, "aws", { config: c });
    // The API's log group is named after the API's generated id, known once the API exists; the API itself does not use
    // the key, so Terraform creates the API, then the key naming its group, then the encrypted groups.
    let apiLogGroup: string | undefined;
    const key = new EncryptionKey(this, "key", {
      alias: this.prefix,
      accountId: c.account_id,
      region: c.region,
      logGroupNames: [
        `/aws/lambda/${this.prefix}-*`,
        Lazy.stringValue({ produce: () => apiLogGroup }),
        ...(c.waf?.rate_limit_per_5_minutes !== undefined ? [this.names.webAclLogGroup] : []),
        ...(c.transports.includes("websocket") ? [this.names.websocketAccessLogGroup] : []),
      ],
    });
    const messaging = this.messaging(key);
    const tables = this.tables(key);
    const users = new UserDirectory(this, "users", { name: this.prefix, region: c.region, existingUserPoolId: c.cognito.existing_user_pool_id, deletionProtection: deletionProtected(c) });
    const api = this.api(users, key);
    // From the API's id, not the group resource: the group itself waits for the key.
    apiLogGroup = apiLogGroupName(api.apiId);
    const websocket = c.transports.includes("websocket") ? this.websocket(key) : undefined;
    const functions = this.functions({ key, messaging, tables, api, websocket }, users);
    this.receiveWork(functions, messaging);
    api.attachResolvers({ sendQuery: functions.sendQuery.functionArn, messageControl: functions.messageControl.functionArn });
    if (websocket && functions.websocketAuthorizer && functions.websocketRoutes) websocket.attachFunctions({ authorizer: functions.websocketAuthorizer, routes: functions.websocketRoutes });
    const functionUrl = c.transports.includes("function_url") ? this.functionUrlTransport({ key, messaging, tables, api }, users) : undefined;
    if (c.waf) this.firewall(c.waf, key, api);
    if (c.alarms) this.alarms(c.alarms, key, api, functionUrl);
    this.outputs(api, users, websocket, functionUrl);
  }

  /** Inbound topic -> work queue and outbound topic -> outbound queue, each queue with its DLQ. */
  private messaging(key: EncryptionKey): Messaging {
    const { queue, lambda } = this.config;
    return new Messaging(this, "messaging", {
      names: this.names,
      fifo: queue.fifo,
      kmsKeyArn: key.keyArn,
      maxReceiveCount: queue.max_receive_count,
      outboundMaxReceiveCount: outboundMaxReceiveCount(queue.relay_retry_seconds, queue.max_receive_count),
      visibilityTimeoutSeconds: queue.visibility_timeout_seconds,
      consumerTimeoutSeconds: lambda.timeout_seconds,
      asyncIngress: this.config.ingress === "async",
    });
  }

  /** The history (unless disabled), idempotency, message-record and usage tables. */
  private tables(key: EncryptionKey): ConversationTables {
    return new ConversationTables(this, "tables", {
      historyTableName: this.names.historyTable,
      idempotencyTableName: this.names.idempotencyTable,
      messagesTableName: this.names.messagesTable,
      usageTableName: this.names.usageTable,
      historyEnabled: this.config.history.enabled,
      kmsKeyArn: key.keyArn,
      deletionProtection: deletionProtected(this.config),
    });
  }

  /** The GraphQL API, signed in through the user directory; its resolvers come once send-query exists. */
  private api(users: UserDirectory, key: EncryptionKey): StreamingApi {
    const c = this.config;
    return new StreamingApi(this, "api", {
      name: this.names.api,
      accountId: c.account_id,
      region: c.region,
      userPoolId: users.userPoolId,
      userPoolClientId: users.userPoolClientId,
      xray: c.appsync.xray,
      fieldLogLevel: c.appsync.field_log_level,
      introspection: c.appsync.introspection,
      logRetentionDays: c.lambda.log_retention_days,
      logsKmsKeyArn: key.keyArn,
      permissionsBoundaryArn: this.boundaryArn,
    });
  }

  /** The API Gateway WebSocket API, its stage and the connections table ("websocket" in transports). */
  private websocket(key: EncryptionKey): WebsocketTransport {
    const c = this.config;
    return new WebsocketTransport(this, "websocket", {
      name: this.names.websocketApi,
      stageName: c.name,
      accountId: c.account_id,
      region: c.region,
      throttlingRateLimit: c.websocket.throttling_rate_limit,
      throttlingBurstLimit: c.websocket.throttling_burst_limit,
      accessLogGroupName: this.names.websocketAccessLogGroup,
      logRetentionDays: c.lambda.log_retention_days,
      kmsKeyArn: key.keyArn,
      connectionsTableName: this.names.connectionsTable,
      deletionProtection: deletionProtected(c),
    });
  }

  /** The functions' runtime settings, from the config and the resources they name. */
  private runtimeSettings({ messaging, tables, api }: PlatformResources): RuntimeSettings {
    return runtimeSettingsFor(this.config, {
      appsyncEndpoint: api.graphqlUrl,
      inboundTopicArn: messaging.inboundTopic.topicArn,
      outboundTopicArn: messaging.outboundTopic.topicArn,
      // Our own names (config/names.ts), known at synth: literals, not apply-time references, in the 4 KB environment.
      idempotencyTableName: this.names.idempotencyTable,
      historyTableName: tables.history ? this.names.historyTable : "",
      messagesTableName: this.names.messagesTable,
      usageTableName: this.names.usageTable,
    });
  }

  /**
   * send-query, message-control, stream-worker and outbound-relay: the same runtime settings, each with its own grants;
   * with the websocket transport also its authorizer and route function, and the worker's websocket variables.
   */
  private functions(resources: PlatformResources, users: UserDirectory): PlatformFunctions {
    const c = this.config;
    const { key, tables, websocket } = resources;
    const variables = runtimeVariables(this.runtimeSettings(resources));
    const statements = functionStatements(c, resources);
    // Only the worker and the route function get the websocket variables: the others' 4 KB stay as they were.
    const ws = websocket ? websocketVariables({ websocketEndpoint: websocket.managementEndpoint, connectionsTableName: this.names.connectionsTable }) : {};
    // The directory under lambdas/ is also the construct id and the Powertools service name.
    const fn = (dir: string, functionName: string, grants: Statement[], own: Record<string, string> = variables, assetFiles?: Record<string, string>) =>
      new BundledFunction(this, dir, {
        functionName,
        entry: path.join(LAMBDAS_DIR, dir, "handler.ts"),
        memoryMb: c.lambda.memory_mb,
        timeoutSeconds: c.lambda.timeout_seconds,
        reservedConcurrency: c.lambda.reserved_concurrency,
        logRetentionDays: c.lambda.log_retention_days,
        logsKmsKeyArn: key.keyArn,
        variables: { ...own, ...observabilityVariables({ serviceName: dir, metricsNamespace: c.project, environment: c.name }) },
        statements: grants,
        permissionsBoundaryArn: this.boundaryArn,
        assetFiles,
      });
    return {
      sendQuery: fn("send-query", this.names.functions.sendQuery, statements.sendQuery),
      messageControl: fn("message-control", this.names.functions.messageControl, statements.messageControl),
      streamWorker: fn("stream-worker", this.names.functions.streamWorker, [...statements.streamWorker, ...(websocket ? websocketDelivery(websocket) : [])], { ...variables, ...ws }, this.toolFiles()),
      outboundRelay: fn("outbound-relay", this.names.functions.outboundRelay, statements.outboundRelay),
      ...(websocket
        ? {
            // The authorizer reads only whose tokens to accept: the user pool's issuer and the platform's app client.
            websocketAuthorizer: fn("websocket-authorizer", this.names.websocketFunctions.authorizer, [], tokenVariables({ jwtIssuer: users.issuerUrl, jwtClientId: users.userPoolClientId })),
            websocketRoutes: fn("websocket-routes", this.names.websocketFunctions.routes, websocketRouteStatements(statements.sendQuery, tables, websocket), { ...variables, ...ws }),
          }
        : {}),
    };
  }

  /** The tool specs (the schema files' contents) ride beside the generating functions' code, not in their 4 KB environment. */
  private toolFiles(): Record<string, string> | undefined {
    const tools = toolSpecsFor(this.config);
    return tools ? { [TOOL_SPEC_FILE_NAME]: JSON.stringify(tools) } : undefined;
  }

  /**
   * The Function URL transport ("function_url" in transports): its streaming function, with its part of the shared
   * settings, the user pool it trusts and the answer cap, reserved at function_url.reserved_concurrency.
   */
  private functionUrlTransport(resources: PlatformResources, users: UserDirectory): FunctionUrlTransport {
    const c = this.config;
    const dir = "url-stream";
    const own = functionUrlSettingsFor(c, { issuerUrl: users.issuerUrl, clientId: users.userPoolClientId });
    return new FunctionUrlTransport(this, "function-url", {
      functionName: this.names.urlStreamFunction,
      entry: path.join(LAMBDAS_DIR, dir, "handler.ts"),
      memoryMb: c.lambda.memory_mb,
      timeoutSeconds: c.lambda.timeout_seconds,
      reservedConcurrency: c.function_url.reserved_concurrency,
      logRetentionDays: c.lambda.log_retention_days,
      logsKmsKeyArn: resources.key.keyArn,
      variables: { ...functionUrlVariables(this.runtimeSettings(resources), own), ...observabilityVariables({ serviceName: dir, metricsNamespace: c.project, environment: c.name }) },
      statements: functionUrlStatements(c, resources),
      permissionsBoundaryArn: this.boundaryArn,
      assetFiles: this.toolFiles(),
      // The web console may be hosted anywhere (web/README.md); as on AppSync's API, the bearer token authorizes, not the origin.
      allowedOrigins: ["*"],
      region: c.region,
    });
  }

  /**
   * The relay polls the outbound queue; the worker polls the work queue (queued ingress), or is invoked by send-query
   * with Lambda's retries and on-failure queue set (async ingress). Both report failed records one by one.
   */
  private receiveWork(functions: PlatformFunctions, messaging: Messaging): void {
    const c = this.config;
    if (c.ingress === "async" && messaging.asyncFailureQueue) {
      functions.streamWorker.invokedAsynchronously("async-invocations", {
        maximumEventAgeSeconds: c.async_ingress.maximum_event_age_seconds,
        maximumRetryAttempts: c.async_ingress.maximum_retry_attempts,
        onFailureQueueArn: messaging.asyncFailureQueue.queueArn,
      });
    } else {
      // One request at a time: a generation is long and must not be retried with unrelated messages. The worker answers
      // with batchItemFailures (it never throws for a bad record), which Lambda only honours with ReportBatchItemFailures.
      functions.streamWorker.consumeQueue("work-queue", { queueArn: messaging.workQueue.queueArn, batchSize: 1, reportBatchItemFailures: true });
    }
    functions.outboundRelay.consumeQueue("outbound-queue", { queueArn: messaging.outboundQueue.queueArn, batchSize: 10, reportBatchItemFailures: true });
  }

  /** AWS WAF in front of the API: a rate-limited web ACL, logged, or the team's own (waf.web_acl_arn). */
  private firewall(waf: NonNullable<EnvironmentConfig["waf"]>, key: EncryptionKey, api: StreamingApi): void {
    const c = this.config;
    new ApiFirewall(this, "firewall", {
      name: this.names.webAcl,
      resourceArn: api.apiArn,
      accountId: c.account_id,
      region: c.region,
      rateLimitPer5Minutes: waf.rate_limit_per_5_minutes,
      existingWebAclArn: waf.web_acl_arn,
      logGroupName: this.names.webAclLogGroup,
      logRetentionDays: c.lambda.log_retention_days,
      logsKmsKeyArn: key.keyArn,
    });
  }

  /** DLQ, function and API alarms to the configured email or topic. */
  private alarms(target: NonNullable<EnvironmentConfig["alarms"]>, key: EncryptionKey, api: StreamingApi, functionUrl?: FunctionUrlTransport): void {
    const { names } = this;
    new PlatformAlarms(this, "alarms", {
      prefix: this.prefix,
      accountId: this.config.account_id,
      email: target.email,
      snsTopicArn: target.sns_topic_arn,
      kmsKeyArn: key.keyArn,
      deadLetterQueueNames: [names.workDeadLetterQueue, names.outboundDeadLetterQueue, ...(this.config.ingress === "async" ? [names.asyncFailureQueue] : [])],
      functionNames: [
        names.functions.sendQuery,
        names.functions.messageControl,
        names.functions.streamWorker,
        names.functions.outboundRelay,
        ...(this.config.transports.includes("websocket") ? [names.websocketFunctions.authorizer, names.websocketFunctions.routes] : []),
        ...(functionUrl ? [names.urlStreamFunction] : []),
      ],
      apiId: api.apiId,
    });
  }

  /** What scripts/clientConfig.ts reads back to write a client config (OUTPUTS). */
  private outputs(api: StreamingApi, users: UserDirectory, websocket: WebsocketTransport | undefined, functionUrl: FunctionUrlTransport | undefined): void {
    const c = this.config;
    new TerraformOutput(this, OUTPUTS.environment, { value: c.name });
    new TerraformOutput(this, OUTPUTS.region, { value: c.region });
    new TerraformOutput(this, OUTPUTS.graphqlUrl, { value: api.graphqlUrl });
    new TerraformOutput(this, OUTPUTS.realtimeUrl, { value: api.realtimeUrl });
    new TerraformOutput(this, OUTPUTS.userPoolId, { value: users.userPoolId });
    new TerraformOutput(this, OUTPUTS.userPoolClientId, { value: users.userPoolClientId });
    new TerraformOutput(this, OUTPUTS.models, { value: { defaultModelId: c.models.default_model_id, allowedModelIds: c.models.allowed_model_ids } });
    new TerraformOutput(this, OUTPUTS.batching, { value: clientBatchingFor(c) });
    if (websocket) new TerraformOutput(this, OUTPUTS.websocketUrl, { value: websocket.websocketUrl });
    if (functionUrl) new TerraformOutput(this, OUTPUTS.functionUrl, { value: functionUrl.functionUrl });
  }
}
