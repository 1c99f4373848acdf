/**
 * Reads `environments/<env>.tfvars` (HCL, parsed by @cdktf/hcl2json) and validates it against the schema.
 * Every problem is reported as `<file>: <key> <what is wrong>`, all of them at once.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { parse } from "@cdktf/hcl2json";
import { ZodError, ZodIssue } from "zod";
import { environmentConfigSchema, EnvironmentConfig } from "./schema";

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
  if (Array.isArray(value)) return "a list";
  if (value !== null && typeof value === "object") return "a map";
  return String(value);
}

function valueAt(root: unknown, keyPath: (string | number)[]): unknown {
  return keyPath.reduce<unknown>((v, k) => (v !== null && typeof v === "object" ? (v as Record<string | number, unknown>)[k] : undefined), root);
}

function formatIssue(issue: ZodIssue, raw: unknown): string[] {
  const key = issue.path.join(".");
  const at = (k: string) => (k ? `${k} ` : "");
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((k) => `${key ? `${key}.` : ""}${k} is not a known key`);
  }
  if (issue.code === "invalid_type") {
    if (issue.received === "undefined") return [`${at(key)}is required`];
    return [`${at(key)}${issue.message}, got ${describe(valueAt(raw, issue.path))}`];
  }
  if (issue.code === "invalid_union_discriminator") {
    return [`${at(key)}must be one of ${issue.options.map((o) => JSON.stringify(o)).join(", ")}, got ${describe(valueAt(raw, issue.path))}`];
  }
  if (issue.code === "invalid_string" || issue.code === "invalid_enum_value" || issue.code === "too_small" || issue.code === "too_big") {
    const v = valueAt(raw, issue.path);
    return [`${at(key)}${issue.message}${v === undefined ? "" : `, got ${describe(v)}`}`];
  }
  return [`${at(key)}${issue.message}`];
}

/** Validates already-parsed tfvars; `file` is only used in messages. */
export function validateEnvironment(file: string, raw: unknown, expectedName?: string): EnvironmentConfig {
  const result = environmentConfigSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(file, (result.error as ZodError).issues.flatMap((i) => formatIssue(i, raw)));
  }
  if (expectedName && result.data.name !== expectedName) {
    throw new ConfigError(file, [`name must match the file name (${expectedName}), got ${JSON.stringify(result.data.name)}`]);
  }
  return result.data;
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
  return validateEnvironment(displayName, raw, path.basename(file, ".tfvars"));
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
