/**
 * `npm run token -- alice [--expires 3600] [--config path]`: asks the running local stack's issuer for an ID token
 * and prints it (stdout only the token, so `TOKEN=$(npm run -s token -- alice)` works).
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parseClientConfig } from "../../client/config";
import { LOCAL_CLIENT_CONFIG_PATH } from "../clientConfigPath";

export async function requestToken(issuerUrl: string, username: string, expiresInSeconds?: number): Promise<string> {
  const res = await fetch(new URL("/token", issuerUrl), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, expiresInSeconds }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json().catch(() => ({}))) as { idToken?: string; error?: string };
  if (!res.ok || !body.idToken) throw new Error(`issuer answered ${res.status}: ${body.error ?? "no token"}`);
  return body.idToken;
}

async function main(argv: string[]): Promise<void> {
  let username: string | undefined;
  let expires: number | undefined;
  let configFile = LOCAL_CLIENT_CONFIG_PATH;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--expires") expires = Number(argv[++i]);
    else if (arg === "--config") configFile = path.resolve(argv[++i] ?? "");
    else if (!arg.startsWith("--") && username === undefined) username = arg;
    else throw new Error(`unknown argument ${arg}`);
  }
  if (!username) throw new Error("usage: npm run token -- <username> [--expires seconds] [--config client-config.local.json]");
  let raw: string;
  try {
    raw = readFileSync(configFile, "utf8");
  } catch {
    throw new Error(`${configFile} not found: start the local stack first (npm start)`);
  }
  const config = parseClientConfig(raw);
  if (config.auth.type !== "local") throw new Error(`${configFile} is not a local stack config (auth.type ${config.auth.type})`);
  process.stdout.write(`${await requestToken(config.auth.issuerUrl, username, expires)}\n`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
