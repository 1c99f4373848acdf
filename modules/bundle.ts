import { createHash } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { buildSync } from "esbuild";

const bundles = new Map<string, string>();
let workDir: string | undefined;

/** The process's folder of bundles, removed when it exits. */
function bundlesDir(): string {
  if (!workDir) {
    workDir = mkdtempSync(path.join(os.tmpdir(), "llm-stream-bundles-"));
    const dir = workDir;
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  }
  return workDir;
}

/**
 * Bundles one Lambda entry point (e.g. lambdas/stream-worker/handler.ts) with esbuild into `<dir>/index.js` and
 * returns the directory. One build per entry and process: every environment ships the same code. `files` (name ->
 * content) are written beside index.js in a copy of that directory, one per distinct set: an environment's own data
 * (the worker's tool specs) travels in its asset, while the code stays the one build.
 */
export function bundleHandler(entry: string, files: Record<string, string> = {}): string {
  const code = buildOnce(entry);
  if (Object.keys(files).length === 0) return code;
  const key = createHash("sha256").update(JSON.stringify([code, Object.entries(files).sort()])).digest("hex").slice(0, 16);
  const cached = bundles.get(key);
  if (cached) return cached;
  const outdir = path.join(bundlesDir(), `with-${key}`);
  mkdirSync(outdir, { recursive: true });
  cpSync(code, outdir, { recursive: true });
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(outdir, name), content);
  bundles.set(key, outdir);
  return outdir;
}

function buildOnce(entry: string): string {
  const absolute = path.resolve(entry);
  const cached = bundles.get(absolute);
  if (cached) return cached;
  const outdir = path.join(bundlesDir(), String(bundles.size));
  buildSync({
    entryPoints: [absolute],
    outfile: path.join(outdir, "index.js"),
    bundle: true,
    platform: "node",
    target: "node22",
    format: "cjs",
    minify: true,
    sourcemap: false,
    legalComments: "none",
    logLevel: "silent",
  });
  bundles.set(absolute, outdir);
  return outdir;
}
