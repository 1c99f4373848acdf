/**
 * The async ingress in the functions: send-query's Event invocation of the worker (and nothing on the inbound
 * topic), the payload bound that keeps an invocation under Lambda's 256 KB, and the worker taking a work request as
 * its event: generated once, a duplicate answered from the idempotency record, a malformed or concurrent one thrown
 * (so Lambda retries it and then sends it to the on-failure destination).
 */
import { DynamoDBPersistenceLayer } from "@aws-lambda-powertools/idempotency/dynamodb";
import { BedrockRuntimeClient, ConverseStreamCommand } from "@aws-sdk/client-bedrock-runtime";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import type { Context } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { ASYNC_RETRY_ATTEMPTS, asyncRetryWindowProblem, LAMBDA_TIMEOUT_SECONDS } from "../../config/rules";
import { ID_PATTERN } from "../../contracts/ids";
import { byteLength } from "../../contracts/utf8";
import { workRequestSchema } from "../../contracts/workRequest";
import { MAX_WORK_REQUEST_BYTES, sendQuery, type SendQuerySettings } from "../../lambdas/send-query/sendQuery";
import { createLambdaInvoker, LambdaInvokeError, type AsyncInvoker } from "../../lambdas/shared/lambdaInvoker";
import { createStreamWorker } from "../../lambdas/stream-worker/worker";
import { waitFor } from "../support/waitFor";
import { converseStream, recordingPublisher, recordingTelemetry, request, settings as workerSettings, textStream } from "./support/workerFixtures";
import { startTestDynamo, type TestDynamo } from "./support/testDynamo";


const MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0";
const WORKER = "llm-stream-dev-stream-worker";
const credentials = { accessKeyId: "AKIDASYNCTEST", secretAccessKey: "async-test-secret" };
const snsMock = mockClient(SNSClient);
const bedrockMock = mockClient(BedrockRuntimeClient);
beforeEach(() => {
  snsMock.reset();
  bedrockMock.reset();
});

describe("createLambdaInvoker", () => {
  const lambdaMock = mockClient(LambdaClient);
  afterEach(() => lambdaMock.reset());

  it("queues the payload as an Event invocation of the named function", async () => {
    lambdaMock.on(InvokeCommand).resolves({ StatusCode: 202 });
    await createLambdaInvoker({ region: "eu-west-1", credentials }).invokeEvent(WORKER, '{"hello":"world"}');
    const [call] = lambdaMock.commandCalls(InvokeCommand);
    expect(call.args[0].input).toMatchObject({ FunctionName: WORKER, InvocationType: "Event" });
    expect(Buffer.from(call.args[0].input.Payload as Uint8Array).toString("utf8")).toBe('{"hello":"world"}');
  });

  it("an answer other than 202 is an error naming the status; Lambda's own errors (a throttle) pass through", async () => {
    lambdaMock.on(InvokeCommand).resolves({ StatusCode: 200 });
    await expect(createLambdaInvoker({ region: "us-east-1", credentials }).invokeEvent(WORKER, "{}")).rejects.toMatchObject({ name: "LambdaInvokeError", status: 200 });
    lambdaMock.on(InvokeCommand).rejects(Object.assign(new Error("Rate Exceeded."), { name: "TooManyRequestsException" }));
    await expect(createLambdaInvoker({ region: "us-east-1", credentials }).invokeEvent(WORKER, "{}")).rejects.toMatchObject({ name: "TooManyRequestsException" });
  });
});

describe("sendQuery on the async ingress", () => {
  const settings: SendQuerySettings = { inboundTopicArn: "", workerFunctionName: WORKER, maxPromptChars: 100_000, defaultModelId: MODEL, allowedModelIds: [MODEL], clientDeliveryChoice: false };
  const invocations: [string, string][] = [];
  const lambda: AsyncInvoker = { invokeEvent: async (fn, payload) => void invocations.push([fn, payload]) };
  const deps = { sns: new SNSClient({ region: "us-east-1" }), lambda, settings, newMessageId: () => "generated-msg-0001", now: () => new Date("2026-11-23T12:00:00.000Z") };
  beforeEach(() => invocations.splice(0));

  it("invokes the worker once with the validated work request and publishes nothing", async () => {
    const result = await sendQuery({ arguments: { input: { sessionId: "session-0001", prompt: "hello" } }, identity: { sub: "sub-1" } }, deps);
    expect(result).toEqual({ sessionId: "session-0001", messageId: "generated-msg-0001" });
    expect(invocations.map(([fn]) => fn)).toEqual([WORKER]);
    expect(workRequestSchema.parse(JSON.parse(invocations[0][1]))).toMatchObject({ sessionId: "session-0001", userId: "sub-1", prompt: "hello", modelId: MODEL });
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(0);
  });

  it("invalid input invokes nothing; a failed invocation throws (the resolver's error), nothing half-done", async () => {
    expect(await sendQuery({ arguments: { input: { sessionId: "bad id", prompt: "hello" } }, identity: { sub: "sub-1" } }, deps)).toMatchObject({ error: { type: "ValidationError" } });
    expect(invocations).toEqual([]);
    const failing = { ...deps, lambda: { invokeEvent: async () => Promise.reject(new LambdaInvokeError("HTTP 429", 429)) } };
    await expect(sendQuery({ arguments: { input: { sessionId: "session-0001", prompt: "hello" } }, identity: { sub: "sub-1" } }, failing)).rejects.toThrow("HTTP 429");
  });

  describe("the invocation payload stays within Lambda's 256 KB for asynchronous invocations", () => {
    // The request schema's bounds: ids of ID_PATTERN (at most 64), an ISO time, a Cognito sub (a UUID), a model id
    // from the environment's list; the prompt is what can grow. JSON escapes a control character as \u00XX: 6 bytes
    // for one UTF-16 unit, the most any unit can take (a BMP character is at most 3 bytes, an astral pair 4 for 2 units).
    const WORST_BYTES_PER_CHAR = 6;
    const worstRequest = (promptChars: number) =>
      JSON.stringify({ sessionId: "s".repeat(64), messageId: "m".repeat(64), userId: "u".repeat(36), prompt: "\u0001".repeat(promptChars), modelId: `us.${"x".repeat(200)}`, requestedAt: new Date(0).toISOString(), delivery: "queued" });

    it("the worst prompt of the default max_prompt_chars (8000) is far below it", () => {
      expect(ID_PATTERN.test("s".repeat(64)) && !ID_PATTERN.test("s".repeat(65))).toBe(true);
      const bytes = byteLength(worstRequest(8000));
      expect(bytes).toBeLessThanOrEqual(8000 * WORST_BYTES_PER_CHAR + 1000);
      expect(bytes).toBeLessThan(MAX_WORK_REQUEST_BYTES / 4);
      expect(MAX_WORK_REQUEST_BYTES).toBe(256 * 1024);
    });

    it("up to max_prompt_chars 43,000 any prompt fits; beyond, sendQuery refuses an oversized one before invoking", async () => {
      expect(byteLength(worstRequest(43_000))).toBeLessThan(MAX_WORK_REQUEST_BYTES);
      // The schema allows max_prompt_chars up to 100,000: there the bytes, not the characters, are the bound.
      const refused = await sendQuery({ arguments: { input: { sessionId: "session-0001", prompt: "\u0001".repeat(100_000) } }, identity: { sub: "sub-1" } }, deps);
      expect(refused).toMatchObject({ error: { type: "ValidationError", message: expect.stringMatching(/over the 256 KiB \(262144 bytes\) message limit/) } });
      expect(invocations).toEqual([]);
      // The largest prompt it lets through is an invocation Lambda accepts.
      const accepted = await sendQuery({ arguments: { input: { sessionId: "session-0001", prompt: "é".repeat(100_000) } }, identity: { sub: "sub-1" } }, deps);
      expect(accepted).toEqual({ sessionId: "session-0001", messageId: "generated-msg-0001" });
      expect(byteLength(invocations[0][1])).toBeLessThanOrEqual(MAX_WORK_REQUEST_BYTES);
    });
  });
});

describe("the worker on the async ingress", () => {
  let dynamo: TestDynamo;
  beforeAll(async () => (dynamo = await startTestDynamo("idempotency-async")));
  afterAll(() => dynamo.close());

  async function newWorker() {
    const tableName = await dynamo.idempotencyTable();
    const telemetry = recordingTelemetry();
    const [direct, queue] = [recordingPublisher(), recordingPublisher()];
    const worker = createStreamWorker({
      persistenceStore: new DynamoDBPersistenceLayer({ tableName, awsSdkV3Client: dynamo.client }),
      generation: { bedrock: new BedrockRuntimeClient({ region: "us-east-1" }), settings: workerSettings, direct, queue, logger: telemetry.logger, metrics: telemetry.metrics },
    });
    return { worker, sent: () => [...direct.events, ...queue.events], errorCodes: telemetry.errorCodes };
  }
  const context = (id: string) => ({ functionName: WORKER, awsRequestId: id, getRemainingTimeInMillis: () => 60_000 }) as unknown as Context;

  it("generates a work request given as the event once; a duplicate is answered from the idempotency record", async () => {
    bedrockMock.on(ConverseStreamCommand).callsFake(async () => ({ stream: converseStream(textStream(["Hello", " there"])) }));
    const { worker, sent } = await newWorker();
    const first = await worker(request, context("a"));
    expect(first).toMatchObject({ messageId: request.messageId, outcome: "completed" });
    const again = await worker(request, context("b"));
    expect(again).toEqual(first);
    expect(bedrockMock.commandCalls(ConverseStreamCommand)).toHaveLength(1);
    expect(sent().filter((e) => e.action === "final_response")).toHaveLength(1);
  });

  it("a malformed event throws (Lambda retries it, then the on-failure queue has it) and generates nothing", async () => {
    const { worker, errorCodes } = await newWorker();
    await expect(worker({ sessionId: "not valid", prompt: "x" }, context("c"))).rejects.toThrow();
    expect(errorCodes).toContain("MALFORMED_REQUEST");
    expect(bedrockMock.commandCalls(ConverseStreamCommand)).toHaveLength(0);
  });

  it("a retry while the first attempt's record is in progress throws instead of generating a second time", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    bedrockMock.on(ConverseStreamCommand).callsFake(async () => {
      await gate;
      return { stream: converseStream(textStream(["slow"])) };
    });
    const { worker } = await newWorker();
    const first = worker(request, context("d"));
    // The first attempt's record is written before the model is called.
    await waitFor(() => bedrockMock.commandCalls(ConverseStreamCommand).length === 1, { timeoutMs: 5000, description: "the first attempt calling the model" });
    await expect(worker(request, context("e"))).rejects.toThrow(/already an execution in progress/);
    release();
    await expect(first).resolves.toMatchObject({ outcome: "completed" });
    expect(bedrockMock.commandCalls(ConverseStreamCommand)).toHaveLength(1);
  });

  it("the in-progress record outlives every attempt and Lambda's retry waits, at the schema's extremes", () => {
    expect(asyncRetryWindowProblem(3600, LAMBDA_TIMEOUT_SECONDS.max, ASYNC_RETRY_ATTEMPTS.max)).toBeUndefined();
    expect(asyncRetryWindowProblem(1800, LAMBDA_TIMEOUT_SECONDS.max, ASYNC_RETRY_ATTEMPTS.max)).toMatch(/span 2880 s, not within the idempotency record's 1800 s/);
  });
});
