/** The Bedrock stand-in, driven by the real @aws-sdk/client-bedrock-runtime (HTTP/2, event-stream parsing, typed errors). */
import {
  AccessDeniedException,
  ApplyGuardrailCommand,
  BedrockRuntimeClient,
  ConverseStreamCommand,
  ConverseStreamOutput,
  ModelStreamErrorException,
  ThrottlingException,
  ValidationException,
} from "@aws-sdk/client-bedrock-runtime";
import {
  answerFor, BedrockStandIn, converseScript, GUARDRAIL_MARKER, readConverseRequest, STAND_IN_BLOCKED_MESSAGE, STAND_IN_UNSAFE_TEXT, startBedrockStandIn, TOKENS_BEFORE_FAULT,
} from "../../../local/bedrock";

const MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0";
const PROFILE = "us.anthropic.claude-3-7-sonnet-20250219-v1:0";

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
beforeEach(() => {
  standIn.timing.firstTokenMs = 0;
  standIn.timing.tokensPerSecond = 0;
});

interface Collected {
  text: string;
  reasoning: string;
  events: ConverseStreamOutput[];
  error?: unknown;
}

async function converse(prompt: string, opts: { modelId?: string; maxTokens?: number } = {}): Promise<Collected> {
  const out: Collected = { text: "", reasoning: "", events: [] };
  const res = await client.send(
    new ConverseStreamCommand({
      modelId: opts.modelId ?? MODEL,
      system: [{ text: "You are a helpful assistant." }],
      messages: [
        { role: "user", content: [{ text: "an earlier question" }] },
        { role: "assistant", content: [{ text: "an earlier answer" }] },
        { role: "user", content: [{ text: prompt }] },
      ],
      inferenceConfig: opts.maxTokens ? { maxTokens: opts.maxTokens } : undefined,
    }),
  );
  try {
    for await (const e of res.stream!) {
      out.events.push(e);
      out.text += e.contentBlockDelta?.delta?.text ?? "";
      out.reasoning += e.contentBlockDelta?.delta?.reasoningContent?.text ?? "";
    }
  } catch (e) {
    out.error = e;
  }
  return out;
}

test("streams the deterministic answer for the last user message, then stop reason and usage", async () => {
  const prompt = "Explain streaming";
  const got = await converse(prompt);
  const expected = answerFor(prompt, MODEL);
  expect(got.error).toBeUndefined();
  expect(got.text).toBe(expected.join(""));
  expect(got.events[0].messageStart?.role).toBe("assistant");
  expect(got.events.filter((e) => e.contentBlockDelta)).toHaveLength(expected.length);
  expect(got.events.find((e) => e.messageStop)?.messageStop?.stopReason).toBe("end_turn");
  const usage = got.events.find((e) => e.metadata)?.metadata?.usage;
  expect(usage?.outputTokens).toBe(expected.length);
  expect(usage?.inputTokens).toBeGreaterThan(0);
  expect(usage?.totalTokens).toBe((usage?.inputTokens ?? 0) + expected.length);
  const logged = standIn.log.requests.at(-1)!;
  expect(logged).toMatchObject({ modelId: MODEL, prompt, stopReason: "end_turn" });
  expect(logged.tokens.map((t) => t.value)).toEqual(expected);
});

test("the text exercises markdown, newlines, quotes, backslashes, unicode and emoji", async () => {
  const text = (await converse("hello")).text;
  expect(text).toMatch(/^## /m);
  expect(text).toMatch(/^- /m);
  expect(text).toMatch(/^1\. /m);
  expect(text).toMatch(/^```[a-z]+\n[\s\S]*\n```$/m);
  expect(text).toContain('"');
  expect(text).toContain("\\");
  expect(text).toMatch(/[^\x00-\x7f]/);
  expect(text).toMatch(/\p{Extended_Pictographic}/u);
  expect(text.split("\n").length).toBeGreaterThan(8);
});

test("same prompt and model give the same tokens; another prompt or model gives other tokens", async () => {
  const a = await converse("same question");
  const b = await converse("same question");
  const c = await converse("another question");
  const d = await converse("same question", { modelId: PROFILE });
  expect(b.text).toBe(a.text);
  expect(c.text).not.toBe(a.text);
  expect(d.text).not.toBe(a.text);
  expect(answerFor("same question", MODEL)).toEqual(answerFor("same question", MODEL));
  // The cross-region profile id travels URL-encoded in the path and is decoded back.
  expect(standIn.log.requests.at(-1)!.modelId).toBe(PROFILE);
});

test("honours inferenceConfig.maxTokens with stop reason max_tokens", async () => {
  const got = await converse("a long answer please", { maxTokens: 5 });
  expect(got.events.filter((e) => e.contentBlockDelta)).toHaveLength(5);
  expect(got.text).toBe(answerFor("a long answer please", MODEL).slice(0, 5).join(""));
  expect(got.events.find((e) => e.messageStop)?.messageStop?.stopReason).toBe("max_tokens");
  expect(got.events.find((e) => e.metadata)?.metadata?.usage?.outputTokens).toBe(5);
});

test("[[length:N]] gives exactly N tokens", async () => {
  const got = await converse("bench [[length:700]]");
  expect(got.events.filter((e) => e.contentBlockDelta)).toHaveLength(700);
  expect(got.text).not.toContain("[[length");
});

test("[[reasoning]] streams reasoning deltas in block 0 before the text in block 1", async () => {
  const got = await converse("think first [[reasoning]]");
  expect(got.reasoning.length).toBeGreaterThan(10);
  const firstText = got.events.findIndex((e) => e.contentBlockDelta?.delta?.text !== undefined);
  const lastReasoning = got.events.map((e) => !!e.contentBlockDelta?.delta?.reasoningContent).lastIndexOf(true);
  expect(lastReasoning).toBeLessThan(firstText);
  expect(got.events[firstText].contentBlockDelta?.contentBlockIndex).toBe(1);
  expect(got.text).toBe(answerFor("think first [[reasoning]]", MODEL).join(""));
});

test("[[fault:validation]] fails before streaming with the SDK's ValidationException (400)", async () => {
  const err = await converse("bad [[fault:validation]]").catch((e) => e);
  expect(err).toBeInstanceOf(ValidationException);
  expect(err.$metadata.httpStatusCode).toBe(400);
});

test("[[fault:access-denied]] fails with the SDK's AccessDeniedException (403)", async () => {
  const err = await converse("no [[fault:access-denied]]").catch((e) => e);
  expect(err).toBeInstanceOf(AccessDeniedException);
  expect(err.$metadata.httpStatusCode).toBe(403);
});

test("[[fault:throttle-mid-stream]] sends a few tokens, then the stream throws ThrottlingException", async () => {
  const prompt = "busy [[fault:throttle-mid-stream]]";
  const got = await converse(prompt);
  expect(got.text).toBe(answerFor(prompt, MODEL).slice(0, TOKENS_BEFORE_FAULT).join(""));
  expect(got.error).toBeInstanceOf(ThrottlingException);
  expect(got.events.find((e) => e.messageStop)).toBeUndefined();
  expect(standIn.log.requests.at(-1)!.tokens).toHaveLength(TOKENS_BEFORE_FAULT);
});

test("[[fault:stream-error]] sends a few tokens, then the stream throws ModelStreamErrorException", async () => {
  const got = await converse("flaky [[fault:stream-error]]");
  expect(got.text.length).toBeGreaterThan(0);
  expect(got.error).toBeInstanceOf(ModelStreamErrorException);
});

test("firstTokenMs and tokensPerSecond pace the emissions", async () => {
  standIn.timing.firstTokenMs = 120;
  standIn.timing.tokensPerSecond = 200; // 5 ms apart
  const got = await converse("paced", { maxTokens: 21 });
  expect(got.error).toBeUndefined();
  const { receivedAt, tokens } = standIn.log.requests.at(-1)!;
  expect(tokens).toHaveLength(21);
  // Timers may fire up to a millisecond early; they never fire much late enough to hide a missing delay.
  expect(tokens[0].at - receivedAt).toBeGreaterThanOrEqual(118);
  expect(tokens[20].at - tokens[0].at).toBeGreaterThanOrEqual(20 * 5 - 2);
});

test("concurrent streams progress independently", async () => {
  standIn.timing.tokensPerSecond = 500;
  const prompts = ["one", "two", "three", "four", "five"];
  const results = await Promise.all(prompts.map((p) => converse(p, { maxTokens: 30 })));
  results.forEach((r, i) => expect(r.text).toBe(answerFor(prompts[i], MODEL).slice(0, 30).join("")));
});

describe("control routes (for tests that run the stack as a child process)", () => {
  test("GET /_local/requests returns the emission log over HTTP/1.1; DELETE clears it", async () => {
    await converse("logged over http1", { maxTokens: 4 });
    const res = await fetch(`${standIn.endpoint}/_local/requests`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { requests: { prompt: string; tokens: { value: string; at: number }[] }[] };
    const entry = body.requests.at(-1)!;
    expect(entry.prompt).toBe("logged over http1");
    expect(entry.tokens.map((t) => t.value)).toEqual(answerFor("logged over http1", MODEL).slice(0, 4));
    expect(entry.tokens[0].at).toBeGreaterThan(Date.now() - 60000);
    expect((await fetch(`${standIn.endpoint}/_local/requests`, { method: "DELETE" })).status).toBe(204);
    expect(standIn.log.requests).toHaveLength(0);
  });

  test("PUT /_local/timing changes the pacing of later requests; bad values are refused", async () => {
    const put = (body: unknown) => fetch(`${standIn.endpoint}/_local/timing`, { method: "PUT", body: JSON.stringify(body) });
    expect((await put({ firstTokenMs: -1 })).status).toBe(400);
    expect(await (await put({ firstTokenMs: 80 })).json()).toEqual({ firstTokenMs: 80, tokensPerSecond: 0 });
    await converse("slow start", { maxTokens: 2 });
    const { receivedAt, tokens } = standIn.log.requests.at(-1)!;
    expect(tokens[0].at - receivedAt).toBeGreaterThanOrEqual(78);
  });

  test("converse-stream over HTTP/1.1 is refused with 505", async () => {
    const res = await fetch(`${standIn.endpoint}/model/${encodeURIComponent(MODEL)}/converse-stream`, { method: "POST", body: "{}" });
    expect(res.status).toBe(505);
  });
});

describe("the answer and fault script (no server)", () => {
  const requestFor = (prompt: string, maxTokens?: number) => readConverseRequest(MODEL, { messages: [{ role: "user", content: [{ text: prompt }] }], inferenceConfig: { maxTokens } });

  test("a normal answer: messageStart, paced deltas, block stop, messageStop, metadata, then the end", () => {
    const steps = [...converseScript(requestFor("plan", 4), { firstTokenMs: 50, tokensPerSecond: 100 })];
    expect(steps.map((s) => (s.kind === "event" ? s.type : s.kind))).toEqual(["messageStart", ...Array(4).fill("contentBlockDelta"), "contentBlockStop", "messageStop", "metadata", "end"]);
    expect(steps.map((s) => (s.kind === "event" ? s.delayMs : 0))).toEqual([0, 50, 10, 10, 10, 0, 0, 0, 0]);
    expect(steps.flatMap((s) => (s.kind === "event" && s.token !== undefined ? [s.token] : []))).toEqual(answerFor("plan", MODEL).slice(0, 4));
    expect(steps.at(-1)).toEqual({ kind: "end", stopReason: "max_tokens" });
  });

  test("each delay is read from the live timing when its step is taken", () => {
    const timing = { firstTokenMs: 0, tokensPerSecond: 0 };
    const script = converseScript(requestFor("live", 3), timing);
    script.next(); // messageStart
    script.next(); // first delta
    timing.tokensPerSecond = 50;
    expect(script.next().value).toMatchObject({ kind: "event", type: "contentBlockDelta", delayMs: 20 });
  });

  test("pre-stream faults are one httpError; mid-stream faults cut the deltas with an exception", () => {
    expect([...converseScript(requestFor("no [[fault:access-denied]]"), { firstTokenMs: 0, tokensPerSecond: 0 })]).toEqual([
      { kind: "httpError", status: 403, type: "AccessDeniedException", message: expect.any(String) },
    ]);
    const cut = [...converseScript(requestFor("busy [[fault:throttle-mid-stream]]"), { firstTokenMs: 0, tokensPerSecond: 0 })];
    expect(cut.filter((s) => s.kind === "event" && s.token !== undefined)).toHaveLength(TOKENS_BEFORE_FAULT);
    expect(cut.at(-1)).toMatchObject({ kind: "exception", type: "throttlingException" });
  });
});

describe("the stand-in's guardrail", () => {
  const guarded = async (prompt: string, mode: "sync" | "async") => {
    const res = await client.send(
      new ConverseStreamCommand({
        modelId: MODEL,
        messages: [{ role: "user", content: [{ text: prompt }] }],
        guardrailConfig: { guardrailIdentifier: "standingrd01", guardrailVersion: "2", streamProcessingMode: mode },
      }),
    );
    const events: ConverseStreamOutput[] = [];
    for await (const e of res.stream!) events.push(e);
    return { events, text: events.map((e) => e.contentBlockDelta?.delta?.text ?? "").join(""), stopReason: events.find((e) => e.messageStop)?.messageStop?.stopReason };
  };

  test.each(["sync", "async"] as const)("%s: [[guardrail]] intervenes mid-stream with its blocked message and stopReason guardrail_intervened", async (mode) => {
    const prompt = `Tell me a secret ${GUARDRAIL_MARKER}`;
    const got = await guarded(prompt, mode);
    const start = answerFor(prompt, MODEL).slice(0, TOKENS_BEFORE_FAULT).join("");
    expect(got.stopReason).toBe("guardrail_intervened");
    // Async streams the text the guardrail blocks before it catches up; sync never sends it.
    expect(got.text).toBe(`${start}${mode === "async" ? STAND_IN_UNSAFE_TEXT : ""}${STAND_IN_BLOCKED_MESSAGE}`);
    expect(standIn.log.requests.at(-1)).toMatchObject({ guardrail: { id: "standingrd01", version: "2", mode }, stopReason: "guardrail_intervened" });
  });

  test("the marker does nothing without a guardrail, and a guardrail alone does not intervene", async () => {
    const plain = await converse(`No guardrail here ${GUARDRAIL_MARKER}`);
    expect(plain.events.find((e) => e.messageStop)?.messageStop?.stopReason).toBe("end_turn");
    expect((await guarded("An ordinary question", "sync")).stopReason).toBe("end_turn");
  });

  test("ApplyGuardrail intervenes on the text it blocks, with its blocked message, and passes anything else", async () => {
    const apply = (text: string) =>
      client.send(new ApplyGuardrailCommand({ guardrailIdentifier: "standingrd01", guardrailVersion: "2", source: "OUTPUT", content: [{ text: { text } }] }));
    expect(await apply(`before${STAND_IN_UNSAFE_TEXT}after`)).toMatchObject({ action: "GUARDRAIL_INTERVENED", outputs: [{ text: STAND_IN_BLOCKED_MESSAGE }] });
    expect(await apply("a harmless answer")).toMatchObject({ action: "NONE", outputs: [] });
    expect(standIn.log.guardrailChecks.slice(-2).map((c) => [c.guardrailId, c.version, c.source, c.action])).toEqual([
      ["standingrd01", "2", "OUTPUT", "GUARDRAIL_INTERVENED"],
      ["standingrd01", "2", "OUTPUT", "NONE"],
    ]);
  });
});
