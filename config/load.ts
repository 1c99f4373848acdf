/**
 * Reads `environments/<env>.tfvars` (HCL, parsed by @cdktf/hcl2json) and validates it against the schema.
 * Every problem is reported as `<file>: <key> <what is wrong>`, all of them at once.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { parse } from "@cdktf/hcl2json";
import { ZodIssue } from "zod";
import { findPlaceholders, placeholderProblem } from "./placeholders";
import { crossFieldProblems, environmentFieldsSchema, EnvironmentConfig, KeyProblem } from "./schema";
import { toolSchemaProblems, withResolvedSchemaFiles } from "./toolSchemas";

export const ENVIRONMENTS_DIR = path.resolve(__dirname, "..", "environments");

/** Files in environments/ that are not deployed: the commented example and the local stack's config. */
const NOT_DEPLOYED = new Set(["example", "local"]);

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(problems.map((p) => `${file}: ${p}`).join("\n"));
    this.name = "ConfigError";
  }
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return value.length === 0 ? "an empty list" : "a list";
  if (value !== null && typeof value === "object") return "a map";
  return String(value);
}

function valueAt(root: unknown, keyPath: (string | number)[]): unknown {
  return keyPath.reduce<unknown>((v, k) => (v !== null && typeof v === "object" ? (v as Record<string | number, unknown>)[k] : undefined), root);
}

/** One `<key> <problem>` line of the report, with the path it is about (for ordering and for placeholders). */
interface Line {
  readonly path: (string | number)[];
  readonly line: string;
}

function formatIssue(issue: ZodIssue, raw: unknown): Line[] {
  const key = issue.path.join(".");
  const at = (k: string) => (k ? `${k} ` : "");
  const one = (line: string): Line[] => [{ path: issue.path, line }];
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((k) => ({ path: [...issue.path, k], line: `${key ? `${key}.` : ""}${k} is not a known key` }));
  }
  if (issue.code === "invalid_type") {
    if (issue.received === "undefined") return one(`${at(key)}is required`);
    return one(`${at(key)}${issue.message}, got ${describe(valueAt(raw, issue.path))}`);
  }
  if (issue.code === "invalid_union_discriminator") {
    return one(`${at(key)}must be one of ${issue.options.map((o) => JSON.stringify(o)).join(", ")}, got ${describe(valueAt(raw, issue.path))}`);
  }
  if (issue.code === "invalid_string" || issue.code === "invalid_enum_value" || issue.code === "too_small" || issue.code === "too_big") {
    const v = valueAt(raw, issue.path);
    return one(`${at(key)}${issue.message}${v === undefined ? "" : `, got ${describe(v)}`}`);
  }
  return one(`${at(key)}${issue.message}`);
}

const keyed = (p: KeyProblem): Line => ({ path: p.path, line: `${p.path.join(".")} ${p.message}` });
const within = (path: (string | number)[], prefix: (string | number)[]) => prefix.every((k, i) => path[i] === k);

/**
 * The file must be named after the environment. A mismatch is the one problem reported for `name` (the file's name is
 * what to put there); a name that is still a placeholder is reported as such instead.
 */
function nameProblems(raw: unknown, expectedName: string | undefined, placeholderPaths: (string | number)[][]): Line[] {
  const name = valueAt(raw, ["name"]);
  if (!expectedName || typeof name !== "string" || name === expectedName || placeholderPaths.some((p) => p[0] === "name")) return [];
  return [{ path: ["name"], line: `name must match the file name (${expectedName}), got ${JSON.stringify(name)}` }];
}

/** In the file's order (the schema's key order), so a long list reads top to bottom; stable within a key. */
function inKeyOrder(lines: Line[]): string[] {
  const order = Object.keys(environmentFieldsSchema.shape);
  const rank = (p: Line) => {
    const i = order.indexOf(String(p.path[0]));
    return i === -1 ? order.length : i;
  };
  return [...new Set([...lines].sort((a, b) => rank(a) - rank(b)).map((p) => p.line))];
}

/**
 * Validates already-parsed tfvars; `file` names it in messages. Every problem is reported in one round: types and
 * ranges, the rules between keys, placeholders left from the example, the file's name and the tool Lambdas' schema
 * files, read relative to `baseDir` (default: the folder of `file`); the config returned names them by absolute path.
 */
export function validateEnvironment(file: string, raw: unknown, expectedName?: string, baseDir = path.dirname(path.resolve(file))): EnvironmentConfig {
  const placeholders = findPlaceholders(raw);
  const placeholderPaths = placeholders.map((p) => p.path);
  const naming = nameProblems(raw, expectedName, placeholderPaths);
  // A placeholder or a wrong name is the problem worth reading for its key; what the schema says of the same value is noise.
  const explained = [...placeholderPaths, ...naming.map((p) => p.path)];
  const result = environmentFieldsSchema.safeParse(raw);
  const schemaProblems = result.success ? [] : result.error.issues.flatMap((i) => formatIssue(i, raw));
  const problems = [
    ...naming,
    ...placeholders.map((p) => keyed({ path: p.path, message: placeholderProblem(p.tokens) })),
    ...schemaProblems.filter((p) => !explained.some((e) => within(p.path, e))),
    ...crossFieldProblems(raw).map(keyed),
    ...toolSchemaProblems(raw, baseDir).map(keyed),
  ];
  if (problems.length || !result.success) throw new ConfigError(file, inKeyOrder(problems));
  return withResolvedSchemaFiles(result.data, baseDir);
}

/** A tfvars file parsed from HCL into plain JSON, not yet validated. */
export interface ParsedTfvars {
  /** The file as messages name it: relative to the working directory. */
  displayName: string;
  raw: unknown;
}

/** Reads and parses one tfvars file. Throws ConfigError when it does not exist or is not valid HCL. */
export async function readTfvarsFile(file: string): Promise<ParsedTfvars> {
  const displayName = path.relative(process.cwd(), file) || file;
  if (!existsSync(file)) throw new ConfigError(displayName, ["does not exist"]);
  try {
    return { displayName, raw: await parse(path.basename(file), readFileSync(file, "utf8")) };
  } catch (e) {
    throw new ConfigError(displayName, [`is not valid HCL: ${(e as Error).message.replace(/^parse config: /, "")}`]);
  }
}

/** Parses and validates one tfvars file. Throws ConfigError naming the file and every bad key. */
export async function loadEnvironmentFile(file: string): Promise<EnvironmentConfig> {
  const { displayName, raw } = await readTfvarsFile(file);
  return validateEnvironment(displayName, raw, path.basename(file, ".tfvars"), path.dirname(path.resolve(file)));
}

/** Loads `environments/<name>.tfvars`. */
export function loadEnvironment(name: string, dir = ENVIRONMENTS_DIR): Promise<EnvironmentConfig> {
  return loadEnvironmentFile(path.join(dir, `${name}.tfvars`));
}

/** The environments that are synthesized and deployed: every tfvars file but the example and local. */
export function deployedEnvironmentNames(dir = ENVIRONMENTS_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".tfvars"))
    .map((f) => f.slice(0, -".tfvars".length))
    .filter((n) => !NOT_DEPLOYED.has(n))
    .sort();
}
