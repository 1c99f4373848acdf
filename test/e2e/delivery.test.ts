/**
 * End to end, both delivery paths, against `npm start` run as a child process: the subscriber's chunks, the final
 * response and the Bedrock stand-in's text agree exactly; sequence numbers run 0..n-1; order holds with 5 concurrent
 * sessions per path (in arrival order too on the direct path and on FIFO queues); and `npm run chat` prints the same
 * answer and exits non-zero when the answer fails.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { answerFor, FAULTS, REASONING_MARKER, reasoningFor } from "../../local/bedrock";
import { expectExactAnswer, LocalStackDriver, newSessionId, type Delivery } from "../support/localStackDriver";
import { runChat as runCli } from "../support/chatCli";
import { startStackProcess, type StackProcess } from "../support/localStackProcess";

jest.setTimeout(60_000);

let stack: StackProcess;
let driver: LocalStackDriver;
/** The same stack with FIFO topics and queues (queue.fifo = true). */
let fifoStack: StackProcess;
let fifoDriver: LocalStackDriver;

beforeAll(async () => {
  // Paced like a fast model, so chunks are coalesced (50 ms) and several sessions really overlap.
  const pacing = ["--first-token-ms", "20", "--tokens-per-second", "400", "--retry-delay-seconds", "1"];
  [stack, fifoStack] = await Promise.all([startStackProcess(pacing), startStackProcess([...pacing, "--config-overrides", JSON.stringify({ queue: { fifo: true } })])]);
  driver = new LocalStackDriver(stack);
  fifoDriver = new LocalStackDriver(fifoStack);
});
afterAll(async () => {
  await Promise.all([driver?.close(), fifoDriver?.close()]);
  await Promise.all([stack?.stop(), fifoStack?.stop()]);
});
afterEach(() => {
  driver.closeSessions();
  fifoDriver.closeSessions();
});

const expected = (prompt: string, modelId = driver.defaultModelId) => answerFor(prompt, modelId).join("");

describe.each<Delivery>(["DIRECT", "QUEUED"])("%s delivery", (delivery) => {
  it("streams chunks whose concatenation equals final_response.content and the stand-in's text, numbered from 0", async () => {
    const prompt = `Show me "quotes", \\backslashes\\ and a newline\nvia ${delivery} ✨`;
    const answer = await driver.ask("alice", { sessionId: newSessionId(`alice-${delivery}`), prompt, delivery });
    expectExactAnswer(answer, expected(prompt));
    expect(answer.tokens.length).toBeGreaterThan(1);
    expect(answer.final!.data.usage.outputTokens).toBe(answerFor(prompt, driver.defaultModelId).length);
  });

  it("keeps every session's answer whole and in order with 5 concurrent sessions", async () => {
    const prompts = Array.from({ length: 5 }, (_, i) => `Concurrent question ${i} on the ${delivery} path`);
    const answers = await Promise.all(prompts.map((prompt, i) => driver.ask(`user${i}`, { sessionId: newSessionId(`conc${i}`), prompt, delivery })));
    answers.forEach((answer, i) => expectExactAnswer(answer, expected(prompts[i])));
    if (delivery === "DIRECT") {
      // One publisher per message, each publish awaited: chunks arrive in sequence order.
      for (const a of answers) {
        const arrival = a.tokens.map((t) => t.data.token.sequenceNumber);
        expect(arrival).toEqual([...arrival].sort((x, y) => x - y));
        expect(a.recorder.events.at(-1)?.action).toBe("final_response");
      }
    }
  });

  it("answers a second turn in the same session (history on) exactly too, numbered from 0 again", async () => {
    const sessionId = newSessionId("two-turns");
    for (const prompt of [`First turn on ${delivery}`, `Second turn on ${delivery}`]) {
      const answer = await driver.ask("alice", { sessionId, prompt, delivery });
      expectExactAnswer(answer, expected(prompt));
    }
  });

  it("carries the reasoning apart from the answer", async () => {
    const prompt = `Think first ${REASONING_MARKER} on ${delivery}`;
    const answer = await driver.ask("alice", { sessionId: newSessionId("reasoning"), prompt, delivery });
    expectExactAnswer(answer, expected(prompt));
    expect(answer.final!.data.reasoningContent).toBe(reasoningFor(prompt).join(""));
  });

  it("honours a non-default model", async () => {
    const modelId = driver.ready.clientConfig.models.allowedModelIds.find((m) => m !== driver.defaultModelId)!;
    const prompt = `Which model answers on ${delivery}?`;
    const answer = await driver.ask("alice", { sessionId: newSessionId("model"), prompt, delivery, modelId });
    expectExactAnswer(answer, expected(prompt, modelId));
    expect(answer.final!.data.content).toContain(modelId);
  });
});

describe("QUEUED delivery on FIFO queues", () => {
  it("delivers every chunk of 5 concurrent sessions in sequence order, the final event last", async () => {
    expect(fifoDriver.ready.queues.outbound.url).toMatch(/\.fifo$/);
    const prompts = Array.from({ length: 5 }, (_, i) => `FIFO question ${i} [[length:60]]`);
    const answers = await Promise.all(prompts.map((prompt, i) => fifoDriver.ask(`fifo${i}`, { sessionId: newSessionId(`fifo${i}`), prompt, delivery: "QUEUED" })));
    answers.forEach((answer, i) => {
      expectExactAnswer(answer, expected(prompts[i]));
      // MessageGroupId = sessionId: order holds across relay batches, not only within one.
      const arrival = answer.tokens.map((t) => t.data.token.sequenceNumber);
      expect(arrival).toEqual(arrival.map((_, n) => n));
      expect(answer.recorder.events.at(-1)?.action).toBe("final_response");
    });
  });

  it("keeps arrival order across an SQS retry: a failed record holds back the rest of its session", async () => {
    const victim = newSessionId("fifo-victim");
    await fifoDriver.faults({ failPublishes: 1, sessionId: victim, status: 401 }); // not retryable: SQS brings it back
    try {
      const prompt = "FIFO retry keeps order [[length:60]]";
      const answer = await fifoDriver.ask("alice", { sessionId: victim, prompt, delivery: "QUEUED" });
      expectExactAnswer(answer, expected(prompt));
      const arrival = answer.tokens.map((t) => t.data.token.sequenceNumber);
      expect(arrival).toEqual(arrival.map((_, n) => n));
      expect(answer.recorder.events.at(-1)?.action).toBe("final_response");
      expect((await fifoDriver.gatewayStats()).faultedPublishes).toBe(1);
    } finally {
      await fifoDriver.faults({ clear: true });
    }
  });
});

describe("npm run chat", () => {
  let configFile: string;
  beforeAll(() => {
    configFile = path.join(mkdtempSync(path.join(tmpdir(), "chat-e2e-")), "client-config.json");
    writeFileSync(configFile, JSON.stringify(stack.ready.clientConfig));
  });

  const runChat = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(configFile, args, env);

  it.each<[string, string[]]>([
    ["queued", ["--queued"]],
    ["direct", ["--direct", "--user", "bob"]],
  ])("prints the exact answer and a summary (%s)", async (_, flags) => {
    const prompt = `hello from the CLI test ${flags.join(" ")}`;
    const result = await runChat([prompt, ...flags]);
    expect(result.stderr).not.toMatch(/^chat:/m);
    expect(result.code).toBe(0);
    const text = expected(prompt);
    expect(result.stdout).toBe(text.endsWith("\n") ? text : `${text}\n`);
    expect(result.stderr).toMatch(/time to first token\s+\d+ ms/);
    expect(result.stderr).toMatch(/tokens per second\s+\d+(\.\d+)? \(\d+ output tokens\)/);
    expect(result.stderr).toMatch(/chunks\s+[1-9]\d*/);
    expect(result.stderr).toMatch(new RegExp(`path\\s+${flags[0].slice(2)}`));
  });

  it("exits non-zero with the user-safe message when the answer fails mid-stream", async () => {
    const result = await runChat([`throttle me ${FAULTS.throttleMidStream}`, "--direct"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^chat: the answer failed: .*code THROTTLED/m);
    expect(result.stderr).not.toMatch(/Scripted fault|Exception/);
  });

  it("exits 2 on a usage mistake and 1, with a sign-in hint, for a Cognito environment without ID_TOKEN", async () => {
    const usage = await runChat(["hello", "--direct", "--queued"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/choose one of --direct and --queued/);
    const cognito = path.join(path.dirname(configFile), "cognito.json");
    writeFileSync(cognito, JSON.stringify({ ...stack.ready.clientConfig, auth: { type: "cognito", userPoolId: "us-east-1_example", userPoolClientId: "example" } }));
    const noToken = await runChat(["hello", "--config", cognito], { ID_TOKEN: "" });
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toMatch(/Set ID_TOKEN to the ID token of a user in that pool/);
  });

  it("exits non-zero with the GraphQL error for an unknown model", async () => {
    const result = await runChat(["hello", "--model", "no.such-model-v1:0"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^chat: sendQuery was refused: ValidationError: modelId must be one of/m);
    expect(result.stdout).toBe("");
  });
});
