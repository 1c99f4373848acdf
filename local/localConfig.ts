/**
 * The local stack's config: environments/local.tfvars through the same loader and schema as every deployed
 * environment, with overrides (tests, `npm start -- --config-overrides`) merged in before validation.
 */
import * as path from "node:path";
import { ENVIRONMENTS_DIR, readTfvarsFile, validateEnvironment } from "../config/load";
import type { EnvironmentConfig } from "../config/schema";

const LOCAL_TFVARS = path.join(ENVIRONMENTS_DIR, "local.tfvars");

type Json = { [key: string]: unknown };

/** Maps merge key by key; anything else (lists included) is replaced; an undefined override keeps the base value. */
function deepMerge(base: unknown, over: unknown): unknown {
  const isMap = (v: unknown): v is Json => v !== null && typeof v === "object" && !Array.isArray(v);
  if (!isMap(base) || !isMap(over)) return over;
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = v === undefined ? out[k] : deepMerge(out[k], v);
  return out;
}

/** environments/local.tfvars with overrides merged in before validation, so overrides get the same checks and defaults. */
export async function loadLocalConfig(overrides: object = {}): Promise<EnvironmentConfig> {
  const { displayName, raw } = await readTfvarsFile(LOCAL_TFVARS);
  return validateEnvironment(displayName, deepMerge(raw, overrides), "local", ENVIRONMENTS_DIR);
}
