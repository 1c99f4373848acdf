import { mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { buildSync } from "esbuild";

const bundles = new Map<string, string>();
let workDir: string | undefined;

/**
 * Bundles one Lambda entry point (e.g. lambdas/stream-worker/handler.ts) with esbuild into `<dir>/index.js` and
 * returns the directory. One build per entry and process: every environment ships the same code.
 */
export function bundleHandler(entry: string): string {
  const absolute = path.resolve(entry);
  const cached = bundles.get(absolute);
  if (cached) return cached;
  if (!workDir) {
    workDir = mkdtempSync(path.join(os.tmpdir(), "llm-stream-bundles-"));
    const dir = workDir;
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  }
  const outdir = path.join(workDir, String(bundles.size));
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
