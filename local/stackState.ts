/**
 * Where a running `npm start` says how operators' tools reach it: the state file (`local/.state/stack.json` by
 * default, git-ignored) names its process, region, DynamoDB endpoint and usage table, so `npm run usage -- local`
 * reads the local usage table as it reads a deployed one, with no AWS account. Written when the stack is ready,
 * removed when it stops; a file whose process is gone is stale and ignored.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";

/** The default state file. */
export const LOCAL_STACK_STATE_PATH = path.resolve(__dirname, ".state", "stack.json");

export interface LocalStackState {
  pid: number;
  region: string;
  dynamodbEndpoint: string;
  usageTable: string;
  /** The fixed local identity (not a secret): dynalite accepts any, the SDK wants some. */
  credentials: { accessKeyId: string; secretAccessKey: string };
}

export function writeStackState(file: string, state: LocalStackState): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(state, null, 2)}\n`);
}

/** Removes the file if it is still this process's (another stack may have started since). */
export function removeStackState(file: string, pid = process.pid): void {
  try {
    if ((JSON.parse(readFileSync(file, "utf8")) as LocalStackState).pid === pid) rmSync(file, { force: true });
  } catch {
    // absent or unreadable: nothing of ours to remove
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
};

/** The running stack's state, or why there is none (no file, or its process has ended). */
export function readStackState(file = LOCAL_STACK_STATE_PATH): LocalStackState | { missing: string } {
  const shown = path.relative(process.cwd(), file) || file;
  if (!existsSync(file)) return { missing: `no local stack is running (${shown} does not exist): start one with \`npm start\`` };
  const state = JSON.parse(readFileSync(file, "utf8")) as LocalStackState;
  if (!alive(state.pid)) return { missing: `the local stack of ${shown} (process ${state.pid}) is no longer running: start one with \`npm start\`` };
  return state;
}
