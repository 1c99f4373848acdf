/**
 * scripts/clientConfig.ts: a deployed stack's `terraform output -json` becomes a valid client-config.json, and each
 * way of not having one (no synth, no init, an offline plan, no terraform, no credentials, nothing deployed) is named.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { parseClientConfig } from "../../client/config";
import { clientConfigFromOutputs, readStackOutputs, TerraformOutputs } from "../../scripts/clientConfig";
import { OFFLINE_OVERRIDE_FILE } from "../../scripts/terraform";
import { FIXTURES_DIR } from "../fixtures/environments";

/** Shaped like `terraform output -json` for a deployed llm-stream-prod. */
const outputs: TerraformOutputs = {
  environment: { value: "prod" },
  region: { value: "us-east-1" },
  graphql_url: { value: "https://abc123xyz.appsync-api.us-east-1.amazonaws.com/graphql" },
  realtime_url: { value: "wss://abc123xyz.appsync-realtime-api.us-east-1.amazonaws.com/graphql" },
  user_pool_id: { value: "us-east-1_AbCdEf123" },
  user_pool_client_id: { value: "4example5client6id" },
  models: { value: { defaultModelId: "us.anthropic.claude-3-7-sonnet-20250219-v1:0", allowedModelIds: ["us.anthropic.claude-3-7-sonnet-20250219-v1:0", "anthropic.claude-3-5-haiku-20241022-v1:0"] } },
  batching: { value: { mode: "reading_pace", maxDelayMs: 250, maxWindowMs: 1000, readingTokensPerSecond: 15 } },
};

test("maps every output into the client config format", () => {
  expect(clientConfigFromOutputs(outputs)).toEqual({
    environment: "prod",
    region: "us-east-1",
    graphqlUrl: "https://abc123xyz.appsync-api.us-east-1.amazonaws.com/graphql",
    realtimeUrl: "wss://abc123xyz.appsync-realtime-api.us-east-1.amazonaws.com/graphql",
    auth: { type: "cognito", userPoolId: "us-east-1_AbCdEf123", userPoolClientId: "4example5client6id" },
    models: { defaultModelId: "us.anthropic.claude-3-7-sonnet-20250219-v1:0", allowedModelIds: ["us.anthropic.claude-3-7-sonnet-20250219-v1:0", "anthropic.claude-3-5-haiku-20241022-v1:0"] },
    batching: { mode: "reading_pace", maxDelayMs: 250, maxWindowMs: 1000, readingTokensPerSecond: 15 },
  });
});

test("a stack deployed before the batching output still gives a client config, without batching", () => {
  const { batching: _absent, ...older } = outputs;
  expect(clientConfigFromOutputs(older).batching).toBeUndefined();
});

test("a stack with the websocket transport adds its websocket_url as websocketUrl; one without has none", () => {
  const websocketUrl = "wss://ws12345678.execute-api.us-east-1.amazonaws.com/prod";
  expect(clientConfigFromOutputs({ ...outputs, websocket_url: { value: websocketUrl } }).websocketUrl).toBe(websocketUrl);
  expect(JSON.parse(JSON.stringify(clientConfigFromOutputs(outputs)))).not.toHaveProperty("websocketUrl");
});

test("an environment with the Function URL transport gives its URL as functionUrl; without it there is none", () => {
  const url = "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws/";
  expect(clientConfigFromOutputs({ ...outputs, function_url: { value: url } }).functionUrl).toBe(url);
  expect(clientConfigFromOutputs(outputs).functionUrl).toBeUndefined();
});

test("a missing output names it (stack not deployed or outdated)", () => {
  const { user_pool_client_id: _dropped, ...partial } = outputs;
  expect(() => clientConfigFromOutputs(partial)).toThrow('terraform output "user_pool_client_id" is missing');
});

test("npm run client-config -- <env> --outputs <file> writes a file the clients parse", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "client-config-"));
  try {
    const input = path.join(dir, "outputs.json");
    const out = path.join(dir, "client-config.json");
    writeFileSync(input, JSON.stringify(outputs));
    const tsx = path.resolve(__dirname, "../../node_modules/.bin/tsx");
    await promisify(execFile)(tsx, [path.resolve(__dirname, "../../scripts/clientConfig.ts"), "prod", "--outputs", input, "--out", out], { timeout: 30_000 });
    const written = parseClientConfig(readFileSync(out, "utf8"));
    expect(written.graphqlUrl).toBe(outputs.graphql_url.value);
    expect(written.auth).toEqual({ type: "cognito", userPoolId: "us-east-1_AbCdEf123", userPoolClientId: "4example5client6id" });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe("without --outputs, it says what it needs instead of terraform's errors", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "client-config-stack-"));
  const stackDir = path.join(root, "cdktf.out", "stacks", "llm-stream-queued");
  const bin = path.join(root, "bin");
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const read = (processEnv?: NodeJS.ProcessEnv) => readStackOutputs({ env: "queued", root, environmentsDir: FIXTURES_DIR, processEnv });
  /** A terraform on PATH that answers `output -json` the way a real one does in each situation. */
  const fakeTerraform = (code: number, stdout: string, stderr: string) => {
    mkdirSync(bin, { recursive: true });
    writeFileSync(path.join(bin, "terraform"), `#!/bin/sh\nprintf '%s' '${stdout}'\nprintf '%s\\n' '${stderr}' >&2\nexit ${code}\n`, { mode: 0o755 });
    return { ...process.env, PATH: `${bin}:/usr/bin:/bin` };
  };
  const PLAN_FIRST = "run `npm run plan -- queued` first (with AWS credentials that can read its state), or pass --outputs <file>";

  test("a stack that was never synthesized, planned only offline, or never initialized", async () => {
    await expect(read()).rejects.toThrow(`is not synthesized: ${PLAN_FIRST}`);
    mkdirSync(stackDir, { recursive: true });
    writeFileSync(path.join(stackDir, "cdk.tf.json"), "{}");
    await expect(read()).rejects.toThrow(`is not initialized against its s3 backend: ${PLAN_FIRST}`);
    writeFileSync(path.join(stackDir, OFFLINE_OVERRIDE_FILE), "{}");
    await expect(read()).rejects.toThrow(`was last planned offline (a local state with no outputs): ${PLAN_FIRST}`);
    rmSync(path.join(stackDir, OFFLINE_OVERRIDE_FILE));
  });

  test("no terraform, a backend to initialize, no credentials, nothing deployed", async () => {
    mkdirSync(path.join(stackDir, ".terraform"), { recursive: true });
    await expect(read({ ...process.env, PATH: "/nonexistent" })).rejects.toThrow("terraform is not installed (or not on PATH): install Terraform 1.11 (https://developer.hashicorp.com/terraform/install); or pass --outputs <file>");
    await expect(read(fakeTerraform(1, "", "Error: Backend initialization required, please run \"terraform init\""))).rejects.toThrow(`the stack directory is not initialized for its backend: ${PLAN_FIRST}`);
    await expect(read(fakeTerraform(1, "", "Error: No valid credential sources found"))).rejects.toThrow(
      "terraform could not read the state in s3://llm-stream-tfstate-111111111111: sign in with AWS credentials for account 111111111111 that can read it",
    );
    await expect(read(fakeTerraform(0, "{}", ""))).rejects.toThrow("llm-stream-queued has no outputs: it is not deployed yet");
    await expect(read(fakeTerraform(0, JSON.stringify(outputs), ""))).resolves.toEqual(outputs);
  });
});
