/**
 * End to end, agent events (issue 15) on both delivery paths, against `npm start` as a child process with the built-in
 * tools on (environments/local.tfvars) and a round bound of 2: the Bedrock stand-in asks for a tool on
 * `[[tool:<name>]]`, the worker runs it between rounds, and the subscriber sees the notices, the text that uses the
 * result and the final, every event numbered without a gap; reasoning streams before the answer; an old client that
 * knows only on_new_llm_token still assembles the exact text; the durable record replays every kind in order; and
 * `npm run chat` prints the notices and the reasoning on stderr, the answer alone on stdout.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { graphqlRequest, type GraphQLResponse } from "../../client/graphql";
import { MESSAGE_QUERY } from "../../contracts/graphqlOperations";
import { TOOL_ROUNDS_EXCEEDED_REASON, type MessageState } from "../../contracts/messageState";
import { EVENT_ACTIONS, parseEvent, STREAM_EVENTS_VERSION, type ReasoningEvent, type StreamEvent, type ToolActionEvent } from "../../contracts/streamEvents";
import { answerFor, REASONING_MARKER, reasoningFor, toolLeadIn, toolResultsText } from "../../local/bedrock";
import { assembleAsVersion1, eventSequencesOf, expectExactAnswer, LocalStackDriver, newSessionId, type Answer, type Delivery } from "../support/localStackDriver";
import { startStackProcess, type StackProcess } from "../support/localStackProcess";
import { runChat } from "../support/chatCli";

jest.setTimeout(60_000);

let stack: StackProcess;
let driver: LocalStackDriver;
let startedAt: number;

beforeAll(async () => {
  startedAt = Date.now();
  // Paced like a fast model: chunks are coalesced, and a round takes a fraction of a second.
  const overrides = { tools: { enabled: ["current_time", "calculator"], max_rounds: 2 } };
  stack = await startStackProcess(["--first-token-ms", "20", "--tokens-per-second", "400", "--config-overrides", JSON.stringify(overrides)]);
  driver = new LocalStackDriver(stack);
});
afterAll(async () => {
  await driver?.close();
  await stack?.stop();
});
afterEach(() => driver.closeSessions());

const notices = (a: Answer) => a.recorder.forMessage(a.messageId).filter((e): e is ToolActionEvent => e.action === EVENT_ACTIONS.toolAction).map((e) => [e.data.invocationNumber, e.data.status, e.data.toolName, e.data.toolAction]);
/** The events in the producer's order (the queued path may deliver them in another). */
const inOrder = (a: Answer): StreamEvent[] => [...a.recorder.forMessage(a.messageId)].sort((x, y) => x.data.eventSequence! - y.data.eventSequence!);
const CURRENT_TIME_RESULT = /^The current_time tool answered: (\{"utc":"([^"]+)","unixSeconds":\d+\})$/m;

/** Every event numbered 0..N exactly once (a final's tail standing for its own number), the final last. */
function expectNoGaps(a: Answer): void {
  const numbers = eventSequencesOf(a.recorder.forMessage(a.messageId)).sort((x, y) => x - y);
  expect(numbers).toEqual(numbers.map((_, i) => i));
  expect(inOrder(a).at(-1)!.action).toBe(EVENT_ACTIONS.final);
  // Every event, of every kind, says which envelope version wrote it.
  expect(new Set(inOrder(a).map((e) => e.version))).toEqual(new Set([STREAM_EVENTS_VERSION]));
}

describe.each<Delivery>(["DIRECT", "QUEUED"])("%s delivery", (delivery) => {
  const ask = (prompt: string) => driver.ask("alice", { sessionId: newSessionId(`agent-${delivery}`), prompt, delivery });

  it("[[tool:current_time]]: started, then completed, invocation 1, then text that uses the result, then the final; exact, no gaps", async () => {
    const prompt = `What time is it on ${delivery}? [[tool:current_time]]`;
    const answer = await ask(prompt);
    expect(notices(answer)).toEqual([
      [1, "started", "current_time", "Checking the current time..."],
      [1, "completed", "current_time", "Checking the current time..."],
    ]);
    const order = inOrder(answer).map((e) => e.action);
    const [started, completed] = [order.indexOf(EVENT_ACTIONS.toolAction), order.lastIndexOf(EVENT_ACTIONS.toolAction)];
    expect(order.slice(0, started).every((a) => a === EVENT_ACTIONS.token)).toBe(true);
    expect(order.slice(completed + 1, -1).length).toBeGreaterThan(0);
    const result = CURRENT_TIME_RESULT.exec(answer.final!.data.content)!;
    expect(Date.parse(result[2]!)).toBeGreaterThanOrEqual(startedAt);
    expect(Date.parse(result[2]!)).toBeLessThanOrEqual(Date.now());
    const text = `${toolLeadIn("current_time")}\n\n${toolResultsText([{ name: "current_time", status: "success", text: result[1]! }])}${answerFor(prompt, driver.defaultModelId).join("")}`;
    expectExactAnswer(answer, text);
    expectNoGaps(answer);
  });

  it("numbers two tools of one message 1 and 2, and a failing tool gives a final marked failed, not an error", async () => {
    const two = await ask(`Two tools on ${delivery} [[tool:current_time]] [[tool:calculator]]`);
    expect(notices(two).map(([n, status, name]) => [n, status, name])).toEqual([
      [1, "started", "current_time"],
      [1, "completed", "current_time"],
      [2, "started", "calculator"],
      [2, "completed", "calculator"],
    ]);
    expect(two.final!.data.content).toContain('The calculator tool answered: {"expression":"6 * 7","result":42}');
    expectNoGaps(two);

    const prompt = `A failing tool on ${delivery} [[tool:failing]]`;
    const failing = await ask(prompt);
    expect(notices(failing)).toEqual([
      [1, "started", "calculator", "Calculating 1 / 0..."],
      [1, "failed", "calculator", "Calculating 1 / 0..."],
    ]);
    const lines = toolResultsText([{ name: "calculator", status: "error", text: "The tool call failed: division by zero" }]);
    expectExactAnswer(failing, `${toolLeadIn("calculator")}\n\n${lines}${answerFor(prompt, driver.defaultModelId).join("")}`);
  });

  it("holds the round bound: a third tool round is not made and the final says max_tool_rounds", async () => {
    const prompt = `Three rounds on ${delivery} ${randomUUID()} [[tool:calculator]] [[tool:calculator]] [[tool:current_time]]`;
    const answer = await ask(prompt);
    expect(notices(answer).map(([n, status]) => [n, status])).toEqual([
      [1, "started"],
      [1, "completed"],
      [2, "started"],
      [2, "completed"],
    ]);
    expect(answer.final!.data).toMatchObject({ stopReason: TOOL_ROUNDS_EXCEEDED_REASON, content: [toolLeadIn("calculator"), toolLeadIn("calculator"), toolLeadIn("current_time")].join("\n\n") });
    expect((await driver.bedrockRequests()).filter((r) => r.prompt === prompt)).toHaveLength(3);
    expectNoGaps(answer);
  });

  it("streams reasoning before the answer, equal to final_response.reasoningContent; an old client still shows the exact text", async () => {
    const prompt = `Think on ${delivery} ${REASONING_MARKER} [[tool:calculator]]`;
    const answer = await ask(prompt);
    const events = inOrder(answer);
    const reasoning = events.filter((e): e is ReasoningEvent => e.action === EVENT_ACTIONS.reasoning);
    expect(reasoning.length).toBeGreaterThan(1);
    expect(events.findIndex((e) => e.action === EVENT_ACTIONS.token)).toBeGreaterThan(events.indexOf(reasoning.at(-1)!));
    const streamed = [...reasoning].sort((x, y) => x.data.index - y.data.index).map((r) => r.data.value).join("");
    expect(streamed).toBe(reasoningFor(prompt).join(""));
    expect(answer.final!.data.reasoningContent).toBe(streamed);
    expect(answer.recorder.assemble(answer.messageId).reasoning).toBe(streamed);
    // A client of envelope version 1 or 2: it knows only tokens and the final, and drops every other action.
    const known = answer.recorder.forMessage(answer.messageId).filter((e) => e.action === EVENT_ACTIONS.token || e.action === EVENT_ACTIONS.final);
    expect(assembleAsVersion1(known, answer.messageId).text).toBe(answer.final!.data.content);
    expect(answer.streamedText).toBe(answer.final!.data.content);
  });
});

describe("the durable record", () => {
  it("replays a tool answer's every event, of every kind, in order; after a point, only what follows it", async () => {
    const answer = await driver.ask("bob", { sessionId: newSessionId("agent-replay"), prompt: `Replay me ${REASONING_MARKER} [[tool:current_time]]`, delivery: "DIRECT" });
    const token = await driver.token("bob");
    const read = async (afterSequence?: number) => {
      const res = (await graphqlRequest(driver.ready.endpoints.graphqlUrl, MESSAGE_QUERY, { sessionId: answer.recorder.sessionId, messageId: answer.messageId, afterSequence }, { authorization: token })) as GraphQLResponse<{ message: MessageState }>;
      return res.data!.message.events.map((json) => parseEvent(json));
    };
    const all = await read();
    // The record keeps the final's tail as a token event of its own, at the number the final stands for it with.
    const numbers = all.map((e) => e.data.eventSequence);
    expect(numbers).toEqual(numbers.map((_, i) => i));
    expect(all.filter((e) => e.action !== EVENT_ACTIONS.token).map((e) => e.data.eventSequence)).toEqual(inOrder(answer).filter((e) => e.action !== EVENT_ACTIONS.token).map((e) => e.data.eventSequence));
    const later = await read(3);
    expect(later[0]!.data.eventSequence).toBe(4);
    expect(later.at(-1)!.action).toBe(EVENT_ACTIONS.final);
  });
});

describe("npm run chat", () => {
  it("prints the tool notices and the reasoning on stderr as they stream, and the answer alone on stdout", async () => {
    const configFile = path.join(mkdtempSync(path.join(tmpdir(), "chat-agent-")), "client-config.json");
    writeFileSync(configFile, JSON.stringify(stack.ready.clientConfig));
    const prompt = `Chat with tools ${REASONING_MARKER} [[tool:calculator]]`;
    const { code, stdout, stderr } = await runChat(configFile, [prompt]);
    expect(code).toBe(0);
    expect(stderr).toContain(`[reasoning] ${reasoningFor(prompt).join("")}\n[tool 1] ⟳ Calculating 6 * 7...\n[tool 1] ✓ Calculating 6 * 7... (calculator done)\n`);
    const lines = toolResultsText([{ name: "calculator", status: "success", text: '{"expression":"6 * 7","result":42}' }]);
    const answer = `${toolLeadIn("calculator")}\n\n${lines}${answerFor(prompt, driver.defaultModelId).join("")}`;
    expect(stdout).toBe(answer.endsWith("\n") ? answer : `${answer}\n`);
  });
});
