/**
 * The Bedrock stand-in's tool use (local/bedrock/toolUse.ts) through the real SDK: `[[tool:<name>]]` asks for an
 * offered tool with a deterministic input streamed as toolUse JSON, one marker per round, and the last round's text
 * reports the toolResults the conversation carries; a tool the request does not offer is never asked for.
 */
import { BedrockRuntimeClient, ConverseStreamCommand, type Message, type ToolConfiguration } from "@aws-sdk/client-bedrock-runtime";
import { answerFor, startBedrockStandIn, toolLeadIn, toolResultsText, type BedrockStandIn } from "../../../local/bedrock";

const MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0";
const TOOLS: ToolConfiguration = { tools: ["current_time", "calculator"].map((name) => ({ toolSpec: { name, description: name, inputSchema: { json: { type: "object" } } } })) };

let standIn: BedrockStandIn;
let client: BedrockRuntimeClient;
beforeAll(async () => {
  standIn = await startBedrockStandIn({ port: 0 });
  client = new BedrockRuntimeClient({ region: "us-east-1", endpoint: standIn.endpoint, credentials: { accessKeyId: "AKIDLOCAL", secretAccessKey: "local-secret" } });
});
afterAll(async () => {
  client.destroy();
  await standIn.close();
});

/** One request: the text, the toolUse blocks (id, name, input JSON) and the stop reason it streamed. */
async function round(messages: Message[], toolConfig: ToolConfiguration | null = TOOLS) {
  const res = await client.send(new ConverseStreamCommand({ modelId: MODEL, messages, ...(toolConfig ? { toolConfig } : {}) }));
  const out = { text: "", tools: [] as { id: string; name: string; input: string }[], stopReason: "" };
  for await (const item of res.stream!) {
    if (item.contentBlockDelta?.delta?.text) out.text += item.contentBlockDelta.delta.text;
    const start = item.contentBlockStart?.start?.toolUse;
    if (start) out.tools.push({ id: start.toolUseId!, name: start.name!, input: "" });
    if (item.contentBlockDelta?.delta?.toolUse) out.tools.at(-1)!.input += item.contentBlockDelta.delta.toolUse.input;
    if (item.messageStop) out.stopReason = item.messageStop.stopReason!;
  }
  return out;
}

it("asks for each marker's tool in its own round, then reports the results before the answer", async () => {
  const prompt = "Two tools [[tool:current_time]] [[tool:calculator]]";
  const user: Message = { role: "user", content: [{ text: prompt }] };
  const first = await round([user]);
  expect(first).toEqual({ text: toolLeadIn("current_time"), tools: [{ id: expect.stringMatching(/^tooluse_/), name: "current_time", input: "{}" }], stopReason: "tool_use" });
  const answered = (r: typeof first, output: Record<string, unknown>): Message[] => [
    { role: "assistant", content: [{ text: r.text }, { toolUse: { toolUseId: r.tools[0]!.id, name: r.tools[0]!.name, input: JSON.parse(r.tools[0]!.input) } }] },
    { role: "user", content: [{ toolResult: { toolUseId: r.tools[0]!.id, status: "success", content: [{ json: output as never }] } }] },
  ];
  const turn = [user, ...answered(first, { utc: "2026-11-23T12:00:00.000Z" })];
  const second = await round(turn);
  expect(second.tools).toEqual([{ id: expect.any(String), name: "calculator", input: '{"expression":"6 * 7"}' }]);
  const last = await round([...turn, ...answered(second, { result: 42 })]);
  expect(last.stopReason).toBe("end_turn");
  const results = toolResultsText([
    { name: "current_time", status: "success", text: '{"utc":"2026-11-23T12:00:00.000Z"}' },
    { name: "calculator", status: "success", text: '{"result":42}' },
  ]);
  expect(last.text).toBe(`${results}${answerFor(prompt, MODEL).join("")}`);
});

it("never asks for a tool the request does not offer, and [[tool:failing]] asks the calculator to divide by zero", async () => {
  const plain = await round([{ role: "user", content: [{ text: "No tools here [[tool:current_time]]" }] }], null);
  expect([plain.tools, plain.stopReason]).toEqual([[], "end_turn"]);
  const failing = await round([{ role: "user", content: [{ text: "Fail [[tool:failing]]" }] }]);
  expect(failing.tools.map((t) => [t.name, t.input])).toEqual([["calculator", '{"expression":"1 / 0"}']]);
});
