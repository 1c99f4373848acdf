/**
 * The base of `npm run plan -- <env> --offline --base [<git-ref>]`: the environment as it is at a commit, synthesized
 * by that commit's own code and config, turned into a settled offline state (scripts/offlineState.ts).
 *
 * Why the base tree's code and not this checkout's code with the base's tfvars: the diff a reviewer needs is the pull
 * request's, and a pull request changes modules/ as often as environments/. The deployed state CI plans against was
 * written by the base's code, so only the base tree's own synth gives the same diff offline.
 *
 * Why `git archive` into a temporary directory and not `git worktree add`: it leaves the repository as it was (no
 * worktree entry to prune if the command is interrupted, no branch checked out twice), and works in any clone,
 * including one where `main` is the current branch. The tree runs with this checkout's node_modules.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { settleOfflineState } from "./offlineState";
import { copyLockFile, OFFLINE_STATE_FILE, terraformOk, writeOfflineOverride } from "./terraform";

/** A commit to plan against, and how it was chosen (for the log line). */
export interface BaseCommit {
  sha: string;
  /** e.g. `main`'s merge base, or the ref as given. */
  description: string;
}

/** The branches whose merge base with HEAD is the default base, in order of preference. */
export const DEFAULT_BASE_BRANCHES = ["main", "origin/main"];

function git(root: string, args: string[], input?: Buffer): Buffer {
  try {
    return execFileSync("git", args, { cwd: root, input, stdio: ["pipe", "pipe", "pipe"], maxBuffer: 512 * 1024 * 1024 });
  } catch (e) {
    const stderr = String((e as { stderr?: Buffer }).stderr ?? "").trim();
    throw new Error(`git ${args.join(" ")} failed${stderr ? `: ${stderr}` : ""}`);
  }
}

const commitOf = (root: string, ref: string) => git(root, ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`]).toString().trim();

function mergeBaseWithMain(root: string): BaseCommit {
  const branch = DEFAULT_BASE_BRANCHES.find((b) => {
    try {
      return !!commitOf(root, b);
    } catch {
      return false;
    }
  });
  if (!branch) throw new Error(`no ${DEFAULT_BASE_BRANCHES.join(" or ")} to take the merge base with: pass --base <git-ref>`);
  const sha = git(root, ["merge-base", "HEAD", branch]).toString().trim();
  const head = commitOf(root, "HEAD");
  return { sha, description: `the merge base of HEAD with ${branch}${sha === head ? "; HEAD itself, so the diff is what is not committed" : ""}` };
}

/** The commit `ref` names, or by default the merge base of HEAD with `main` (or `origin/main`). */
export function resolveBase(root: string, ref?: string): BaseCommit {
  if (!ref) return mergeBaseWithMain(root);
  return { sha: commitOf(root, ref), description: ref };
}

/** Where `root` (the project) sits inside its git work tree: "" at the top, else "sub/dir/". */
const prefixOf = (root: string) => git(root, ["rev-parse", "--show-prefix"]).toString().trim();

/** Whether environments/<env>.tfvars exists at the commit: an environment new since then plans against nothing. */
export function environmentExistsAt(root: string, sha: string, env: string): boolean {
  try {
    git(root, ["cat-file", "-e", `${sha}:${prefixOf(root)}environments/${env}.tfvars`]);
    return true;
  } catch {
    return false;
  }
}

/** The project as it is at the commit, in a new temporary directory, with this checkout's node_modules linked in. */
export function extractTree(root: string, sha: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `plan-base-${sha.slice(0, 8)}-`));
  try {
    // From the top of the work tree: in a subdirectory, git archive would also filter by that subdirectory.
    const top = git(root, ["rev-parse", "--show-toplevel"]).toString().trim();
    const tar = git(top, ["archive", "--format=tar", `${sha}:${prefixOf(root)}`]);
    execFileSync("tar", ["-x", "-C", dir], { input: tar, stdio: ["pipe", "ignore", "pipe"] });
    if (existsSync(path.join(root, "node_modules"))) symlinkSync(path.join(root, "node_modules"), path.join(dir, "node_modules"), "dir");
    return dir;
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const collect = (d: Buffer) => void (output += d.toString());
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (e) => (output += e.message));
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** Runs the tree's own synth (`tsx main.ts <env>`) into `<tree>/cdktf.out`; returns the one stack directory it wrote. */
export async function synthesizeTree(tree: string, env: string, tsx: string): Promise<string> {
  const outdir = path.join(tree, "cdktf.out");
  const r = await run(tsx, ["main.ts", env], tree, { ...process.env, CDKTF_OUTDIR: outdir, STACK_ENV: env }, 180_000);
  const stacksDir = path.join(outdir, "stacks");
  const stacks = existsSync(stacksDir) ? readdirSync(stacksDir) : [];
  if (r.code !== 0 || stacks.length !== 1) throw new Error(`the base does not synthesize ${env} (exit ${r.code}):\n${r.output.trim()}`);
  return path.join(stacksDir, stacks[0]);
}

/** Initializes a synthesized stack for offline planning and settles its offline state; returns the state file's text. */
async function settledStateOf(stackDir: string, tfEnv: NodeJS.ProcessEnv): Promise<string> {
  writeOfflineOverride(stackDir);
  if (!existsSync(path.join(stackDir, ".terraform.lock.hcl"))) copyLockFile(stackDir);
  await terraformOk(["init", "-input=false"], { cwd: stackDir, env: tfEnv, timeoutMs: 300_000 });
  await settleOfflineState({ stackDir, env: tfEnv });
  return readFileSync(path.join(stackDir, OFFLINE_STATE_FILE), "utf8");
}

export interface BaseStateOptions {
  /** The project directory (holding main.ts and node_modules). */
  root: string;
  env: string;
  base: BaseCommit;
  tfEnv: NodeJS.ProcessEnv;
}

/**
 * The offline state an apply of `env` at the base commit would leave, as a state file's text; undefined when the
 * environment does not exist there (new at HEAD: the base is empty). The temporary tree is removed in every case.
 */
export async function baseStateOf(o: BaseStateOptions): Promise<string | undefined> {
  if (!environmentExistsAt(o.root, o.base.sha, o.env)) return undefined;
  const tree = extractTree(o.root, o.base.sha);
  try {
    const stackDir = await synthesizeTree(tree, o.env, path.join(o.root, "node_modules", ".bin", "tsx"));
    return await settledStateOf(stackDir, o.tfEnv);
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
}
