/**
 * Statement-level diff of two IAM policy documents (identity, trust or resource policies).
 * Written here because no maintained npm package diffs IAM statements; the normalization follows the IAM JSON grammar.
 */

/** A statement with every list-or-string element turned into a sorted list, so equal grants compare equal. */
export interface NormalizedStatement {
  sid?: string;
  effect: "Allow" | "Deny";
  action?: string[];
  notAction?: string[];
  resource?: string[];
  notResource?: string[];
  /** `{ AWS: [...], Service: [...] }`, or `"*"`. */
  principal?: Record<string, string[]> | "*";
  notPrincipal?: Record<string, string[]> | "*";
  /** `{ operator: { key: [values] } }`. */
  condition?: Record<string, Record<string, string[]>>;
}

export interface StatementChange {
  kind: "added" | "removed" | "changed";
  /** The statement after the change (added, changed) or before it (removed). */
  statement: NormalizedStatement;
  /** For `changed`: the statement before. */
  previous?: NormalizedStatement;
}

export interface PolicyDiff {
  added: NormalizedStatement[];
  removed: NormalizedStatement[];
  /** Statements with the same Sid whose grant changed. */
  changed: { before: NormalizedStatement; after: NormalizedStatement }[];
}

const list = (v: unknown): string[] | undefined =>
  v === undefined || v === null ? undefined : (Array.isArray(v) ? v.map(String) : [String(v)]).sort();

function principals(v: unknown): Record<string, string[]> | "*" | undefined {
  if (v === undefined || v === null) return undefined;
  if (v === "*") return "*";
  if (typeof v !== "object") return { AWS: [String(v)] };
  const out: Record<string, string[]> = {};
  for (const k of Object.keys(v as object).sort()) out[k] = list((v as Record<string, unknown>)[k]) ?? [];
  return out;
}

function conditions(v: unknown): NormalizedStatement["condition"] {
  if (!v || typeof v !== "object") return undefined;
  const out: Record<string, Record<string, string[]>> = {};
  for (const op of Object.keys(v as object).sort()) {
    const inner = (v as Record<string, Record<string, unknown>>)[op] ?? {};
    out[op] = {};
    for (const key of Object.keys(inner).sort()) out[op][key] = list(inner[key]) ?? [];
  }
  return out;
}

function normalize(raw: Record<string, unknown>): NormalizedStatement {
  const s: NormalizedStatement = { effect: raw.Effect === "Deny" ? "Deny" : "Allow" };
  if (typeof raw.Sid === "string" && raw.Sid) s.sid = raw.Sid;
  const fields: [keyof NormalizedStatement, unknown][] = [
    ["action", list(raw.Action)],
    ["notAction", list(raw.NotAction)],
    ["resource", list(raw.Resource)],
    ["notResource", list(raw.NotResource)],
    ["principal", principals(raw.Principal)],
    ["notPrincipal", principals(raw.NotPrincipal)],
    ["condition", conditions(raw.Condition)],
  ];
  for (const [k, v] of fields) if (v !== undefined) (s as unknown as Record<string, unknown>)[k] = v;
  return s;
}

/** Parses a policy JSON string (or object); undefined for null/empty. Throws on text that is not a policy. */
export function parsePolicy(policy: unknown): NormalizedStatement[] | undefined {
  if (policy === null || policy === undefined || policy === "") return undefined;
  const doc = typeof policy === "string" ? (JSON.parse(policy) as unknown) : policy;
  const statements = (doc as { Statement?: unknown })?.Statement;
  if (statements === undefined) return [];
  return (Array.isArray(statements) ? statements : [statements]).map((s) => normalize(s as Record<string, unknown>));
}

/** Stands for a value Terraform knows only after apply (an ARN of a resource this plan creates or replaces). */
export const KNOWN_AFTER_APPLY = "(known after apply)";

type DataStatement = Record<string, unknown>;

/**
 * A statement of an aws_iam_policy_document data source as planned (its `after` and `after_unknown`), when its
 * rendered JSON is deferred to apply: the statement's known parts still say what is granted.
 */
export function fromPolicyDocumentStatement(s: DataStatement, unknown: unknown): NormalizedStatement {
  const u = (unknown ?? {}) as Record<string, unknown>;
  const values = (v: unknown, marks: unknown): string[] | undefined => {
    if (marks === true) return [KNOWN_AFTER_APPLY];
    if (!Array.isArray(v) || v.length === 0) return undefined;
    return v.map((x, i) => ((Array.isArray(marks) && marks[i] === true) || x === null ? KNOWN_AFTER_APPLY : String(x))).sort();
  };
  const principalsOf = (v: unknown, marks: unknown): NormalizedStatement["principal"] => {
    if (!Array.isArray(v) || v.length === 0) return undefined;
    const out: Record<string, string[]> = {};
    v.forEach((p: { type: string; identifiers: unknown }, i) => {
      if (p.type === "*") return;
      const ids = values(p.identifiers, Array.isArray(marks) ? (marks[i] as Record<string, unknown>)?.identifiers : undefined) ?? [];
      out[p.type] = [...(out[p.type] ?? []), ...ids].sort();
    });
    return Object.keys(out).length ? Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b))) : "*";
  };
  const st: NormalizedStatement = { effect: s.effect === "Deny" ? "Deny" : "Allow" };
  if (typeof s.sid === "string" && s.sid) st.sid = s.sid;
  const fields: [keyof NormalizedStatement, unknown][] = [
    ["action", values(s.actions, u.actions)],
    ["notAction", values(s.not_actions, u.not_actions)],
    ["resource", values(s.resources, u.resources)],
    ["notResource", values(s.not_resources, u.not_resources)],
    ["principal", principalsOf(s.principals, u.principals)],
    ["notPrincipal", principalsOf(s.not_principals, u.not_principals)],
  ];
  for (const [k, v] of fields) if (v !== undefined) (st as unknown as Record<string, unknown>)[k] = v;
  if (Array.isArray(s.condition) && s.condition.length) {
    const c: Record<string, Record<string, string[]>> = {};
    s.condition.forEach((x: { test: string; variable: string; values: unknown }, i) => {
      const marks = Array.isArray(u.condition) ? (u.condition[i] as Record<string, unknown>)?.values : undefined;
      c[x.test] = { ...(c[x.test] ?? {}), [x.variable]: values(x.values, marks) ?? [] };
    });
    st.condition = Object.fromEntries(Object.entries(c).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))]));
  }
  return st;
}

/** The grant without its Sid: two statements that grant the same thing are the same statement. */
const grantKey = (s: NormalizedStatement) => JSON.stringify({ ...s, sid: undefined });

export function diffPolicies(before: unknown, after: unknown): PolicyDiff {
  return diffStatements(parsePolicy(before) ?? [], parsePolicy(after) ?? []);
}

export function diffStatements(b: NormalizedStatement[], a: NormalizedStatement[]): PolicyDiff {
  const beforeKeys = new Map<string, number>();
  for (const s of b) beforeKeys.set(grantKey(s), (beforeKeys.get(grantKey(s)) ?? 0) + 1);
  const added: NormalizedStatement[] = [];
  for (const s of a) {
    const n = beforeKeys.get(grantKey(s)) ?? 0;
    if (n > 0) beforeKeys.set(grantKey(s), n - 1);
    else added.push(s);
  }
  const removed = b.filter((s) => {
    const n = beforeKeys.get(grantKey(s)) ?? 0;
    if (n > 0) {
      beforeKeys.set(grantKey(s), n - 1);
      return true;
    }
    return false;
  });
  // Same Sid on both sides: show it as one changed statement, which reads better than a removal plus an addition.
  const changed: PolicyDiff["changed"] = [];
  for (const after of [...added]) {
    if (!after.sid) continue;
    const i = removed.findIndex((r) => r.sid === after.sid);
    if (i < 0) continue;
    changed.push({ before: removed[i], after });
    removed.splice(i, 1);
    added.splice(added.indexOf(after), 1);
  }
  return { added, removed, changed };
}

export const isEmptyDiff = (d: PolicyDiff) => d.added.length + d.removed.length + d.changed.length === 0;

function principalText(p: NormalizedStatement["principal"]): string {
  if (p === "*") return "*";
  return Object.entries(p ?? {})
    .map(([k, v]) => `${k}: ${v.join(", ")}`)
    .join("; ");
}

function conditionLines(c: NormalizedStatement["condition"]): string[] {
  return Object.entries(c ?? {}).flatMap(([op, kv]) => Object.entries(kv).map(([k, v]) => `${op} ${k} = ${v.join(" | ")}`));
}

/** One element per line, `[label, value]`, in a fixed order of labels so a changed statement can be merged by label. */
function statementElements(s: NormalizedStatement): [string, string][] {
  const out: [string, string][] = [];
  for (const a of s.action ?? []) out.push(["action", a]);
  for (const a of s.notAction ?? []) out.push(["not action", a]);
  for (const r of s.resource ?? []) out.push(["resource", r]);
  for (const r of s.notResource ?? []) out.push(["not resource", r]);
  if (s.principal) out.push(["principal", principalText(s.principal)]);
  if (s.notPrincipal) out.push(["not principal", principalText(s.notPrincipal)]);
  for (const c of conditionLines(s.condition)) out.push(["condition", c]);
  return out;
}

const LABELS = ["action", "not action", "resource", "not resource", "principal", "not principal", "condition"];
const elementLine = ([label, value]: [string, string]) => `  ${label.padEnd(12)}${value}`;
const headerLine = (s: NormalizedStatement) => `${s.effect}${s.sid ? ` (Sid ${s.sid})` : ""}`;

/** Lines of one statement, one element per line so a diff block can prefix each. */
export function statementLines(s: NormalizedStatement): string[] {
  return [headerLine(s), ...statementElements(s).map(elementLine)];
}

/** A ```diff body: `+` added, `-` removed, unchanged elements of a changed statement kept for context. */
export function diffLines(d: PolicyDiff): string[] {
  const out: string[] = [];
  for (const s of d.removed) out.push(...statementLines(s).map((l) => `- ${l}`), "");
  for (const s of d.added) out.push(...statementLines(s).map((l) => `+ ${l}`), "");
  for (const { before, after } of d.changed) {
    const b = statementElements(before).map(elementLine);
    const a = statementElements(after).map(elementLine);
    out.push(`  ${headerLine(after)}`);
    // Label by label: what was removed, then what stays or is new, so the changed element sits next to its peers.
    for (const label of LABELS) {
      const has = (l: string) => l.startsWith(`  ${label.padEnd(12)}`);
      for (const l of b.filter(has)) if (!a.includes(l)) out.push(`- ${l}`);
      for (const l of a.filter(has)) out.push(b.includes(l) ? `  ${l}` : `+ ${l}`);
    }
    out.push("");
  }
  while (out.length && out[out.length - 1] === "") out.pop();
  return out;
}

/** Resources an Allow statement grants for actions starting with `actionPrefix` (e.g. `bedrock:Invoke`): model access call-outs. */
export function resourcesGranting(statements: NormalizedStatement[], actionPrefix: string): string[] {
  return statements
    .filter((s) => s.effect === "Allow" && (s.action ?? []).some((a) => a.toLowerCase().startsWith(actionPrefix.toLowerCase())))
    .flatMap((s) => s.resource ?? []);
}
