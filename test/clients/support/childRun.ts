/** Runs runClient.ts for one library in a child (tsx), bounded, and returns its report. */
import { execFile } from "node:child_process";
import * as path from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT, type StackProcess } from "../../support/localStackProcess";
import type { ClientName, ClientTarget } from "./runClient";
import type { Observations } from "./scenarios";

/** What the child printed: the observations and every WebSocket URL the library opened. */
export interface ClientReport {
  observations: Observations;
  socketUrls: string[];
}

const RUN_TIMEOUT_MS = 90_000;

/** The library's run against `stack`; `env` is added to the child's environment (NODE_EXTRA_CA_CERTS for TLS). */
export async function runClientInChild(name: ClientName, stack: StackProcess, env: Record<string, string> = {}): Promise<ClientReport> {
  const { graphqlUrl, issuerUrl } = stack.ready.endpoints;
  const target: ClientTarget = { graphqlUrl, issuerUrl, region: stack.ready.region };
  const tsx = require.resolve("tsx/cli", { paths: [REPO_ROOT] });
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [tsx, path.join(__dirname, "runClient.ts"), name], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env, CLIENT_TEST_TARGET: JSON.stringify(target) },
      timeout: RUN_TIMEOUT_MS,
      maxBuffer: 16 * 1024 * 1024,
    });
    return JSON.parse(stdout.trim().split("\n").pop() ?? "") as ClientReport;
  } catch (err) {
    const { stderr, killed } = err as { stderr?: string; killed?: boolean };
    throw new Error(`${name} run failed${killed ? ` (killed after ${RUN_TIMEOUT_MS} ms)` : ""}:\n${stderr ?? (err as Error).message}\nlocal stack stderr:\n${stack.stderr().slice(-3000)}`);
  }
}
