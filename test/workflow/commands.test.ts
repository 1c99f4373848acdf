/**
 * The commands a platform engineer runs: every `npm run` script answers --help with its usage, synth reports progress
 * on stdout, plan keeps the CI session override across its own synth, terraform output is plain unless it goes to a
 * terminal, and the bootstrap command takes an environment's whole account.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { SESSION_OVERRIDE_FILE } from "../../bootstrap/ciRole";
import { parseBootstrapArgs } from "../../bootstrap/cli";
import { accountsOf } from "../../bootstrap/main";
import { deployedEnvironmentNames } from "../../config/load";
import { parsePlanArgs, synthesizeStack } from "../../scripts/plan";
import { plainUnlessTerminal } from "../../scripts/terraform";
import { FIXTURES_DIR } from "../fixtures/environments";

const ROOT = path.resolve(__dirname, "..", "..");
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");
const scripts: Record<string, string> = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")).scripts;
const GITHUB = { owner: "acme", repo: "llm-stream" };

/** `npm run <name>` scripts that run a file of ours with tsx (the others are tsc, jest and eslint, which have their own --help). */
const TSX_SCRIPTS = Object.entries(scripts).filter(([, command]) => command.startsWith("tsx "));

const run = (args: string[], env: NodeJS.ProcessEnv = process.env) =>
  promisify(execFile)(TSX, args, { cwd: ROOT, env, timeout: 60_000 }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

describe("--help", () => {
  let answers: Record<string, { code: number; stdout: string; stderr: string }>;
  beforeAll(async () => {
    const results = await Promise.all(TSX_SCRIPTS.map(([, command]) => run([...command.split(" ").slice(1), "--help"])));
    answers = Object.fromEntries(TSX_SCRIPTS.map(([name], i) => [name, results[i]]));
  }, 120_000);

  it("covers every tsx script in package.json", () => {
    expect(TSX_SCRIPTS.map(([name]) => name).sort()).toEqual(["bench", "bootstrap", "bootstrap:synth", "chat", "ci-role", "client-config", "plan", "plan-summary", "start", "synth", "token", "usage"]);
  });

  it.each(TSX_SCRIPTS.map(([name]) => name))("npm run %s -- --help prints its usage and exits 0", (name) => {
    const a = answers[name];
    expect([a.code, a.stderr]).toEqual([0, ""]);
    expect(a.stdout).toMatch(name === "start" ? /^Usage: npm start/ : new RegExp(`^Usage: npm run (--silent )?${name.replace(":", "\\:")}\\b`));
  });

  it("an unknown option is refused with the usage, exit code 2", async () => {
    for (const file of ["main.ts", "scripts/plan.ts", "bootstrap/cli.ts"]) {
      const r = await run([file, "--no-such-option"]);
      expect([file, r.code, r.stderr.split("\n")[0]]).toEqual([file, 2, "unknown option --no-such-option"]);
    }
  }, 60_000);
});

test("synth reports its progress on stdout (cdktf-cli shows an app's stderr as [ERROR])", async () => {
  const outdir = mkdtempSync(path.join(os.tmpdir(), "synth-cli-"));
  try {
    const env = deployedEnvironmentNames()[0];
    const r = await run(["main.ts", env], { ...process.env, CDKTF_OUTDIR: outdir });
    expect([r.code, r.stderr]).toEqual([0, ""]);
    expect(r.stdout).toMatch(new RegExp(`^synthesized [a-z0-9-]+-${env}\\ndone in \\d+\\.\\d s\\n$`));
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}, 60_000);

describe("npm run plan", () => {
  it("takes one environment, --offline and --base with or without a ref", () => {
    expect(parsePlanArgs(["dev"])).toEqual({ env: "dev", offline: false, base: undefined });
    expect(parsePlanArgs(["dev", "--offline", "--base"])).toEqual({ env: "dev", offline: true, base: "" });
    expect(parsePlanArgs(["dev", "--offline", "--base", "origin/main"])).toEqual({ env: "dev", offline: true, base: "origin/main" });
    expect(parsePlanArgs(["--base=v1.2", "dev", "--offline"])).toEqual({ env: "dev", offline: true, base: "v1.2" });
    expect(() => parsePlanArgs(["dev", "--base"])).toThrow("--base needs --offline");
    expect(() => parsePlanArgs([])).toThrow(/^name one environment\nUsage: npm run plan/);
  });

  it("keeps the CI session override across its own synth, and removes everything else of the old output", async () => {
    const outdir = mkdtempSync(path.join(os.tmpdir(), "plan-synth-"));
    try {
      const stackDir = await synthesizeStack("queued", outdir, FIXTURES_DIR);
      writeFileSync(path.join(stackDir, SESSION_OVERRIDE_FILE), '{"provider":{}}');
      writeFileSync(path.join(stackDir, "plan.tfplan"), "stale");
      expect(await synthesizeStack("queued", outdir, FIXTURES_DIR)).toBe(stackDir);
      expect(readFileSync(path.join(stackDir, SESSION_OVERRIDE_FILE), "utf8")).toBe('{"provider":{}}');
      expect(existsSync(path.join(stackDir, "plan.tfplan"))).toBe(false);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  }, 60_000);
});

test("terraform's output is plain unless it goes to a terminal; -no-color goes after the subcommand", () => {
  expect(plainUnlessTerminal(["plan", "-out=p"], false)).toEqual(["plan", "-no-color", "-out=p"]);
  expect(plainUnlessTerminal(["apply", "p.tfplan"], false)).toEqual(["apply", "-no-color", "p.tfplan"]);
  expect(plainUnlessTerminal(["providers", "schema", "-json"], false)).toEqual(["providers", "schema", "-no-color", "-json"]);
  expect(plainUnlessTerminal(["plan"], true)).toEqual(["plan"]);
});

describe("npm run bootstrap", () => {
  it("plans or applies one account or environment; --offline only plans", () => {
    expect(parseBootstrapArgs(["plan", "dev", "--offline", "--github-repository", "o/r"])).toEqual({ action: "plan", target: "dev", githubRepository: "o/r", existingOidcProvider: false, stateInBucket: false, offline: true });
    expect(parseBootstrapArgs(["apply", "111111111111", "--state-in-bucket"])).toMatchObject({ action: "apply", target: "111111111111", stateInBucket: true });
    expect(() => parseBootstrapArgs(["apply", "dev", "--offline"])).toThrow("--offline is for plan only");
    expect(() => parseBootstrapArgs(["destroy", "dev"])).toThrow(/^Usage: npm run bootstrap/);
  });

  it("takes every deployed environment of the account, named by an environment or the account id", async () => {
    const byEnv = await accountsOf(["queued"], GITHUB, FIXTURES_DIR);
    expect(byEnv.map((a) => [a.accountId, a.roles.flatMap((r) => r.environments.map((e) => e.name))])).toEqual([["111111111111", ["queued"]]]);
    expect(await accountsOf(["111111111111"], GITHUB, FIXTURES_DIR)).toEqual(byEnv);
    expect((await accountsOf([], GITHUB, FIXTURES_DIR)).map((a) => a.accountId).sort()).toEqual(["111111111111", "333333333333", "444444444444", "555555555555"]);
    await expect(accountsOf(["nosuch"], GITHUB, FIXTURES_DIR)).rejects.toThrow("nosuch is neither a deployed environment (fifo-direct, full, queued, websocket) nor the account of one");
  });
});
