/**
 * Terraform itself accepts every stack: init from the provider lock file and mirror, validate, and an offline plan
 * (local backend, fake credentials: no AWS account, no network) whose resource counts match what the environment asks
 * for. Every shipped environment, whatever its values; the `full` fixture for the options they may not use; and a copy
 * of dev with its delivery, a model and its batching changed, which must pass every generic check as well.
 * Sequential on purpose: each plan holds about 500 MB in the provider process.
 */
import { mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { deployedEnvironmentNames, ENVIRONMENTS_DIR, loadEnvironment } from "../../config/load";
import { EnvironmentConfig, stackName } from "../../config/schema";
import { terraformEnvironment, writeOfflineOverride } from "../../scripts/terraform";
import { copyEnvironments, EnvironmentsCopy, FIXTURES_DIR, RawTfvars } from "../fixtures/environments";
import { expectOfflinePlan, expectStackInvariants, expectSynthesizedCounts } from "./invariants";
import { Synthesized, synthesizeToTemp } from "./stackView";

const SHIPPED = deployedEnvironmentNames();
let cliDir: string;
let env: NodeJS.ProcessEnv;
const cleanups: (() => void)[] = [];

beforeAll(() => {
  cliDir = mkdtempSync(path.join(os.tmpdir(), "infra-tf-cli-"));
  env = terraformEnvironment(cliDir);
  cleanups.push(() => rmSync(cliDir, { recursive: true, force: true }));
});
afterAll(() => cleanups.forEach((c) => c()));

async function synthesized(names: string[], dir: string): Promise<Synthesized> {
  const synth = await synthesizeToTemp(names, dir);
  cleanups.push(synth.cleanup);
  expect(synth.result.failed).toEqual({});
  return synth;
}

async function planOffline(synth: Synthesized, config: EnvironmentConfig): Promise<void> {
  const dir = path.join(synth.outdir, "stacks", stackName(config));
  writeOfflineOverride(dir);
  await expectOfflinePlan(dir, config, env);
}

test.each(SHIPPED)("%s: init from the lock file, validate, offline plan with the resources its config asks for", async (name) => {
  const config = await loadEnvironment(name);
  await planOffline(await synthesized([name], ENVIRONMENTS_DIR), config);
}, 120_000);

test("the full fixture (another region and project, existing pool, email alarms, no history): the same", async () => {
  const config = await loadEnvironment("full", FIXTURES_DIR);
  await planOffline(await synthesized(["full"], FIXTURES_DIR), config);
}, 120_000);

/** Another allowed model the region can call: a foundation model id, callable from any region. */
const OTHER_MODEL = "anthropic.claude-3-haiku-20240307-v1:0";

/** dev's tfvars with direct_send flipped, a model added and made the default, and batching changed, whatever they were. */
function changedDev(raw: RawTfvars): RawTfvars {
  const models = raw.models as { default_model_id: string; allowed_model_ids: string[] };
  const model = models.allowed_model_ids.includes(OTHER_MODEL) ? models.allowed_model_ids.find((m) => m !== models.default_model_id)! : OTHER_MODEL;
  const delay = (raw.batching as { max_delay_ms?: number } | undefined)?.max_delay_ms;
  return {
    ...raw,
    direct_send: !raw.direct_send,
    models: { default_model_id: model, allowed_model_ids: [...new Set([...models.allowed_model_ids, model])] },
    batching: { ...(raw.batching as object), max_delay_ms: delay === 0 ? 100 : 0 },
  };
}

describe("a copy of dev.tfvars with direct_send, a model and batching changed", () => {
  let copy: EnvironmentsCopy;
  let before: EnvironmentConfig;
  let after: EnvironmentConfig;
  let synth: Synthesized;
  beforeAll(async () => {
    copy = await copyEnvironments(ENVIRONMENTS_DIR, (name, raw) => (name === "dev" ? changedDev(raw) : undefined));
    cleanups.push(copy.cleanup);
    [before, after] = await Promise.all([loadEnvironment("dev"), loadEnvironment("dev", copy.dir)]);
    synth = await synthesized(SHIPPED, copy.dir);
  }, 60_000);

  test("differs from dev as intended", () => {
    expect(after.direct_send).toBe(!before.direct_send);
    expect(after.models.default_model_id).not.toBe(before.models.default_model_id);
    expect(after.batching.max_delay_ms).not.toBe(before.batching.max_delay_ms);
  });

  test("passes every generic check: validates, synthesizes, holds the invariants and plans offline", async () => {
    for (const name of SHIPPED) {
      const config = await loadEnvironment(name, copy.dir);
      const v = synth.stack(stackName(config));
      expectStackInvariants(v, config);
      expectSynthesizedCounts(v, config);
    }
    await planOffline(synth, after);
  }, 120_000);
});
