/** The lint config really applies AppSync's rules to graphql/resolvers/*.js, and the shipped resolvers pass them. */
import { spawn } from "node:child_process";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "../..");

/** ESLint's CLI in a child process (its API needs ESM dynamic import, which jest's VM does not offer). */
function eslint(args: string[], stdin?: string): Promise<{ code: number; results: { filePath: string; messages: { ruleId: string; line: number; message: string }[] }[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, "node_modules/eslint/bin/eslint.js"), "--format", "json", ...args], { cwd: ROOT });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => {
      try {
        resolve({ code: code ?? 1, results: JSON.parse(out) });
      } catch {
        reject(new Error(`eslint failed (${code}): ${err}`));
      }
    });
    child.stdin.end(stdin ?? "");
  });
}

test("the shipped resolvers are valid APPSYNC_JS", async () => {
  const { code, results } = await eslint(["graphql/resolvers"]);
  expect(results.map((r) => path.basename(r.filePath)).sort()).toEqual(expect.arrayContaining(["publishResponse.js", "receiveMessages.js", "sendQuery.js", "whoami.js"]));
  expect(results.flatMap((r) => r.messages.map((m) => `${path.basename(r.filePath)}:${m.line} ${m.message}`))).toEqual([]);
  expect(code).toBe(0);
}, 60_000);

test("constructs the AppSync runtime rejects are reported in a resolver file", async () => {
  const probe = "export function request(ctx) {\n  for (let i = 0; i < 2; i++) {}\n  return /x/.test(ctx.args.q);\n}\nexport function response(ctx) {\n  return ctx.result;\n}\n";
  const { code, results } = await eslint(["--stdin", "--stdin-filename", "graphql/resolvers/probe.js"], probe);
  expect(results[0].messages.map((m) => m.ruleId).sort()).toEqual(["@aws-appsync/no-disallowed-unary-operators", "@aws-appsync/no-for", "@aws-appsync/no-regex"]);
  expect(code).toBe(1);
}, 60_000);
