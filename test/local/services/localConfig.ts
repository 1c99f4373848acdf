/** The local environment's config with overrides, validated by the same schema as every environment. */
import type { EnvironmentConfig } from "../../../config/schema";
import { loadLocalConfig } from "../../../local/localConfig";

type Overrides = { [key: string]: unknown };

export function localConfig(overrides: Overrides = {}): Promise<EnvironmentConfig> {
  return loadLocalConfig(overrides);
}
