/**
 * Runs terraform for a synthesized stack with the project's own CLI config (provider mirror when present) and no
 * telemetry. Shared by scripts/plan.ts and the infra tests.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";

export const PROVIDER_MIRROR = "/opt/tf-plugins";
export const OFFLINE_OVERRIDE_FILE = "zz_offline_override.tf.json";

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
    terraform: { backend: { local: { path: "terraform.offline.tfstate" } } },
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

/** Runs `terraform <args>` in `cwd`; rejects after `timeoutMs` (the process is killed). Output is echoed when `echo`. */
export function terraform(args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number; echo?: boolean }): Promise<TerraformResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("terraform", args, { cwd: opts.cwd, env: opts.env, stdio: ["ignore", "pipe", "pipe"] });
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
      reject(new Error(`terraform ${args.join(" ")} timed out after ${opts.timeoutMs} ms in ${opts.cwd}\n${stderr}`));
    }, opts.timeoutMs ?? 300_000);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}
