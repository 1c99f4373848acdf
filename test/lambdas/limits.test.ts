/**
 * The per-user limits and usage against dynalite: sendQuery's admission (one generation per request, concurrency, the
 * daily quota with its reset time), slots that lapse after a crashed worker, racing admissions, exact counters under
 * concurrent completions, and myUsage reading the caller's rows only. Clocks are injected: nothing waits for time.
 */
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { resourceNames } from "../../config/names";
import { costNanoUsd, NANO_USD_PER_USD } from "../../contracts/modelPrices";
import { USAGE_SLOTS_SORT_KEY, usagePartitionKey } from "../../contracts/tables";
import { LIMIT_EXCEEDED, quotaResetsAt } from "../../contracts/usage";
import { messageControl } from "../../lambdas/message-control/messageControl";
import { admitGeneration, type AdmissionSettings } from "../../lambdas/send-query/admission";
import { sendQuery, type SendQueryDeps, type SendQuerySettings } from "../../lambdas/send-query/sendQuery";
import { MessageStore } from "../../lambdas/shared/messageStore";
import { slotKeyOf, UsageTable } from "../../lambdas/shared/usageTable";
import { startDynamo, type LocalDynamo } from "../../local/dynamo";
import { localConfig } from "../local/services/localConfig";

const snsMock = mockClient(SNSClient);
const sns = new SNSClient({ region: "us-east-1" });
const MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0";
const NOON = Date.parse("2026-11-23T12:00:00.000Z");
let dynamo: LocalDynamo;
let doc: DynamoDBDocumentClient;
let table: UsageTable;
let messages: MessageStore;
let users = 0;

beforeAll(async () => {
  const config = await localConfig();
  dynamo = await startDynamo(config);
  doc = DynamoDBDocumentClient.from(dynamo.client);
  table = new UsageTable({ doc, tableName: resourceNames(config).usageTable });
  messages = new MessageStore({ doc, tableName: resourceNames(config).messagesTable, ttlDays: 1 });
});
afterAll(() => dynamo.close());
beforeEach(() => {
  snsMock.reset();
  snsMock.on(PublishCommand).resolves({ MessageId: "m" });
});

const limits: AdmissionSettings = { maxConcurrentGenerations: 2, dailyOutputTokens: 1000, maxTokens: 100, generationSlotSeconds: 90 };
const settings: SendQuerySettings = { inboundTopicArn: "arn:aws:sns:us-east-1:000000000000:inbound", maxPromptChars: 100, defaultModelId: MODEL, allowedModelIds: [MODEL], clientDeliveryChoice: false };

/** A user of their own per test, and sendQuery deps at a settable clock. */
function fixture(overrides: Partial<AdmissionSettings> = {}) {
  const sub = `user-limits-${++users}`;
  const clock = { at: NOON };
  let n = 0;
  const deps: SendQueryDeps = { sns, settings, messages, limits: { table, settings: { ...limits, ...overrides } }, now: () => new Date(clock.at), newMessageId: () => `msg-${users}-${++n}-xxxx` };
  const send = (requestId?: string) => sendQuery({ arguments: { input: { sessionId: "session-limits", prompt: "hello" } }, identity: { sub }, requestId }, deps);
  return { sub, clock, deps, send };
}

const published = () => snsMock.commandCalls(PublishCommand).length;
const slotsOf = async (sub: string) => (await doc.send(new GetCommand({ TableName: resourceNames(await localConfig()).usageTable, Key: { pk: usagePartitionKey(sub), sk: USAGE_SLOTS_SORT_KEY }, ConsistentRead: true }))).Item?.slots ?? {};

describe("concurrent generations per user", () => {
  it("with N in flight the next is refused with LimitExceeded, nothing published and no record; once one ends a new one is accepted", async () => {
    const { sub, send } = fixture();
    const first = await send();
    const second = await send();
    expect([first, second].every((r) => "messageId" in r)).toBe(true);
    expect(published()).toBe(2);

    const third = await send();
    expect(third).toEqual({ error: { type: LIMIT_EXCEEDED, message: expect.stringMatching(/2 of your answers are still being generated.*\(2\)/), info: { limit: "concurrency" } } });
    expect(published()).toBe(2);
    // No record for the refused message: the id it would have had is unknown to message().
    expect(await messages.read({ userId: sub, sessionId: "session-limits", messageId: `msg-${users}-3-xxxx` })).toBeNull();

    // The worker ends the first message: its slot is released, and the next request is accepted.
    await table.releaseSlot(sub, slotKeyOf("session-limits", (first as { messageId: string }).messageId));
    expect("messageId" in (await send())).toBe(true);
    expect(published()).toBe(3);
    expect(Object.keys(await slotsOf(sub))).toHaveLength(2);
  });

  it("a crashed worker's slot lapses GENERATION_SLOT_SECONDS after its refresh, and not before", async () => {
    const { sub, clock, send } = fixture({ maxConcurrentGenerations: 1 });
    const accepted = (await send()) as { messageId: string };
    // The worker starts 5 s later, refreshes the slot, and crashes: nobody releases it.
    const startedAt = NOON + 5000;
    await table.refreshSlot(sub, slotKeyOf("session-limits", accepted.messageId), startedAt + limits.generationSlotSeconds * 1000);
    clock.at = startedAt + limits.generationSlotSeconds * 1000 - 1;
    expect(await send()).toMatchObject({ error: { info: { limit: "concurrency" } } });
    clock.at = startedAt + limits.generationSlotSeconds * 1000 + 1;
    const next = (await send()) as { messageId: string };
    expect(next.messageId).toBeDefined();
    // The lapsed entry was dropped by the same write that claimed the new one.
    expect(Object.keys(await slotsOf(sub))).toEqual([slotKeyOf("session-limits", next.messageId)]);
  });

  it("admissions racing for the last slots: exactly the limit wins", async () => {
    const { sub } = fixture();
    const racers = Array.from({ length: 12 }, (_, i) => admitGeneration(table, { userId: sub, slotKey: `race/${i}` }, { ...limits, maxConcurrentGenerations: 3 }, () => NOON));
    const results = await Promise.all(racers);
    expect(results.filter((r) => r.admitted)).toHaveLength(3);
    expect(Object.keys(await slotsOf(sub))).toHaveLength(3);
  });

  it("a failed publish releases the slot and the record", async () => {
    const { sub, send } = fixture({ maxConcurrentGenerations: 1 });
    snsMock.on(PublishCommand).rejects(new Error("SNS is down"));
    await expect(send()).rejects.toThrow("SNS is down");
    expect(await slotsOf(sub)).toEqual({});
    snsMock.on(PublishCommand).resolves({ MessageId: "m" });
    expect("messageId" in (await send())).toBe(true);
  });
});

describe("one generation per AppSync request", () => {
  it("a second sendQuery of the same request is refused and publishes nothing; the next request is accepted", async () => {
    const { send } = fixture({ maxConcurrentGenerations: 5 });
    expect("messageId" in (await send("request-a"))).toBe(true);
    for (let alias = 0; alias < 3; alias++) {
      expect(await send("request-a")).toEqual({ error: { type: LIMIT_EXCEEDED, message: expect.stringMatching(/one sendQuery per request/), info: { limit: "request" } } });
    }
    expect(published()).toBe(1);
    expect("messageId" in (await send("request-b"))).toBe(true);
    expect(published()).toBe(2);
  });
});

describe("output tokens per user per day", () => {
  const finish = (sub: string, outputTokens: number, at = NOON) => table.addUsage(sub, "2026-11-23", MODEL, { inputTokens: 10, outputTokens, costNanoUsd: 0, guardrailIntervened: false }, at);

  it("refused once the day's usage reaches the quota, with the reset time; the next UTC day is admitted", async () => {
    const { sub, clock, send } = fixture({ maxConcurrentGenerations: 10 });
    await finish(sub, 999);
    expect("messageId" in (await send())).toBe(true);
    await table.releaseSlot(sub, slotKeyOf("session-limits", `msg-${users}-1-xxxx`));
    await finish(sub, 1);
    const refused = await send();
    expect(refused).toEqual({
      error: { type: LIMIT_EXCEEDED, message: `Daily quota reached: 1000 of 1000 output tokens used today (UTC). It resets at ${quotaResetsAt(NOON)}.`, info: { limit: "quota", resetsAt: "2026-11-24T00:00:00.000Z" } },
    });
    expect(published()).toBe(1);
    clock.at = Date.parse("2026-11-24T00:00:00.000Z");
    expect("messageId" in (await send())).toBe(true);
  });

  it("answers in flight count one full answer each, so the day ends at most one answer over the quota", async () => {
    const { send } = fixture({ maxConcurrentGenerations: 10, dailyOutputTokens: 250 });
    // 0 used: admitted (0 < 250); one in flight: 100 < 250; two in flight: 200 < 250; three: 300, refused.
    for (let i = 0; i < 3; i++) expect("messageId" in (await send())).toBe(true);
    expect(await send()).toMatchObject({ error: { message: expect.stringMatching(/3 answer\(s\) in progress may use up to 100 each.*resets at 2026-11-24T00:00:00.000Z/), info: { limit: "quota" } } });
  });

  it("counters are exact under concurrent completions (ADD, never read-modify-write)", async () => {
    const { sub } = fixture();
    const usages = Array.from({ length: 120 }, (_, i) => ({ inputTokens: 7 + i, outputTokens: 13 + 2 * i }));
    await Promise.all(
      usages.map((u, i) => table.addUsage(sub, "2026-11-23", MODEL, { ...u, costNanoUsd: costNanoUsd(MODEL, u), guardrailIntervened: i % 10 === 0 }, NOON)),
    );
    const sum = (k: "inputTokens" | "outputTokens") => usages.reduce((n, u) => n + u[k], 0);
    const cost = usages.reduce((n, u) => n + costNanoUsd(MODEL, u), 0);
    expect(await table.rows(sub, "2026-11-23", "2026-11-23")).toEqual([
      { day: "2026-11-23", modelId: MODEL, messages: 120, inputTokens: sum("inputTokens"), outputTokens: sum("outputTokens"), guardrailInterventions: 12, costUsd: cost / NANO_USD_PER_USD },
    ]);
    // $0.80 / $4.00 per million tokens: whole nano-dollars per token, so the sum is exact.
    expect(cost).toBe(sum("inputTokens") * 800 + sum("outputTokens") * 4000);
  });
});

describe("myUsage", () => {
  const call = (sub: string, args: object = {}) => messageControl({ field: "myUsage", arguments: args, identity: { sub } }, { messages, usage: table, now: () => NOON });

  it("returns the caller's rows only, per day and model, in the asked range (default: the last 30 days)", async () => {
    const alice = fixture().sub;
    const bob = fixture().sub;
    const add = (sub: string, day: string, model: string, outputTokens: number) => table.addUsage(sub, day, model, { inputTokens: 1, outputTokens, costNanoUsd: 0, guardrailIntervened: false }, NOON);
    await add(alice, "2026-11-23", MODEL, 5);
    await add(alice, "2026-11-20", "us.anthropic.claude-3-7-sonnet-20250219-v1:0", 6);
    await add(alice, "2026-10-01", MODEL, 7);
    await add(bob, "2026-11-23", MODEL, 100);
    const rows = (await call(alice)) as { day: string; modelId: string; outputTokens: number }[];
    expect(rows.map((r) => [r.day, r.modelId, r.outputTokens])).toEqual([
      ["2026-11-20", "us.anthropic.claude-3-7-sonnet-20250219-v1:0", 6],
      ["2026-11-23", MODEL, 5],
    ]);
    expect(((await call(alice, { from: "2026-10-01", to: "2026-10-01Z" })) as unknown[]).length).toBe(1);
    expect(((await call(bob)) as { outputTokens: number }[]).map((r) => r.outputTokens)).toEqual([100]);
    // Nobody's rows but the caller's are ever read: the slots item is not a row either.
    expect(await call(fixture().sub)).toEqual([]);
  });

  it("bad dates and ranges are validation errors", async () => {
    const sub = fixture().sub;
    expect(await call(sub, { from: "yesterday" })).toEqual({ error: { type: "ValidationError", message: "from must be a date such as 2026-11-23, got yesterday" } });
    expect(await call(sub, { from: "2026-02-30" })).toMatchObject({ error: { type: "ValidationError" } });
    expect(await call(sub, { from: "2026-11-24", to: "2026-11-23" })).toMatchObject({ error: { message: "from (2026-11-24) must not be after to (2026-11-23)" } });
    expect(await call(sub, { from: "2024-01-01", to: "2026-11-23" })).toMatchObject({ error: { message: expect.stringMatching(/at most 366 days/) } });
  });
});
