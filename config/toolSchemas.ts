/**
 * The tool Lambdas' input schema files (tools.lambdas[].input_schema_file): paths relative to the tfvars file's
 * folder, read and checked by the loader (config/load.ts) with every other problem of the file, and read again by
 * config/runtime.ts when it writes the worker's tool spec file. The rules themselves live in config/rules.ts.
 */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { noticeFieldProblem, toolInputSchemaProblem } from "./rules";
import type { KeyProblem } from "./schema";

/** A schema file read and checked: its JSON object, or what is wrong with it. */
export type ToolSchemaRead = { schema: Record<string, unknown> } | { problem: string };

/** Reads one schema file (an absolute path, or relative to the working directory). */
export function readToolInputSchema(file: string): ToolSchemaRead {
  if (!existsSync(file)) return { problem: `names ${file}, which does not exist (the path is relative to the tfvars file's folder)` };
  const text = readFileSync(file, "utf8");
  const problem = toolInputSchemaProblem(text);
  return problem ? { problem: `names ${file}, which ${problem}` } : { schema: JSON.parse(text) as Record<string, unknown> };
}

/** The raw tools.lambdas entries that carry a schema file name, with their index (others fail the schema already). */
function lambdaEntries(raw: unknown): { index: number; file: string; notice: unknown }[] {
  const tools = raw !== null && typeof raw === "object" ? (raw as { tools?: { lambdas?: unknown } }).tools : undefined;
  const lambdas = Array.isArray(tools?.lambdas) ? (tools.lambdas as unknown[]) : [];
  return lambdas.flatMap((entry, index) => {
    const e = (entry ?? {}) as { input_schema_file?: unknown; notice?: unknown };
    return typeof e.input_schema_file === "string" && e.input_schema_file !== "" ? [{ index, file: e.input_schema_file, notice: e.notice }] : [];
  });
}

/**
 * Every schema file of the raw tfvars, resolved against `baseDir`: a file that is missing or not a JSON Schema object,
 * and a notice naming a field the schema does not define, each reported on its key.
 */
export function toolSchemaProblems(raw: unknown, baseDir: string): KeyProblem[] {
  return lambdaEntries(raw).flatMap(({ index, file, notice }) => {
    const at = (key: string) => ["tools", "lambdas", index, key];
    const read = readToolInputSchema(path.resolve(baseDir, file));
    if ("problem" in read) return [{ path: at("input_schema_file"), message: read.problem.replace(path.resolve(baseDir, file), file) }];
    const properties = Object.keys((read.schema.properties as Record<string, unknown> | undefined) ?? {});
    const noticeProblem = typeof notice === "string" ? noticeFieldProblem(notice, properties) : undefined;
    return noticeProblem ? [{ path: at("notice"), message: noticeProblem }] : [];
  });
}

/** The config as the loader returns it: each schema file's path made absolute (against `baseDir`), so synth finds it wherever it runs. */
export function withResolvedSchemaFiles<T extends { tools: { lambdas: { input_schema_file: string }[] } }>(config: T, baseDir: string): T {
  const lambdas = config.tools.lambdas.map((l) => ({ ...l, input_schema_file: path.resolve(baseDir, l.input_schema_file) }));
  return { ...config, tools: { ...config.tools, lambdas } };
}
