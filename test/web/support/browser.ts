/**
 * Launches Chromium through playwright-core with a fresh profile: Debian's /usr/bin/chromium when it is installed
 * (the flags from the toolchain notes), otherwise the Chromium that ships inside the @sparticuz/chromium npm package
 * (unpacked to /tmp on first use, launched with its own flags), so a fresh machine needs no apt step.
 * `LOCAL_CHROMIUM_PATH` names another system Chromium; a path that does not exist forces the packaged one.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { chromium, type BrowserContext } from "playwright-core";

const REPO_ROOT = path.resolve(__dirname, "../../..");
/** The system Chromium used when it exists. */
export const SYSTEM_CHROMIUM_PATH = process.env.LOCAL_CHROMIUM_PATH || "/usr/bin/chromium";
const SYSTEM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
/** The packaged Chromium's flags that would let a page do what a user's browser forbids (CORS, mixed content): not ours. */
const PERMISSIVE_FLAGS = ["--disable-web-security", "--allow-running-insecure-content", "--disable-site-isolation-trials"];
/** Unpacking takes about a second; a cold disk on a busy machine gets more. */
const UNPACK_TIMEOUT_MS = 60_000;

/** Which Chromium runs, and with which flags. */
export interface ChromiumBinary {
  source: "system" | "@sparticuz/chromium";
  executablePath: string;
  args: string[];
}

export interface Browser {
  context: BrowserContext;
  binary: ChromiumBinary;
  close(): Promise<void>;
}

/** The system Chromium when present, else the packaged one. */
export async function findChromium(): Promise<ChromiumBinary> {
  if (existsSync(SYSTEM_CHROMIUM_PATH)) return { source: "system", executablePath: SYSTEM_CHROMIUM_PATH, args: SYSTEM_FLAGS };
  const packaged = await packagedChromium();
  const args = packaged.args.filter((flag) => !PERMISSIVE_FLAGS.includes(flag));
  return { source: "@sparticuz/chromium", executablePath: packaged.executablePath, args: [...args, ...SYSTEM_FLAGS.filter((f) => !f.startsWith("--headless"))] };
}

/**
 * @sparticuz/chromium's executablePath() and args, asked in a child node: the package is ESM only, and jest's
 * CommonJS sandbox cannot import it.
 */
async function packagedChromium(): Promise<{ executablePath: string; args: string[] }> {
  const script = 'import c from "@sparticuz/chromium"; console.log(JSON.stringify({ executablePath: await c.executablePath(), args: c.args }));';
  try {
    const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], { cwd: REPO_ROOT, timeout: UNPACK_TIMEOUT_MS });
    return JSON.parse(stdout) as { executablePath: string; args: string[] };
  } catch (err) {
    throw new Error(`no Chromium at ${SYSTEM_CHROMIUM_PATH}, and @sparticuz/chromium (a devDependency: npm ci) did not unpack: ${(err as Error).message}`);
  }
}

/** A headless Chromium with a fresh profile; close() also removes the profile. */
export async function launchChromium(): Promise<Browser> {
  const binary = await findChromium();
  const profile = await mkdtemp(path.join(os.tmpdir(), "web-console-profile-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: binary.executablePath,
    headless: true,
    args: binary.args,
    viewport: { width: 1280, height: 900 },
  });
  return {
    context,
    binary,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
