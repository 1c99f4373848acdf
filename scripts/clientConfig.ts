/**
 * `npm run client-config -- <env> [--outputs <terraform-output.json>] [--out client-config.json]`: writes the client
 * config file (client/config.ts format) from a deployed stack's `terraform output -json`, so nobody copies values by hand.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { ClientConfig, clientConfigSchema } from "../client/config";
import { OUTPUTS } from "../modules/platformStack";
import { ENVIRONMENTS_DIR, loadEnvironment } from "../config/load";
import { EnvironmentConfig, stackName } from "../config/schema";
import { answeredHelp, optionValue, positionals } from "./cli";
import { OFFLINE_OVERRIDE_FILE, terraform, terraformEnvironment, TerraformMissingError } from "./terraform";

export const CLIENT_CONFIG_USAGE = `Usage: npm run client-config -- <env> [--outputs <file>] [--out <file>]

Writes the client config file (default client-config.json) from the deployed stack's outputs (terraform output -json
in cdktf.out/stacks/<project>-<env>/). That needs:
  1. the stack deployed (the Deploy workflow applies it);
  2. AWS credentials that can read the environment's state bucket (its plan role is enough);
  3. the stack directory initialized against that backend: run \`npm run plan -- <env>\` first (not --offline).

  --outputs <file>  read the outputs from this file (saved \`terraform output -json\`) instead: no AWS, no terraform
  --out <file>      where to write the client config (default client-config.json)
  -h, --help        this text`;

/** `terraform output -json`: each output is `{ value, type, sensitive }`. */
export type TerraformOutputs = Record<string, { value: unknown }>;

/** Maps a stack's outputs to the client config; throws naming a missing or malformed output. */
export function clientConfigFromOutputs(outputs: TerraformOutputs): ClientConfig {
  const value = (name: string): unknown => {
    if (!(name in outputs)) throw new Error(`terraform output "${name}" is missing: is the stack deployed?`);
    return outputs[name].value;
  };
  const models = value(OUTPUTS.models) as { defaultModelId?: unknown; allowedModelIds?: unknown };
  // A stack deployed before the batching output existed has none; the clients then show no batching mode.
  const batching = OUTPUTS.batching in outputs ? value(OUTPUTS.batching) : undefined;
  // Only a stack with the websocket transport has this output.
  const websocketUrl = OUTPUTS.websocketUrl in outputs ? value(OUTPUTS.websocketUrl) : undefined;
  // Only an environment with "function_url" in transports has the output.
  const functionUrl = OUTPUTS.functionUrl in outputs ? value(OUTPUTS.functionUrl) : undefined;
  return clientConfigSchema.parse({
    environment: value(OUTPUTS.environment),
    region: value(OUTPUTS.region),
    graphqlUrl: value(OUTPUTS.graphqlUrl),
    realtimeUrl: value(OUTPUTS.realtimeUrl),
    auth: { type: "cognito", userPoolId: value(OUTPUTS.userPoolId), userPoolClientId: value(OUTPUTS.userPoolClientId) },
    models: { defaultModelId: models?.defaultModelId, allowedModelIds: models?.allowedModelIds },
    batching,
    websocketUrl,
    functionUrl,
  });
}

export interface StackOutputsOptions {
  env: string;
  /** Holds cdktf.out/ (default: this project). */
  root?: string;
  environmentsDir?: string;
  /** terraform's environment before the project's CLI config is added (default process.env). */
  processEnv?: NodeJS.ProcessEnv;
}

const PLAN_FIRST = (env: string) => `run \`npm run plan -- ${env}\` first (with AWS credentials that can read its state), or pass --outputs <file>`;

/** Why the stack directory cannot answer `terraform output` yet, before asking terraform. */
function notReady(stackDir: string, env: string, c: EnvironmentConfig): string | undefined {
  const shown = path.relative(process.cwd(), stackDir) || stackDir;
  if (!existsSync(path.join(stackDir, "cdk.tf.json"))) return `${shown} is not synthesized: ${PLAN_FIRST(env)}`;
  if (existsSync(path.join(stackDir, OFFLINE_OVERRIDE_FILE))) return `${shown} was last planned offline (a local state with no outputs): ${PLAN_FIRST(env)}`;
  if (!existsSync(path.join(stackDir, ".terraform"))) return `${shown} is not initialized against its ${c.state.backend} backend: ${PLAN_FIRST(env)}`;
  return undefined;
}

/** What a failed `terraform output` means for the reader, from its stderr. */
function explainFailure(stderr: string, env: string, c: EnvironmentConfig): string {
  const where = c.state.backend === "s3" ? `s3://${c.state.bucket}` : "its local state";
  if (/Backend initialization required|backend configuration changed|Initialization required/i.test(stderr)) return `the stack directory is not initialized for its backend: ${PLAN_FIRST(env)}`;
  if (/credential|ExpiredToken|InvalidClientTokenId|AccessDenied|SignatureDoesNotMatch|security token/i.test(stderr)) {
    return `terraform could not read the state in ${where}: sign in with AWS credentials for account ${c.account_id} that can read it (the environment's plan role is enough), then run this again`;
  }
  return `terraform output failed: ${stderr.trim().split("\n").slice(0, 6).join("\n")}`;
}

/** The deployed stack's outputs, or an error saying what is missing: a synth, an init, credentials or a deploy. */
export async function readStackOutputs(o: StackOutputsOptions): Promise<TerraformOutputs> {
  const root = o.root ?? path.resolve(__dirname, "..");
  const c = await loadEnvironment(o.env, o.environmentsDir ?? ENVIRONMENTS_DIR);
  const stackDir = path.join(root, "cdktf.out", "stacks", stackName(c));
  const problem = notReady(stackDir, o.env, c);
  if (problem) throw new Error(problem);
  const env = terraformEnvironment(path.join(root, "cdktf.out", ".terraform-cli"), o.processEnv);
  const r = await terraform(["output", "-json"], { cwd: stackDir, env, timeoutMs: 120_000 }).catch((e: Error) => {
    throw e instanceof TerraformMissingError ? new Error(`${e.message}; or pass --outputs <file>`) : e;
  });
  if (r.code !== 0) throw new Error(explainFailure(r.stderr, o.env, c));
  const outputs = JSON.parse(r.stdout) as TerraformOutputs;
  if (!Object.keys(outputs).length) throw new Error(`${stackName(c)} has no outputs: it is not deployed yet (the Deploy workflow applies it), or ${PLAN_FIRST(o.env)}`);
  return outputs;
}

async function main(argv: string[]): Promise<void> {
  const envs = positionals(argv, ["--outputs", "--out"]);
  if (envs.length !== 1) throw new Error(`name one environment\n${CLIENT_CONFIG_USAGE}`);
  const file = optionValue(argv, "--outputs");
  const outputs = file ? (JSON.parse(readFileSync(file, "utf8")) as TerraformOutputs) : await readStackOutputs({ env: envs[0] });
  const config = clientConfigFromOutputs(outputs);
  const out = optionValue(argv, "--out") ?? "client-config.json";
  writeFileSync(out, JSON.stringify(config, null, 2) + "\n");
  console.error(`wrote ${out} for ${config.environment} (${config.graphqlUrl})`);
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  if (!answeredHelp(argv, CLIENT_CONFIG_USAGE, ["--outputs", "--out"])) {
    main(argv).catch((e) => {
      console.error((e as Error).message);
      process.exitCode = 1;
    });
  }
}
