/**
 * `npm run token -- alice [--access] [--expires 3600] [--config path]`: asks the running local stack's issuer for an
 * ID token (or, with --access, an access token) and prints it (stdout only the token, so
 * `TOKEN=$(npm run -s token -- alice)` works). Against `npm start -- --tls` it trusts the config's caCertificateFile.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parseClientConfig } from "../../client/config";
import { LOCAL_CLIENT_CONFIG_PATH } from "../clientConfigPath";
import { runAgainTrusting } from "../tls";
import type { TokenUse } from "./tokens";

const USAGE = `Usage: npm run token -- <username> [options]

  --access            an access token (token_use access, client_id), as Amplify's user-pool mode sends; default an ID token
  --expires <s>       lifetime in seconds (default the issuer's, 1 hour)
  --config <file>     the local stack's client config (default client-config.local.json, written by npm start)
  -h, --help          this text`;

/** POST /token on the issuer: the token of `tokenUse` (default an ID token) for `username`. */
export async function requestToken(issuerUrl: string, username: string, expiresInSeconds?: number, tokenUse: TokenUse = "id"): Promise<string> {
  const res = await fetch(new URL("/token", issuerUrl), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, expiresInSeconds, tokenUse }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json().catch(() => ({}))) as { idToken?: string; accessToken?: string; error?: string };
  const token = tokenUse === "access" ? body.accessToken : body.idToken;
  if (!res.ok || !token) throw new Error(`issuer answered ${res.status}: ${body.error ?? "no token"}`);
  return token;
}

/** The command line: the username, --access, --expires and --config. */
function parseTokenArgs(argv: string[]): { username: string; expires?: number; tokenUse: TokenUse; configFile: string } | "help" {
  let username: string | undefined;
  let expires: number | undefined;
  let tokenUse: TokenUse = "id";
  let configFile = LOCAL_CLIENT_CONFIG_PATH;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--help" || arg === "-h") return "help";
    if (arg === "--expires") expires = Number(argv[++i]);
    else if (arg === "--access") tokenUse = "access";
    else if (arg === "--config") configFile = path.resolve(argv[++i] ?? "");
    else if (!arg.startsWith("--") && username === undefined) username = arg;
    else throw new Error(`unknown argument ${arg}\n${USAGE}`);
  }
  if (!username) throw new Error(USAGE);
  return { username, expires, tokenUse, configFile };
}

async function main(argv: string[]): Promise<void> {
  const args = parseTokenArgs(argv);
  if (args === "help") return void process.stdout.write(`${USAGE}\n`);
  const { username, expires, tokenUse, configFile } = args;
  let raw: string;
  try {
    raw = readFileSync(configFile, "utf8");
  } catch {
    throw new Error(`${configFile} not found: start the local stack first (npm start)`);
  }
  const config = parseClientConfig(raw);
  if (config.auth.type !== "local") throw new Error(`${configFile} is not a local stack config (auth.type ${config.auth.type})`);
  if (config.caCertificateFile && runAgainTrusting(config.caCertificateFile)) return;
  process.stdout.write(`${await requestToken(config.auth.issuerUrl, username, expires, tokenUse)}\n`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
