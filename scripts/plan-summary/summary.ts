/**
 * Turns Terraform JSON plans into the Markdown a reviewer reads in the pull request: counts per environment,
 * warnings for stateful resources that would lose data, IAM statement diffs, and the platform settings that change.
 * Plain functions over the parsed plan so tests call them directly; scripts/planSummary.ts is the CLI.
 */
import { RUNTIME_VARIABLE_NAMES } from "../../contracts/runtimeSettings";
import { ChangeKind, ResourceChange, TerraformPlan, changeKind, formatPath, isMarked, valueAt } from "./planJson";
import { attributeList, changedAttributes } from "./attributeChanges";
import { KNOWN_AFTER_APPLY, NormalizedStatement, PolicyDiff, diffPolicies, diffStatements, fromPolicyDocumentStatement, isEmptyDiff, parsePolicy, resourcesGranting } from "./policyDiff";
import { KIND_WORDS, renderPolicyChanges } from "./policyRender";

/** Resource types whose destruction loses data (or identities, or the ability to decrypt), with what is lost. */
export const STATEFUL_TYPES: Record<string, { label: string; loss: string }> = {
  aws_dynamodb_table: { label: "DynamoDB table", loss: "its items are deleted (restore only from a backup)" },
  aws_sqs_queue: { label: "SQS queue", loss: "messages waiting in it are lost" },
  aws_sns_topic: { label: "SNS topic", loss: "its subscriptions are recreated and publishers need the new ARN" },
  aws_cognito_user_pool: { label: "Cognito user pool", loss: "every user, password and MFA setting is lost" },
  aws_s3_bucket: { label: "S3 bucket", loss: "its objects (and Terraform state, for the state bucket) are lost" },
  aws_kms_key: { label: "KMS key", loss: "data encrypted under it becomes unreadable once the deletion window ends" },
};

/** Attributes that hold a policy document, per resource type. */
export const POLICY_ATTRIBUTES: Record<string, string> = {
  aws_iam_role_policy: "policy",
  aws_iam_policy: "policy",
  aws_iam_role: "assume_role_policy",
  aws_iam_user_policy: "policy",
  aws_iam_group_policy: "policy",
  aws_sqs_queue_policy: "policy",
  aws_sns_topic_policy: "policy",
  aws_s3_bucket_policy: "policy",
  aws_kms_key: "policy",
};

export interface ResourceLine {
  address: string;
  type: string;
  kind: ChangeKind;
  /** Why Terraform replaces or destroys it: attribute paths (`replace_paths`) or Terraform's action reason. */
  reasons: string[];
  /** For an update in place: the paths of the attributes it changes (changedAttributes). */
  attributes: string[];
}

export interface PolicyChange {
  address: string;
  type: string;
  attribute: string;
  kind: ChangeKind;
  /** Undefined when the new document is known only after apply and cannot be traced to its statements. */
  diff?: PolicyDiff;
  /** The new document is rendered at apply; the diff comes from its aws_iam_policy_document's planned statements. */
  deferred?: boolean;
  /** Managed policy attached or detached (aws_iam_role_policy_attachment). */
  attachment?: { role: string; policyArn: string };
}

export interface EnvironmentSummary {
  env: string;
  counts: Record<ChangeKind, number>;
  resources: ResourceLine[];
  stateful: ResourceLine[];
  policies: PolicyChange[];
  /** Platform behaviour that changes, in plain words. */
  callouts: string[];
  /** Resources changed outside Terraform since the last apply. */
  drift: { address: string; kind: ChangeKind | "changed" }[];
}

const ACTION_REASONS: Record<string, string> = {
  replace_because_tainted: "the resource is tainted",
  replace_by_request: "replacement was requested (-replace)",
  replace_by_triggers: "a replace_triggered_by reference changed",
  replace_because_cannot_update: "the provider cannot update it in place",
  delete_because_no_resource_config: "it was removed from the configuration",
  delete_because_no_module: "its module was removed",
  delete_because_wrong_repetition: "its count/for_each changed",
  delete_because_count_index: "its count index is gone",
  delete_because_each_key: "its for_each key is gone",
  delete_because_no_move_target: "its moved block has no target",
};

function reasonsOf(rc: ResourceChange): string[] {
  // Sorted: the provider's order can vary between runs, and the PR comment should not churn.
  const paths = (rc.change.replace_paths ?? []).map((p) => `\`${formatPath(p)}\``).sort();
  if (paths.length) return paths;
  return rc.action_reason && ACTION_REASONS[rc.action_reason] ? [ACTION_REASONS[rc.action_reason]] : [];
}

const envVarPath = (name: string) => ["environment", 0, "variables", name];

interface SettingValue {
  functionName: string;
  before?: string;
  after: string;
  isNew: boolean;
}

/** The Lambda settings reviewers must notice, each with its plain-word sentence. */
const WATCHED_SETTINGS: { variable: string; describe: (env: string, before: string | undefined, after: string) => string | undefined }[] = [
  {
    variable: RUNTIME_VARIABLE_NAMES.directSend,
    describe: (env, b, a) => {
      const on = a === "true";
      if (b === undefined) return `directSend starts **${on ? "on" : "off"}** in ${env}`;
      if (b === a) return undefined;
      return on
        ? `directSend turns **on** in ${env}: the stream worker publishes answers straight to AppSync instead of through the outbound topic and queue`
        : `directSend turns **off** in ${env}: answers go through the outbound topic and queue again`;
    },
  },
  {
    variable: RUNTIME_VARIABLE_NAMES.fallbackToQueue,
    describe: (env, b, a) => {
      if (b === undefined || b === a) return undefined;
      return a === "true"
        ? `queue fallback turns **on** in ${env}: direct publishes that still fail after retries go to the outbound queue`
        : `queue fallback turns **off** in ${env}: direct publishes that still fail after retries are no longer handed to the outbound queue`;
    },
  },
  {
    variable: RUNTIME_VARIABLE_NAMES.defaultModelId,
    describe: (env, b, a) => (b === undefined ? `the default model in ${env} is \`${a}\`` : b === a ? undefined : `the default model in ${env} changes from \`${b}\` to \`${a}\``),
  },
  {
    variable: RUNTIME_VARIABLE_NAMES.allowedModelIds,
    describe: (env, b, a) => {
      const after = a.split(",").filter(Boolean);
      if (b === undefined) return `the allowed models in ${env} are ${after.map((m) => `\`${m}\``).join(", ")}`;
      const before = b.split(",").filter(Boolean);
      const added = after.filter((m) => !before.includes(m));
      const removed = before.filter((m) => !after.includes(m));
      if (!added.length && !removed.length) return undefined;
      const parts = [added.length ? `adds ${added.map((m) => `\`${m}\``).join(", ")}` : "", removed.length ? `removes ${removed.map((m) => `\`${m}\``).join(", ")}` : ""];
      return `the allowed models in ${env} change: ${parts.filter(Boolean).join("; ")}`;
    },
  },
  {
    variable: RUNTIME_VARIABLE_NAMES.batchMaxDelayMs,
    describe: (env, b, a) => {
      const words = (v: string) => (v === "0" ? "0 ms (one message per token)" : `${v} ms`);
      if (b === undefined) return `batching in ${env}: a chunk waits at most ${words(a)}`;
      return b === a ? undefined : `batching in ${env}: a chunk now waits at most ${words(a)}, was ${words(b)}`;
    },
  },
  {
    variable: RUNTIME_VARIABLE_NAMES.batchMode,
    describe: (env, b, a) => {
      const words = (v: string) => (v === "reading_pace" ? "**reading_pace** (windows grow while the text is ahead of a reader)" : `**${v}** (every window max_delay_ms)`);
      if (b === undefined) return `batching in ${env}: mode ${words(a)}`;
      return b === a ? undefined : `batching in ${env}: the mode changes to ${words(a)}, was ${b}`;
    },
  },
  {
    variable: RUNTIME_VARIABLE_NAMES.batchMaxWindowMs,
    describe: (env, b, a) => (b === undefined || b === a ? undefined : `batching in ${env}: a reading-pace window now lasts at most ${a} ms, was ${b} ms`),
  },
  {
    variable: RUNTIME_VARIABLE_NAMES.batchReadingTokensPerSecond,
    describe: (env, b, a) => (b === undefined || b === a ? undefined : `batching in ${env}: the reading pace is now ${a} tokens/s, was ${b}`),
  },
  {
    variable: RUNTIME_VARIABLE_NAMES.batchMaxChars,
    describe: (env, b, a) => (b === undefined ? `batching in ${env}: a chunk holds at most ${a} characters` : b === a ? undefined : `batching in ${env}: a chunk now holds at most ${a} characters, was ${b}`),
  },
];

/**
 * A literal value from the configuration, when the plan has it only as "known after apply" because the map holding it
 * also has references (CDKTF writes JSON syntax, whose configuration keeps each literal as `constant_value`).
 */
function configuredLiteral(plan: TerraformPlan, address: string, path: (string | number)[]): string | undefined {
  const config = plan.configuration?.root_module?.resources?.find((r) => r.address === address);
  const [block, index, attr, key] = path;
  const expression = valueAt(config?.expressions, [block, index, attr]) as { constant_value?: unknown } | undefined;
  const value = valueAt(expression?.constant_value, [key]);
  return typeof value === "string" && !value.includes("${") ? value : undefined;
}

function settingValues(plan: TerraformPlan, rc: ResourceChange, variable: string): SettingValue | undefined {
  const { before, after, after_unknown, after_sensitive } = rc.change;
  if (!after) return undefined; // function destroyed: nothing runs with the setting any more
  const path = envVarPath(variable);
  if (isMarked(after_sensitive, path)) return undefined;
  // Known only at apply: the configured literal when there is one, else nothing honest to say.
  const a = isMarked(after_unknown, path) ? configuredLiteral(plan, rc.address, path) : valueAt(after, path);
  if (a === undefined || a === null) return undefined;
  const b = before ? valueAt(before, path) : undefined;
  return {
    functionName: String(after.function_name ?? rc.address),
    before: b === undefined || b === null ? undefined : String(b),
    after: String(a),
    isNew: rc.change.actions.join(",") === "create",
  };
}

function settingCallouts(env: string, plan: TerraformPlan, lambdas: ResourceChange[]): string[] {
  const out: string[] = [];
  for (const setting of WATCHED_SETTINGS) {
    // One sentence per distinct (before, after), naming the functions it applies to.
    const groups = new Map<string, { text: string; functions: string[] }>();
    for (const rc of lambdas) {
      const v = settingValues(plan, rc, setting.variable);
      if (!v) continue;
      const text = setting.describe(env, v.isNew ? undefined : v.before, v.after);
      if (!text) continue;
      const g = groups.get(text) ?? { text, functions: [] };
      g.functions.push(v.isNew ? `\`${v.functionName}\` (new)` : `\`${v.functionName}\``);
      groups.set(text, g);
    }
    for (const g of groups.values()) out.push(`${g.text} (${setting.variable} on ${g.functions.join(", ")}).`);
  }
  return out;
}

function modelAccessCallouts(env: string, plan: TerraformPlan, rcs: ResourceChange[]): string[] {
  const out: string[] = [];
  for (const rc of rcs) {
    const attr = POLICY_ATTRIBUTES[rc.type];
    if (!attr) continue;
    const granted = (statements: NormalizedStatement[] | undefined) => new Set(resourcesGranting(statements ?? [], "bedrock:Invoke").filter((r) => r !== KNOWN_AFTER_APPLY));
    const parsed = (doc: unknown) => {
      try {
        return parsePolicy(doc);
      } catch {
        return undefined;
      }
    };
    const before = granted(rc.change.before ? parsed(rc.change.before[attr]) : undefined);
    const after = granted(
      !rc.change.after ? undefined : isMarked(rc.change.after_unknown, [attr]) ? deferredStatements(plan, rc, attr) : parsed(rc.change.after[attr]),
    );
    const added = [...after].filter((r) => !before.has(r));
    const removed = [...before].filter((r) => !after.has(r));
    if (!added.length && !removed.length) continue;
    const parts = [added.length ? `now allows ${added.map((r) => `\`${r}\``).join(", ")}` : "", removed.length ? `no longer allows ${removed.map((r) => `\`${r}\``).join(", ")}` : ""];
    out.push(`model access in ${env}: \`${rc.address}\` ${parts.filter(Boolean).join("; ")}.`);
  }
  return out;
}

/**
 * When a policy attribute is unknown because Terraform defers reading its aws_iam_policy_document (the document
 * names something this plan changes), the data source's planned statements still show the grant.
 */
function deferredStatements(plan: TerraformPlan, rc: ResourceChange, attr: string): NormalizedStatement[] | undefined {
  const config = plan.configuration?.root_module?.resources?.find((r) => r.address === rc.address);
  const refs = (config?.expressions?.[attr] as { references?: string[] } | undefined)?.references ?? [];
  const ref = refs.find((r) => /^data\.aws_iam_policy_document\.[^.]+\.json$/.test(r));
  if (!ref || refs.filter((r) => r.endsWith(".json")).length !== 1) return undefined;
  const data = plan.resource_changes?.find((d) => d.mode === "data" && d.address === ref.slice(0, -".json".length));
  const after = data?.change.after;
  // Merged or overridden documents cannot be rebuilt from the statements alone.
  if (!after || !Array.isArray(after.statement) || after.source_policy_documents || after.override_policy_documents || after.source_json || after.override_json) return undefined;
  const unknown = (data.change.after_unknown as { statement?: unknown[] } | undefined)?.statement;
  return (after.statement as Record<string, unknown>[]).map((s, i) => fromPolicyDocumentStatement(s, unknown?.[i]));
}

function policyChangeOf(plan: TerraformPlan, rc: ResourceChange, kind: ChangeKind): PolicyChange | undefined {
  if (rc.type === "aws_iam_role_policy_attachment" && kind !== "change") {
    const v = (rc.change.after ?? rc.change.before ?? {}) as Record<string, unknown>;
    return { address: rc.address, type: rc.type, attribute: "policy_arn", kind, attachment: { role: String(v.role ?? "?"), policyArn: String(v.policy_arn ?? "(known after apply)") } };
  }
  const attr = POLICY_ATTRIBUTES[rc.type];
  if (!attr) return undefined;
  const before = kind === "add" ? undefined : rc.change.before?.[attr];
  if (rc.change.after && isMarked(rc.change.after_unknown, [attr])) {
    const statements = deferredStatements(plan, rc, attr);
    if (!statements) return { address: rc.address, type: rc.type, attribute: attr, kind };
    try {
      const diff = diffStatements(parsePolicy(before) ?? [], statements);
      return isEmptyDiff(diff) ? undefined : { address: rc.address, type: rc.type, attribute: attr, kind, diff, deferred: true };
    } catch {
      return { address: rc.address, type: rc.type, attribute: attr, kind };
    }
  }
  const after = kind === "destroy" ? undefined : rc.change.after?.[attr];
  let diff: PolicyDiff;
  try {
    diff = diffPolicies(before, after);
  } catch {
    return undefined; // not JSON (never for these attributes); leave it to the full plan
  }
  if (isEmptyDiff(diff)) return undefined;
  return { address: rc.address, type: rc.type, attribute: attr, kind, diff };
}

/** Summarizes one environment's plan. */
export function summarizePlan(env: string, plan: TerraformPlan): EnvironmentSummary {
  const counts: Record<ChangeKind, number> = { add: 0, change: 0, destroy: 0, replace: 0 };
  const resources: ResourceLine[] = [];
  const policies: PolicyChange[] = [];
  const changed: ResourceChange[] = [];
  const bedrock: string[] = [];
  for (const rc of plan.resource_changes ?? []) {
    if (rc.mode !== "managed") continue;
    const kind = changeKind(rc.change.actions);
    if (!kind) continue;
    counts[kind]++;
    changed.push(rc);
    resources.push({ address: rc.address, type: rc.type, kind, reasons: kind === "add" || kind === "change" ? [] : reasonsOf(rc), attributes: kind === "change" ? changedAttributes(rc.change) : [] });
    const p = policyChangeOf(plan, rc, kind);
    if (p) policies.push(p);
    if (rc.type.startsWith("aws_bedrock")) bedrock.push(`a Bedrock resource changes in ${env}: \`${rc.address}\` (${kind}).`);
  }
  const lambdas = changed.filter((rc) => rc.type === "aws_lambda_function");
  const drift = (plan.resource_drift ?? [])
    .filter((rc) => rc.mode === "managed")
    .map((rc) => ({ address: rc.address, kind: changeKind(rc.change.actions) ?? ("changed" as const) }));
  return {
    env,
    counts,
    resources,
    stateful: resources.filter((r) => STATEFUL_TYPES[r.type] && (r.kind === "destroy" || r.kind === "replace")),
    policies,
    callouts: [...settingCallouts(env, plan, lambdas), ...modelAccessCallouts(env, plan, changed), ...bedrock],
    drift,
  };
}

/** The hidden line the workflow finds to update its one comment per environment in place. */
export function commentMarker(envs: string[]): string {
  return `<!-- plan-summary:${envs.join(",")} -->`;
}

export interface RenderOptions {
  /** GitHub rejects comments over 65,536 characters; the full plan stays in the artifact. */
  maxChars?: number;
}

function countsTable(summaries: EnvironmentSummary[]): string[] {
  const lines = ["| Environment | Add | Change | Destroy | Replace |", "| --- | ---: | ---: | ---: | ---: |"];
  for (const s of summaries) lines.push(`| ${s.env} | ${s.counts.add} | ${s.counts.change} | ${s.counts.destroy} | ${s.counts.replace} |`);
  lines.push("", "_Replace = destroy then create (Terraform counts it once under add and once under destroy)._", "");
  for (const s of summaries) {
    if (s.resources.length === 0 && s.drift.length === 0) lines.push(`**${s.env}: no changes.** The infrastructure matches the configuration.`, "");
  }
  return lines;
}

function statefulWarning(summaries: EnvironmentSummary[]): string[] {
  const stateful = summaries.flatMap((s) => s.stateful.map((r) => ({ env: s.env, r })));
  if (!stateful.length) return [];
  const lines = ["> [!WARNING]", "> **Stateful resources will be destroyed or replaced.**"];
  for (const { env, r } of stateful) {
    const t = STATEFUL_TYPES[r.type];
    const why = r.reasons.length ? `, forced by ${r.reasons.join(", ")}` : "";
    lines.push(`> - **${env}**: ${KIND_WORDS[r.kind]} \`${r.address}\` (${t.label}${why}): ${t.loss}.`);
  }
  return [...lines, ""];
}

/** A section with a heading, or nothing when it has no lines. */
const section = (heading: string, body: string[]) => (body.length ? [`### ${heading}`, "", ...body, ""] : []);

function resourceLine(r: ResourceLine): string {
  if (r.kind === "change") return `- ${KIND_WORDS[r.kind]} \`${r.address}\`${r.attributes.length ? `: ${attributeList(r.attributes)}` : ""}`;
  return `- ${KIND_WORDS[r.kind]} \`${r.address}\`${r.reasons.length ? ` (${r.reasons.join(", ")})` : ""}`;
}

/** Every resource change per environment, each update with the attributes it changes. */
function resourceDetails(summaries: EnvironmentSummary[]): string[] {
  return summaries
    .filter((s) => s.resources.length)
    .flatMap((s) => [`<details><summary>${s.env}: all ${s.resources.length} resource changes</summary>`, "", ...s.resources.map(resourceLine), "", "</details>", ""]);
}

/** Markdown for one PR comment covering the given environments. */
export function renderMarkdown(summaries: EnvironmentSummary[], options: RenderOptions = {}): string {
  const maxChars = options.maxChars ?? 60000;
  const envs = summaries.map((s) => s.env);
  const callouts = summaries.flatMap((s) => s.callouts).map((c) => `- ${c.charAt(0).toUpperCase()}${c.slice(1)}`);
  const drift = summaries.flatMap((s) => s.drift.map((d) => `- ${s.env}: \`${d.address}\` (${d.kind})`));
  const head = [
    commentMarker(envs),
    `## Terraform plan: ${envs.join(", ")}`,
    "",
    ...countsTable(summaries),
    ...statefulWarning(summaries),
    ...section("Platform behaviour", callouts),
    ...section("IAM and resource policy changes", summaries.flatMap((s) => renderPolicyChanges(s.env, s.policies))),
    ...section("Drift: changed outside Terraform since the last apply", drift),
  ].join("\n");
  const full = `${head}\n${resourceDetails(summaries).join("\n")}`.trimEnd() + "\n";
  if (full.length <= maxChars) return full;
  const note = "\n_Summary shortened to fit a comment; the full plan is in the workflow's artifacts._\n";
  return head.length + note.length <= maxChars ? `${head}${note}` : `${head.slice(0, maxChars - note.length)}${note}`;
}

/** The environment a plan file belongs to: `cdktf.out/plans/prod.json` -> `prod` (also `prod.plan.json`, `prod.tfplan.json`). */
export function environmentFromFileName(file: string): string {
  const base = file.split(/[\\/]/).pop() ?? file;
  return base.replace(/\.json$/, "").replace(/\.(tf)?plan$/, "");
}
