/**
 * npm run plan-summary -- [--env <name>] <plan.json> [[--env <name>] <plan.json> ...] [--out <file.md>]
 * Reads JSON plans (`terraform show -json <planfile>`, as `npm run plan` writes them to cdktf.out/plans/<env>.json)
 * and prints the reviewer's Markdown. The environment is the file's base name unless `--env` precedes the file.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { answeredHelp } from "./cli";
import { asTerraformPlan } from "./plan-summary/planJson";
import { EnvironmentSummary, environmentFromFileName, renderMarkdown, summarizePlan } from "./plan-summary/summary";

const USAGE = `Usage: npm run plan-summary -- [--env <name>] <plan.json> [[--env <name>] <plan.json> ...] [--out <file.md>]

Prints the Markdown the pull-request comment shows for Terraform JSON plans (terraform show -json <planfile>; npm run
plan writes cdktf.out/plans/<env>.json): counts, stateful replacements, the IAM and resource policy statement diff,
directSend/model/batching changes in plain words, and every resource change with the attributes an update changes.

  --env <name>   the environment of the plan file that follows (default: the file's base name)
  --out <file>   also write the Markdown to this file
  -h, --help     this text`;

export function parseArgs(argv: string[]): { inputs: { file: string; env: string }[]; out?: string } {
  const inputs: { file: string; env: string }[] = [];
  let pendingEnv: string | undefined;
  let out: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--env" || arg === "--out") {
      const value = argv[++i];
      if (!value || value.startsWith("--")) throw new Error(`${arg} needs a value\n${USAGE}`);
      if (arg === "--env") pendingEnv = value;
      else out = value;
    } else if (arg.startsWith("--")) {
      throw new Error(`unknown option ${arg}\n${USAGE}`);
    } else {
      inputs.push({ file: arg, env: pendingEnv ?? environmentFromFileName(arg) });
      pendingEnv = undefined;
    }
  }
  if (!inputs.length) throw new Error(USAGE);
  return { inputs, out };
}

function main(): void {
  const { inputs, out } = parseArgs(process.argv.slice(2));
  const summaries: EnvironmentSummary[] = inputs.map(({ file, env }) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, "utf8"));
    } catch (e) {
      throw new Error(`${file}: ${(e as Error).message}`);
    }
    return summarizePlan(env, asTerraformPlan(parsed, file));
  });
  const markdown = renderMarkdown(summaries);
  if (out) writeFileSync(out, markdown);
  process.stdout.write(markdown);
}

if (require.main === module && !answeredHelp(process.argv.slice(2), USAGE)) {
  try {
    main();
  } catch (e) {
    process.stderr.write(`plan-summary: ${(e as Error).message}\n`);
    process.exit(1);
  }
}
