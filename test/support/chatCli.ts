/** Runs `npm run chat` (local/chat.ts through tsx) as a child process against a client config file, as a user would. */
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { ClientConfig } from "../../client/config";
import { REPO_ROOT } from "./localStackProcess";

export interface ChatRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Writes the client config to a fresh temporary file, for `--config`. */
export function clientConfigFile(config: ClientConfig, prefix = "chat-"): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), prefix)), "client-config.json");
  writeFileSync(file, JSON.stringify(config));
  return file;
}

/** One CLI run with `--config configFile --timeout 30` and `args` (a later `--config` in args wins); `env` over process.env. */
export function runChat(configFile: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<ChatRun> {
  return new Promise((resolve, reject) => {
    const tsxCli = require.resolve("tsx/cli", { paths: [REPO_ROOT] });
    const child = spawn(process.execPath, [tsxCli, "local/chat.ts", "--config", configFile, "--timeout", "30", ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env } });
    let [stdout, stderr] = ["", ""];
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
