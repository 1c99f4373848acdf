/**
 * Runs terraform for a synthesized stack with the project's own CLI config (provider mirror when present) and no
 * telemetry. Shared by scripts/plan.ts, the bootstrap CLI, client-config and the infra tests.
 */
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";

export const PROVIDER_MIRROR = "/opt/tf-plugins";
export const OFFLINE_OVERRIDE_FILE = "zz_offline_override.tf.json";
/** The offline override's local backend path, relative to the stack directory. */
export const OFFLINE_STATE_FILE = "terraform.offline.tfstate";
/** The committed provider lock file (registry checksums for every platform), copied into every synthesized stack. */
export const LOCK_FILE = path.resolve(__dirname, "..", ".terraform.lock.hcl");

/** Copies the provider lock file into a stack directory, so `terraform init` verifies the provider instead of guessing. */
export function copyLockFile(stackDir: string): void {
  copyFileSync(LOCK_FILE, path.join(stackDir, ".terraform.lock.hcl"));
}

/** The CLI config: install providers from the local mirror when it exists (no network), else from the registry. */
export function cliConfig(mirror = PROVIDER_MIRROR): string {
  const install = existsSync(mirror)
    ? `provider_installation {
  filesystem_mirror {
    path    = ${JSON.stringify(mirror)}
    include = ["registry.terraform.io/*/*"]
  }
  direct {
    exclude = ["registry.terraform.io/*/*"]
  }
}`
    : `provider_installation {
  direct {}
}`;
  return `# Written by scripts/terraform.ts\ndisable_checkpoint = true\n${install}\n`;
}

/** Writes the CLI config into `dir` and returns the environment terraform runs with. */
export function terraformEnvironment(dir: string, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "terraform.rc");
  writeFileSync(file, cliConfig());
  return {
    ...base,
    TF_CLI_CONFIG_FILE: file,
    CHECKPOINT_DISABLE: "1",
    DISABLE_VERSION_CHECK: "1",
    CDKTF_DISABLE_PLUGIN_CACHE_ENV: "1",
    TF_IN_AUTOMATION: "1",
    TF_INPUT: "0",
  };
}

/**
 * The offline override: local state, fake static credentials, no AWS calls to validate them, one retry at most.
 * The empty dynamic block removes assume_role (assuming a role would call STS); allowed_account_ids is dropped because
 * with no account lookup the provider cannot check it.
 */
export function offlineOverride(): object {
  return {
    terraform: { backend: { local: { path: OFFLINE_STATE_FILE } } },
    provider: {
      aws: {
        access_key: "AKIAOFFLINEPLAN00000",
        secret_key: "offline-plan-fake-secret-key",
        skip_credentials_validation: true,
        skip_requesting_account_id: true,
        skip_metadata_api_check: "true",
        max_retries: 1,
        allowed_account_ids: null,
        dynamic: { assume_role: { for_each: [], content: {} } },
      },
    },
  };
}

/** Writes the offline override into a stack directory; returns its path. */
export function writeOfflineOverride(stackDir: string): string {
  const file = path.join(stackDir, OFFLINE_OVERRIDE_FILE);
  writeFileSync(file, JSON.stringify(offlineOverride(), null, 2) + "\n");
  return file;
}

export interface TerraformResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `terraform` is not on PATH: says what to install instead of `spawn terraform ENOENT`. */
export class TerraformMissingError extends Error {
  constructor() {
    super("terraform is not installed (or not on PATH): install Terraform 1.11 (https://developer.hashicorp.com/terraform/install)");
    this.name = "TerraformMissingError";
  }
}

/** Commands whose subcommand is two words (`terraform providers schema`): flags go after both. */
const TWO_WORD_COMMANDS = new Set(["providers", "state", "workspace"]);

/**
 * `args` with `-no-color` after the subcommand, unless the output goes to a terminal: colour codes only garble files,
 * CI logs and captured output.
 */
export function plainUnlessTerminal(args: string[], terminal: boolean): string[] {
  if (terminal || args.includes("-no-color") || !args.length) return args;
  const words = TWO_WORD_COMMANDS.has(args[0]) ? 2 : 1;
  return [...args.slice(0, words), "-no-color", ...args.slice(words)];
}

export interface TerraformOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Echo stdout and stderr as they come (coloured only when stdout is a terminal). */
  echo?: boolean;
}

/** Runs `terraform <args>` in `cwd`; rejects after `timeoutMs` (the process is killed). */
export function terraform(args: string[], opts: TerraformOptions): Promise<TerraformResult> {
  const argv = plainUnlessTerminal(args, !!opts.echo && !!process.stdout.isTTY);
  return new Promise((resolve, reject) => {
    const child = spawn("terraform", argv, { cwd: opts.cwd, env: opts.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d;
      if (opts.echo) process.stdout.write(d);
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d;
      if (opts.echo) process.stderr.write(d);
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`terraform ${argv.join(" ")} timed out after ${opts.timeoutMs} ms in ${opts.cwd}\n${stderr}`));
    }, opts.timeoutMs ?? 300_000);
    child.on("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(e.code === "ENOENT" ? new TerraformMissingError() : e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

/** Like terraform(), but a failure throws, naming the command and the directory (with its stderr when not echoed). */
export async function terraformOk(args: string[], opts: TerraformOptions): Promise<TerraformResult> {
  const r = await terraform(args, opts);
  if (r.code !== 0) throw new Error(`terraform ${args.join(" ")} failed (exit ${r.code}) in ${opts.cwd}${opts.echo ? "" : `\n${r.stderr.trim()}`}`);
  return r;
}

/** The saved plan's name in a stack directory: what `npm run plan` writes and the deploy workflow applies. */
export const SAVED_PLAN_FILE = "plan.tfplan";

export interface PlanOptions extends Omit<TerraformOptions, "cwd"> {
  /** false: plan against the state as written, reading nothing from AWS (an offline state of stand-ins). */
  refresh?: boolean;
  /** The saved plan's file name in the stack directory (default SAVED_PLAN_FILE). */
  planFile?: string;
}

/** `terraform plan -out` then `show -json` in an initialized stack directory: the plan as Terraform's JSON text. */
export async function planToJson(stackDir: string, o: PlanOptions): Promise<string> {
  const planFile = o.planFile ?? SAVED_PLAN_FILE;
  const flags = ["-input=false", ...(o.refresh === false ? ["-refresh=false"] : []), `-out=${planFile}`];
  await terraformOk(["plan", ...flags], { ...o, cwd: stackDir });
  return (await terraformOk(["show", "-json", planFile], { ...o, cwd: stackDir, echo: false })).stdout;
}
