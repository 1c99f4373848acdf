import { BedrockRuntimeClient, ConverseStreamCommand } from "@aws-sdk/client-bedrock-runtime";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SNSClient, PublishCommand } from "@aws-sdk/client-sns";
import { DynamoDBDocumentClient, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { AppSyncPublishError, createAppSyncPublisher } from "../../lambdas/shared/appsyncPublisher";
import type { EventPublisher } from "../../lambdas/shared/eventPublisher";
import { MAX_EVENT_BYTES, parseEvent, serializeEvent, type StreamEvent } from "../../contracts/streamEvents";
import { byteLength } from "../../contracts/utf8";
import { createQueuePublisher } from "../../lambdas/shared/queuePublisher";
import { eventDeduplicationId, sessionGroupId } from "../../lambdas/shared/fifoIds";
import { runGeneration, type GenerationDeps } from "../../lambdas/stream-worker/generation";
import { HistoryStore } from "../../lambdas/stream-worker/history";
import { startFakeAppSync, type FakeAppSync } from "./support/fakeAppSync";
import { chunkTexts, converseStream, namedError, recordingPublisher, recordingTelemetry, request, settings, textStream, tokens, type StreamStep } from "./support/workerFixtures";

const bedrockMock = mockClient(BedrockRuntimeClient);
const bedrock = new BedrockRuntimeClient({ region: "us-east-1" });
beforeEach(() => bedrockMock.reset());

function givenStream(steps: StreamStep[]) {
  bedrockMock.on(ConverseStreamCommand).callsFake(async () => ({ stream: converseStream(steps) }));
}

function deps(overrides: Partial<GenerationDeps> = {}) {
  const telemetry = recordingTelemetry();
  const direct = recordingPublisher();
  const queue = recordingPublisher();
  const d: GenerationDeps = { bedrock, settings, direct, queue, logger: telemetry.logger, metrics: telemetry.metrics, ...overrides };
  return { d, direct, queue, telemetry };
}

const TRICKY = ['He said "hi"', " \\back\\slash\\", "\nline\r\n", "\ttab ", "naïve 日本語 ", "👩‍👩‍👧🚀", " ${x} `y` </script>", "\u0000\u2028end"];

describe("runGeneration", () => {
  it("streams Bedrock deltas as token events and ends with final_response (full text, reasoning, usage, stopReason)", async () => {
    givenStream(textStream(TRICKY, { reasoning: ["thinking ", "hard"], usage: { inputTokens: 7, outputTokens: 9 }, stopReason: "max_tokens" }));
    const { d, queue, direct, telemetry } = deps();
    const summary = await runGeneration(request, d);

    const call = bedrockMock.commandCalls(ConverseStreamCommand)[0]!.args[0].input;
    expect(call).toEqual({
      modelId: request.modelId,
      messages: [{ role: "user", content: [{ text: request.prompt }] }],
      system: [{ text: settings.systemPrompt }],
      inferenceConfig: { maxTokens: settings.maxTokens, temperature: settings.temperature },
    });
    expect(direct.events).toHaveLength(0);
    const full = TRICKY.join("");
    const toks = tokens(queue.events);
    // batchMaxDelayMs = 0: one chunk per delta, reasoning never among the tokens.
    expect(toks.map((t) => t.value)).toEqual(TRICKY);
    expect(toks.map((t) => t.sequenceNumber)).toEqual(TRICKY.map((_, i) => i));
    const final = queue.events.at(-1)!;
    expect(final).toMatchObject({
      action: "final_response",
      userId: request.userId,
      data: { sessionId: request.sessionId, messageId: request.messageId, content: full, reasoningContent: "thinking hard", usage: { inputTokens: 7, outputTokens: 9 }, stopReason: "max_tokens", lastSequenceNumber: TRICKY.length - 1 },
    });
    for (const e of queue.events) expect(parseEvent(serializeEvent(e))).toEqual(e);
    expect(summary).toMatchObject({ outcome: "completed", delivery: "queued", chunksPublished: TRICKY.length, lastSequenceNumber: TRICKY.length - 1, eventsLost: 0 });
    const names = telemetry.recordedMetrics.map((m) => m.name);
    expect(names).toEqual(expect.arrayContaining(["TimeToFirstToken", "OutputTokens", "ChunksPublished", "PublishLatency"]));
    expect(telemetry.recordedMetrics.find((m) => m.name === "OutputTokens")!.value).toBe(9);
    expect(telemetry.recordedMetrics.find((m) => m.name === "ChunksPublished")!.value).toBe(TRICKY.length);
  });

  it("coalesces deltas into fewer chunks with identical text when max_delay_ms > 0; the final carries the last chunk", async () => {
    const deltas = Array.from({ length: 200 }, (_, i) => `tok${i} `);
    givenStream(textStream(deltas));
    const { d, queue } = deps({ settings: { ...settings, batchMaxDelayMs: 50, batchMaxChars: 100 } });
    const summary = await runGeneration(request, d);
    const toks = tokens(queue.events);
    expect(toks.length).toBeLessThan(deltas.length / 5);
    expect(chunkTexts(queue.events).join("")).toBe(deltas.join(""));
    for (const t of chunkTexts(queue.events)) expect(t.length).toBeLessThanOrEqual(100);
    // The partial chunk left at the end is chunk lastSequenceNumber, inside the final: one AppSync message fewer.
    const final = queue.events.at(-1)!;
    expect(final).toMatchObject({ action: "final_response", data: { content: deltas.join(""), lastSequenceNumber: toks.length, tail: expect.any(String) } });
    expect(toks.map((t) => t.sequenceNumber)).toEqual(toks.map((_, i) => i));
    expect(summary).toMatchObject({ chunksPublished: toks.length, lastSequenceNumber: toks.length });
  });

  it("a failed stream sends what was buffered as a token event before the error, never in a final", async () => {
    givenStream([...textStream(["a", " b", " c"]).slice(0, 4), { throw: namedError("ThrottlingException") }]);
    const { d, queue } = deps({ settings: { ...settings, batchMaxDelayMs: 50 } });
    await runGeneration(request, d);
    expect(queue.events.map((e) => e.action)).toEqual(["on_new_llm_token", "on_new_llm_token", "error"]);
    expect(tokens(queue.events).map((t) => t.value)).toEqual(["a", " b c"]);
  });

  it("in reading_pace mode the text is exact and the final carries the tail", async () => {
    const deltas = Array.from({ length: 50 }, (_, i) => `w${i} `);
    givenStream(textStream(deltas));
    const { d, queue } = deps({ settings: { ...settings, batchMode: "reading_pace", batchMaxDelayMs: 250, batchMaxChars: 400 } });
    await runGeneration(request, d);
    // The mocked model answers at once: the first delta alone, the second at once too (a reader would finish the first
    // within the margin), the rest in the tail.
    expect(tokens(queue.events).map((t) => t.value)).toEqual(["w0 ", "w1 "]);
    expect(queue.events.at(-1)).toMatchObject({ action: "final_response", data: { lastSequenceNumber: 2, tail: deltas.slice(2).join(""), content: deltas.join("") } });
  });

  it("a request's delivery choice overrides DIRECT_SEND", async () => {
    givenStream(textStream(["a"]));
    const { d, direct, queue } = deps({ settings: { ...settings, directSend: false } });
    await runGeneration({ ...request, delivery: "direct" }, d);
    expect(direct.events.map((e) => e.action)).toEqual(["on_new_llm_token", "final_response"]);
    expect(queue.events).toHaveLength(0);
  });

  it.each([
    ["before the stream", [] as string[], namedError("ValidationException"), "INVALID_REQUEST", false],
    ["mid-stream", ["Hello", " wor"], namedError("ThrottlingException"), "THROTTLED", true],
    ["mid-stream (model stream error)", ["partial"], namedError("ModelStreamErrorException"), "MODEL_STREAM_ERROR", true],
  ])("a Bedrock failure %s becomes an error event with a friendly message; tokens already sent stay; nothing is thrown", async (_when, sent, error, code, retryable) => {
    if (sent.length === 0) bedrockMock.on(ConverseStreamCommand).rejects(error);
    else givenStream([{ messageStart: { role: "assistant" } }, ...sent.map((text) => ({ contentBlockDelta: { contentBlockIndex: 0, delta: { text } } })), { throw: error }]);
    const { d, queue, telemetry } = deps();
    const summary = await runGeneration(request, d);
    expect(tokens(queue.events).map((t) => t.value)).toEqual(sent);
    const last = queue.events.at(-1)!;
    expect(last.action).toBe("error");
    if (last.action !== "error") return;
    expect(last.data).toMatchObject({ code, retryable, sessionId: request.sessionId, messageId: request.messageId });
    expect(last.data.message).not.toMatch(/internal detail|Exception/);
    expect(summary).toMatchObject({ outcome: "failed", errorCode: code, lastSequenceNumber: sent.length - 1 });
    expect(telemetry.errorCodes).toEqual([code]);
    expect(JSON.stringify(telemetry.logs.filter((l) => l.level === "error"))).toContain(code);
  });

  it("each run gets its own runId (not the messageId), carried by every token, the final and the error event", async () => {
    givenStream(textStream(["a", "b"]));
    const first = deps();
    const s1 = await runGeneration(request, first.d);
    givenStream([{ contentBlockDelta: { contentBlockIndex: 0, delta: { text: "x" } } }, { throw: namedError("ThrottlingException") }]);
    const second = deps();
    const s2 = await runGeneration(request, second.d);
    const runIds = (events: StreamEvent[]) => new Set(events.map((e) => (e.action === "on_new_llm_token" ? e.data.token.runId : e.data.runId)));
    expect(runIds(first.queue.events)).toEqual(new Set([s1.runId]));
    expect(runIds(second.queue.events)).toEqual(new Set([s2.runId]));
    expect(s1.runId).not.toBe(s2.runId);
    expect(s1.runId).not.toBe(request.messageId);
    expect(s1.runId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("a stream that ends without messageStop is not a complete answer: MODEL_STREAM_ERROR after the tokens so far", async () => {
    givenStream([{ messageStart: { role: "assistant" } }, { contentBlockDelta: { contentBlockIndex: 0, delta: { text: "half" } } }]);
    const { d, queue } = deps();
    const summary = await runGeneration(request, d);
    expect(queue.events.map((e) => e.action)).toEqual(["on_new_llm_token", "error"]);
    expect(queue.events.at(-1)).toMatchObject({ data: { code: "MODEL_STREAM_ERROR" } });
    expect(summary.outcome).toBe("failed");
  });

  it("an abort signal that fires mid-stream ends the message with MODEL_TIMEOUT", async () => {
    const controller = new AbortController();
    givenStream([
      { contentBlockDelta: { contentBlockIndex: 0, delta: { text: "a" } } },
      { contentBlockDelta: { contentBlockIndex: 0, delta: { text: "b" } } },
      { messageStop: { stopReason: "end_turn" } },
    ]);
    const { d, queue } = deps({
      metrics: { addMetric: (name) => name === "TimeToFirstToken" && controller.abort(Object.assign(new Error("deadline"), { name: "TimeoutError" })), countError() {}, countModelTokens() {} },
    });
    await runGeneration(request, d, { abortSignal: controller.signal });
    expect(queue.events.map((e) => e.action)).toEqual(["on_new_llm_token", "error"]);
    expect(queue.events.at(-1)).toMatchObject({ data: { code: "MODEL_TIMEOUT" } });
  });

  it("an exception carried as a stream union member is treated like a thrown one", async () => {
    givenStream([{ contentBlockDelta: { contentBlockIndex: 0, delta: { text: "x" } } }, { serviceUnavailableException: { name: "ServiceUnavailableException", message: "down" } } as never]);
    const { d, queue } = deps();
    await runGeneration(request, d);
    expect(queue.events.at(-1)).toMatchObject({ action: "error", data: { code: "SERVICE_UNAVAILABLE" } });
  });

  it("a final event over MAX_EVENT_BYTES drops reasoning first, then truncates content with a marker", async () => {
    const big = "x".repeat(MAX_EVENT_BYTES / 2);
    givenStream(textStream([big, big], { reasoning: ["r".repeat(1000)] }));
    const { d, queue, telemetry } = deps({ settings: { ...settings, batchMaxDelayMs: 10, batchMaxChars: 1000 } });
    await runGeneration(request, d);
    const final = queue.events.at(-1)!;
    expect(final.action).toBe("final_response");
    if (final.action !== "final_response") return;
    expect(byteLength(serializeEvent(final))).toBeLessThanOrEqual(MAX_EVENT_BYTES);
    expect(final.data.reasoningContent).toBeUndefined();
    expect(final.data.content).toMatch(/\[truncated/);
    // The flag tells clients the content is partial, so they keep the streamed text.
    expect(final.data.truncated).toBe(true);
    expect(big + big).toContain(final.data.content.replace(/\n\n\[truncated[\s\S]*$/, ""));
    // Every token event fits too, and the tokens still carry the whole text.
    for (const e of queue.events) expect(byteLength(serializeEvent(e))).toBeLessThanOrEqual(MAX_EVENT_BYTES);
    expect(tokens(queue.events).map((t) => t.value).join("")).toBe(big + big);
    // A truncated final never carries the tail (a version-1 client would miss it): it went out as a token event.
    expect(final.data.tail).toBeUndefined();
    expect(final.data.lastSequenceNumber).toBe(tokens(queue.events).length - 1);
    expect(telemetry.logs.some((l) => l.level === "warn" && /trimmed/.test(l.message))).toBe(true);
  });

  it("drops only reasoning when that is enough", async () => {
    givenStream(textStream(["short answer"], { reasoning: ["r".repeat(MAX_EVENT_BYTES)] }));
    const { d, queue } = deps();
    await runGeneration(request, d);
    expect(queue.events.at(-1)).toMatchObject({ action: "final_response", data: { content: "short answer" } });
    expect((queue.events.at(-1)!.data as { reasoningContent?: string }).reasoningContent).toBeUndefined();
    expect(queue.events.at(-1)!.data).not.toHaveProperty("truncated");
  });

  it("without fallback, an event that cannot be delivered is counted and the rest still goes out", async () => {
    givenStream(textStream(["a", "b", "c"]));
    const direct = recordingPublisher((e) => (e.action === "on_new_llm_token" && e.data.token.sequenceNumber === 1 ? new Error("appsync down") : undefined));
    const { d, queue, telemetry } = deps({ direct, settings: { ...settings, directSend: true, fallbackToQueue: false } });
    const summary = await runGeneration(request, d);
    expect(tokens(direct.events).map((t) => t.value)).toEqual(["a", "c"]);
    expect(direct.events.at(-1)).toMatchObject({ action: "final_response", data: { content: "abc", lastSequenceNumber: 2 } });
    expect(queue.events).toHaveLength(0);
    expect(summary).toMatchObject({ eventsLost: 1, chunksPublished: 2 });
    expect(telemetry.errorCodes).toEqual(["PUBLISH_FAILED"]);
  });

  it("once the publishing deadline fires, no publish starts, the one in flight is abandoned, and runGeneration returns", async () => {
    givenStream(textStream(["a", "b", "c"]));
    const deadline = new AbortController();
    const calls: { event: StreamEvent; signal?: AbortSignal }[] = [];
    // AppSync hangs, and this sink even ignores the signal: the deadline alone must end the wait.
    const hanging: EventPublisher = {
      publish(event, options) {
        calls.push({ event, signal: options?.signal });
        if (calls.length === 1) queueMicrotask(() => deadline.abort(Object.assign(new Error("publishing deadline"), { name: "TimeoutError" })));
        return new Promise<void>(() => {});
      },
    };
    const { d, queue, telemetry } = deps({ direct: hanging, settings: { ...settings, directSend: true, fallbackToQueue: true } });
    const summary = await runGeneration(request, d, { publishSignal: deadline.signal });
    // Only the first token was ever tried, with the deadline handed down so a real sink stops its retries.
    expect(calls).toHaveLength(1);
    expect(calls[0]!.signal).toBe(deadline.signal);
    // No fallback past the deadline either.
    expect(queue.events).toHaveLength(0);
    expect(summary).toMatchObject({ eventsLost: 4, chunksPublished: 0, fellBackToQueue: false, lastSequenceNumber: 2 });
    expect(telemetry.errorCodes).toEqual(["DEADLINE", "DEADLINE", "DEADLINE", "DEADLINE"]);
  });

  it("without fallback, after the first event that failed for good, later tokens get one attempt each; the final keeps the full budget", async () => {
    givenStream(textStream(["a", "b", "c", "d"]));
    const budgets: (number | undefined)[] = [];
    const down: EventPublisher = {
      async publish(event, options) {
        budgets.push(options?.maxAttempts);
        // AppSync is back for the last token.
        if (event.action === "on_new_llm_token" && event.data.token.sequenceNumber === 3) return;
        throw new AppSyncPublishError("publishResponse failed after 4 attempt(s): HTTP 503", 4, true, 503);
      },
    };
    const { d, telemetry } = deps({ direct: down, settings: { ...settings, directSend: true, fallbackToQueue: false } });
    const summary = await runGeneration(request, d);
    // token 0: full budget (fails); 1, 2: one attempt; 3: one attempt (succeeds, so the budget is restored); final: full.
    expect(budgets).toEqual([undefined, 1, 1, 1, undefined]);
    expect(summary).toMatchObject({ eventsLost: 4, chunksPublished: 1 });
    expect(telemetry.errorCodes).toEqual(Array(4).fill("PUBLISH_FAILED"));
  });

  it("one attempt per later token holds against a real AppSync stand-in that is down: requests = budget + chunks - 1 + budget", async () => {
    const server = await startFakeAppSync();
    try {
      server.reply = () => ({ status: 503, body: {} });
      givenStream(textStream(["a", "b", "c", "d", "e"]));
      const direct = createAppSyncPublisher({ endpoint: server.endpoint, region: "us-east-1", credentials: { accessKeyId: "a", secretAccessKey: "b" }, baseDelayMs: 1, maxDelayMs: 2, maxAttempts: 4 });
      const { d } = deps({ direct, settings: { ...settings, directSend: true, fallbackToQueue: false } });
      const summary = await runGeneration(request, d);
      expect(summary.eventsLost).toBe(6);
      expect(server.requests).toHaveLength(4 + 4 + 4);
    } finally {
      await server.close();
    }
  });
});

describe("runGeneration, direct to a real HTTP AppSync stand-in", () => {
  let server: FakeAppSync;
  const snsMock = mockClient(SNSClient);
  beforeEach(async () => {
    server = await startFakeAppSync();
    snsMock.reset();
    snsMock.on(PublishCommand).resolves({ MessageId: "m" });
  });
  afterEach(() => server.close());

  const credentials = { accessKeyId: "AKIDTEST", secretAccessKey: "secret" };
  const outbound = "arn:aws:sns:us-east-1:000000000000:outbound.fifo";

  function realDeps(d: ReturnType<typeof deps>["d"]) {
    d.direct = createAppSyncPublisher({ endpoint: server.endpoint, region: "us-east-1", credentials, baseDelayMs: 1, maxDelayMs: 2, maxAttempts: 2 });
    d.queue = createQueuePublisher({ sns: new SNSClient({ region: "us-east-1" }), topicArn: outbound });
    d.settings = { ...settings, directSend: true, fallbackToQueue: true };
    return d;
  }
  const received = () => server.requests.map((r) => parseEvent(JSON.parse(r.body.toString("utf8")).variables.data));
  const queued = () => snsMock.commandCalls(PublishCommand).map((c) => c.args[0].input);

  it("tokens arrive at the server byte for byte, in order, with the final text identical", async () => {
    givenStream(textStream(TRICKY));
    const { d } = deps();
    await runGeneration(request, realDeps(d));
    const events = received();
    expect(tokens(events).map((t) => t.value)).toEqual(TRICKY);
    expect(events.at(-1)).toMatchObject({ action: "final_response", data: { content: TRICKY.join("") } });
    expect(queued()).toHaveLength(0);
  });

  it("a 200 carrying `errors` counts as failed: that event and all later ones go to the outbound topic, in order", async () => {
    givenStream(textStream(["one ", "two ", "three ", "four"]));
    // The first two events land; from the third on AppSync answers 200 with a GraphQL error.
    server.reply = (_req, i) => (i < 2 ? { status: 200, body: { data: {} } } : { status: 200, body: { data: null, errors: [{ errorType: "Unauthorized", message: "no" }] } });
    const { d, telemetry } = deps();
    const summary = await runGeneration(request, realDeps(d));
    const direct = received().slice(0, 2);
    expect(tokens(direct).map((t) => t.sequenceNumber)).toEqual([0, 1]);
    const viaQueue = queued().map((input) => parseEvent(input.Message!) as StreamEvent);
    expect(viaQueue.map((e) => (e.action === "on_new_llm_token" ? e.data.token.sequenceNumber : e.action))).toEqual([2, 3, "final_response"]);
    expect(queued().map((i) => i.MessageDeduplicationId)).toEqual(viaQueue.map(eventDeduplicationId));
    expect(new Set(queued().map((i) => i.MessageGroupId))).toEqual(new Set([sessionGroupId(request.userId, request.sessionId)]));
    // Only the first failing event was tried directly: later ones went straight to the queue.
    expect(server.requests).toHaveLength(3);
    expect(summary).toMatchObject({ fellBackToQueue: true, eventsLost: 0 });
    expect(telemetry.recordedMetrics.filter((m) => m.name === "Fallbacks")).toHaveLength(1);
  });

  it("retries a transient 5xx and stays on the direct path", async () => {
    givenStream(textStream(["a", "b"]));
    server.reply = (_req, i) => (i === 1 ? { status: 502, body: {} } : { status: 200, body: { data: {} } });
    const { d } = deps();
    const summary = await runGeneration(request, realDeps(d));
    // a (ok), b (502), b again (ok), final (ok)
    expect(received().map((e) => (e.action === "on_new_llm_token" ? e.data.token.sequenceNumber : e.action))).toEqual([0, 1, 1, "final_response"]);
    expect(summary.fellBackToQueue).toBe(false);
    expect(queued()).toHaveLength(0);
  });
});

describe("runGeneration with history", () => {
  const ddbMock = mockClient(DynamoDBDocumentClient);
  beforeEach(() => ddbMock.reset());
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" }));

  it("sends earlier complete exchanges as messages and writes the user and assistant turns with a TTL", async () => {
    const pk = `USER#${request.userId}#SESSION#${request.sessionId}`;
    ddbMock.on(QueryCommand).resolves({
      Items: [
        // newest first, as queried
        { pk, sk: "2026-11-23T11:02:00.000Z#m3#assistant", role: "assistant", messageId: "m3", content: "", errorCode: "THROTTLED" },
        { pk, sk: "2026-11-23T11:01:59.000Z#m3#user", role: "user", messageId: "m3", content: "failed question" },
        { pk, sk: "2026-11-23T11:01:00.000Z#m2#assistant", role: "assistant", messageId: "m2", content: "second answer" },
        { pk, sk: "2026-11-23T11:00:59.000Z#m2#user", role: "user", messageId: "m2", content: "second question" },
        { pk, sk: "2026-11-23T11:00:01.000Z#m1#assistant", role: "assistant", messageId: "m1", content: "first answer" },
        { pk, sk: "2026-11-23T11:00:00.000Z#m1#user", role: "user", messageId: "m1", content: "first question" },
      ],
    });
    ddbMock.on(PutCommand).resolves({});
    givenStream(textStream(["new ", "answer"], { reasoning: ["why"] }));
    const { d } = deps({ history: new HistoryStore({ doc, tableName: "history", ttlDays: 2 }), now: () => Date.parse("2026-11-23T12:00:05.000Z") });
    await runGeneration(request, d);

    const query = ddbMock.commandCalls(QueryCommand)[0]!.args[0].input;
    expect(query).toMatchObject({ TableName: "history", ExpressionAttributeValues: { ":pk": pk }, ScanIndexForward: false });
    expect(bedrockMock.commandCalls(ConverseStreamCommand)[0]!.args[0].input.messages).toEqual([
      { role: "user", content: [{ text: "first question" }] },
      { role: "assistant", content: [{ text: "first answer" }] },
      { role: "user", content: [{ text: "second question" }] },
      { role: "assistant", content: [{ text: "second answer" }] },
      { role: "user", content: [{ text: request.prompt }] },
    ]);
    const items = ddbMock.commandCalls(PutCommand).map((c) => c.args[0].input.Item!);
    const ttl = Math.floor(Date.parse("2026-11-23T12:00:05.000Z") / 1000) + 2 * 86400;
    expect(items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ pk, sk: `${request.requestedAt}#${request.messageId}#user`, role: "user", content: request.prompt, expiresAt: ttl }),
        expect.objectContaining({
          pk,
          sk: `2026-11-23T12:00:05.000Z#${request.messageId}#assistant`,
          role: "assistant",
          content: "new answer",
          reasoningContent: "why",
          usage: { inputTokens: 11, outputTokens: 22 },
          stopReason: "end_turn",
          expiresAt: ttl,
        }),
      ]),
    );
  });

  it("records a failed generation with its error code, and a history write failure does not throw", async () => {
    ddbMock.on(QueryCommand).resolves({ Items: [] });
    ddbMock.on(PutCommand).rejects(new Error("ddb down"));
    bedrockMock.on(ConverseStreamCommand).rejects(namedError("AccessDeniedException"));
    const { d, queue, telemetry } = deps({ history: new HistoryStore({ doc, tableName: "history", ttlDays: 0 }) });
    const summary = await runGeneration(request, d);
    expect(summary).toMatchObject({ outcome: "failed", errorCode: "ACCESS_DENIED" });
    expect(queue.events.at(-1)).toMatchObject({ action: "error", data: { code: "ACCESS_DENIED", retryable: false } });
    const assistant = ddbMock.commandCalls(PutCommand).map((c) => c.args[0].input.Item!).find((i) => i.role === "assistant");
    expect(assistant).toMatchObject({ errorCode: "ACCESS_DENIED", content: "" });
    expect(assistant!.expiresAt).toBeUndefined();
    expect(telemetry.errorCodes).toEqual(["ACCESS_DENIED", "HISTORY_WRITE_FAILED"]);
  });
});
