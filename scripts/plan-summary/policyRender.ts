/**
 * The "IAM and resource policy changes" section: one block per changed policy, except that a statement change repeated
 * in the resource policies of sibling resources, alike but for the ARNs they name (each queue's and topic's TLS-only
 * statement, say), is shown once, with a table of what differs. Identity and trust policies always keep their own
 * block: who may do what is read per role.
 */
import { ChangeKind } from "./planJson";
import { KNOWN_AFTER_APPLY, NormalizedStatement, PolicyDiff, diffLines } from "./policyDiff";
import type { PolicyChange } from "./summary";

export const KIND_WORDS: Record<ChangeKind, string> = { add: "create", change: "update in place", destroy: "destroy", replace: "replace" };

/** Resource policies of sibling resources: where the same statement repeats. */
const GROUPED_TYPES = new Set(["aws_sqs_queue_policy", "aws_sns_topic_policy", "aws_s3_bucket_policy"]);

/** ARNs: what differs between otherwise identical statements of sibling resources. */
const ARN = /arn:[a-z0-9-]+:[^\s,|`]*/g;

/** One statement's change within one policy change. */
interface Unit {
  change: PolicyChange;
  diff: PolicyDiff;
  lines: string[];
  key: string;
}

const title = (env: string, p: PolicyChange) => `${env}: \`${p.address}\` (${p.type}.${p.attribute}, ${KIND_WORDS[p.kind]})`;

function statementCounts(d: PolicyDiff): string {
  return [d.added.length && `${d.added.length} added`, d.removed.length && `${d.removed.length} removed`, d.changed.length && `${d.changed.length} changed`].filter(Boolean).join(", ");
}

const deferredNote = (p: PolicyChange) => (p.deferred ? ["", `_Rendered at apply; shown from its planned statements. \`${KNOWN_AFTER_APPLY}\` marks ARNs of resources this plan creates or replaces._`] : []);

function renderOne(env: string, p: PolicyChange, diff: PolicyDiff | undefined, shared: number): string[] {
  if (p.attachment) {
    const verb = p.kind === "destroy" ? "detaches" : p.kind === "replace" ? "re-attaches" : "attaches";
    return [`- ${title(env, p)}: ${verb} \`${p.attachment.policyArn}\` to role \`${p.attachment.role}\``];
  }
  if (!diff) {
    return [`- ${title(env, p)}: the new document is known only at apply, because it names resources this plan creates, replaces or updates (Terraform defers reading it); review it in the synthesized stack.`];
  }
  const also = shared ? `, and ${shared} shown once below with its siblings` : "";
  return [`<details><summary>${title(env, p)}: ${statementCounts(diff)} statement(s)${also}</summary>`, ...deferredNote(p), "", "```diff", ...diffLines(diff), "```", "", "</details>"];
}

/** A policy change's statement changes, one diff each. */
function unitsOf(change: PolicyChange): Unit[] {
  const d = change.diff!;
  const one = (diff: PolicyDiff): Unit => {
    const lines = diffLines(diff);
    return { change, diff, lines, key: [change.type, String(!!change.deferred), ...lines.map((l) => l.replace(ARN, "‹›"))].join("\n") };
  };
  const single = (kind: "added" | "removed") => (s: NormalizedStatement) => one({ added: [], removed: [], changed: [], [kind]: [s] });
  return [...d.removed.map(single("removed")), ...d.added.map(single("added")), ...d.changed.map((c) => one({ added: [], removed: [], changed: [c] }))];
}

/** The members' shared lines with `‹n›` where their ARNs differ, and each member's values of `‹1›`, `‹2›`, ... */
function mergeTokens(members: Unit[]): { lines: string[]; columns: string[][] } {
  const tokens = members.map((m) => m.lines.join("\n").match(ARN) ?? []);
  const columns: string[][] = [];
  const placeholder = new Map<string, number>();
  let j = 0;
  const lines = members[0].lines.map((line) =>
    line.replace(ARN, (first) => {
      const values = tokens.map((t) => t[j]);
      j++;
      if (values.every((v) => v === first)) return first;
      const key = JSON.stringify(values);
      if (!placeholder.has(key)) placeholder.set(key, columns.push(values));
      return `‹${placeholder.get(key)}›`;
    }),
  );
  return { lines, columns };
}

function renderShared(env: string, members: Unit[]): string[] {
  const first = members[0];
  const statement = [...first.diff.added, ...first.diff.removed, ...first.diff.changed.map((c) => c.after)][0];
  const verb = first.diff.added.length ? "added" : first.diff.removed.length ? "removed" : "changed";
  const what = statement.sid ? `statement \`${statement.sid}\`` : "a statement";
  const { lines, columns } = mergeTokens(members);
  const head = `<details><summary>${env}: ${what} ${verb} alike in ${members.length} ${first.change.type} policies, but for the ARNs they name</summary>`;
  const header = [`| policy |${columns.map((_, i) => ` ‹${i + 1}› |`).join("")}`, `| --- |${" --- |".repeat(columns.length)}`];
  const rows = members.map((m, i) => `| \`${m.change.address}\` (${KIND_WORDS[m.change.kind]}) |${columns.map((c) => ` \`${c[i]}\` |`).join("")}`);
  return [head, ...deferredNote(first.change), "", "```diff", ...lines, "```", "", ...header, ...rows, "", "</details>"];
}

/** Statement changes found alike in two or more grouped policies, by key, in order of first appearance. */
function sharedUnits(policies: PolicyChange[]): Map<string, Unit[]> {
  const byKey = new Map<string, Unit[]>();
  for (const p of policies) {
    if (!p.diff || p.attachment || !GROUPED_TYPES.has(p.type)) continue;
    for (const u of unitsOf(p)) byKey.set(u.key, [...(byKey.get(u.key) ?? []), u]);
  }
  return new Map([...byKey].filter(([, units]) => new Set(units.map((u) => u.change)).size > 1));
}

/** What is left of a policy's diff once its shared statement changes are shown with their siblings. */
function ownDiff(p: PolicyChange, shared: Map<string, Unit[]>): { diff: PolicyDiff | undefined; sharedCount: number } {
  if (!p.diff || !GROUPED_TYPES.has(p.type)) return { diff: p.diff, sharedCount: 0 };
  const own = unitsOf(p).filter((u) => !shared.has(u.key));
  const diff = { added: own.flatMap((u) => u.diff.added), removed: own.flatMap((u) => u.diff.removed), changed: own.flatMap((u) => u.diff.changed) };
  return { diff, sharedCount: unitsOf(p).length - own.length };
}

/** The section's lines for one environment's policy changes: each policy's own changes, then the shared ones. */
export function renderPolicyChanges(env: string, policies: PolicyChange[]): string[] {
  const shared = sharedUnits(policies);
  const own = policies.flatMap((p) => {
    const { diff, sharedCount } = ownDiff(p, shared);
    const empty = diff && diff.added.length + diff.removed.length + diff.changed.length === 0;
    return empty ? [] : renderOne(env, p, diff, sharedCount);
  });
  return [...own, ...[...shared.values()].flatMap((members) => renderShared(env, members))];
}
