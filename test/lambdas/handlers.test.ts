/**
 * The three handlers as the local stack and Lambda run them: wired only by environment variables (the SDK's own
 * AWS_ENDPOINT_URL_* for DynamoDB, the runtime settings, credentials from the default chain), no code changes.
 */
import { BedrockRuntimeClient, ConverseStreamCommand } from "@aws-sdk/client-bedrock-runtime";
import { CreateTableCommand, DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { mockClient } from "aws-sdk-client-mock";
import type { Context } from "aws-lambda";
import type { AddressInfo } from "node:net";
import { loadFixture } from "../fixtures/environments";
import { resourceNames, type ResourceNames } from "../../config/names";
import { runtimeVariables, type RuntimeSettings } from "../../contracts/runtimeSettings";
import { parseEvent, serializeEvent } from "../../contracts/streamEvents";
import { workRequestSchema } from "../../contracts/workRequest";
import { tableDefinitions } from "../../local/dynamo";
import { sqsEvent, sqsRecord } from "../support/sqsRecords";
import { startFakeAppSync, type FakeAppSync } from "./support/fakeAppSync";
import { sigv4Oracle } from "./support/sigv4Oracle";
import { converseStream, request, textStream } from "./support/workerFixtures";

const dynalite = require("dynalite");

const snsMock = mockClient(SNSClient);
const bedrockMock = mockClient(BedrockRuntimeClient);
const savedEnv = { ...process.env };
let appsync: FakeAppSync;
let ddbServer: { listen: (p: number, h: string, cb: () => void) => void; address: () => AddressInfo; close: (cb: () => void) => void };
let ddb: DynamoDBClient;
let names: ResourceNames;

const secret = "handler-test-secret";
const context = { functionName: "fn", awsRequestId: "req-1", getRemainingTimeInMillis: () => 30_000 } as unknown as Context;

beforeAll(async () => {
  // A fixture environment's tables (not a team environment's), created as the local stack creates them.
  const config = await loadFixture("queued");
  names = resourceNames(config);
  appsync = await startFakeAppSync();
  ddbServer = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve) => ddbServer.listen(0, "127.0.0.1", resolve));
  const ddbEndpoint = `http://127.0.0.1:${ddbServer.address().port}`;
  const settings: RuntimeSettings = {
    appsyncEndpoint: appsync.endpoint,
    directSend: true,
    fallbackToQueue: true,
    clientDeliveryChoice: true,
    defaultModelId: request.modelId,
    allowedModelIds: [request.modelId],
    batchMode: "reading_pace",
    batchMaxDelayMs: 20,
    batchMaxChars: 400,
    batchReadingTokensPerSecond: 15,
    batchMaxWindowMs: 1000,
    inboundTopicArn: "arn:aws:sns:us-east-1:000000000000:inbound",
    workerFunctionName: "",
    outboundTopicArn: "arn:aws:sns:us-east-1:000000000000:outbound",
    relayRetrySeconds: 120,
    idempotencyTableName: names.idempotencyTable,
    historyTableName: names.historyTable,
    messagesTableName: names.messagesTable,
    historyTtlDays: 1,
    maxPromptChars: 1000,
    maxTokens: 100,
    temperature: 0.5,
    systemPrompt: "Be brief.",
    usageTableName: names.usageTable,
    maxConcurrentGenerations: 5,
    dailyOutputTokens: 100000,
    generationSlotSeconds: 90,
    guardrailId: "",
    guardrailVersion: "",
    guardrailStreamMode: "",
    toolsFile: "",
  };
  Object.assign(process.env, runtimeVariables(settings), {
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "AKIDHANDLERTEST",
    AWS_SECRET_ACCESS_KEY: secret,
    AWS_ENDPOINT_URL_DYNAMODB: ddbEndpoint,
    POWERTOOLS_LOG_LEVEL: "SILENT",
    POWERTOOLS_METRICS_DISABLED: "true",
  });
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  ddb = new DynamoDBClient({ endpoint: ddbEndpoint, region: "us-east-1" });
  for (const table of tableDefinitions(config)) await ddb.send(new CreateTableCommand(table));
});

afterAll(async () => {
  process.env = savedEnv;
  ddb.destroy();
  await appsync.close();
  await new Promise<void>((resolve) => ddbServer.close(() => resolve()));
});

beforeEach(() => {
  snsMock.reset();
  bedrockMock.reset();
  snsMock.on(PublishCommand).resolves({ MessageId: "m" });
});

const sqs = (body: string) => sqsEvent(sqsRecord({ body, messageId: "sqs-1" }));

describe("handlers wired by environment variables", () => {
  it("send-query publishes the work request to INBOUND_TOPIC_ARN", async () => {
    const { handler } = await import("../../lambdas/send-query/handler");
    const result = await handler({ arguments: { input: { sessionId: "session-0001", prompt: "hi", delivery: "DIRECT" } }, identity: { sub: "sub-1" } }, context);
    expect(result).toMatchObject({ sessionId: "session-0001", messageId: expect.any(String) });
    const [call] = snsMock.commandCalls(PublishCommand);
    expect(call!.args[0].input.TopicArn).toBe("arn:aws:sns:us-east-1:000000000000:inbound");
    expect(workRequestSchema.parse(JSON.parse(call!.args[0].input.Message!))).toMatchObject({ userId: "sub-1", delivery: "direct" });
  });

  it("stream-worker generates once, publishes signed events to APPSYNC_ENDPOINT and writes history in DynamoDB", async () => {
    bedrockMock.on(ConverseStreamCommand).callsFake(async () => ({ stream: converseStream(textStream(["Hi ", "there"])) }));
    const { handler } = await import("../../lambdas/stream-worker/handler");
    const body = JSON.stringify(request);
    expect(await handler(sqs(body), context)).toEqual({ batchItemFailures: [] });
    expect(await handler(sqs(body), context)).toEqual({ batchItemFailures: [] });
    expect(bedrockMock.commandCalls(ConverseStreamCommand)).toHaveLength(1);

    const events = appsync.requests.map((r) => parseEvent(JSON.parse(r.body.toString()).variables.data));
    expect(events.at(-1)).toMatchObject({ action: "final_response", data: { content: "Hi there" } });
    for (const r of appsync.requests) expect(sigv4Oracle(r, secret)).toMatchObject({ valid: true, accessKeyId: "AKIDHANDLERTEST", service: "appsync" });
    const history = await ddb.send(new ScanCommand({ TableName: names.historyTable }));
    expect(history.Items?.map((i) => i.role?.S).sort()).toEqual(["assistant", "user"]);
    const idempotency = await ddb.send(new ScanCommand({ TableName: names.idempotencyTable }));
    expect(idempotency.Items?.[0]?.status?.S).toBe("COMPLETED");
  });

  it("outbound-relay publishes queued events to APPSYNC_ENDPOINT", async () => {
    const before = appsync.requests.length;
    const { handler } = await import("../../lambdas/outbound-relay/handler");
    const event = { action: "on_new_llm_token" as const, userId: "u", timestamp: "t", data: { sessionId: "session-0009", messageId: "message-0009", token: { runId: "r", sequenceNumber: 0, value: "x" } } };
    expect(await handler(sqs(serializeEvent(event)), context)).toEqual({ batchItemFailures: [] });
    expect(appsync.requests.length).toBe(before + 1);
    expect(JSON.parse(appsync.requests.at(-1)!.body.toString()).variables).toEqual({ sessionId: "session-0009", userId: "u", data: serializeEvent(event) });
  });
});
