/** `npm run usage`: its arguments, its table, and what it says when there is nothing to read (no AWS, no stack). */
import * as os from "node:os";
import * as path from "node:path";
import { parseUsageArgs, printUsage, renderUsage } from "../../scripts/usage";

const NOON = Date.parse("2026-11-23T12:00:00.000Z");

test("arguments: the environment, an optional user, a range of UTC days (default the last 30, to today)", () => {
  expect(parseUsageArgs(["dev"], NOON)).toMatchObject({ env: "dev", user: undefined, from: "2026-10-25", to: "2026-11-23" });
  expect(parseUsageArgs(["prod", "--user", "sub-1", "--from", "2026-11-01", "--to=2026-11-02"], NOON)).toMatchObject({ env: "prod", user: "sub-1", from: "2026-11-01", to: "2026-11-02" });
  expect(() => parseUsageArgs([], NOON)).toThrow("name the environment: npm run usage -- <env> (or local)");
  expect(() => parseUsageArgs(["dev", "--from", "last week"], NOON)).toThrow("--from must be a date such as 2026-11-23, got last week");
  expect(() => parseUsageArgs(["dev", "--from", "2026-11-24", "--to", "2026-11-23"], NOON)).toThrow("--from (2026-11-24) must not be after --to (2026-11-23)");
  expect(() => parseUsageArgs(["dev", "qa"], NOON)).toThrow("unexpected argument qa");
});

test("the table: one line per day, user and model, a total, and models without a price marked", () => {
  const row = { day: "2026-11-23", messages: 2, inputTokens: 1000, outputTokens: 500, guardrailInterventions: 1, costUsd: 0.0028 };
  const text = renderUsage([{ ...row, userId: "u-2", modelId: "anthropic.claude-3-5-haiku-20241022-v1:0" }, { ...row, userId: "u-1", modelId: "meta.unpriced-model-v1:0", costUsd: 0 }], true).split("\n");
  expect(text[0]).toMatch(/^day\s+user\s+model\s+messages\s+input tokens\s+output tokens\s+guardrail\s+cost \(est\.\)$/);
  expect(text[1]).toMatch(/^2026-11-23\s+u-1\s+meta\.unpriced-model-v1:0\s+2\s+1000\s+500\s+1\s+no price$/);
  expect(text[2]).toMatch(/^2026-11-23\s+u-2\s+anthropic\.claude-3-5-haiku-20241022-v1:0\s+2\s+1000\s+500\s+1\s+\$0\.0028$/);
  expect(text[3]).toMatch(/^total\s+2 users\s+4\s+2000\s+1000\s+2\s+\$0\.0028$/);
});

test("local with no running stack says how to start one", async () => {
  const q = parseUsageArgs(["local", "--state-file", path.join(os.tmpdir(), "no-such-stack-state.json")], NOON);
  await expect(printUsage(q, () => undefined, () => undefined)).rejects.toThrow(/no local stack is running .* start one with `npm start`/);
});
