/**
 * Tools in the config and the stack (issue 15), on the agent fixture (test/fixtures/environments/agent/, with its
 * schema files beside it): validation names the file and key of every problem in one round, schema files resolve
 * against the tfvars folder, the tool specs ride beside the worker's code (not in its 4 KB environment), IAM names
 * exactly the tool Lambdas' ARNs, and the permissions boundary does too.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { inflateRawSync } from "node:zlib";
import { planAccounts } from "../../bootstrap/config";
import { boundaryPolicy } from "../../bootstrap/policies";
import { ConfigError, loadEnvironment, readTfvarsFile, validateEnvironment } from "../../config/load";
import { stackName, type EnvironmentConfig } from "../../config/schema";
import { resourceNames } from "../../config/names";
import { toolSpecFileSchema } from "../../contracts/toolSpecs";
import { FIXTURES_DIR, tfvarsText, type RawTfvars } from "../fixtures/environments";
import { synthesizeToTemp, type StackView, type Synthesized } from "./stackView";

const AGENT_DIR = path.join(FIXTURES_DIR, "agent");
const FILE = "test/fixtures/environments/agent/agent.tfvars";
const ORDERS = "arn:aws:lambda:us-east-1:111111111111:function:orders-lookup";
const DOCS = "arn:aws:lambda:us-east-1:222222222222:function:docs-search:live";

/** One entry of a zip archive (stored or deflated), read from its central directory. */
function zipEntry(file: string, name: string): string | undefined {
  const zip = readFileSync(file);
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  let at = zip.readUInt32LE(end + 16);
  for (let n = zip.readUInt16LE(end + 10); n > 0; n--) {
    const [method, size, nameLength, extra, comment, local] = [zip.readUInt16LE(at + 10), zip.readUInt32LE(at + 20), zip.readUInt16LE(at + 28), zip.readUInt16LE(at + 30), zip.readUInt16LE(at + 32), zip.readUInt32LE(at + 42)];
    if (zip.toString("utf8", at + 46, at + 46 + nameLength) === name) {
      const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
      const data = zip.subarray(start, start + size);
      return (method === 8 ? inflateRawSync(data) : data).toString("utf8");
    }
    at += 46 + nameLength + extra + comment;
  }
  return undefined;
}

let raw: RawTfvars;
beforeAll(async () => {
  raw = (await readTfvarsFile(path.join(AGENT_DIR, "agent.tfvars"))).raw as RawTfvars;
});

describe("tools config", () => {
  /** The agent fixture's raw tfvars with `tools` replaced, validated against the fixture's folder. */
  const validate = (tools: unknown, dir = AGENT_DIR) => validateEnvironment(FILE, { ...raw, tools }, "agent", dir);

  it("resolves each schema file against the tfvars file's folder, wherever the process runs", async () => {
    const c = await loadEnvironment("agent", AGENT_DIR);
    expect(c.tools).toMatchObject({ enabled: ["current_time", "calculator"], max_rounds: 3 });
    expect(c.tools.lambdas.map((l) => l.input_schema_file)).toEqual([path.join(AGENT_DIR, "tool-schemas/lookup_order.json"), path.join(AGENT_DIR, "tool-schemas/search_docs.json")]);
    expect(validate(undefined).tools).toEqual({ enabled: [], lambdas: [], max_rounds: 5 });
  });

  it("names the file and key of every problem in one round: unknown and repeated names, bad schema files, notices, ARNs, rounds", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "tool-schemas-"));
    writeFileSync(path.join(dir, "broken.json"), "{ not json");
    writeFileSync(path.join(dir, "list.json"), '["type", "object"]');
    writeFileSync(path.join(dir, "required.json"), '{"type": "object", "properties": {"a": {}}, "required": ["b"]}');
    cpSync(path.join(AGENT_DIR, "tool-schemas/lookup_order.json"), path.join(dir, "order.json"));
    const entry = (name: string, file: string, extra: Record<string, string> = {}) => ({ name, description: "A tool.", input_schema_file: file, lambda_arn: ORDERS, notice: "Working...", ...extra });
    const tools = {
      enabled: ["current_time", "weather", "calculator"],
      lambdas: [
        entry("calculator", "order.json"),
        entry("missing", "nowhere.json"),
        entry("broken", "broken.json"),
        entry("list", "list.json"),
        entry("required", "required.json"),
        entry("order", "order.json", { notice: "Looking up {orderId} for {customer}..." }),
        entry("bad name!", "order.json", { lambda_arn: "arn:aws:lambda:us-east-1:111111111111:orders" }),
      ],
      max_rounds: 21,
    };
    let error: unknown;
    try {
      validate(tools, dir);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      `tools.enabled.1 must be a built-in tool, one of "current_time", "calculator", got "weather"`,
      "tools.lambdas.6.name must be 1-64 letters, digits, _ or - (Bedrock's tool names), got \"bad name!\"",
      "tools.lambdas.6.lambda_arn must be a Lambda function ARN such as arn:aws:lambda:us-east-1:123456789012:function:lookup-order, got \"arn:aws:lambda:us-east-1:111111111111:orders\"",
      "tools.max_rounds must be between 1 and 20, got 21",
      `tools must name each tool once across tools.enabled and tools.lambdas, got "calculator" more than once`,
      "tools.lambdas.1.input_schema_file names nowhere.json, which does not exist (the path is relative to the tfvars file's folder)",
      expect.stringMatching(/^tools\.lambdas\.2\.input_schema_file names broken\.json, which is not valid JSON \(/),
      'tools.lambdas.3.input_schema_file names list.json, which must hold a JSON Schema object: a JSON object with "type": "object"',
      'tools.lambdas.4.input_schema_file names required.json, which must have "required" as a list of names under "properties"',
      'tools.lambdas.5.notice names {customer}, which the input schema does not define under "properties"',
    ]);
    expect((error as ConfigError).message.split("\n").every((line) => line.startsWith(`${FILE}: tools`))).toBe(true);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("a stack with tools", () => {
  let synth: Synthesized;
  let stack: StackView;
  let config: EnvironmentConfig;
  let noTools: Synthesized;
  let noToolsDir: string;
  beforeAll(async () => {
    config = await loadEnvironment("agent", AGENT_DIR);
    noToolsDir = mkdtempSync(path.join(os.tmpdir(), "agent-no-tools-"));
    const { tools: _tools, ...rest } = raw;
    writeFileSync(path.join(noToolsDir, "agent.tfvars"), tfvarsText(rest, "the agent fixture without tools"));
    [synth, noTools] = await Promise.all([synthesizeToTemp(["agent"], AGENT_DIR), synthesizeToTemp(["agent"], noToolsDir)]);
    stack = synth.stack(stackName(config));
  }, 60_000);
  afterAll(() => {
    synth?.cleanup();
    noTools?.cleanup();
    rmSync(noToolsDir, { recursive: true, force: true });
  });

  const names = () => resourceNames(config).functions;
  const worker = (view: StackView) => view.one("aws_lambda_function", (f) => f.function_name === names().streamWorker);

  it("gives the worker lambda:InvokeFunction on exactly the tool Lambdas' ARNs, and no other function any", () => {
    const invoking = Object.values(names()).map((fn) => [fn, stack.functionPermissions(fn).filter((s) => s.actions?.includes("lambda:InvokeFunction")).map((s) => [s.sid, s.actions, s.resources])]);
    expect(invoking).toEqual(Object.values(names()).map((fn) => [fn, fn === names().streamWorker ? [["InvokeToolLambdas", ["lambda:InvokeFunction"], [ORDERS, DOCS]]] : []]));
    expect(noTools.stack(stackName(config)).functionPermissions(names().streamWorker).filter((s) => s.actions?.includes("lambda:InvokeFunction"))).toEqual([]);
  });

  it("puts the tool specs, the schema files' contents included, beside the worker's code; the environment only names the file", () => {
    const fn = worker(stack);
    expect(fn.environment.variables.TOOLS_FILE).toBe("tools.json");
    const specs = toolSpecFileSchema.parse(JSON.parse(zipEntry(path.join(stack.dir, fn.filename), "tools.json")!));
    expect(specs).toEqual({
      maxRounds: 3,
      builtIn: ["current_time", "calculator"],
      lambdas: [
        { name: "lookup_order", description: "Looks up an order by its id and returns its status.", inputSchema: JSON.parse(readFileSync(path.join(AGENT_DIR, "tool-schemas/lookup_order.json"), "utf8")), lambdaArn: ORDERS, notice: "Looking up order {orderId}..." },
        expect.objectContaining({ name: "search_docs", lambdaArn: DOCS, notice: "Searching the docs for {query}..." }),
      ],
    });
    const plain = worker(noTools.stack(stackName(config)));
    expect(plain.environment.variables.TOOLS_FILE).toBe("");
    expect(zipEntry(path.join(noTools.stack(stackName(config)).dir, plain.filename), "tools.json")).toBeUndefined();
    // The other functions ship the same code with and without tools: only the worker's asset carries the file.
    const sendQuery = (view: StackView) => view.one("aws_lambda_function", (f) => f.function_name === names().sendQuery).source_code_hash;
    expect(sendQuery(stack)).toBe(sendQuery(noTools.stack(stackName(config))));
  });

  it("names the tool Lambdas in the environment's permissions boundary too", () => {
    const [account] = planAccounts([config], { owner: "example", repo: "llm-stream" });
    const statement = boundaryPolicy(account!, account!.roles[0]!.environments[0]!).document.Statement.find((s) => s.Sid === "InvokeOwnFunctions")!;
    expect(statement.Resource).toEqual([`arn:aws:lambda:us-east-1:111111111111:function:${stackName(config)}-*`, ORDERS, DOCS]);
  });
});
