/**
 * Which attributes an in-place update changes, as Terraform prints their paths (`environment[0].variables.DIRECT_SEND`),
 * so every update in the summary says what it is about. Paths only, never values: some are sensitive.
 */
import { Change, formatPath } from "./planJson";

type Path = (string | number)[];

const UNKNOWN = " (known after apply)";

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** True when `marks` (after_unknown) has a `true` anywhere below. */
function anyUnknown(marks: unknown): boolean {
  if (marks === true) return true;
  if (Array.isArray(marks)) return marks.some(anyUnknown);
  return isObject(marks) && Object.values(marks).some(anyUnknown);
}

/** The deepest paths where `before` and `after` differ; values known only after apply are marked so. */
function walk(before: unknown, after: unknown, unknown: unknown, path: Path, out: string[]): void {
  if (unknown === true) {
    out.push(`${formatPath(path)}${UNKNOWN}`);
    return;
  }
  if (same(before, after) && !anyUnknown(unknown)) return;
  const marks = (key: string | number) => (isObject(unknown) || Array.isArray(unknown) ? (unknown as Record<string | number, unknown>)[key] : undefined);
  if (isObject(before) && isObject(after)) {
    const keys = new Set([...Object.keys(before), ...Object.keys(after), ...(isObject(unknown) ? Object.keys(unknown) : [])]);
    for (const key of [...keys].sort()) walk(before[key], after[key], marks(key), [...path, key], out);
  } else if (Array.isArray(before) && Array.isArray(after) && before.length === after.length && path.length) {
    before.forEach((b, i) => walk(b, after[i], marks(i), [...path, i], out));
  } else if (path.length) {
    out.push(formatPath(path));
  }
}

/** The attribute paths an update changes, in attribute order, e.g. `["kms_key_id", "policy (known after apply)"]`. */
export function changedAttributes(change: Change): string[] {
  const out: string[] = [];
  walk(change.before ?? {}, change.after ?? {}, change.after_unknown, [], out);
  return out;
}

/** `\`a\`, \`b\` and 3 more`: the first `limit` paths in code spans. */
export function attributeList(paths: string[], limit = 6): string {
  const shown = paths.slice(0, limit).map((p) => (p.endsWith(UNKNOWN) ? `\`${p.slice(0, -UNKNOWN.length)}\`${UNKNOWN}` : `\`${p}\``));
  return paths.length > limit ? `${shown.join(", ")} and ${paths.length - limit} more` : shown.join(", ");
}
