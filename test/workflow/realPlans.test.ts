/**
 * The plan summary on real Terraform plans of the platform stack, made offline: the queued fixture
 * (test/fixtures/environments/queued.tfvars) is "applied" (a settled offline state, scripts/offlineState.ts, the same
 * one `npm run plan -- <env> --offline --base` builds), then two changed versions of it are planned against that state:
 *   - fifo: queue.fifo = true, which replaces every queue and topic (FIFO is fixed at creation, and the names gain .fifo);
 *   - delivery: directSend on, another allowed model, a new default model, batching per token.
 * The summary must flag exactly the expected replacements, IAM statement changes and platform settings.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { App } from "cdktf";
import { EnvironmentConfig, stackName } from "../../config/schema";
import { PlatformStack } from "../../modules/platformStack";
import { StateFile, pendingChanges, settleOfflineState, writeState } from "../../scripts/offlineState";
import { copyLockFile, OFFLINE_STATE_FILE, planToJson, terraform, terraformEnvironment, writeOfflineOverride } from "../../scripts/terraform";
import { TerraformPlan } from "../../scripts/plan-summary/planJson";
import { KNOWN_AFTER_APPLY } from "../../scripts/plan-summary/policyDiff";
import { EnvironmentSummary, renderMarkdown, summarizePlan } from "../../scripts/plan-summary/summary";
import { loadFixture } from "../fixtures/environments";

const work = mkdtempSync(path.join(tmpdir(), "real-plans-"));
const tfEnv = terraformEnvironment(path.join(work, "cli"));
const STATE_FILE = OFFLINE_STATE_FILE;
const NEW_MODEL = "anthropic.claude-3-haiku-20240307-v1:0";
const ENV = "queued";

async function tf(dir: string, args: string[]): Promise<string> {
  const r = await terraform([...args, "-no-color"], { cwd: dir, env: tfEnv, timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`terraform ${args.join(" ")} in ${dir}: ${r.stderr}`);
  return r.stdout;
}

/** Synthesizes one config with the platform's own stack code, ready for an offline plan. */
async function synthesize(label: string, config: EnvironmentConfig): Promise<{ dir: string; tfJson: Record<string, any> }> {
  const outdir = path.join(work, label);
  const app = new App({ outdir });
  new PlatformStack(app, { config });
  app.synth();
  const dir = path.join(outdir, "stacks", stackName(config));
  writeOfflineOverride(dir);
  copyLockFile(dir);
  await tf(dir, ["init", "-input=false"]);
  return { dir, tfJson: JSON.parse(readFileSync(path.join(dir, "cdk.tf.json"), "utf8")) };
}

async function plan(dir: string): Promise<TerraformPlan> {
  // -refresh=false: the state is what we wrote; nothing may be read from AWS.
  return JSON.parse(await planToJson(dir, { env: tfEnv, refresh: false, timeoutMs: 120_000 }));
}

let fixture: EnvironmentConfig;
let baseline: EnvironmentSummary;
let fifo: EnvironmentSummary;
let delivery: EnvironmentSummary;
let fifoStack: Record<string, any>;
let unsettled: string[] = [];
let deliveryDir: string;

beforeAll(async () => {
  fixture = await loadFixture(ENV);
  const [a, b1, b2] = await Promise.all([
    synthesize("base", fixture),
    synthesize("fifo", { ...fixture, queue: { ...fixture.queue, fifo: true } }),
    synthesize("delivery", {
      ...fixture,
      direct_send: true,
      models: { default_model_id: fixture.models.allowed_model_ids[1], allowed_model_ids: [...fixture.models.allowed_model_ids, NEW_MODEL] },
      batching: { ...fixture.batching, max_delay_ms: 0 },
    }),
  ]);
  fifoStack = b1.tfJson;
  deliveryDir = b2.dir;

  // Fold plans of the unchanged config back into the state until a plan of it is empty (the product's own loop):
  // stand-ins and the references to them first, then the policy documents Terraform renders from them. The API's
  // app_id_client_regex is computed from the client id by replace(), which the stand-ins do not evaluate, so the API
  // and the documents that read it settle one plan later; the check plan below proves it settled.
  await settleOfflineState({ stackDir: a.dir, env: tfEnv, ctx: { accountId: fixture.account_id, region: fixture.region } });
  for (const b of [b1, b2]) writeFileSync(path.join(b.dir, STATE_FILE), readFileSync(path.join(a.dir, STATE_FILE)));
  const [check, fifoPlan, deliveryPlan] = await Promise.all([plan(a.dir), plan(b1.dir), plan(b2.dir)]);
  unsettled = pendingChanges(check);
  baseline = summarizePlan(ENV, check);
  fifo = summarizePlan(ENV, fifoPlan);
  delivery = summarizePlan(ENV, deliveryPlan);
}, 180_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the baseline state", () => {
  it("is what applying the fixture leaves: planning it again changes nothing", () => {
    expect(unsettled).toEqual([]);
    expect(baseline.counts).toEqual({ add: 0, change: 0, destroy: 0, replace: 0 });
    expect(renderMarkdown([baseline])).toContain(`**${ENV}: no changes.**`);
  });
});

describe("turning on FIFO", () => {
  it("warns about exactly the queues and topics, each replaced because of its FIFO flag and name", () => {
    const expected = ["aws_sqs_queue", "aws_sns_topic"].flatMap((type) => Object.keys(fifoStack.resource[type]).map((name) => `${type}.${name}`)).sort();
    expect(expected).toHaveLength(6); // work, work DLQ, outbound, outbound DLQ; inbound and outbound topics
    expect(fifo.stateful.map((r) => r.address).sort()).toEqual(expected);
    for (const r of fifo.stateful) {
      expect(r.kind).toBe("replace");
      expect(r.reasons).toEqual(expect.arrayContaining([r.type === "aws_sqs_queue" ? "`fifo_queue`" : "`fifo_topic`", "`name`"]));
    }
    const md = renderMarkdown([fifo]);
    const warning = md.split("\n").filter((l) => l.startsWith("> - "));
    expect(warning).toHaveLength(6);
    expect(md).toMatch(/> - \*\*queued\*\*: replace `aws_sqs_queue\.messaging_work_queue_[^`]+` \(SQS queue, forced by `fifo_queue`, `name`\): messages waiting in it are lost\./);
    // Tables, the user pool and the key keep their data.
    expect(fifo.resources.filter((r) => ["aws_dynamodb_table", "aws_cognito_user_pool", "aws_kms_key"].includes(r.type))).toEqual([]);
    expect(fifo.counts.destroy).toBe(0);
    expect(fifo.counts.add).toBe(0);
  });

  it("shows which statements now name a queue or topic known only after apply, and no setting call-outs", () => {
    const name = (p: { address: string }) => p.address.split(".")[1].split("_")[0];
    const rolePolicies = fifo.policies.filter((p) => p.type === "aws_iam_role_policy");
    // The functions' documents are read at apply (they name replaced resources); their planned statements show
    // exactly which grants move to the new ARNs. AppSync's invoke policies keep their grants, and message-control's
    // names only the messages table and the key, so none of those is listed.
    expect(rolePolicies.map(name).sort()).toEqual(["outbound-relay", "send-query", "stream-worker"]);
    const worker = rolePolicies.find((p) => name(p) === "stream-worker")!;
    expect(worker.deferred).toBe(true);
    expect(worker.diff!.added).toEqual([]);
    expect(worker.diff!.removed).toEqual([]);
    expect(worker.diff!.changed.map((c) => [c.after.sid, c.after.resource, c.before.action])).toEqual([
      ["ConsumeOwnQueue", [KNOWN_AFTER_APPLY], ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]],
      ["PublishToTopic", [KNOWN_AFTER_APPLY], ["sns:Publish"]],
    ]);
    const relay = rolePolicies.find((p) => name(p) === "outbound-relay")!;
    expect([relay.deferred, relay.diff!.added, relay.diff!.removed]).toEqual([true, [], []]);
    // The relay's queue grants move with the outbound queue and its DLQ: consuming, looking up both URLs, dead-lettering.
    expect(relay.diff!.changed.map((c) => [c.after.sid, c.after.resource, c.before.action])).toEqual([
      ["ConsumeOwnQueue", [KNOWN_AFTER_APPLY], ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]],
      ["FindOwnQueueUrl", [KNOWN_AFTER_APPLY, KNOWN_AFTER_APPLY], ["sqs:GetQueueUrl"]],
      ["DeadLetterExpiredEvents", [KNOWN_AFTER_APPLY], ["sqs:SendMessage"]],
    ]);
    // Every replaced queue and topic has a TLS-only policy that moves with it.
    expect(fifo.policies.filter((p) => p.type !== "aws_iam_role_policy").map((p) => [p.type, p.kind, p.diff?.changed.map((c) => c.after.sid)])).toEqual(
      [...Array(2).fill(["aws_sns_topic_policy", "replace", ["DenyInsecureTransport"]]), ...Array(4).fill(["aws_sqs_queue_policy", "replace", expect.arrayContaining(["DenyInsecureTransport"])])],
    );
    const md = renderMarkdown([fifo]);
    expect(md).toContain("+   resource    (known after apply)");
    expect(md).toContain("_Rendered at apply; shown from its planned statements.");
    expect(fifo.callouts).toEqual([]);
  });

  it("shows each statement the queues' and topics' policies share once, with a table of the ARNs that differ", () => {
    const md = renderMarkdown([fifo]);
    expect(md.split("\n").filter((l) => l.includes("alike in"))).toEqual([
      "<details><summary>queued: statement `DenyInsecureTransport` changed alike in 2 aws_sns_topic_policy policies, but for the ARNs they name</summary>",
      "<details><summary>queued: statement `DenyInsecureTransport` changed alike in 4 aws_sqs_queue_policy policies, but for the ARNs they name</summary>",
      "<details><summary>queued: statement `TopicDeliversToQueue` changed alike in 2 aws_sqs_queue_policy policies, but for the ARNs they name</summary>",
    ]);
    // Six TLS-only statements, written out twice (SNS and SQS actions differ); no queue or topic policy has its own block.
    expect(md.match(/Deny \(Sid DenyInsecureTransport\)/g)).toHaveLength(2);
    expect(md).not.toMatch(/<summary>queued: `aws_(sqs_queue|sns_topic)_policy\./);
    expect(md).toContain("-   resource    ‹1›");
    for (const p of fifo.policies.filter((x) => x.type !== "aws_iam_role_policy")) {
      const own = p.diff!.changed.find((c) => c.before.sid === "DenyInsecureTransport")!.before.resource![0];
      expect(md).toContain(`| \`${p.address}\` (replace) | \`${own}\` |`);
    }
  });

  it("says which attribute every update changes", () => {
    const updates = fifo.resources.filter((r) => r.kind === "change");
    expect(updates.length).toBeGreaterThan(0);
    for (const u of updates) expect([u.address, u.attributes.length > 0]).toEqual([u.address, true]);
    // The functions' variables name the replaced topics and queues, so Terraform knows them only at apply.
    for (const u of updates.filter((r) => r.type === "aws_lambda_function")) expect(u.attributes).toEqual(["environment[0].variables (known after apply)"]);
  });
});

describe("changing delivery, models and batching", () => {
  it("replaces nothing and says what changes in plain words", () => {
    expect(delivery.stateful).toEqual([]);
    expect(delivery.counts.replace).toBe(0);
    const variables = ["ALLOWED_MODEL_IDS", "BATCH_MAX_DELAY_MS", "DEFAULT_MODEL_ID", "DIRECT_SEND"].map((v) => `environment[0].variables.${v}`);
    const updated = delivery.resources.filter((r) => r.type === "aws_lambda_function");
    // All four functions: send-query, message-control, stream-worker, outbound-relay.
    expect(updated.map((f) => [f.kind, f.attributes])).toEqual(Array(4).fill(["change", variables]));
    expect(renderMarkdown([delivery])).toContain(`- update in place \`${updated[0].address}\`: ${variables.map((v) => `\`${v}\``).join(", ")}`);
    const functions = "`llm-stream-queued-message-control`, `llm-stream-queued-outbound-relay`, `llm-stream-queued-send-query`, `llm-stream-queued-stream-worker`";
    const sorted = (line: string) => line.replace(/\(([A-Z_]+) on ([^)]+)\)/, (_, v, fns: string) => `(${v} on ${fns.split(", ").sort().join(", ")})`);
    expect(delivery.callouts.filter((c) => !c.startsWith("model access")).map(sorted)).toEqual([
      `directSend turns **on** in ${ENV}: the stream worker publishes answers straight to AppSync instead of through the outbound topic and queue (DIRECT_SEND on ${functions}).`,
      `the default model in ${ENV} changes from \`${fixture.models.default_model_id}\` to \`${fixture.models.allowed_model_ids[1]}\` (DEFAULT_MODEL_ID on ${functions}).`,
      `the allowed models in ${ENV} change: adds \`${NEW_MODEL}\` (ALLOWED_MODEL_IDS on ${functions}).`,
      `batching in ${ENV}: a chunk now waits at most 0 ms (one message per token), was ${fixture.batching.max_delay_ms} ms (BATCH_MAX_DELAY_MS on ${functions}).`,
    ]);
  });

  it("diffs the stream worker's policy statement by statement: the new model's ARN and the publishResponse grant", () => {
    const name = (p: { address: string }) => p.address.split(".")[1].split("_")[0];
    // Only the worker's grants change; AppSync's invoke policies are read at apply (they name the updated send-query and
    // message-control functions) but their planned statements are the same, so they are not listed.
    expect(delivery.policies.map(name)).toEqual(["stream-worker"]);
    const diff = delivery.policies[0].diff!;
    expect(diff.removed).toEqual([]);
    expect(diff.added).toEqual([
      expect.objectContaining({ sid: "PublishResponseOnly", action: ["appsync:GraphQL"], resource: [expect.stringMatching(/^arn:aws:appsync:us-east-1:111111111111:apis\/.+\/types\/Mutation\/fields\/publishResponse$/)] }),
    ]);
    expect(diff.changed).toHaveLength(1);
    const { before, after } = diff.changed[0];
    expect(after.sid).toBe("StreamAllowedModels");
    expect(after.resource!.filter((r) => !before.resource!.includes(r))).toEqual([`arn:aws:bedrock:us-east-1::foundation-model/${NEW_MODEL}`]);
    expect(before.resource!.filter((r) => !after.resource!.includes(r))).toEqual([]);

    const md = renderMarkdown([delivery]);
    expect(md).toContain(`+   resource    arn:aws:bedrock:us-east-1::foundation-model/${NEW_MODEL}`);
    expect(md).toContain("+   action      appsync:GraphQL");
    expect(delivery.callouts).toContainEqual(expect.stringMatching(new RegExp(`^model access in ${ENV}: \`aws_iam_role_policy\\.stream-worker_policy_[^\`]+\` now allows \`arn:aws:bedrock:us-east-1::foundation-model/${NEW_MODEL.replace(/[.]/g, "\\.")}\`\\.$`)));
  });
});

describe("a saved plan", () => {
  it("is refused by terraform apply once the state has moved on, which the deploy workflow relies on", async () => {
    // Another apply between plan and apply bumps the state's serial; terraform compares it with the plan's own record.
    const file = path.join(deliveryDir, STATE_FILE);
    const state = JSON.parse(readFileSync(file, "utf8")) as StateFile;
    writeState(file, { ...state, serial: state.serial + 1 });
    const r = await terraform(["apply", "-input=false", "-no-color", "plan.tfplan"], { cwd: deliveryDir, env: tfEnv, timeoutMs: 60_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Saved plan is stale/);
  }, 60_000);
});
