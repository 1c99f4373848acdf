/**
 * An offline Terraform state for a stack that was never applied, so an offline plan of a changed config shows updates
 * and replacements instead of creates. `npm run plan -- <env> --offline --base <ref>` and the plan tests use it.
 *
 * Why this way: offline there is no apply (every create would call AWS), and `terraform test` mock providers keep
 * their state in memory. A state file is plain JSON (format version 4), so we write one from a plan's `after` values,
 * filling what was "known after apply" (ids, ARNs, computed blocks) with type-correct stand-ins taken from the
 * provider schema, and values that are plain references to other resources (`${aws_sqs_queue.q.arn}`) resolved
 * against those stand-ins. Policy documents are rendered by Terraform itself, so we plan the same config against the
 * state and fold the result back in until that plan is empty: then the state is what an apply of
 * the config would leave, as far as the plan can tell, and any plan of another config against it shows exactly the
 * difference between the two configs.
 */
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import type { ConfigResource, ResourceChange, TerraformPlan } from "./plan-summary/planJson";
import { OFFLINE_STATE_FILE, planToJson, terraformOk } from "./terraform";

type Json = any;

interface SchemaBlock {
  attributes?: Record<string, { type?: Json; nested_type?: Json }>;
  block_types?: Record<string, { nesting_mode: string; block: SchemaBlock }>;
}

export interface ProviderSchemas {
  provider_schemas: Record<string, { resource_schemas: Record<string, { version: number; block: SchemaBlock }> }>;
}

export interface StateFile {
  version: 4;
  terraform_version: string;
  serial: number;
  lineage: string;
  outputs: Record<string, unknown>;
  resources: {
    mode: "managed";
    type: string;
    name: string;
    provider: string;
    instances: { index_key?: string | number; schema_version: number; attributes: Json; sensitive_attributes: unknown[] }[];
  }[];
}

const PROVIDER = "registry.terraform.io/hashicorp/aws";

/** Where the stand-ins' ARNs point: the stack's account and region. */
export interface StandInContext {
  accountId: string;
  region: string;
}

/** A stand-in for a value known only after apply, by type and, for strings, by what the attribute name suggests. */
function standIn(type: Json, attr: string, address: string, accountId: string, region: string): Json {
  if (type === "string") {
    // Identifiers get recognizable stand-ins; every other computed string stays empty, as AWS leaves unset settings.
    const slug = address.replace(/[^A-Za-z0-9-]/g, "-");
    if (/arn$/.test(attr)) return `arn:aws:fake:${region}:${accountId}:${slug}`;
    if (/url$|endpoint$/.test(attr)) return `https://${slug}.fake.invalid`;
    if (/(^|_)(id|uuid|owner)$/.test(attr)) return `fake-${slug}-${attr}`;
    return "";
  }
  if (type === "number") return 0;
  if (type === "bool") return false;
  if (Array.isArray(type) && (type[0] === "list" || type[0] === "set")) return [];
  if (Array.isArray(type) && type[0] === "map") return attr === "uris" ? { GRAPHQL: `https://${address}.fake.invalid/graphql`, REALTIME: `wss://${address}.fake.invalid/graphql` } : {};
  return null;
}

/** Fills every `true` in after_unknown, preferring the value the previous state had (stand-ins stay stable). */
function fill(after: Json, unknown: Json, previous: Json, block: SchemaBlock, address: string, ctx: StandInContext): void {
  if (!unknown || typeof unknown !== "object" || !after || typeof after !== "object") return;
  for (const [key, mark] of Object.entries<Json>(unknown)) {
    const attr = block.attributes?.[key];
    const nested = block.block_types?.[key];
    const prev = previous?.[key];
    if (mark === true) {
      if (prev !== undefined) after[key] = prev;
      else if (attr) after[key] = attr.nested_type ? null : standIn(attr.type, key, address, ctx.accountId, ctx.region);
      else if (nested) after[key] = nested.nesting_mode === "single" ? null : [];
      continue;
    }
    if (nested && Array.isArray(mark)) {
      mark.forEach((m: Json, i: number) => fill(after[key]?.[i], m, prev?.[i], nested.block, address, ctx));
    } else if (attr && typeof mark === "object" && after[key] && typeof after[key] === "object") {
      // A map or object with some unknown elements.
      for (const [k, m] of Object.entries<Json>(mark)) if (m === true) after[key][k] = prev?.[k] ?? `fake-${k}`;
    }
  }
}

/** Paths marked in after_sensitive, in the state's format: a change of sensitivity alone would plan an update. */
function sensitivePaths(marks: Json, prefix: Json[] = []): Json[][] {
  if (marks === true) return [prefix];
  if (Array.isArray(marks)) return marks.flatMap((m, i) => sensitivePaths(m, [...prefix, { type: "index", value: { value: i, type: "number" } }]));
  if (marks && typeof marks === "object") return Object.entries(marks).flatMap(([k, m]) => sensitivePaths(m, [...prefix, { type: "get_attr", value: k }]));
  return [];
}

const keyOf = (type: string, name: string, index?: string | number) => `${type}.${name}[${index ?? ""}]`;

const REFERENCE = /^([a-z0-9_]+\.[A-Za-z0-9_-]+)((?:\.[A-Za-z0-9_]+|\[\d+\]|\["[^"]+"\])+)$/;

/** `${aws_sqs_queue.q.arn}`-style templates (CDKTF's JSON syntax) resolved against the state being built; undefined if any part is not. */
function resolveTemplate(template: unknown, values: Map<string, Json>): Json {
  if (typeof template !== "string" || !template.includes("${")) return undefined;
  const lookup = (expr: string): Json => {
    const m = REFERENCE.exec(expr.trim());
    if (!m || !values.has(m[1])) return undefined;
    const steps = [...m[2].matchAll(/\.([A-Za-z0-9_]+)|\[(\d+)\]|\["([^"]+)"\]/g)].map((x) => x[1] ?? (x[2] !== undefined ? Number(x[2]) : x[3]));
    return steps.reduce<Json>((v, k) => (v === null || v === undefined ? undefined : v[k]), values.get(m[1]));
  };
  const whole = /^\$\{([^}]+)\}$/.exec(template);
  if (whole) return lookup(whole[1]);
  let ok = true;
  const out = template.replace(/\$\{([^}]+)\}/g, (_, expr: string) => {
    const v = lookup(expr);
    if (v === undefined || v === null || typeof v === "object") ok = false;
    return String(v);
  });
  return ok ? out : undefined;
}

/** Where an unknown value comes straight from other resources' values (`${x.y.arn}`), take them: dependants then match at once. */
function resolveReferences(attributes: Json, unknown: Json, expressions: Json, values: Map<string, Json>): void {
  if (!unknown || typeof unknown !== "object" || !attributes || typeof attributes !== "object" || !expressions) return;
  for (const [key, mark] of Object.entries<Json>(unknown)) {
    const expr = expressions[key];
    if (mark === true && expr && !Array.isArray(expr) && "constant_value" in expr) {
      const c = expr.constant_value;
      if (typeof c === "string") {
        const v = resolveTemplate(c, values);
        if (v !== undefined && v !== null) attributes[key] = v;
      } else if (c && typeof c === "object" && !Array.isArray(c)) {
        const resolved = Object.fromEntries(Object.entries(c).map(([k, v]) => [k, typeof v === "string" && v.includes("${") ? resolveTemplate(v, values) : v]));
        if (Object.values(resolved).every((v) => v !== undefined && v !== null)) attributes[key] = resolved;
      }
    } else if (Array.isArray(mark) && Array.isArray(expr)) {
      mark.forEach((m: Json, i: number) => resolveReferences(attributes[key]?.[i], m, expr[i], values));
    }
  }
}

/** The state an apply of `plan` would leave, on top of `previous` (resources the plan does not mention are dropped). */
export function stateFromPlan(plan: TerraformPlan, schemas: ProviderSchemas, previous: StateFile | undefined, ctx: StandInContext): StateFile {
  const resourceSchemas = schemas.provider_schemas[PROVIDER].resource_schemas;
  const prevAttrs = new Map<string, Json>();
  for (const r of previous?.resources ?? []) for (const i of r.instances) prevAttrs.set(keyOf(r.type, r.name, i.index_key), i.attributes);

  const byResource = new Map<string, StateFile["resources"][number]>();
  for (const rc of (plan.resource_changes ?? []) as ResourceChange[]) {
    if (rc.mode !== "managed" || !rc.change.after || rc.module_address) continue;
    const schema = resourceSchemas[rc.type];
    const attributes = JSON.parse(JSON.stringify(rc.change.after));
    fill(attributes, rc.change.after_unknown, prevAttrs.get(keyOf(rc.type, rc.name, rc.index)), schema.block, rc.address, ctx);
    const id = `${rc.type}.${rc.name}`;
    const resource = byResource.get(id) ?? { mode: "managed" as const, type: rc.type, name: rc.name, provider: `provider["${PROVIDER}"]`, instances: [] };
    resource.instances.push({ ...(rc.index === undefined ? {} : { index_key: rc.index }), schema_version: schema.version, attributes, sensitive_attributes: sensitivePaths(rc.change.after_sensitive) });
    byResource.set(id, resource);
  }
  // Resolve after every resource has its stand-ins, a few passes for references to resolved values.
  const configs = new Map<string, ConfigResource>((plan.configuration?.root_module?.resources ?? []).map((r) => [r.address, r]));
  const values = new Map<string, Json>();
  for (const r of byResource.values()) if (r.instances.length === 1 && r.instances[0].index_key === undefined) values.set(`${r.type}.${r.name}`, r.instances[0].attributes);
  for (let pass = 0; pass < 3; pass++) {
    for (const rc of (plan.resource_changes ?? []) as ResourceChange[]) {
      if (rc.mode !== "managed" || !rc.change.after || rc.module_address || rc.index !== undefined) continue;
      resolveReferences(values.get(rc.address), rc.change.after_unknown, configs.get(rc.address)?.expressions, values);
    }
  }
  return {
    version: 4,
    terraform_version: "1.11.4",
    serial: (previous?.serial ?? 0) + 1,
    lineage: previous?.lineage ?? "00000000-0000-4000-8000-0000000ff11e",
    outputs: {},
    resources: [...byResource.values()],
  };
}

/** Writes a state file as Terraform reads it. */
export function writeState(file: string, state: StateFile): void {
  writeFileSync(file, JSON.stringify(state, null, 1));
}

/** Managed resources the plan would change (anything but no-op and read). */
export function pendingChanges(plan: TerraformPlan): string[] {
  return (plan.resource_changes ?? []).filter((rc) => rc.mode === "managed" && !["no-op", "read"].includes(rc.change.actions.join(","))).map((rc) => `${rc.change.actions.join("+")} ${rc.address}`);
}

/** The account and region a synthesized stack deploys to, read from its cdk.tf.json (whichever code wrote it). */
export function standInContextOf(stackDir: string): StandInContext {
  const json = JSON.parse(readFileSync(path.join(stackDir, "cdk.tf.json"), "utf8")) as { provider?: { aws?: { region?: string; allowed_account_ids?: string[] }[] } };
  const aws = json.provider?.aws?.[0];
  return { accountId: aws?.allowed_account_ids?.[0] ?? "000000000000", region: aws?.region ?? "us-east-1" };
}

export interface SettleOptions {
  /** An initialized stack directory with the offline override (its backend is OFFLINE_STATE_FILE). */
  stackDir: string;
  /** terraform's environment (terraformEnvironment()). */
  env: NodeJS.ProcessEnv;
  ctx?: StandInContext;
  /** Plans before giving up; this stack settles in four (three folds, then an empty plan). */
  maxPlans?: number;
  timeoutMs?: number;
}

/**
 * Plans the stack and folds each plan into its offline state until a plan of the same configuration changes nothing;
 * returns that state (also written to the stack's OFFLINE_STATE_FILE). Throws naming what still changes otherwise.
 */
export async function settleOfflineState(o: SettleOptions): Promise<StateFile> {
  const run = { env: o.env, timeoutMs: o.timeoutMs ?? 300_000 };
  const ctx = o.ctx ?? standInContextOf(o.stackDir);
  const schemas = JSON.parse((await terraformOk(["providers", "schema", "-json"], { ...run, cwd: o.stackDir })).stdout) as ProviderSchemas;
  const maxPlans = o.maxPlans ?? 6;
  let state: StateFile | undefined;
  let pending: string[] = [];
  for (let n = 0; n < maxPlans; n++) {
    const plan = JSON.parse(await planToJson(o.stackDir, { ...run, refresh: false })) as TerraformPlan;
    pending = pendingChanges(plan);
    if (state && !pending.length) return state;
    state = stateFromPlan(plan, schemas, state, ctx);
    writeState(path.join(o.stackDir, OFFLINE_STATE_FILE), state);
  }
  throw new Error(`the offline state of ${o.stackDir} did not settle in ${maxPlans} plans; still changing: ${pending.slice(0, 5).join(", ")}`);
}
