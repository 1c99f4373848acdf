/** The durable message record against dynalite: sendQuery creates it, the worker fills, stops and ends it, message-control reads and stops it. */
import { BedrockRuntimeClient, ConverseStreamCommand, type ConverseStreamOutput } from "@aws-sdk/client-bedrock-runtime";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { resourceNames } from "../../config/names";
import { parseEvent, type FinalEvent } from "../../contracts/streamEvents";
import { messageControl } from "../../lambdas/message-control/messageControl";
import { sendQuery } from "../../lambdas/send-query/sendQuery";
import { MessageStore, type MessageRef } from "../../lambdas/shared/messageStore";
import { UsageTable } from "../../lambdas/shared/usageTable";
import { runGeneration, type GenerationDeps } from "../../lambdas/stream-worker/generation";
import type { HistoryStore } from "../../lambdas/stream-worker/history";
import { startDynamo, type LocalDynamo } from "../../local/dynamo";
import { localConfig } from "../local/services/localConfig";
import { converseStream, namedError, recordingPublisher, recordingTelemetry, request, settings, textStream, tokens } from "./support/workerFixtures";

const bedrockMock = mockClient(BedrockRuntimeClient);
const snsMock = mockClient(SNSClient);
const bedrock = new BedrockRuntimeClient({ region: "us-east-1" });
let dynamo: LocalDynamo;
let store: MessageStore;
let usage: UsageTable;
let n = 0;

beforeAll(async () => {
  const config = await localConfig();
  dynamo = await startDynamo(config);
  store = new MessageStore({ doc: DynamoDBDocumentClient.from(dynamo.client), tableName: resourceNames(config).messagesTable, ttlDays: 1 });
  usage = new UsageTable({ doc: DynamoDBDocumentClient.from(dynamo.client), tableName: resourceNames(config).usageTable });
});
afterAll(() => dynamo.close());
beforeEach(() => {
  bedrockMock.reset();
  snsMock.reset();
});

/** A fresh message of `request`'s user per test, so tests do not share records. */
function fresh(): { req: typeof request; ref: MessageRef } {
  n += 1;
  const req = { ...request, sessionId: `session-life-${n}`, messageId: `message-life-${n}` };
  return { req, ref: { userId: req.userId, sessionId: req.sessionId, messageId: req.messageId } };
}

function deps(overrides: Partial<GenerationDeps> = {}) {
  const telemetry = recordingTelemetry();
  const queue = recordingPublisher();
  const d: GenerationDeps = { bedrock, settings, direct: recordingPublisher(), queue, messages: store, stopPollIntervalMs: 20, logger: telemetry.logger, metrics: telemetry.metrics, ...overrides };
  return { d, queue, telemetry };
}

/** A model that keeps writing (up to 2,000 deltas, 2 ms apart) until its stream is closed; reports how it ended. */
function endlessModel() {
  const seen = { deltas: 0, closed: false, completed: false };
  bedrockMock.on(ConverseStreamCommand).callsFake(async () => ({
    stream: (async function* (): AsyncGenerator<ConverseStreamOutput> {
      try {
        yield { messageStart: { role: "assistant" } };
        for (; seen.deltas < 2000; seen.deltas++) {
          await new Promise((r) => setTimeout(r, 2));
          yield { contentBlockDelta: { contentBlockIndex: 0, delta: { text: `w${seen.deltas} ` } } };
        }
        yield { messageStop: { stopReason: "end_turn" } };
        seen.completed = true;
      } finally {
        seen.closed = true;
      }
    })(),
  }));
  return seen;
}

describe("MessageStore", () => {
  it("refuses a second record for the same message id; discard frees it again", async () => {
    const { ref } = fresh();
    expect(await store.create(ref)).toBe(true);
    expect(await store.create(ref)).toBe(false);
    await store.discard(ref);
    expect(await store.create(ref)).toBe(true);
  });

  it("stop is idempotent and owner-only: another user's message is not found and not stopped", async () => {
    const { ref } = fresh();
    await store.create(ref);
    const intruder = { ...ref, userId: "someone-else" };
    expect(await store.requestStop(intruder)).toBe(false);
    expect(await store.read(intruder)).toBeNull();
    expect(await store.requestStop(ref)).toBe(true);
    expect(await store.requestStop(ref)).toBe(false);
    expect(await store.read(ref)).toEqual({ sessionId: ref.sessionId, messageId: ref.messageId, status: "QUEUED", events: [] });
  });

  it("reads the events after a sequence number, then the ending; a rerun's record shows only its own run", async () => {
    const { ref } = fresh();
    await store.create(ref);
    expect(await store.start(ref, "run-1")).toBe("generate");
    for (let i = 0; i < 4; i++) await store.appendEvent(ref, "run-1", i, `{"old":${i}}`);
    expect(await store.start(ref, "run-2")).toBe("generate");
    for (let i = 0; i < 2; i++) await store.appendEvent(ref, "run-2", i, `{"new":${i}}`);
    await store.end(ref, "run-2", "COMPLETE", `{"final":true}`);
    await store.end(ref, "run-1", "FAILED", `{"late":true}`); // a superseded run changes nothing
    expect(await store.read(ref)).toEqual({ ...ids(ref), status: "COMPLETE", events: ['{"new":0}', '{"new":1}', '{"final":true}'] });
    expect((await store.read(ref, 0))!.events).toEqual(['{"new":1}', '{"final":true}']);
    expect(await store.start(ref, "run-3")).toBe("ended");
  });
});

describe("the worker keeps the record", () => {
  it("every token event and the final are stored as the JSON the subscription carries", async () => {
    const { req, ref } = fresh();
    await store.create(ref);
    bedrockMock.on(ConverseStreamCommand).callsFake(async () => ({ stream: converseStream(textStream(["Hel", "lo ", "there"])) }));
    const { d, queue } = deps();
    const summary = await runGeneration(req, d);
    expect(summary.outcome).toBe("completed");
    const state = (await store.read(ref))!;
    expect(state.status).toBe("COMPLETE");
    expect(state.events).toEqual(queue.events.map((e) => JSON.stringify(e)));
  });

  it("the tail the final carries live is also stored as its own token event, so a replay has every chunk", async () => {
    const { req, ref } = fresh();
    await store.create(ref);
    bedrockMock.on(ConverseStreamCommand).callsFake(async () => ({ stream: converseStream(textStream(["Hel", "lo ", "there"])) }));
    const { d, queue } = deps({ settings: { ...settings, batchMaxDelayMs: 50 } });
    await runGeneration(req, d);
    expect(queue.events.map((e) => e.action)).toEqual(["on_new_llm_token", "final_response"]);
    const final = queue.events.at(-1) as FinalEvent;
    expect(final.data).toMatchObject({ lastSequenceNumber: 1, tail: "lo there" });
    const recorded = (await store.read(ref))!.events.map((e) => parseEvent(e));
    expect(recorded.map((e) => (e.action === "on_new_llm_token" ? e.data.token : e.action))).toEqual([
      expect.objectContaining({ sequenceNumber: 0, value: "Hel" }),
      expect.objectContaining({ sequenceNumber: 1, value: "lo there" }),
      "final_response",
    ]);
    expect(recorded.at(-1)).toEqual(final);
  });

  it("with the queue fallback off and AppSync down, the message still ends COMPLETE in the record, with every event", async () => {
    const { req, ref } = fresh();
    await store.create(ref);
    bedrockMock.on(ConverseStreamCommand).callsFake(async () => ({ stream: converseStream(textStream(["a", "b", "c"])) }));
    const down = recordingPublisher(() => namedError("AppSyncPublishError", "down"));
    const { d } = deps({ settings: { ...settings, directSend: true, fallbackToQueue: false }, direct: down });
    const summary = await runGeneration(req, d);
    expect(summary.eventsLost).toBe(4);
    const state = (await store.read(ref))!;
    expect(state.status).toBe("COMPLETE");
    const final = parseEvent(state.events.at(-1)!) as FinalEvent;
    expect(final.data.content).toBe("abc");
    expect(state.events.slice(0, -1).map((e) => parseEvent(e))).toHaveLength(3);
  });

  it("a stop mid-stream closes the model stream and ends with stopReason stopped and exactly the text already streamed", async () => {
    const { req, ref } = fresh();
    await store.create(ref);
    const model = endlessModel();
    // The user stops once the first chunk has reached them.
    const queue = recordingPublisher();
    const stopAfterFirst = { publish: async (e: Parameters<typeof queue.publish>[0]) => { await queue.publish(e); if (queue.events.length === 1) await store.requestStop(ref); } };
    const { d } = deps({ queue: stopAfterFirst });
    const summary = await runGeneration(req, d);

    expect(model.closed).toBe(true);
    expect(model.completed).toBe(false);
    expect(summary.outcome).toBe("stopped");
    const final = queue.events.at(-1) as FinalEvent;
    expect(final.action).toBe("final_response");
    expect(final.data.stopReason).toBe("stopped");
    expect(final.data.content).toBe(tokens(queue.events).map((t) => t.value).join(""));
    expect(final.data.usage.outputTokens).toBeGreaterThan(0);
    const state = (await store.read(ref))!;
    expect(state.status).toBe("STOPPED");
    expect(state.events).toEqual(queue.events.map((e) => JSON.stringify(e)));
  });

  it("a message stopped while queued ends at once with an empty stopped final; the model is never called", async () => {
    const { req, ref } = fresh();
    await store.create(ref);
    await store.requestStop(ref);
    const { d, queue } = deps();
    const summary = await runGeneration(req, d);
    expect(bedrockMock.commandCalls(ConverseStreamCommand)).toHaveLength(0);
    expect(summary.outcome).toBe("stopped");
    expect(queue.events).toHaveLength(1);
    expect(queue.events[0]).toMatchObject({ action: "final_response", data: { content: "", stopReason: "stopped", lastSequenceNumber: -1 } });
    expect((await store.read(ref))!.status).toBe("STOPPED");
  });

  it("a message whose record has ended is not generated again", async () => {
    const { req, ref } = fresh();
    await store.create(ref);
    await store.start(ref, "run-0");
    await store.end(ref, "run-0", "COMPLETE", "{}");
    const { d, queue } = deps();
    expect((await runGeneration(req, d)).outcome).toBe("skipped");
    expect(bedrockMock.commandCalls(ConverseStreamCommand)).toHaveLength(0);
    expect(queue.events).toHaveLength(0);
  });
});

describe("a run that cannot begin still ends its message", () => {
  const unreadableHistory = { loadConversation: () => Promise.reject(new Error("history table unreachable")) } as unknown as HistoryStore;

  it("history unreadable: one retryable error event now, the record FAILED with it, the slot released, nothing thrown for a retry", async () => {
    const { req, ref } = fresh();
    await store.create(ref);
    const release = jest.spyOn(usage, "releaseSlot");
    const { d, queue } = deps({ history: unreadableHistory, usage });
    const summary = await runGeneration(req, d);

    expect(summary).toMatchObject({ outcome: "failed", errorCode: "INTERNAL_ERROR" });
    expect(queue.events).toEqual([expect.objectContaining({ action: "error", data: expect.objectContaining({ code: "INTERNAL_ERROR", retryable: true, eventSequence: 0 }) })]);
    expect(JSON.stringify(queue.events)).not.toContain("unreachable");
    const record = (await store.read(ref))!;
    expect(record.status).toBe("FAILED");
    expect(record.events.map((json) => parseEvent(json))).toEqual(queue.events);
    expect(release).toHaveBeenCalledWith(req.userId, expect.stringContaining(req.messageId));
    expect(bedrockMock.commandCalls(ConverseStreamCommand)).toHaveLength(0);
    release.mockRestore();
  });

  it("record not started (its write failed): it ends FAILED all the same, so the used id is refused if sent again", async () => {
    const { req, ref } = fresh();
    await store.create(ref);
    const flaky = Object.assign(Object.create(store) as MessageStore, { start: () => Promise.reject(namedError("ThrottlingException")) });
    const { d, queue } = deps({ messages: flaky });
    expect((await runGeneration(req, d)).outcome).toBe("failed");
    // Never the model's wording: the model was not asked.
    expect(queue.events).toEqual([expect.objectContaining({ action: "error", data: expect.objectContaining({ code: "INTERNAL_ERROR" }) })]);
    const record = (await store.read(ref))!;
    expect(record.status).toBe("FAILED");
    expect(record.events.map((json) => parseEvent(json))).toEqual(queue.events);
    expect(await store.create(ref)).toBe(false);
  });

  it("the record cannot be ended (unwritable, or another run's): nothing is sent and the run throws, so SQS (or Lambda's async retries) run it again", async () => {
    const down = () => Promise.reject(new Error("DynamoDB unreachable"));
    const unwritable = fresh();
    await store.create(unwritable.ref);
    const broken = Object.assign(Object.create(store) as MessageStore, { start: down, abandon: down });
    const first = deps({ messages: broken, usage });
    await expect(runGeneration(unwritable.req, first.d)).rejects.toThrow("DynamoDB unreachable");
    expect(first.queue.events).toEqual([]);
    expect((await store.read(unwritable.ref))!.status).toBe("QUEUED");

    // A run that timed out left the record STREAMING under its id; this redelivery cannot read history: the retry takes it over.
    const owned = fresh();
    await store.create(owned.ref);
    await store.start(owned.ref, "run-earlier");
    const second = deps({ messages: Object.assign(Object.create(store) as MessageStore, { start: down }) });
    await expect(runGeneration(owned.req, second.d)).rejects.toThrow("DynamoDB unreachable");
    expect(second.queue.events).toEqual([]);
    expect((await store.read(owned.ref))!.status).toBe("STREAMING");
  });

  it("a message stopped while queued ends stopped even when its history cannot be read: a stopped answer needs none", async () => {
    const { req, ref } = fresh();
    await store.create(ref);
    await store.requestStop(ref);
    const { d, queue } = deps({ history: unreadableHistory });
    expect((await runGeneration(req, d)).outcome).toBe("stopped");
    expect(queue.events.map((e) => e.action)).toEqual(["final_response"]);
    expect((await store.read(ref))!.status).toBe("STOPPED");
  });
});

describe("sendQuery and message-control", () => {
  const sendSettings = { inboundTopicArn: "arn:aws:sns:us-east-1:000000000000:inbound", maxPromptChars: 100, defaultModelId: request.modelId, allowedModelIds: [request.modelId], clientDeliveryChoice: false };
  const sns = new SNSClient({ region: "us-east-1" });

  it("a message id used twice by the same user is a ValidationError, and nothing is published the second time", async () => {
    snsMock.on(PublishCommand).resolves({ MessageId: "m" });
    const { ref } = fresh();
    const event = { arguments: { input: { sessionId: ref.sessionId, messageId: ref.messageId, prompt: "hi" } }, identity: { sub: ref.userId } };
    expect(await sendQuery(event, { sns, settings: sendSettings, messages: store })).toEqual({ sessionId: ref.sessionId, messageId: ref.messageId });
    expect(await sendQuery(event, { sns, settings: sendSettings, messages: store })).toEqual({ error: { type: "ValidationError", message: expect.stringContaining(`messageId ${ref.messageId} was already used`) } });
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(1);
    // Another user may use the same ids: they are keyed on the caller.
    expect(await sendQuery({ ...event, identity: { sub: "another-user" } }, { sns, settings: sendSettings, messages: store })).toMatchObject({ messageId: ref.messageId });
  });

  it("a failed publish leaves no record behind, so the same id can be sent again", async () => {
    snsMock.on(PublishCommand).rejectsOnce(new Error("SNS down")).resolves({ MessageId: "m" });
    const { ref } = fresh();
    const event = { arguments: { input: { sessionId: ref.sessionId, messageId: ref.messageId, prompt: "hi" } }, identity: { sub: ref.userId } };
    await expect(sendQuery(event, { sns, settings: sendSettings, messages: store })).rejects.toThrow("SNS down");
    expect(await store.read(ref)).toBeNull();
    expect(await sendQuery(event, { sns, settings: sendSettings, messages: store })).toMatchObject({ messageId: ref.messageId });
  });

  it("message-control reads and stops only the caller's own message, and names bad arguments", async () => {
    const { ref } = fresh();
    await store.create(ref);
    const call = (field: string, args: object, sub: string | null = ref.userId) => messageControl({ field, arguments: args, identity: sub ? { sub } : null }, { messages: store, usage });
    expect(await call("message", { sessionId: ref.sessionId, messageId: ref.messageId })).toMatchObject({ status: "QUEUED", events: [] });
    expect(await call("message", { sessionId: ref.sessionId, messageId: ref.messageId }, "intruder")).toBeNull();
    expect(await call("stopGeneration", { sessionId: ref.sessionId, messageId: ref.messageId }, "intruder")).toEqual({ ...ids(ref), stopped: false });
    expect(await call("stopGeneration", { sessionId: ref.sessionId, messageId: ref.messageId })).toEqual({ ...ids(ref), stopped: true });
    expect(await call("stopGeneration", { sessionId: ref.sessionId, messageId: ref.messageId })).toEqual({ ...ids(ref), stopped: false });
    expect(await call("message", { sessionId: "bad id", messageId: ref.messageId, afterSequence: -2 })).toEqual({
      error: { type: "ValidationError", message: "sessionId must be 8-64 letters, digits, '-' or '_'; afterSequence must be -1 or more" },
    });
    expect(await call("message", { sessionId: ref.sessionId, messageId: ref.messageId }, null)).toEqual({ error: { type: "Unauthorized", message: "Sign in first" } });
  });
});

function ids(ref: MessageRef) {
  return { sessionId: ref.sessionId, messageId: ref.messageId };
}
