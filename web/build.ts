/**
 * Bundles the web console into a static folder: index.html, styles.css and app.js. The local stack calls
 * `buildWebConsole` at start (no build step for the user); for a deployed stack run
 * `npx tsx web/build.ts <outDir>`, add that stack's `client-config.json` beside index.html and host the folder.
 */
import { copyFile, mkdir } from "node:fs/promises";
import * as path from "node:path";
import { build } from "esbuild";

const WEB_DIR = __dirname;

export interface BuildWebOptions {
  /** Minify app.js (default true). */
  minify?: boolean;
}

export async function buildWebConsole(outDir: string, options: BuildWebOptions = {}): Promise<void> {
  await mkdir(outDir, { recursive: true });
  await build({
    entryPoints: [path.join(WEB_DIR, "src", "main.ts")],
    outfile: path.join(outDir, "app.js"),
    bundle: true,
    platform: "browser",
    format: "iife",
    target: ["es2022"],
    minify: options.minify ?? true,
    sourcemap: false,
    legalComments: "none",
    logLevel: "silent",
    // amazon-cognito-identity-js reads `global` in one place; in a page that is `globalThis`.
    define: { global: "globalThis" },
  });
  await Promise.all(["index.html", "styles.css"].map((f) => copyFile(path.join(WEB_DIR, f), path.join(outDir, f))));
}

if (require.main === module) {
  const outDir = process.argv[2];
  if (!outDir) {
    console.error("usage: npx tsx web/build.ts <outDir>");
    process.exit(2);
  }
  buildWebConsole(path.resolve(outDir)).then(
    () => console.log(`web console built in ${path.resolve(outDir)}; put client-config.json beside index.html`),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
