/**
 * The parts of Terraform's JSON plan (`terraform show -json <planfile>`, format 1.x) that the summary reads.
 * Reference: https://developer.hashicorp.com/terraform/internals/json-format#plan-representation
 */

export type ChangeAction = "no-op" | "create" | "read" | "update" | "delete" | "forget";

/** Attribute values as Terraform prints them: plain JSON. */
export type AttributeMap = Record<string, unknown>;

export interface Change {
  actions: ChangeAction[];
  before: AttributeMap | null;
  after: AttributeMap | null;
  /** Same shape as `after`, `true` where the value is known only after apply. */
  after_unknown?: unknown;
  before_sensitive?: unknown;
  after_sensitive?: unknown;
  /** Paths of the attributes that force a replacement, e.g. [["fifo_queue"], ["name"]]. */
  replace_paths?: (string | number)[][];
}

export interface ResourceChange {
  address: string;
  module_address?: string;
  mode: "managed" | "data";
  type: string;
  name: string;
  index?: string | number;
  change: Change;
  action_reason?: string;
}

/** Expressions of the configuration, for following a policy attribute to the document it is rendered from. */
export interface ConfigResource {
  address: string;
  mode: "managed" | "data";
  type: string;
  expressions?: Record<string, { references?: string[] } | unknown>;
}

export interface TerraformPlan {
  format_version: string;
  configuration?: { root_module?: { resources?: ConfigResource[] } };
  terraform_version?: string;
  resource_changes?: ResourceChange[];
  /** Changes made outside Terraform since the last apply (found by refresh). */
  resource_drift?: ResourceChange[];
  errored?: boolean;
}

/** Rejects files that are not a JSON plan (e.g. the binary plan file or `terraform show -json` of a state). */
export function asTerraformPlan(value: unknown, source: string): TerraformPlan {
  const v = value as Partial<TerraformPlan> | null;
  if (!v || typeof v !== "object" || typeof v.format_version !== "string") {
    throw new Error(`${source}: not a Terraform JSON plan (expected the output of \`terraform show -json <planfile>\`)`);
  }
  if (v.resource_changes !== undefined && !Array.isArray(v.resource_changes)) {
    throw new Error(`${source}: resource_changes must be a list`);
  }
  return v as TerraformPlan;
}

export type ChangeKind = "add" | "change" | "destroy" | "replace";

/** Terraform's own classification: a replacement is delete+create in either order. */
export function changeKind(actions: ChangeAction[]): ChangeKind | undefined {
  const a = actions.join(",");
  if (a === "create") return "add";
  if (a === "update") return "change";
  if (a === "delete") return "destroy";
  if (a === "delete,create" || a === "create,delete") return "replace";
  return undefined; // no-op, read, forget
}

/** Reads `obj.a[0].b` style paths through attribute maps and lists. */
export function valueAt(obj: unknown, path: (string | number)[]): unknown {
  let cur = obj;
  for (const key of path) {
    if (cur === null || cur === undefined || typeof cur !== "object") return undefined;
    cur = (cur as Record<string | number, unknown>)[key];
  }
  return cur;
}

/** True when `after_unknown` (or `after_sensitive`) marks the path, or any parent of it, as `true`. */
export function isMarked(marks: unknown, path: (string | number)[]): boolean {
  let cur = marks;
  for (const key of path) {
    if (cur === true) return true;
    if (cur === null || cur === undefined || typeof cur !== "object") return false;
    cur = (cur as Record<string | number, unknown>)[key];
  }
  return cur === true;
}

/** `["environment", 0, "variables"]` -> `environment[0].variables`, the way Terraform prints paths. */
export function formatPath(path: (string | number)[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}
