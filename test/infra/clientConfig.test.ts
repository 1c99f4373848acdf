/** scripts/clientConfig.ts: a deployed stack's `terraform output -json` becomes a valid client-config.json. */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { parseClientConfig } from "../../client/config";
import { clientConfigFromOutputs, TerraformOutputs } from "../../scripts/clientConfig";

/** Shaped like `terraform output -json` for a deployed llm-stream-prod. */
const outputs: TerraformOutputs = {
  environment: { value: "prod" },
  region: { value: "us-east-1" },
  graphql_url: { value: "https://abc123xyz.appsync-api.us-east-1.amazonaws.com/graphql" },
  realtime_url: { value: "wss://abc123xyz.appsync-realtime-api.us-east-1.amazonaws.com/graphql" },
  user_pool_id: { value: "us-east-1_AbCdEf123" },
  user_pool_client_id: { value: "4example5client6id" },
  models: { value: { defaultModelId: "us.anthropic.claude-3-7-sonnet-20250219-v1:0", allowedModelIds: ["us.anthropic.claude-3-7-sonnet-20250219-v1:0", "anthropic.claude-3-5-haiku-20241022-v1:0"] } },
};

test("maps every output into the client config format", () => {
  expect(clientConfigFromOutputs(outputs)).toEqual({
    environment: "prod",
    region: "us-east-1",
    graphqlUrl: "https://abc123xyz.appsync-api.us-east-1.amazonaws.com/graphql",
    realtimeUrl: "wss://abc123xyz.appsync-realtime-api.us-east-1.amazonaws.com/graphql",
    auth: { type: "cognito", userPoolId: "us-east-1_AbCdEf123", userPoolClientId: "4example5client6id" },
    models: { defaultModelId: "us.anthropic.claude-3-7-sonnet-20250219-v1:0", allowedModelIds: ["us.anthropic.claude-3-7-sonnet-20250219-v1:0", "anthropic.claude-3-5-haiku-20241022-v1:0"] },
  });
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
