/**
 * `npm run usage -- <env> [--user <sub>] [--from <yyyy-mm-dd>] [--to <yyyy-mm-dd>]`: per-user usage from the
 * environment's usage table (`<project>-<env>-usage`, lambdas/shared/usageTable.ts), read with the operator's own AWS
 * credentials (the SDK's default chain), printed as a table: day, user, model, messages, tokens, guardrail
 * interventions and the cost estimate. `local` reads the running local stack's table (local/stackState.ts): no AWS.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { loadEnvironment } from "../config/load";
import { resourceNames } from "../config/names";
import { PRICES_READ, priceOf } from "../contracts/modelPrices";
import { addDays, dayOf, usageDay, type UsageRow } from "../contracts/usage";
import { UsageTable } from "../lambdas/shared/usageTable";
import { LOCAL_STACK_STATE_PATH, readStackState } from "../local/stackState";
import { answeredHelp, optionValue, positionals } from "./cli";

export const USAGE_USAGE = `Usage: npm run usage -- <env> [--user <sub>] [--from <yyyy-mm-dd>] [--to <yyyy-mm-dd>]

Prints the usage table of <env> (<project>-<env>-usage): per UTC day, user and model, the messages that ended, input
and output tokens, guardrail interventions and the cost estimate (contracts/modelPrices.ts). Reads with your own AWS
credentials (the SDK's default chain: AWS_PROFILE, environment, SSO...), which need dynamodb:Query (with --user) or
dynamodb:Scan on that table. \`local\` reads the running \`npm start\` stack instead: no AWS account.

  --user <sub>         one user's rows (their Cognito sub); without it every user's (a Scan)
  --from <yyyy-mm-dd>  first UTC day (default: 29 days before --to)
  --to <yyyy-mm-dd>    last UTC day (default: today)
  --state-file <path>  with local: the state file the stack wrote (default local/.state/stack.json)
  -h, --help           this text`;

const OPTIONS = ["--user", "--from", "--to", "--state-file"];

export interface UsageQuery {
  env: string;
  user?: string;
  from: string;
  to: string;
  stateFile: string;
}

/** The command line as a query; throws an Error naming the bad argument. */
export function parseUsageArgs(argv: string[], now = Date.now()): UsageQuery {
  const [env, ...extra] = positionals(argv, OPTIONS);
  if (!env) throw new Error("name the environment: npm run usage -- <env> (or local)");
  if (extra.length) throw new Error(`unexpected argument ${extra[0]}`);
  const day = (name: string, fallback: string): string => {
    const value = optionValue(argv, name);
    if (value === undefined) return fallback;
    const parsed = dayOf(value);
    if (!parsed) throw new Error(`${name} must be a date such as 2026-11-23, got ${value}`);
    return parsed;
  };
  const to = day("--to", usageDay(now));
  const from = day("--from", addDays(to, -29));
  if (from > to) throw new Error(`--from (${from}) must not be after --to (${to})`);
  return { env, user: optionValue(argv, "--user"), from, to, stateFile: optionValue(argv, "--state-file") ?? LOCAL_STACK_STATE_PATH };
}

/** The usage table to read: the local stack's, or the deployed environment's in its region. */
async function tableFor(q: UsageQuery): Promise<{ table: UsageTable; where: string; close: () => void }> {
  if (q.env === "local") {
    const state = readStackState(q.stateFile);
    if ("missing" in state) throw new Error(state.missing);
    const client = new DynamoDBClient({ region: state.region, endpoint: state.dynamodbEndpoint, credentials: state.credentials });
    return { table: new UsageTable({ doc: DynamoDBDocumentClient.from(client), tableName: state.usageTable }), where: `${state.usageTable} (local stack, ${state.dynamodbEndpoint})`, close: () => client.destroy() };
  }
  const c = await loadEnvironment(q.env);
  const tableName = resourceNames(c).usageTable;
  const client = new DynamoDBClient({ region: c.region });
  return { table: new UsageTable({ doc: DynamoDBDocumentClient.from(client), tableName }), where: `${tableName} (${c.region}, account ${c.account_id})`, close: () => client.destroy() };
}

type Row = UsageRow & { userId?: string };

/** The rows as an aligned text table with a total line; models without a price say so. */
export function renderUsage(rows: Row[], showUser: boolean): string {
  const sorted = [...rows].sort((a, b) => a.day.localeCompare(b.day) || (a.userId ?? "").localeCompare(b.userId ?? "") || a.modelId.localeCompare(b.modelId));
  const money = (r: Row) => (priceOf(r.modelId) ? `$${r.costUsd.toFixed(4)}` : "no price");
  const header = ["day", ...(showUser ? ["user"] : []), "model", "messages", "input tokens", "output tokens", "guardrail", "cost (est.)"];
  const line = (r: Row) => [r.day, ...(showUser ? [r.userId ?? ""] : []), r.modelId, r.messages, r.inputTokens, r.outputTokens, r.guardrailInterventions, money(r)].map(String);
  const sum = (k: keyof UsageRow) => rows.reduce((n, r) => n + Number(r[k]), 0);
  const total = ["total", ...(showUser ? [String(new Set(rows.map((r) => r.userId)).size) + " users"] : []), "", sum("messages"), sum("inputTokens"), sum("outputTokens"), sum("guardrailInterventions"), `$${sum("costUsd").toFixed(4)}`].map(String);
  const table = [header, ...sorted.map(line), total];
  const widths = header.map((_, i) => Math.max(...table.map((cells) => cells[i].length)));
  const numeric = (i: number) => i >= header.length - 5;
  return table.map((cells) => cells.map((c, i) => (numeric(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ").trimEnd()).join("\n");
}

/** Reads and prints; the text goes to stdout, the source line to stderr. */
export async function printUsage(q: UsageQuery, out: (text: string) => void = (t) => process.stdout.write(t), err: (text: string) => void = (t) => process.stderr.write(t)): Promise<Row[]> {
  const { table, where, close } = await tableFor(q);
  try {
    const rows: Row[] = q.user ? (await table.rows(q.user, q.from, q.to)).map((r) => ({ ...r, userId: q.user })) : await table.allRows(q.from, q.to);
    err(`usage of ${q.user ? `user ${q.user}` : "every user"} from ${q.from} to ${q.to} (UTC) in ${where}; prices as read on ${PRICES_READ.date} (contracts/modelPrices.ts)\n`);
    out(rows.length ? `${renderUsage(rows, !q.user)}\n` : "no usage in that range\n");
    return rows;
  } finally {
    close();
  }
}

if (require.main === module && !answeredHelp(process.argv.slice(2), USAGE_USAGE, OPTIONS)) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  Promise.resolve()
    .then(() => printUsage(parseUsageArgs(process.argv.slice(2))))
    .catch((e: unknown) => {
      const name = (e as { name?: string })?.name;
      const hint = name === "CredentialsProviderError" ? " (no AWS credentials: set AWS_PROFILE or log in, e.g. aws sso login)" : name === "ResourceNotFoundException" ? " (is the stack deployed?)" : "";
      process.stderr.write(`npm run usage failed: ${e instanceof Error ? e.message : String(e)}${hint}\n`);
      process.exitCode = 1;
    });
}
