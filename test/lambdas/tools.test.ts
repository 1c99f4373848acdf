/**
 * The tool registry's parts (lambdas/stream-worker/tools/): the built-ins (the calculator's parser, current_time), the
 * notices users see, the registry's results, limits and sources, and a tool Lambda invoked synchronously.
 */
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { mkdtempSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BUILT_IN_TOOL_NAMES, type ToolSpecFile } from "../../contracts/toolSpecs";
import { createLambdaInvoker } from "../../lambdas/shared/lambdaInvoker";
import { BUILT_IN_TOOLS } from "../../lambdas/stream-worker/tools/builtInTools";
import { evaluateArithmetic } from "../../lambdas/stream-worker/tools/calculator";
import { renderNotice } from "../../lambdas/stream-worker/tools/notice";
import { loadToolRegistry, MAX_TOOL_RESULT_CHARS, ToolRegistry } from "../../lambdas/stream-worker/tools/toolRegistry";

const context = { userId: "user-sub-1", sessionId: "session-0001", now: () => Date.parse("2026-11-23T12:00:00.000Z") };

describe("calculator", () => {
  it.each<[string, number]>([
    ["(2 + 3) * 4.5", 22.5],
    ["2 ^ 3 ^ 2", 512],
    ["-2 ^ 2", -4],
    ["10 % 4 - -1", 3],
    ["1e3 / 8", 125],
    [" .5 + 1. ", 1.5],
  ])("evaluates %s to %d", (expression, value) => {
    expect(evaluateArithmetic(expression)).toBe(value);
  });

  it.each<[string, RegExp]>([
    ["1 / 0", /division by zero/],
    ["2 +", /expected a number, found the end of the expression/],
    ["(1", /expected a closing parenthesis/],
    ["process.exit()", /expected a number, found "p" at position 1/],
    ["1 2", /unexpected "2" at position 3/],
    ["10 ^ 400", /not a finite number/],
    [`${"(".repeat(40)}1${")".repeat(40)}`, /nests deeper than 32 levels/],
  ])("refuses %s, saying why", (expression, problem) => {
    expect(() => evaluateArithmetic(expression)).toThrow(problem);
  });

  it("takes its input through its zod schema, converted once to a JSON Schema object", async () => {
    expect(BUILT_IN_TOOLS.calculator.inputSchema).toEqual({
      type: "object",
      properties: { expression: { type: "string", minLength: 1, maxLength: 200, description: "The arithmetic expression, e.g. (2 + 3) * 4.5" } },
      required: ["expression"],
      additionalProperties: false,
    });
    await expect(BUILT_IN_TOOLS.calculator.run({ expression: "6 * 7" }, context)).resolves.toEqual({ expression: "6 * 7", result: 42 });
    await expect(BUILT_IN_TOOLS.calculator.run({ expr: "1" }, context)).rejects.toThrow(/expression/);
  });
});

describe("built-in tools", () => {
  it("has one implementation per built-in name, each a JSON Schema object", () => {
    expect(Object.keys(BUILT_IN_TOOLS).sort()).toEqual([...BUILT_IN_TOOL_NAMES].sort());
    for (const [name, tool] of Object.entries(BUILT_IN_TOOLS)) expect([tool.name, tool.inputSchema.type]).toEqual([name, "object"]);
  });

  it("current_time answers the clock's time in UTC, deterministically", async () => {
    await expect(BUILT_IN_TOOLS.current_time.run({}, context)).resolves.toEqual({ utc: "2026-11-23T12:00:00.000Z", unixSeconds: 1795435200 });
  });
});

describe("notices", () => {
  it("renders only the fields the template names, on one line, cut short", () => {
    expect(renderNotice("Looking up order {orderId}...", { orderId: 42, apiKey: "secret" })).toBe("Looking up order 42...");
    expect(renderNotice("Order {orderId}", { orderId: "a\nb\u0007c" })).toBe("Order a b c");
    expect(renderNotice("Order {orderId}", { orderId: { nested: "secret" } })).toBe("Order …");
    expect(renderNotice("Order {orderId}", {})).toBe("Order …");
    expect(renderNotice("Searching {q}", { q: "x".repeat(100) })).toBe(`Searching ${"x".repeat(39)}…`);
    expect(Array.from(renderNotice(`${"y".repeat(150)} {a} {b}`, { a: "z".repeat(40), b: "z".repeat(40) }))).toHaveLength(160);
  });
});

describe("ToolRegistry", () => {
  const registry = new ToolRegistry([BUILT_IN_TOOLS.calculator, { name: "big", description: "Big.", inputSchema: { type: "object" }, notice: "Big...", run: async () => "z".repeat(MAX_TOOL_RESULT_CHARS + 5) }], 3);

  it("gives ConverseStream every tool's spec", () => {
    expect(registry.toolConfig.tools!.map((t) => t.toolSpec!.name)).toEqual(["calculator", "big"]);
    expect(registry.toolConfig.tools![0]!.toolSpec!.inputSchema).toEqual({ json: BUILT_IN_TOOLS.calculator.inputSchema });
  });

  it("cuts a long result and says so", async () => {
    const outcome = await registry.call({ toolUseId: "b", name: "big", input: {} }, context);
    expect((outcome.result.content![0] as { text: string }).text).toMatch(/ \[cut\]$/);
    expect(outcome.error).toBeUndefined();
  });

  it("reads the spec file the stacks write: the built-ins it names, its tool Lambdas, the round bound", () => {
    const spec: ToolSpecFile = { maxRounds: 4, builtIn: ["current_time"], lambdas: [{ name: "lookup_order", description: "Looks up an order.", inputSchema: { type: "object", properties: { orderId: { type: "string" } } }, lambdaArn: "arn:aws:lambda:us-east-1:123456789012:function:orders", notice: "Looking up order {orderId}..." }] };
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), "tools-spec-")), "tools.json");
    writeFileSync(file, JSON.stringify(spec));
    const loaded = loadToolRegistry(file, createLambdaInvoker({ region: "us-east-1" }));
    expect([loaded.names, loaded.maxRounds]).toEqual([["current_time", "lookup_order"], 4]);
    expect(loaded.notice({ toolUseId: "1", name: "lookup_order", input: { orderId: "A-7" } })).toBe("Looking up order A-7...");
  });
});

describe("a tool Lambda", () => {
  const lambdaMock = mockClient(LambdaClient);
  const ARN = "arn:aws:lambda:us-east-1:123456789012:function:orders";
  const spec: ToolSpecFile = { maxRounds: 2, builtIn: [], lambdas: [{ name: "lookup_order", description: "Looks up an order.", inputSchema: { type: "object" }, lambdaArn: ARN, notice: "Looking up order {orderId}..." }] };
  const file = () => {
    const f = path.join(mkdtempSync(path.join(os.tmpdir(), "tools-spec-")), "tools.json");
    writeFileSync(f, JSON.stringify(spec));
    return f;
  };
  const registry = () => loadToolRegistry(file(), createLambdaInvoker({ region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "y" } }, new LambdaClient({ region: "us-east-1" })));
  beforeEach(() => lambdaMock.reset());

  it("is invoked synchronously with the input and who it runs for; its JSON answer, sources included, is the result", async () => {
    lambdaMock.on(InvokeCommand).resolves({ StatusCode: 200, Payload: Buffer.from(JSON.stringify({ status: "shipped", sources: [{ title: "Order A-7", url: "https://orders.example/A-7" }] })) as never });
    const outcome = await registry().call({ toolUseId: "o", name: "lookup_order", input: { orderId: "A-7" } }, context);
    const sent = lambdaMock.commandCalls(InvokeCommand)[0]!.args[0].input;
    expect([sent.FunctionName, sent.InvocationType]).toEqual([ARN, "RequestResponse"]);
    expect(JSON.parse(Buffer.from(sent.Payload as Uint8Array).toString("utf8"))).toEqual({ toolName: "lookup_order", input: { orderId: "A-7" }, context: { userId: "user-sub-1", sessionId: "session-0001" } });
    expect(outcome.result).toEqual({ toolUseId: "o", status: "success", content: [{ json: { status: "shipped", sources: [{ title: "Order A-7", url: "https://orders.example/A-7" }] } }] });
    expect(outcome.sources).toEqual([{ title: "Order A-7", url: "https://orders.example/A-7" }]);
  });

  it("fails the call with the function's own error message, or when it does not answer in time", async () => {
    lambdaMock.on(InvokeCommand).resolvesOnce({ StatusCode: 200, FunctionError: "Unhandled", Payload: Buffer.from(JSON.stringify({ errorType: "NotFound", errorMessage: "no order A-8" })) as never });
    const failed = await registry().call({ toolUseId: "o", name: "lookup_order", input: { orderId: "A-8" } }, context);
    expect(failed.result.status).toBe("error");
    expect(failed.error).toBe("LambdaInvokeError: NotFound: no order A-8");
    // What the SDK raises when the invoker's AbortSignal.timeout fires.
    lambdaMock.on(InvokeCommand).rejects(Object.assign(new Error("The operation was aborted due to timeout"), { name: "TimeoutError" }));
    const timedOut = await registry().call({ toolUseId: "t", name: "lookup_order", input: {} }, context);
    expect(timedOut.error).toBe("TimeoutError: The operation was aborted due to timeout");
  });
});
