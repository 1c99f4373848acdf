/**
 * The worker's tool loop (lambdas/stream-worker/toolLoop.ts) through runGeneration, with a scripted ConverseStream per
 * round: the notices around each call, numbering, failures the model reads, the round bound, streamed reasoning,
 * references, the history of a tool turn and the durable record's replay of every event kind.
 */
import { BedrockRuntimeClient, ConverseStreamCommand, type ConverseStreamCommandInput } from "@aws-sdk/client-bedrock-runtime";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { resourceNames } from "../../config/names";
import { TOOL_ROUNDS_EXCEEDED_REASON } from "../../contracts/messageState";
import { parseEvent, type FinalEvent, type ReasoningEvent, type StreamEvent, type ToolActionEvent } from "../../contracts/streamEvents";
import { MessageStore } from "../../lambdas/shared/messageStore";
import { runGeneration, type GenerationDeps } from "../../lambdas/stream-worker/generation";
import { HistoryStore } from "../../lambdas/stream-worker/history";
import { BUILT_IN_TOOLS } from "../../lambdas/stream-worker/tools/builtInTools";
import type { ToolDefinition } from "../../lambdas/stream-worker/tools/toolDefinition";
import { ToolRegistry } from "../../lambdas/stream-worker/tools/toolRegistry";
import { startDynamo, type LocalDynamo } from "../../local/dynamo";
import { localConfig } from "../local/services/localConfig";
import { chunkTexts, converseStream, eventSequences, recordingPublisher, recordingTelemetry, request, settings, textStream, toolRoundStream, type StreamStep } from "./support/workerFixtures";

const bedrockMock = mockClient(BedrockRuntimeClient);
const bedrock = new BedrockRuntimeClient({ region: "us-east-1" });
const NOW = Date.parse("2026-11-23T12:00:00.000Z");
beforeEach(() => bedrockMock.reset());

/** Each ConverseStream call gets the next round (the last one again when they run out). */
function givenRounds(...rounds: StreamStep[][]): void {
  let call = 0;
  bedrockMock.on(ConverseStreamCommand).callsFake(async () => ({ stream: converseStream(rounds[Math.min(call++, rounds.length - 1)]!) }));
}

const inputs = (): ConverseStreamCommandInput[] => bedrockMock.commandCalls(ConverseStreamCommand).map((c) => c.args[0].input);
const tools = (maxRounds = 5, extra: ToolDefinition[] = []) => new ToolRegistry([BUILT_IN_TOOLS.current_time, BUILT_IN_TOOLS.calculator, ...extra], maxRounds);

function deps(overrides: Partial<GenerationDeps> = {}) {
  const telemetry = recordingTelemetry();
  const queue = recordingPublisher();
  const d: GenerationDeps = { bedrock, settings, direct: recordingPublisher(), queue, tools: tools(), now: () => NOW, logger: telemetry.logger, metrics: telemetry.metrics, ...overrides };
  return { d, queue, telemetry };
}

const toolActions = (events: StreamEvent[]) => events.filter((e): e is ToolActionEvent => e.action === "tool_action").map((e) => ({ n: e.data.invocationNumber, status: e.data.status, toolName: e.data.toolName, notice: e.data.toolAction }));
const finalOf = (events: StreamEvent[]) => events.find((e): e is FinalEvent => e.action === "final_response")!;

describe("the tool loop", () => {
  it("announces a call before and after it, streams the text before and after it, then the final; every event numbered without gaps", async () => {
    givenRounds(toolRoundStream({ text: ["Let me ", "check."], tools: [{ id: "t1", name: "current_time", input: "{}" }] }), textStream(["It is ", "noon."]));
    const { d, queue } = deps();
    const summary = await runGeneration(request, d);

    expect(queue.events.map((e) => e.action)).toEqual(["on_new_llm_token", "on_new_llm_token", "tool_action", "tool_action", "on_new_llm_token", "on_new_llm_token", "on_new_llm_token", "final_response"]);
    expect(toolActions(queue.events)).toEqual([
      { n: 1, status: "started", toolName: "current_time", notice: "Checking the current time..." },
      { n: 1, status: "completed", toolName: "current_time", notice: "Checking the current time..." },
    ]);
    const seqs = eventSequences(queue.events);
    expect(seqs).toEqual(seqs.map((_, i) => i));
    const final = finalOf(queue.events);
    expect(final.data).toMatchObject({ content: "Let me check.\n\nIt is noon.", stopReason: "end_turn", usage: { inputTokens: 16, outputTokens: 28 } });
    expect(chunkTexts(queue.events).join("")).toBe(final.data.content);
    for (const e of queue.events) expect(parseEvent(JSON.stringify(e))).toEqual(e);
    expect(summary).toMatchObject({ outcome: "completed", lastSequenceNumber: 4 });

    // The model is offered the tools, and gets its call back with the result.
    const [first, second] = inputs();
    expect(first!.toolConfig?.tools?.map((t) => t.toolSpec?.name)).toEqual(["current_time", "calculator"]);
    expect(second!.messages!.slice(1)).toEqual([
      { role: "assistant", content: [{ text: "Let me check." }, { toolUse: { toolUseId: "t1", name: "current_time", input: {} } }] },
      { role: "user", content: [{ toolResult: { toolUseId: "t1", status: "success", content: [{ json: { utc: "2026-11-23T12:00:00.000Z", unixSeconds: NOW / 1000 } }] } }] },
    ]);
  });

  it("numbers two calls of one answer 1 and 2; a failing one is marked failed, the model reads why, and the message still ends with a final", async () => {
    givenRounds(
      toolRoundStream({ tools: [{ id: "a", name: "calculator", input: '{"expression":"6 * 7"}' }, { id: "b", name: "calculator", input: '{"expression":"1 / 0"}' }] }),
      textStream(["Half of it worked."]),
    );
    const { d, queue, telemetry } = deps();
    const summary = await runGeneration(request, d);

    expect(toolActions(queue.events).map(({ n, status, notice }) => [n, status, notice])).toEqual([
      [1, "started", "Calculating 6 * 7..."],
      [1, "completed", "Calculating 6 * 7..."],
      [2, "started", "Calculating 1 / 0..."],
      [2, "failed", "Calculating 1 / 0..."],
    ]);
    const results = inputs()[1]!.messages!.at(-1)!.content!.map((b) => b.toolResult);
    expect(results[0]).toEqual({ toolUseId: "a", status: "success", content: [{ json: { expression: "6 * 7", result: 42 } }] });
    expect(results[1]).toEqual({ toolUseId: "b", status: "error", content: [{ text: "The tool call failed: division by zero" }] });
    expect(queue.events.some((e) => e.action === "error")).toBe(false);
    expect(finalOf(queue.events).data.content).toBe("Half of it worked.");
    expect(summary.outcome).toBe("completed");
    expect(telemetry.errorCodes).toEqual(["TOOL_FAILED"]);
  });

  it("holds the round bound: past max_rounds the calls asked for are not made and the final says max_tool_rounds", async () => {
    const again = toolRoundStream({ text: ["Once more."], tools: [{ id: "x", name: "current_time", input: "{}" }] });
    givenRounds(again, again, again, again);
    const { d, queue } = deps({ tools: tools(1) });
    await runGeneration(request, d);

    expect(inputs()).toHaveLength(2);
    expect(toolActions(queue.events).map((a) => [a.n, a.status])).toEqual([
      [1, "started"],
      [1, "completed"],
    ]);
    expect(finalOf(queue.events).data).toMatchObject({ stopReason: TOOL_ROUNDS_EXCEEDED_REASON, content: "Once more.\n\nOnce more." });
  });

  it("streams reasoning before the answer, as its own numbered chunks equal to the final's reasoningContent, and sends the signed block back", async () => {
    givenRounds(toolRoundStream({ reasoning: ["Think ", "hard."], signature: "sig-1", text: ["Checking."], tools: [{ id: "t", name: "current_time", input: "{}" }] }), textStream(["Answer."], { reasoning: ["More."] }));
    const { d, queue } = deps();
    await runGeneration(request, d);

    const reasoning = queue.events.filter((e): e is ReasoningEvent => e.action === "on_new_reasoning_token");
    const firstToken = queue.events.findIndex((e) => e.action === "on_new_llm_token");
    expect(queue.events.findIndex((e) => e.action === "on_new_reasoning_token")).toBeLessThan(firstToken);
    expect(queue.events.indexOf(reasoning[1]!)).toBeLessThan(firstToken);
    expect(reasoning.map((r) => r.data.index)).toEqual(reasoning.map((_, i) => i));
    expect(reasoning.map((r) => r.data.value).join("")).toBe("Think hard.\n\nMore.");
    expect(finalOf(queue.events).data.reasoningContent).toBe("Think hard.\n\nMore.");
    expect(inputs()[1]!.messages![1]!.content![0]).toEqual({ reasoningContent: { reasoningText: { text: "Think hard.", signature: "sig-1" } } });
  });

  it("lists the sources a result names in final_response.references, http(s) links once each", async () => {
    const search: ToolDefinition = {
      name: "search",
      description: "Searches.",
      inputSchema: { type: "object", properties: {} },
      notice: "Searching...",
      run: async () => ({ hits: 2, sources: [{ title: "A", url: "https://a.example/x" }, { title: "Evil", url: "javascript:alert(1)" }, { title: "A again", url: "https://a.example/x" }, { title: 3 }] as never }),
    };
    givenRounds(toolRoundStream({ tools: [{ id: "s", name: "search", input: "{}" }] }), textStream(["Found."]));
    const { d, queue } = deps({ tools: tools(5, [search]) });
    await runGeneration(request, d);
    expect(finalOf(queue.events).data.references).toEqual([{ title: "A", url: "https://a.example/x" }]);
  });

  it("fails a call whose input is not a JSON object, or whose tool does not exist, without ending the message", async () => {
    givenRounds(toolRoundStream({ tools: [{ id: "j", name: "calculator", input: '{"expr' }, { id: "u", name: "no_such_tool", input: "{}" }] }), textStream(["Sorry."]));
    const { d, queue } = deps();
    await runGeneration(request, d);
    expect(toolActions(queue.events).filter((a) => a.status !== "started").map((a) => a.status)).toEqual(["failed", "failed"]);
    const results = inputs()[1]!.messages!.at(-1)!.content!.map((b) => (b.toolResult!.content![0] as { text: string }).text);
    expect(results[0]).toMatch(/not a JSON object/);
    expect(results[1]).toMatch(/no tool named "no_such_tool"; the tools are current_time, calculator/);
    expect(finalOf(queue.events).data.content).toBe("Sorry.");
  });

  it("offers no tools and makes one round when the environment enables none", async () => {
    givenRounds(textStream(["Plain."]));
    const { d, queue } = deps({ tools: undefined });
    await runGeneration(request, d);
    expect(inputs()).toHaveLength(1);
    expect(inputs()[0]!.toolConfig).toBeUndefined();
    expect(eventSequences(queue.events)).toEqual([0, 1]);
  });
});

describe("a tool turn in history and in the durable record", () => {
  let dynamo: LocalDynamo;
  let history: HistoryStore;
  let messages: MessageStore;
  beforeAll(async () => {
    const config = await localConfig();
    dynamo = await startDynamo(config);
    const doc = DynamoDBDocumentClient.from(dynamo.client, { marshallOptions: { removeUndefinedValues: true } });
    history = new HistoryStore({ doc, tableName: resourceNames(config).historyTable, ttlDays: 1 });
    messages = new MessageStore({ doc, tableName: resourceNames(config).messagesTable, ttlDays: 1 });
  });
  afterAll(() => dynamo.close());

  it("gives the next turn the calls and results (with the signed reasoning) while tools are offered, and the text otherwise", async () => {
    const first = { ...request, sessionId: "session-tools-history", messageId: "message-tools-1" };
    givenRounds(toolRoundStream({ reasoning: ["Hmm."], signature: "sig-h", text: ["Checking."], tools: [{ id: "h1", name: "current_time", input: "{}" }] }), textStream(["Noon."]));
    await runGeneration(first, deps({ history }).d);

    const withTools = await history.loadConversation(first.userId, first.sessionId, "message-tools-2", { withTools: true });
    expect(withTools.map((m) => [m.role, m.content!.map((b) => Object.keys(b)[0])])).toEqual([
      ["user", ["text"]],
      ["assistant", ["reasoningContent", "text", "toolUse"]],
      ["user", ["toolResult"]],
      ["assistant", ["text"]],
    ]);
    expect(withTools[1]!.content![0]).toEqual({ reasoningContent: { reasoningText: { text: "Hmm.", signature: "sig-h" } } });
    const textOnly = await history.loadConversation(first.userId, first.sessionId, "message-tools-2");
    expect(textOnly).toEqual([
      { role: "user", content: [{ text: request.prompt }] },
      { role: "assistant", content: [{ text: "Checking.\n\nNoon." }] },
    ]);
  });

  it("a stop during a tool call ends the message stopped: the call is marked failed, the next is not made, the model is not asked again", async () => {
    const req = { ...request, sessionId: "session-tools-stop", messageId: "message-tools-stop" };
    const ref = { userId: req.userId, sessionId: req.sessionId, messageId: req.messageId };
    await messages.create(ref);
    // A slow lookup, stopped by its user while it runs: it gives up when the message's signal fires, as tools must.
    const slowLookup: ToolDefinition = {
      name: "slow_lookup",
      description: "Looks something up slowly.",
      inputSchema: { type: "object", properties: {} },
      notice: "Looking it up...",
      async run(_input, { signal }) {
        expect(await messages.requestStop(ref)).toBe(true);
        await new Promise((_, reject) => signal!.addEventListener("abort", () => reject(new Error("the lookup was cancelled")), { once: true }));
        return "never";
      },
    };
    givenRounds(toolRoundStream({ text: ["One moment."], tools: [{ id: "s1", name: "slow_lookup", input: "{}" }, { id: "s2", name: "current_time", input: "{}" }] }), textStream(["Never asked."]));
    const { d, queue } = deps({ messages, tools: tools(5, [slowLookup]), stopPollIntervalMs: 20 });
    const summary = await runGeneration(req, d);

    expect(toolActions(queue.events).map((a) => [a.n, a.status, a.toolName])).toEqual([
      [1, "started", "slow_lookup"],
      [1, "failed", "slow_lookup"],
    ]);
    expect(inputs()).toHaveLength(1);
    expect(finalOf(queue.events).data).toMatchObject({ stopReason: "stopped", content: "One moment." });
    expect(summary.outcome).toBe("stopped");
    expect((await messages.read(ref))!.status).toBe("STOPPED");
  });

  it("replays every kind of event in order, after any point", async () => {
    const req = { ...request, sessionId: "session-tools-record", messageId: "message-tools-record" };
    const ref = { userId: req.userId, sessionId: req.sessionId, messageId: req.messageId };
    await messages.create(ref);
    givenRounds(toolRoundStream({ reasoning: ["Why."], signature: "s", text: ["Look."], tools: [{ id: "r", name: "calculator", input: '{"expression":"1+1"}' }] }), textStream(["Two."]));
    const { d, queue } = deps({ messages, stopPollIntervalMs: 1000 });
    await runGeneration(req, d);

    const all = (await messages.read(ref))!.events.map((json) => parseEvent(json));
    expect(all.map((e) => e.action)).toEqual(queue.events.map((e) => e.action));
    expect(eventSequences(all)).toEqual(eventSequences(all).map((_, i) => i));
    const after = (await messages.read(ref, 3))!.events.map((json) => parseEvent(json));
    expect(after[0]!.data.eventSequence).toBe(4);
    expect(after.at(-1)!.action).toBe("final_response");
  });
});
