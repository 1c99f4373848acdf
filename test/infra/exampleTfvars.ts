/**
 * environments/example.tfvars filled in the way its header tells a reader to: every `<placeholder>` replaced with a
 * value, and optionally its commented-out blocks uncommented. Tests use it to show the example is complete and
 * synthesizes once filled, without the example itself holding values someone could deploy by accident.
 */
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ENVIRONMENTS_DIR } from "../../config/load";
import { PLACEHOLDER } from "../../config/placeholders";

export const EXAMPLE_FILE = path.join(ENVIRONMENTS_DIR, "example.tfvars");

/** What a reader would put in place of each placeholder of the example. */
export const EXAMPLE_VALUES: Readonly<Record<string, string>> = {
  env: "example",
  "account-id": "123456789012",
  region: "us-east-1",
  "user-pool-id": "us-east-1_AbCdEf123",
  "alerts-email": "platform-alerts@example.com",
  "alerts-topic": "platform-oncall",
};

/** The example's optional blocks, commented out as `# <block> = {` ... `# }`. */
export type OptionalBlock = "cognito" | "alarms";

/** Removes one `# ` from each line of a commented-out top-level block, as a reader uncommenting it would. */
function uncommentBlock(text: string, block: OptionalBlock): string {
  const lines = text.split("\n");
  const start = lines.findIndex((l) => l === `# ${block} = {`);
  if (start === -1) throw new Error(`example.tfvars has no commented-out ${block} block`);
  const end = lines.findIndex((l, i) => i > start && l === "# }");
  for (let i = start; i <= end; i++) lines[i] = lines[i].replace(/^# ?/, "");
  return lines.join("\n");
}

/** The example's text with its placeholders replaced (`values` over EXAMPLE_VALUES) and the given blocks uncommented. */
export function filledExample(opts: { values?: Record<string, string>; uncomment?: OptionalBlock[] } = {}): string {
  const values = { ...EXAMPLE_VALUES, ...opts.values };
  let text = readFileSync(EXAMPLE_FILE, "utf8");
  for (const block of opts.uncomment ?? []) text = uncommentBlock(text, block);
  return text.replace(PLACEHOLDER, (whole, token: string) => values[token] ?? whole);
}

/**
 * A copy of environments/ whose example.tfvars is filled in (both optional blocks on, so every key is exercised):
 * synthesize the example and the shipped environments from `dir`.
 */
export function environmentsWithFilledExample(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), "infra-environments-"));
  for (const f of readdirSync(ENVIRONMENTS_DIR).filter((n) => n.endsWith(".tfvars"))) copyFileSync(path.join(ENVIRONMENTS_DIR, f), path.join(dir, f));
  writeFileSync(path.join(dir, "example.tfvars"), filledExample({ uncomment: ["cognito", "alarms"] }));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
