/**
 * The worker's side of the limits and of guardrails, against dynalite: the slot is refreshed when a run starts and
 * released, with the usage added, before the end goes out (whatever the ending); a guardrail intervention ends the
 * message with the guardrail's safe text, recorded as such in the usage row and in history, which never replays it.
 */
import { ApplyGuardrailCommand, BedrockRuntimeClient, ConverseStreamCommand } from "@aws-sdk/client-bedrock-runtime";
import { DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { resourceNames } from "../../config/names";
import { GUARDRAIL_INTERVENED_REASON } from "../../contracts/messageState";
import { costNanoUsd, NANO_USD_PER_USD } from "../../contracts/modelPrices";
import type { StreamEvent } from "../../contracts/streamEvents";
import { USAGE_SLOTS_SORT_KEY, usagePartitionKey } from "../../contracts/tables";
import { MessageStore } from "../../lambdas/shared/messageStore";
import { slotKeyOf, UsageTable } from "../../lambdas/shared/usageTable";
import { runGeneration, type GenerationDeps } from "../../lambdas/stream-worker/generation";
import { GUARDRAIL_FALLBACK_TEXT } from "../../lambdas/stream-worker/guardrail";
import { HistoryStore } from "../../lambdas/stream-worker/history";
import { startDynamo, type LocalDynamo } from "../../local/dynamo";
import { localConfig } from "../local/services/localConfig";
import { converseStream, namedError, recordingPublisher, recordingTelemetry, request, settings, textStream, tokens, type StreamStep } from "./support/workerFixtures";

const bedrockMock = mockClient(BedrockRuntimeClient);
const bedrock = new BedrockRuntimeClient({ region: "us-east-1" });
const NOON = Date.parse("2026-11-23T12:00:00.000Z");
let dynamo: LocalDynamo;
let doc: DynamoDBDocumentClient;
let usage: UsageTable;
let messages: MessageStore;
let history: HistoryStore;
let usageTableName: string;
let n = 0;

beforeAll(async () => {
  const config = await localConfig();
  dynamo = await startDynamo(config);
  doc = DynamoDBDocumentClient.from(dynamo.client, { marshallOptions: { removeUndefinedValues: true } });
  usageTableName = resourceNames(config).usageTable;
  usage = new UsageTable({ doc, tableName: usageTableName });
  messages = new MessageStore({ doc, tableName: resourceNames(config).messagesTable, ttlDays: 1 });
  history = new HistoryStore({ doc, tableName: resourceNames(config).historyTable, ttlDays: 1 });
});
afterAll(() => dynamo.close());
beforeEach(() => bedrockMock.reset());

/** A message of a user of its own, whose slot send-query claimed. */
async function admitted() {
  n += 1;
  const req = { ...request, userId: `user-gen-${n}`, sessionId: `session-gen-${n}`, messageId: `message-gen-${n}` };
  await usage.claimSlot(req.userId, { slotKey: slotKeyOf(req.sessionId, req.messageId), expiresAt: NOON + 1000, drop: {}, maxEntriesBefore: 3, create: true });
  return req;
}

const slotsOf = async (userId: string) => (await doc.send(new GetCommand({ TableName: usageTableName, Key: { pk: usagePartitionKey(userId), sk: USAGE_SLOTS_SORT_KEY }, ConsistentRead: true }))).Item?.slots as Record<string, number>;

/** Deps with a queue publisher that notes, when the end event goes out, whether the slot was already free. */
function deps(userId: string, overrides: Partial<GenerationDeps> = {}) {
  const telemetry = recordingTelemetry();
  const slotsAtEnd: Record<string, number>[] = [];
  const queue = recordingPublisher();
  const publish = queue.publish.bind(queue);
  queue.publish = async (event: StreamEvent) => {
    if (event.action !== "on_new_llm_token") slotsAtEnd.push(await slotsOf(userId));
    return publish(event);
  };
  const d: GenerationDeps = { bedrock, settings, direct: recordingPublisher(), queue, messages, usage, history, logger: telemetry.logger, metrics: telemetry.metrics, now: () => NOON, ...overrides };
  return { d, queue, telemetry, slotsAtEnd };
}

const givenStream = (steps: StreamStep[]) => bedrockMock.on(ConverseStreamCommand).callsFake(async () => ({ stream: converseStream(steps) }));

describe("the worker and the user's slot and usage row", () => {
  it("refreshes the slot when it starts; adds the usage and frees the slot before the final goes out", async () => {
    const req = await admitted();
    let refreshed: Record<string, number> | undefined;
    bedrockMock.on(ConverseStreamCommand).callsFake(async () => {
      refreshed = await slotsOf(req.userId);
      return { stream: converseStream(textStream(["Hi ", "there"], { usage: { inputTokens: 40, outputTokens: 30 } })) };
    });
    const { d, queue, slotsAtEnd, telemetry } = deps(req.userId);
    await runGeneration(req, d);
    expect(refreshed).toEqual({ [slotKeyOf(req.sessionId, req.messageId)]: NOON + settings.generationSlotSeconds * 1000 });
    expect(queue.events.at(-1)).toMatchObject({ action: "final_response" });
    expect(slotsAtEnd).toEqual([{}]);
    const cost = costNanoUsd(req.modelId, { inputTokens: 40, outputTokens: 30 });
    expect(await usage.rows(req.userId, "2026-11-23", "2026-11-23")).toEqual([
      { day: "2026-11-23", modelId: req.modelId, messages: 1, inputTokens: 40, outputTokens: 30, guardrailInterventions: 0, costUsd: cost / NANO_USD_PER_USD },
    ]);
    expect(telemetry.modelTokens).toEqual([{ modelId: req.modelId, inputTokens: 40, outputTokens: 30 }]);
  });

  it("a failed generation still counts as a message and frees its slot before the error event", async () => {
    const req = await admitted();
    givenStream([{ messageStart: { role: "assistant" } }, { contentBlockDelta: { contentBlockIndex: 0, delta: { text: "x" } } }, { throw: namedError("ThrottlingException") }]);
    const { d, queue, slotsAtEnd } = deps(req.userId);
    await runGeneration(req, d);
    expect(queue.events.at(-1)).toMatchObject({ action: "error" });
    expect(slotsAtEnd).toEqual([{}]);
    expect(await usage.rows(req.userId, "2026-11-23", "2026-11-23")).toMatchObject([{ messages: 1 }]);
  });

  it("a message that had already ended (a late redelivery) frees its slot and generates nothing", async () => {
    const req = await admitted();
    givenStream(textStream(["once"]));
    await runGeneration(req, deps(req.userId).d);
    await usage.refreshSlot(req.userId, slotKeyOf(req.sessionId, req.messageId), NOON + 5000);
    const again = deps(req.userId);
    expect((await runGeneration(req, again.d)).outcome).toBe("skipped");
    expect(await slotsOf(req.userId)).toEqual({});
    expect(bedrockMock.commandCalls(ConverseStreamCommand)).toHaveLength(1);
  });
});

describe("a Bedrock guardrail", () => {
  const guarded = { ...settings, guardrailId: "gr0example01", guardrailVersion: "3", guardrailStreamMode: "async" };
  /** What an async-mode intervention streams: a screened start, text the guardrail then blocks, its blocked message. */
  const intervention: StreamStep[] = [
    { messageStart: { role: "assistant" } },
    { contentBlockDelta: { contentBlockIndex: 0, delta: { text: "Here is how " } } },
    { contentBlockDelta: { contentBlockIndex: 0, delta: { text: "to do the forbidden thing. " } } },
    { contentBlockDelta: { contentBlockIndex: 0, delta: { text: "Sorry, I can't help with that." } } },
    { contentBlockStop: { contentBlockIndex: 0 } },
    { messageStop: { stopReason: GUARDRAIL_INTERVENED_REASON } },
    { metadata: { usage: { inputTokens: 12, outputTokens: 9, totalTokens: 21 }, metrics: { latencyMs: 3 } } },
  ];

  it("is passed to ConverseStream as guardrailConfig; none is passed without one", async () => {
    for (const s of [guarded, settings]) {
      const req = await admitted();
      givenStream(textStream(["ok"]));
      await runGeneration(req, deps(req.userId, { settings: s }).d);
    }
    const [withGuardrail, without] = bedrockMock.commandCalls(ConverseStreamCommand).map((c) => c.args[0].input.guardrailConfig);
    expect(withGuardrail).toEqual({ guardrailIdentifier: "gr0example01", guardrailVersion: "3", streamProcessingMode: "async" });
    expect(without).toBeUndefined();
  });

  it("an intervention mid-stream ends the message with guardrail_intervened and the guardrail's safe text, in the record, usage and history", async () => {
    const req = await admitted();
    givenStream(intervention);
    bedrockMock.on(ApplyGuardrailCommand).resolves({ action: "GUARDRAIL_INTERVENED", outputs: [{ text: "Sorry, I can't help with that." }], usage: undefined, assessments: [] });
    // A 250 ms window: the first delta goes out at once, the rest is still buffered when the guardrail ends the stream.
    const { d, queue, telemetry } = deps(req.userId, { settings: { ...guarded, batchMaxDelayMs: 250 } });
    const summary = await runGeneration(req, d);
    expect(summary.outcome).toBe("completed");
    const final = queue.events.at(-1)!;
    expect(final).toMatchObject({ action: "final_response", data: { stopReason: GUARDRAIL_INTERVENED_REASON, content: "Sorry, I can't help with that.", usage: { inputTokens: 12, outputTokens: 9 } } });
    // The first delta went out at once; the chunk still buffered at the intervention (the blocked text) is dropped:
    // neither a token event nor the final's tail, and the final's lastSequenceNumber names the last chunk sent.
    const streamed = tokens(queue.events);
    expect(streamed.map((t) => t.value).join("")).toBe("Here is how ");
    expect(final.action === "final_response" && final.data).toMatchObject({ lastSequenceNumber: streamed.length - 1 });
    expect(JSON.stringify(final)).not.toContain("forbidden");
    // The guardrail judged the whole streamed text, as output.
    expect(bedrockMock.commandCalls(ApplyGuardrailCommand)[0]!.args[0].input).toEqual({
      guardrailIdentifier: "gr0example01",
      guardrailVersion: "3",
      source: "OUTPUT",
      content: [{ text: { text: "Here is how to do the forbidden thing. Sorry, I can't help with that." } }],
    });
    expect(await messages.read({ userId: req.userId, sessionId: req.sessionId, messageId: req.messageId })).toMatchObject({ status: "COMPLETE" });
    expect(await usage.rows(req.userId, "2026-11-23", "2026-11-23")).toMatchObject([{ messages: 1, guardrailInterventions: 1, outputTokens: 9 }]);
    expect(telemetry.recordedMetrics.filter((m) => m.name === "GuardrailInterventions")).toEqual([{ name: "GuardrailInterventions", unit: "Count", value: 1 }]);
    // History keeps the turn as it ended, and never sends it back to the model.
    givenStream(textStream(["next"]));
    const next = { ...req, messageId: `${req.messageId}-next` };
    await usage.claimSlot(next.userId, { slotKey: slotKeyOf(next.sessionId, next.messageId), expiresAt: NOON + 1000, drop: {}, maxEntriesBefore: 3, create: false });
    await runGeneration(next, deps(req.userId, { settings: guarded }).d);
    expect(bedrockMock.commandCalls(ConverseStreamCommand).at(-1)!.args[0].input.messages).toEqual([{ role: "user", content: [{ text: req.prompt }] }]);
  });

  it("text the guardrail passes stands (a blocked prompt's message); if ApplyGuardrail fails, a fixed message stands in", async () => {
    const blockedPrompt: StreamStep[] = [
      { messageStart: { role: "assistant" } },
      { contentBlockDelta: { contentBlockIndex: 0, delta: { text: "I can't answer that question." } } },
      { messageStop: { stopReason: GUARDRAIL_INTERVENED_REASON } },
    ];
    const contents: string[] = [];
    for (const apply of [() => bedrockMock.on(ApplyGuardrailCommand).resolves({ action: "NONE", outputs: [], usage: undefined, assessments: [] }), () => bedrockMock.on(ApplyGuardrailCommand).rejects(namedError("ThrottlingException"))]) {
      const req = await admitted();
      givenStream(blockedPrompt);
      apply();
      const { d, queue } = deps(req.userId, { settings: guarded });
      await runGeneration(req, d);
      const final = queue.events.at(-1)!;
      contents.push(final.action === "final_response" ? final.data.content : final.action);
    }
    expect(contents).toEqual(["I can't answer that question.", GUARDRAIL_FALLBACK_TEXT]);
  });
});
