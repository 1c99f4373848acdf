/**
 * Starts fauxqs (SNS + SQS) on 127.0.0.1. In process when the host can load ES modules (tsx, node); otherwise
 * (jest's CommonJS sandbox cannot `import()` the ESM-only package) in a child process running fauxqs-child.mjs.
 */
import { spawn } from "node:child_process";
import * as path from "node:path";
import * as readline from "node:readline";

export interface FauxqsHandle {
  /** http://127.0.0.1:<port>, for SNS and SQS clients alike. */
  endpoint: string;
  /** Where fauxqs runs: "in-process" under tsx/node, "child-process" under jest. */
  mode: "in-process" | "child-process";
  close(): Promise<void>;
}

export interface FauxqsOptions {
  /** 0 (default) = an ephemeral port. */
  port?: number;
  /** "auto" (default) tries in process first, then a child process. */
  mode?: "auto" | "in-process" | "child-process";
}

const CHILD_SCRIPT = path.join(__dirname, "fauxqsChild.mjs");

async function startInProcess(port: number): Promise<FauxqsHandle> {
  const { buildApp } = await import("fauxqs");
  // fauxqs' own start helpers bind 0.0.0.0; buildApp + listen lets us bind loopback only.
  const app = buildApp({ logger: false, host: "localhost" });
  await app.listen({ port, host: "127.0.0.1" });
  const address = app.server.address();
  const actual = typeof address === "object" && address ? address.port : port;
  return { endpoint: `http://127.0.0.1:${actual}`, mode: "in-process", close: async () => void (await app.close()) };
}

async function startChild(port: number): Promise<FauxqsHandle> {
  const child = spawn(process.execPath, [CHILD_SCRIPT, String(port)], { stdio: ["pipe", "pipe", "inherit"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const ready = await new Promise<{ port: number }>((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error("fauxqs child did not start within 15 s")), 15000);
    lines.once("line", (line) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(line));
      } catch (e) {
        reject(e);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`fauxqs child exited with code ${code} before it was ready`));
    });
  }).catch(async (e) => {
    child.kill("SIGKILL");
    throw e;
  });
  return {
    endpoint: `http://127.0.0.1:${ready.port}`,
    mode: "child-process",
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

export async function startFauxqs(opts: FauxqsOptions = {}): Promise<FauxqsHandle> {
  const port = opts.port ?? 0;
  const mode = opts.mode ?? "auto";
  if (mode === "child-process") return startChild(port);
  if (mode === "in-process") return startInProcess(port);
  try {
    return await startInProcess(port);
  } catch (e) {
    // Only a failure to load the module falls back; a busy port is a real error.
    if ((e as NodeJS.ErrnoException).code === "EADDRINUSE") throw e;
    return startChild(port);
  }
}
