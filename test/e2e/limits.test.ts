/**
 * End to end against `npm start` as a child process with tight limits (2 generations at once, 250 output tokens a day,
 * answers of at most 100 tokens): aliased and batched sendQuery start one generation; with N in flight the next is
 * refused and nothing is published, and once one ends a new one is accepted; the daily quota refuses with its reset
 * time; usage adds up exactly under concurrent completions and myUsage and `npm run usage -- local` read it; a
 * guardrail intervention mid-stream ends the stream with the guardrail's safe text on both delivery paths.
 */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { graphqlRequest, type GraphQLResponse } from "../../client/graphql";
import { MESSAGE_QUERY, MY_USAGE_QUERY, STOP_GENERATION_MUTATION } from "../../contracts/graphqlOperations";
import { GUARDRAIL_INTERVENED_REASON, type MessageState } from "../../contracts/messageState";
import { LIMIT_EXCEEDED, quotaResetsAt, type UsageRow } from "../../contracts/usage";
import { GUARDRAIL_MARKER, STAND_IN_BLOCKED_MESSAGE, STAND_IN_UNSAFE_TEXT } from "../../local/bedrock";
import { subjectFor } from "../../local/issuer";
import { LocalStackDriver, newSessionId, type Delivery } from "../support/localStackDriver";
import { REPO_ROOT, startStackProcess, type StackProcess } from "../support/localStackProcess";
import { waitFor } from "../support/waitFor";

jest.setTimeout(60_000);

const LIMITS = { limits: { max_concurrent_generations_per_user: 2, daily_output_tokens_per_user: 250 }, generation: { max_tokens: 100 } };
let stack: StackProcess;
let driver: LocalStackDriver;
let stateDir: string;

beforeAll(async () => {
  stateDir = mkdtempSync(path.join(os.tmpdir(), "limits-e2e-"));
  stack = await startStackProcess(["--first-token-ms", "20", "--tokens-per-second", "400", "--config-overrides", JSON.stringify(LIMITS), "--state-file", path.join(stateDir, "stack.json")]);
  driver = new LocalStackDriver(stack);
});
afterAll(async () => {
  await driver?.close();
  await stack?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});
afterEach(() => driver.closeSessions());

const gql = async <T>(user: string, document: string, variables: Record<string, unknown> = {}) =>
  graphqlRequest(driver.ready.endpoints.graphqlUrl, document, variables, { authorization: await driver.token(user) }) as Promise<GraphQLResponse<T>>;
const generatedPrompts = async () => (await driver.bedrockRequests()).map((r) => r.prompt);
const myUsage = async (user: string) => (await gql<{ myUsage: UsageRow[] }>(user, MY_USAGE_QUERY)).data!.myUsage;
const setPace = (tokensPerSecond: number) => fetch(new URL("/_local/timing", driver.ready.endpoints.bedrock), { method: "PUT", body: JSON.stringify({ tokensPerSecond }) });

describe("one generation per request", () => {
  it("20 aliased sendQuery fields start one generation; a batch of operations starts none", async () => {
    const tag = randomUUID();
    const fields = Array.from({ length: 20 }, (_, i) => `q${i}: sendQuery(input: { sessionId: "${newSessionId("alias")}", prompt: "alias ${tag} ${i}" }) { messageId }`);
    const res = await gql<unknown>("grace", `mutation Many { ${fields.join(" ")} }`);
    expect(res.errors?.length).toBeGreaterThanOrEqual(1);
    expect(res.errors!.every((e) => e.errorType === "ResolverCountLimitExceeded")).toBe(true);

    const one = { query: `mutation { sendQuery(input: { sessionId: "${newSessionId("batch")}", prompt: "batch ${tag}" }) { messageId } }` };
    const batch = await fetch(driver.ready.endpoints.graphqlUrl, { method: "POST", headers: { "content-type": "application/json", authorization: await driver.token("grace") }, body: JSON.stringify([one, one]) });
    expect(batch.status).toBe(400);
    await driver.waitForQueuesDrained();
    expect((await generatedPrompts()).filter((p) => p.includes(tag))).toEqual([`alias ${tag} 0`]);
  });
});

describe("concurrent generations per user", () => {
  afterEach(() => setPace(400));

  it("with 2 in flight the third is refused and nothing is published; after one ends a new one is accepted", async () => {
    await setPace(20); // 100 tokens take 5 s: both stay in flight while the third is sent
    const token = await driver.token("alice");
    const sessionId = newSessionId("concurrency");
    const recorder = await driver.openSession(token, sessionId);
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    for (const messageId of ids.slice(0, 2)) expect((await driver.sendQuery(token, { sessionId, messageId, prompt: `long answer ${messageId}` })).errors).toBeUndefined();
    await waitFor(() => ids.slice(0, 2).every((id) => recorder.tokens(id).length > 0), { timeoutMs: 10_000, description: "both streaming" });
    const before = { prompts: (await generatedPrompts()).length, depths: await driver.depths() };

    const refused = await driver.sendQuery(token, { sessionId, messageId: ids[2], prompt: "one too many" });
    expect(refused.errors).toEqual([expect.objectContaining({ errorType: LIMIT_EXCEEDED, errorInfo: { limit: "concurrency" }, message: expect.stringMatching(/2 of your answers are still being generated/) })]);
    // Nothing published for it: the work queue is as it was (the outbound queue moves with the two streams' chunks).
    expect((await driver.depths()).work).toEqual(before.depths.work);
    expect((await gql<{ message: MessageState | null }>("alice", MESSAGE_QUERY, { sessionId, messageId: ids[2] })).data?.message).toBeNull();

    // One ends (stopped): its slot is free before its final arrives, so the next request is accepted at once.
    await gql("alice", STOP_GENERATION_MUTATION, { sessionId, messageId: ids[0] });
    await recorder.waitForEnd(ids[0]);
    const next = randomUUID();
    expect((await driver.sendQuery(token, { sessionId, messageId: next, prompt: "my turn now" })).errors).toBeUndefined();
    await gql("alice", STOP_GENERATION_MUTATION, { sessionId, messageId: ids[1] });
    await gql("alice", STOP_GENERATION_MUTATION, { sessionId, messageId: next });
    await Promise.all([recorder.waitForEnd(ids[1]), recorder.waitForEnd(next)]);
    expect((await generatedPrompts()).length).toBe(before.prompts + 1);
  });
});

describe("output tokens per user per day", () => {
  it("refused once the day's quota is used, with the reset time in the message and in errorInfo; nothing published", async () => {
    // 100-token answers: admitted at 0, 100 and 200 used (each under 250), refused at 300.
    for (let i = 0; i < 3; i++) await driver.ask("carol", { sessionId: newSessionId("quota"), prompt: `answer ${i} [[length:100]]` });
    const prompts = (await generatedPrompts()).length;
    const refused = await gql<unknown>("carol", `mutation { sendQuery(input: { sessionId: "${newSessionId("quota")}", prompt: "one more" }) { messageId } }`);
    const resetsAt = quotaResetsAt(Date.now());
    expect(refused.errors).toEqual([
      expect.objectContaining({ errorType: LIMIT_EXCEEDED, errorInfo: { limit: "quota", resetsAt }, message: `Daily quota reached: 300 of 250 output tokens used today (UTC). It resets at ${resetsAt}.` }),
    ]);
    expect((await generatedPrompts()).length).toBe(prompts);
  });
});

describe("usage", () => {
  it("adds up exactly under concurrent completions; myUsage returns the caller's rows only; npm run usage -- local prints them", async () => {
    const answers = await Promise.all([1, 2].map((i) => driver.ask("dave", { sessionId: newSessionId("usage"), prompt: `concurrent ${i} [[length:${30 + i}]]` })));
    await driver.ask("erin", { sessionId: newSessionId("usage"), prompt: "another model", modelId: "us.anthropic.claude-3-7-sonnet-20250219-v1:0" });
    const dave = await myUsage("dave");
    expect(dave).toEqual([
      expect.objectContaining({ modelId: driver.defaultModelId, messages: 2, outputTokens: answers.reduce((n, a) => n + a.final!.data.usage.outputTokens, 0), inputTokens: answers.reduce((n, a) => n + a.final!.data.usage.inputTokens, 0) }),
    ]);
    expect(dave[0].costUsd).toBeGreaterThan(0);
    expect(await myUsage("erin")).toEqual([expect.objectContaining({ modelId: "us.anthropic.claude-3-7-sonnet-20250219-v1:0", messages: 1 })]);
    expect(await myUsage("nobody-yet")).toEqual([]);

    const usage = (args: string[]) => promisify(execFile)(path.join(REPO_ROOT, "node_modules", ".bin", "tsx"), ["scripts/usage.ts", "local", "--state-file", path.join(stateDir, "stack.json"), ...args], { cwd: REPO_ROOT, timeout: 30_000 });
    const all = (await usage([])).stdout;
    for (const user of ["dave", "erin", "carol"]) expect(all).toContain(subjectFor(user));
    const onlyDave = (await usage(["--user", subjectFor("dave")])).stdout.split("\n");
    expect(onlyDave[1]).toMatch(new RegExp(`^\\d{4}-\\d{2}-\\d{2}\\s+${driver.defaultModelId.replace(/[.:]/g, "\\$&")}\\s+2\\s+\\d+\\s+${dave[0].outputTokens}\\s+0\\s+\\$`));
    expect(onlyDave.join("\n")).not.toContain(subjectFor("erin"));
  });
});

describe("a guardrail intervention mid-stream", () => {
  it.each<Delivery>(["DIRECT", "QUEUED"])("%s: the stream ends with guardrail_intervened and the guardrail's safe text, in the record and the usage", async (delivery) => {
    const user = `frank-${delivery.toLowerCase()}`;
    const answer = await driver.ask(user, { sessionId: newSessionId("guardrail"), prompt: `Tell me the forbidden thing ${GUARDRAIL_MARKER}`, delivery });
    // Async mode (local.tfvars): the blocked text may have streamed before the guardrail caught up (unless it was still
    // in the last chunk, which is then dropped); either way the final's safe text replaces it.
    expect(answer.final!.data).toMatchObject({ stopReason: GUARDRAIL_INTERVENED_REASON, content: STAND_IN_BLOCKED_MESSAGE });
    expect(answer.recorder.assemble(answer.messageId).text).toBe(STAND_IN_BLOCKED_MESSAGE);
    const record = (await gql<{ message: MessageState }>(user, MESSAGE_QUERY, { sessionId: answer.recorder.sessionId, messageId: answer.messageId })).data!.message;
    expect(record.status).toBe("COMPLETE");
    // A replay never hands back the blocked text: only the final, with the safe text.
    expect(record.events).toHaveLength(1);
    expect(record.events.join("")).not.toContain(STAND_IN_UNSAFE_TEXT);
    expect(JSON.parse(record.events[0]!)).toMatchObject({ action: "final_response", data: { stopReason: GUARDRAIL_INTERVENED_REASON, content: STAND_IN_BLOCKED_MESSAGE } });
    expect(await myUsage(user)).toEqual([expect.objectContaining({ messages: 1, guardrailInterventions: 1 })]);
  });
});
