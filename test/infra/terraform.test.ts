/**
 * Terraform itself accepts every deployed stack: init from the provider mirror, validate, and an offline plan (local
 * backend, fake credentials: no AWS account, no network) whose resource counts match what the environment asks for.
 * Sequential on purpose: each plan holds about 500 MB in the provider process.
 */
import { mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadEnvironment } from "../../config/load";
import { EnvironmentConfig, stackName } from "../../config/schema";
import { terraform, terraformEnvironment, writeOfflineOverride } from "../../scripts/terraform";
import { Synthesized, synthesizeToTemp } from "./stackView";

const DEPLOYED = ["dev", "staging", "prod"];
let synth: Synthesized;
let cliDir: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  synth = await synthesizeToTemp(DEPLOYED);
  cliDir = mkdtempSync(path.join(os.tmpdir(), "infra-tf-cli-"));
  env = terraformEnvironment(cliDir);
}, 60_000);
afterAll(() => {
  synth?.cleanup();
  if (cliDir) rmSync(cliDir, { recursive: true, force: true });
});

/**
 * What a stack creates: key + alias (2), topics, their policies and subscriptions, queues + DLQs, their policies and
 * redrive-allow policies (16), tables (2), user pool + client (2), API + log group + log role and policy (4), data
 * sources + invoke role and policy + resolvers (8), 3 functions x (function, role, policy, log group) (12),
 * event source mappings (2) = 48; alarms add 9 (DLQs 2, functions 3 x 2, API 1), an email target adds topic, policy,
 * subscription (3).
 */
function expectedCounts(c: EnvironmentConfig): { total: number; byType: Record<string, number> } {
  const alarms = c.alarms ? 9 : 0;
  const alarmTopic = c.alarms?.email ? 3 : 0;
  return {
    total: 48 + alarms + alarmTopic,
    byType: {
      aws_sqs_queue: 4,
      aws_sns_topic: 2 + (c.alarms?.email ? 1 : 0),
      aws_lambda_function: 3,
      aws_iam_role: 5,
      aws_appsync_resolver: 4,
      aws_dynamodb_table: c.history.enabled ? 2 : 1,
      aws_cloudwatch_log_group: 4,
      aws_cloudwatch_metric_alarm: alarms,
      aws_kms_key: 1,
    },
  };
}

async function run(cwd: string, args: string[]) {
  const r = await terraform(args, { cwd, env, timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`terraform ${args.join(" ")} failed in ${cwd}:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
  return r;
}

test.each(DEPLOYED)("%s: init from the mirror, validate, offline plan with the expected resources", async (name) => {
  const config = await loadEnvironment(name);
  const dir = path.join(synth.outdir, "stacks", stackName(config));
  writeOfflineOverride(dir);

  const init = await run(dir, ["init", "-input=false", "-no-color"]);
  expect(init.stdout).toMatch(/Installing hashicorp\/aws v5\.100\.0|Using previously-installed hashicorp\/aws v5\.100\.0/);
  expect(init.stdout).toContain('Successfully configured the backend "local"');

  const validate = await run(dir, ["validate", "-json", "-no-color"]);
  const verdict = JSON.parse(validate.stdout);
  expect(verdict.valid).toBe(true);
  expect(verdict.error_count).toBe(0);

  await run(dir, ["plan", "-input=false", "-no-color", "-lock=false", "-out=plan.tfplan"]);
  const shown = await run(dir, ["show", "-json", "plan.tfplan"]);
  const plan = JSON.parse(shown.stdout);
  const changes: { type: string; mode: string; change: { actions: string[] } }[] = plan.resource_changes.filter((r: { mode: string }) => r.mode === "managed");
  expect(changes.every((r) => r.change.actions.join() === "create")).toBe(true);

  const expected = expectedCounts(config);
  expect(changes).toHaveLength(expected.total);
  const byType: Record<string, number> = {};
  for (const r of changes) byType[r.type] = (byType[r.type] ?? 0) + 1;
  for (const [type, count] of Object.entries(expected.byType)) expect([type, byType[type] ?? 0]).toEqual([type, count]);

  // The planned provider config is the environment's, whatever the offline override adds for planning.
  const provider = plan.configuration.provider_config.aws.expressions;
  expect(provider.region.constant_value).toBe(config.region);
}, 120_000);
