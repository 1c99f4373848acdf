/**
 * Runs `tsx local/start.ts --ready-json` as a child process on ephemeral ports and waits (bounded) for its ready line.
 * A child, not in-process: the stack sets process.env for its handlers and loads ESM-only fauxqs, neither of which
 * should leak into the jest worker. `--exit-on-stdin-close` stops it even if the test process dies.
 * Used by the browser test (test/web) and the end-to-end tests (test/e2e).
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import * as path from "node:path";
import type { ReadyLine } from "../../local/start";

export type { ReadyLine };

export const REPO_ROOT = path.resolve(__dirname, "../..");

export interface StackProcess {
  ready: ReadyLine;
  /** Where the web console is served. */
  webUrl: string;
  /** The last 20 000 characters the stack wrote to stderr (handler logs, crashes). */
  stderr(): string;
  stop(): Promise<void>;
}

export async function startStackProcess(extraArgs: string[] = [], readyTimeoutMs = 90_000): Promise<StackProcess> {
  const tsxCli = require.resolve("tsx/cli", { paths: [REPO_ROOT] });
  const args = [
    tsxCli,
    "local/start.ts",
    "--ready-json",
    "--exit-on-stdin-close",
    "--no-client-config",
    "--gateway-port", "0",
    "--issuer-port", "0",
    ...extraArgs,
  ];
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString("utf8")).slice(-20_000);
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));

  const ready = await new Promise<ReadyLine>((resolve, reject) => {
    let buffer = "";
    const timer = setTimeout(() => reject(new Error(`local stack not ready within ${readyTimeoutMs} ms\n${stderr}`)), readyTimeoutMs);
    child.stdout.on("data", (d: Buffer) => {
      buffer += d.toString("utf8");
      const nl = buffer.indexOf("\n");
      if (nl < 0) return;
      clearTimeout(timer);
      try {
        resolve(JSON.parse(buffer.slice(0, nl)) as ReadyLine);
      } catch {
        reject(new Error(`unexpected first line from the local stack: ${buffer.slice(0, nl)}`));
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`local stack exited (${code}) before it was ready\n${stderr}`));
    });
  }).catch(async (err: unknown) => {
    child.kill("SIGKILL");
    throw err;
  });

  return {
    ready,
    webUrl: ready.endpoints.webUrl ?? new URL("/", ready.endpoints.graphqlUrl).toString(),
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
