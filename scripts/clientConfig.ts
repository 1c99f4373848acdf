/**
 * `npm run client-config -- <env> [--outputs <terraform-output.json>] [--out client-config.json]`: writes the client
 * config file (client/config.ts format) from a deployed stack's `terraform output -json`, so nobody copies values by hand.
 */
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { ClientConfig, clientConfigSchema } from "../client/config";
import { OUTPUTS } from "../modules/platformStack";
import { loadEnvironment } from "../config/load";
import { stackName } from "../config/schema";
import { terraform, terraformEnvironment } from "./terraform";

/** `terraform output -json`: each output is `{ value, type, sensitive }`. */
export type TerraformOutputs = Record<string, { value: unknown }>;

/** Maps a stack's outputs to the client config; throws naming a missing or malformed output. */
export function clientConfigFromOutputs(outputs: TerraformOutputs): ClientConfig {
  const value = (name: string): unknown => {
    if (!(name in outputs)) throw new Error(`terraform output "${name}" is missing: is the stack deployed?`);
    return outputs[name].value;
  };
  const models = value(OUTPUTS.models) as { defaultModelId?: unknown; allowedModelIds?: unknown };
  return clientConfigSchema.parse({
    environment: value(OUTPUTS.environment),
    region: value(OUTPUTS.region),
    graphqlUrl: value(OUTPUTS.graphqlUrl),
    realtimeUrl: value(OUTPUTS.realtimeUrl),
    auth: { type: "cognito", userPoolId: value(OUTPUTS.userPoolId), userPoolClientId: value(OUTPUTS.userPoolClientId) },
    models: { defaultModelId: models?.defaultModelId, allowedModelIds: models?.allowedModelIds },
  });
}

function option(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

async function readOutputs(argv: string[], env: string): Promise<TerraformOutputs> {
  const file = option(argv, "--outputs");
  if (file) return JSON.parse(readFileSync(file, "utf8"));
  const root = path.resolve(__dirname, "..");
  const stackDir = path.join(root, "cdktf.out", "stacks", stackName(await loadEnvironment(env)));
  const r = await terraform(["output", "-json"], { cwd: stackDir, env: terraformEnvironment(path.join(root, "cdktf.out", ".terraform-cli")), timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`terraform output failed in ${stackDir} (run npm run synth and deploy first):\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function main(argv: string[]): Promise<void> {
  const positional = argv.filter((a, i) => !a.startsWith("-") && !["--outputs", "--out"].includes(argv[i - 1]));
  if (positional.length !== 1) throw new Error("usage: npm run client-config -- <env> [--outputs <file>] [--out <file>]");
  const config = clientConfigFromOutputs(await readOutputs(argv, positional[0]));
  const out = option(argv, "--out") ?? "client-config.json";
  writeFileSync(out, JSON.stringify(config, null, 2) + "\n");
  console.error(`wrote ${out} for ${config.environment} (${config.graphqlUrl})`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e) => {
    console.error((e as Error).message);
    process.exitCode = 1;
  });
}
