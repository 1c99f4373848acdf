/**
 * End to end in reading-pace mode, against `npm start` run as a child process: a 2,000-token answer on both delivery
 * paths arrives exact (chunks, the last one inside the final, the final's content, and what a version-1 client shows),
 * and costs at most a fiftieth of one AppSync mutation per token, as the local gateway counts them.
 */
import { answerFor } from "../../local/bedrock";
import { expectExactAnswer, LocalStackDriver, newSessionId, type Delivery } from "../support/localStackDriver";
import { startStackProcess, type StackProcess } from "../support/localStackProcess";

jest.setTimeout(90_000);

const TOKENS = 2000;
/** One message per token: a mutation per token, one for the final and one for sendQuery. */
const ONE_PER_TOKEN = TOKENS + 2;

let stack: StackProcess;
let driver: LocalStackDriver;

beforeAll(async () => {
  // 200 tokens/s keeps the answer at 10 s; the window still grows past the 2 s opening, up to max_chars per chunk.
  // max_tokens above the answer, so the stand-in does not stop at the default 1,024.
  const overrides = { batching: { mode: "reading_pace" }, generation: { max_tokens: 4096 } };
  stack = await startStackProcess(["--first-token-ms", "20", "--tokens-per-second", "200", "--retry-delay-seconds", "1", "--config-overrides", JSON.stringify(overrides)]);
  driver = new LocalStackDriver(stack);
});
afterAll(async () => {
  await driver?.close();
  await stack?.stop();
});

const mutations = (stats: Awaited<ReturnType<LocalStackDriver["gatewayStats"]>>) => (stats.mutationsByField.publishResponse ?? 0) + (stats.mutationsByField.sendQuery ?? 0);

it("streams a 2,000-token answer exactly on both paths, each within a fiftieth of one mutation per token", async () => {
  const before = mutations(await driver.gatewayStats());
  const paths: Delivery[] = ["DIRECT", "QUEUED"];
  const prompts = paths.map((p) => `A long answer on the ${p} path [[length:${TOKENS}]]`);
  const answers = await Promise.all(paths.map((delivery, i) => driver.ask("alice", { sessionId: newSessionId(`pace-${delivery}`), prompt: prompts[i]!, delivery }, 45_000)));
  const spent = mutations(await driver.gatewayStats()) - before;

  answers.forEach((answer, i) => {
    expectExactAnswer(answer, answerFor(prompts[i]!, driver.defaultModelId).join(""));
    expect(answer.final!.data.usage.outputTokens).toBe(TOKENS);
    // The last chunk rode in the final: one mutation fewer than a chunk of its own.
    expect(answer.final!.data.tail).toBeTruthy();
    expect(answer.tokens.length + 2).toBeLessThanOrEqual(ONE_PER_TOKEN / 50);
  });
  // Every mutation the gateway ran is one of these: each token event, each final and each sendQuery.
  expect(spent).toBe(answers.reduce((n, a) => n + a.tokens.length + 2, 0));
});
