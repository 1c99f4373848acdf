/**
 * `npm run plan -- <env> --offline --base [<ref>]`: choosing the base commit, reading the environment at it, and the
 * whole command in a temporary clone of this project, where a pull request turns directSend on: the plan is the real
 * diff (updates only, directSend called out), the plan-summary CLI prints exactly that, and the repository is left as
 * it was (no worktree, no temporary tree, nothing staged).
 */
import { execFile, execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { environmentExistsAt, extractTree, resolveBase } from "../../scripts/planBase";
import { SAVED_PLAN_FILE } from "../../scripts/terraform";
import { renderMarkdown, summarizePlan } from "../../scripts/plan-summary/summary";
import { FIXTURES_DIR, tfvarsText } from "../fixtures/environments";
import { readTfvarsFile } from "../../config/load";

const ROOT = path.resolve(__dirname, "..", "..");
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");
const work = mkdtempSync(path.join(os.tmpdir(), "plan-base-test-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const GIT_ENV = { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@acme-platform.io", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@acme-platform.io" };
const git = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, env: GIT_ENV, encoding: "utf8" }).trim();

function newRepo(name: string, files: Record<string, string>): string {
  const dir = path.join(work, name);
  mkdirSync(dir);
  git(dir, "init", "-q", "-b", "main");
  commit(dir, files, "first");
  return dir;
}

function commit(dir: string, files: Record<string, string>, message: string): string {
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  }
  git(dir, "add", "--", ...Object.keys(files));
  git(dir, "commit", "-q", "-m", message);
  return git(dir, "rev-parse", "HEAD");
}

const planBaseDirs = () => readdirSync(os.tmpdir()).filter((d) => d.startsWith("plan-base-") && !d.startsWith("plan-base-test-"));

describe("the base commit", () => {
  it("defaults to the merge base with main; on main itself it is HEAD, so the diff is what is not committed", () => {
    const repo = newRepo("merge-base", { "environments/a.tfvars": "1" });
    const first = git(repo, "rev-parse", "HEAD");
    expect(resolveBase(repo)).toEqual({ sha: first, description: "the merge base of HEAD with main; HEAD itself, so the diff is what is not committed" });
    git(repo, "checkout", "-q", "-b", "feature");
    commit(repo, { "environments/a.tfvars": "2" }, "feature");
    git(repo, "checkout", "-q", "main");
    const third = commit(repo, { "README.md": "main moved on" }, "main");
    git(repo, "checkout", "-q", "feature");
    expect(resolveBase(repo)).toEqual({ sha: first, description: "the merge base of HEAD with main" });
    expect(resolveBase(repo, "main")).toEqual({ sha: third, description: "main" });
    expect(() => resolveBase(repo, "no-such-ref")).toThrow(/git rev-parse --verify --quiet no-such-ref\^\{commit\} failed/);
  });

  it("says what to pass when there is no main to take the merge base with", () => {
    const repo = newRepo("no-main", { "x.txt": "1" });
    git(repo, "branch", "-q", "-m", "main", "trunk");
    expect(() => resolveBase(repo)).toThrow("no main or origin/main to take the merge base with: pass --base <git-ref>");
  });

  it("finds the environment at the commit (one new since then has an empty base) and extracts the commit's tree, not the working tree", () => {
    const repo = newRepo("tree", { "project/environments/old.tfvars": "old", "project/main.ts": "at base" });
    const base = git(repo, "rev-parse", "HEAD");
    commit(repo, { "project/environments/new.tfvars": "new" }, "new env");
    writeFileSync(path.join(repo, "project", "main.ts"), "uncommitted");
    mkdirSync(path.join(repo, "project", "node_modules"));
    const project = path.join(repo, "project");
    expect([environmentExistsAt(project, base, "old"), environmentExistsAt(project, base, "new"), environmentExistsAt(project, "HEAD", "new")]).toEqual([true, false, true]);
    const tree = extractTree(project, base);
    try {
      expect(readFileSync(path.join(tree, "main.ts"), "utf8")).toBe("at base");
      expect(readdirSync(path.join(tree, "environments"))).toEqual(["old.tfvars"]);
      expect(readdirSync(tree).sort()).toEqual(["environments", "main.ts", "node_modules"]);
    } finally {
      rmSync(tree, { recursive: true, force: true });
    }
    // Reading the commit touched nothing: the uncommitted edit is all git sees.
    expect(git(repo, "status", "--porcelain")).toBe("M project/main.ts");
  });
});

/** What a copy of this project leaves out: installed, generated and local files, and the team's environments. */
const NOT_COPIED = new Set(["node_modules", "cdktf.out", ".git", "test-artifacts", "coverage", "dist", ".local-tls", "environments"]);

/** This project's files as they are now (no git needed: CI may run from an export), committed on main of a new repository. */
function cloneOfThisProject(): string {
  const dir = path.join(work, "project");
  cpSync(ROOT, dir, { recursive: true, filter: (src) => !NOT_COPIED.has(path.relative(ROOT, src).split(path.sep)[0]) && !src.includes(`${path.sep}.state`) });
  symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"), "dir");
  git(dir, "init", "-q", "-b", "main");
  git(dir, "add", "--all", "--", ".", ":!node_modules");
  return dir;
}

const run = (cwd: string, args: string[]) => promisify(execFile)(TSX, args, { cwd, timeout: 280_000, maxBuffer: 64 * 1024 * 1024 });

describe("npm run plan -- qa --offline --base, in a clone where a pull request turns directSend on and adds qb", () => {
  let repo: string;
  let stdout: string;
  let stderr: string;
  let added: { stdout: string; stderr: string };
  let tmpBefore: string[];
  beforeAll(async () => {
    repo = cloneOfThisProject();
    const raw = (await readTfvarsFile(path.join(FIXTURES_DIR, "queued.tfvars"))).raw as Record<string, unknown>;
    commit(repo, { "environments/qa.tfvars": tfvarsText({ ...raw, name: "qa" }) }, "qa as deployed");
    git(repo, "checkout", "-q", "-b", "direct-send");
    commit(repo, { "environments/qa.tfvars": tfvarsText({ ...raw, name: "qa", direct_send: true }), "environments/qb.tfvars": tfvarsText({ ...raw, name: "qb" }) }, "qa: directSend; qb");
    tmpBefore = planBaseDirs();
    // The new environment plans while qa's base settles.
    [{ stdout, stderr }, added] = await Promise.all([run(repo, ["scripts/plan.ts", "qa", "--offline", "--base"]), run(repo, ["scripts/plan.ts", "qb", "--offline", "--base=main"])]);
  }, 300_000);

  it("plans against qa at the merge base with main, synthesized by that commit's code", () => {
    const base = git(repo, "rev-parse", "main");
    expect(stderr).toContain(`base: qa at ${base.slice(0, 12)} (the merge base of HEAD with main), synthesized by that commit's code`);
    expect(stdout).toMatch(/Plan: 0 to add, [1-9]\d* to change, 0 to destroy\./);
    expect(stdout).not.toMatch(/\u001b\[/);
    // The saved plan the deploy workflow uploads and applies.
    expect(existsSync(path.join(repo, "cdktf.out", "stacks", "llm-stream-qa", SAVED_PLAN_FILE))).toBe(true);
  });

  it("plans an environment new since the base against an empty state: it creates everything", () => {
    expect(added.stderr).toContain(`base: environments/qb.tfvars does not exist at ${git(repo, "rev-parse", "main").slice(0, 12)}: planning against an empty state`);
    // The queued fixture's whole stack (test/infra/invariants.ts expectedCounts): 60 resources (issue 12's usage table
    // and myUsage resolver included), no alarms.
    expect(added.stdout).toMatch(/Plan: 60 to add, 0 to change, 0 to destroy\./);
  });

  it("summarizes to the real diff, exactly as the plan-summary command prints it", async () => {
    const file = path.join(repo, "cdktf.out", "plans", "qa.json");
    const summary = summarizePlan("qa", JSON.parse(readFileSync(file, "utf8")));
    expect(summary.counts).toEqual({ add: 0, change: expect.any(Number), destroy: 0, replace: 0 });
    // The four functions' DIRECT_SEND, the worker's new grant; nothing else but policies Terraform re-reads at apply.
    expect(summary.resources.filter((r) => r.type === "aws_lambda_function").map((r) => [r.address.split(".")[1].split("_")[0], r.attributes]).sort()).toEqual(
      ["message-control", "outbound-relay", "send-query", "stream-worker"].map((fn) => [fn, ["environment[0].variables.DIRECT_SEND"]]),
    );
    expect(summary.resources.filter((r) => !["aws_lambda_function", "aws_iam_role_policy"].includes(r.type))).toEqual([]);
    expect(summary.callouts[0]).toMatch(/^directSend turns \*\*on\*\* in qa: /);
    expect(summary.policies.map((p) => p.diff?.added.map((s) => s.sid))).toEqual([["PublishResponseOnly"]]);
    const cli = await run(repo, ["scripts/planSummary.ts", "cdktf.out/plans/qa.json"]);
    expect(cli.stdout).toBe(renderMarkdown([summary]));
  });

  it("leaves the repository as it was: no worktree, no temporary tree, nothing staged or changed", () => {
    expect(git(repo, "worktree", "list").split("\n")).toHaveLength(1);
    expect(git(repo, "status", "--porcelain", "--untracked-files=no")).toBe("");
    expect(planBaseDirs().filter((d) => !tmpBefore.includes(d))).toEqual([]);
  });
});
