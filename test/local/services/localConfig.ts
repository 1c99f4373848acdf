/** The local environment's config with overrides, validated by the same schema as every environment. */
import { loadEnvironment, validateEnvironment } from "../../../config/load";
import type { EnvironmentConfig } from "../../../config/schema";

type Overrides = { [key: string]: unknown };

function merge(base: unknown, over: unknown): unknown {
  if (over === null || typeof over !== "object" || Array.isArray(over) || base === null || typeof base !== "object" || Array.isArray(base)) return over;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over as Record<string, unknown>)) out[k] = merge(out[k], v);
  return out;
}

export async function localConfig(overrides: Overrides = {}): Promise<EnvironmentConfig> {
  return validateEnvironment("environments/local.tfvars", merge(await loadEnvironment("local"), overrides), "local");
}
