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

/** The grant without its Sid: two statements that grant the same thing are the same statement. */
const grantKey = (s: NormalizedStatement) => JSON.stringify({ ...s, sid: undefined });

export function diffPolicies(before: unknown, after: unknown): PolicyDiff {
  const b = parsePolicy(before) ?? [];
  const a = parsePolicy(after) ?? [];
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

/** Lines of one statement, one element per line so a diff block can prefix each. */
export function statementLines(s: NormalizedStatement): string[] {
  const lines = [`${s.effect}${s.sid ? ` (Sid ${s.sid})` : ""}`];
  for (const a of s.action ?? []) lines.push(`  action      ${a}`);
  for (const a of s.notAction ?? []) lines.push(`  not action  ${a}`);
  for (const r of s.resource ?? []) lines.push(`  resource    ${r}`);
  for (const r of s.notResource ?? []) lines.push(`  not resource ${r}`);
  if (s.principal) lines.push(`  principal   ${principalText(s.principal)}`);
  if (s.notPrincipal) lines.push(`  not principal ${principalText(s.notPrincipal)}`);
  for (const c of conditionLines(s.condition)) lines.push(`  condition   ${c}`);
  return lines;
}

/** A ```diff body: `+` added, `-` removed, unchanged lines of a changed statement kept for context. */
export function diffLines(d: PolicyDiff): string[] {
  const out: string[] = [];
  for (const s of d.removed) out.push(...statementLines(s).map((l) => `- ${l}`), "");
  for (const s of d.added) out.push(...statementLines(s).map((l) => `+ ${l}`), "");
  for (const { before, after } of d.changed) {
    const b = statementLines(before);
    const a = statementLines(after);
    const bs = new Set(b);
    const as = new Set(a);
    // The header line (effect + Sid) first, then the element lines in a stable order.
    out.push(`  ${a[0]}`);
    for (const l of b.slice(1)) if (!as.has(l)) out.push(`- ${l}`);
    for (const l of a.slice(1)) out.push(bs.has(l) ? `  ${l}` : `+ ${l}`);
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
