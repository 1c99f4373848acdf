import { spawnSync } from "node:child_process";
import * as path from "node:path";

const REPO_ROOT = path.resolve(__dirname, "../../..");

/**
 * Runs a script in a fresh Node process (TypeScript through tsx, as `npm start` runs): an unhandled rejection, then an
 * uncaught exception, then a line on stdout once both are past. Bounded by a timeout of its own.
 */
function runFailingScript(guarded: boolean): { status: number | null; stdout: string; stderr: string } {
  const script = [
    guarded ? 'require("./local/processGuard").guardProcess();' : "",
    'Promise.reject(new Error("a rejection nobody handled"));',
    'setImmediate(() => { throw new Error("an exception nobody caught"); });',
    'setImmediate(() => console.log("still serving"));',
  ].join("\n");
  const child = spawnSync(process.execPath, ["--import", "tsx", "-e", script], { cwd: REPO_ROOT, encoding: "utf8", timeout: 20_000 });
  return { status: child.status, stdout: child.stdout, stderr: child.stderr };
}

describe("the process guard of npm start (local/processGuard.ts)", () => {
  it("logs an unhandled rejection and an uncaught exception, and the process keeps running", () => {
    const run = runFailingScript(true);
    expect(run.stdout).toBe("still serving\n");
    expect(run.stderr).toMatch(/\[local stack\] unhandled rejection, kept running: Error: a rejection nobody handled/);
    expect(run.stderr).toMatch(/\[local stack\] uncaught exception, kept running: Error: an exception nobody caught/);
    expect(run.status).toBe(0);
  });

  it("is what keeps it running: without it the same script exits on the first error", () => {
    const run = runFailingScript(false);
    expect(run.stdout).toBe("");
    expect(run.status).not.toBe(0);
  });

  it("removes its handlers again when asked", async () => {
    const { guardProcess } = await import("../../../local/processGuard");
    const before = process.listenerCount("unhandledRejection") + process.listenerCount("uncaughtException");
    const lines: string[] = [];
    const unguard = guardProcess((line) => lines.push(line));
    expect(process.listenerCount("unhandledRejection") + process.listenerCount("uncaughtException")).toBe(before + 2);
    process.listeners("unhandledRejection").at(-1)?.(new Error("reported"), Promise.resolve());
    expect(lines).toEqual([expect.stringMatching(/^\[local stack\] unhandled rejection, kept running: Error: reported/)]);
    unguard();
    expect(process.listenerCount("unhandledRejection") + process.listenerCount("uncaughtException")).toBe(before);
  });
});
