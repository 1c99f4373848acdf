import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { AppSyncResolverError, loadResolverModule, localUtil, runUnitResolver, type ResolverContext } from "../../../local/appsync/appsyncJsRuntime";

const dir = mkdtempSync(path.join(tmpdir(), "appsync-js-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function resolverFile(name: string, code: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, code);
  return file;
}
const ctx = (args: Record<string, unknown> = {}): ResolverContext => ({
  arguments: args,
  args,
  identity: { sub: "s" },
  source: null,
  stash: {},
  prev: { result: null },
  request: { headers: {}, domainName: null },
  info: { fieldName: "f", parentTypeName: "Query", variables: {}, selectionSetList: [], selectionSetGraphQL: "" },
});

describe("local @aws-appsync/utils and the APPSYNC_JS loader", () => {
  it("util.matches is a whole-string match, like AppSync's Java-style matcher", () => {
    expect(localUtil.matches("[a-z]+", "abc")).toBe(true);
    expect(localUtil.matches("[a-z]+", "abc1")).toBe(false);
    expect(localUtil.matches("a|b", "ab")).toBe(false);
    expect(localUtil.matches("[a-z]+", undefined)).toBe(false);
  });

  it("util.autoId, autoUlid and time helpers return well-formed values", () => {
    expect(localUtil.autoId()).toMatch(/^[0-9a-f-]{36}$/);
    expect(localUtil.autoId()).not.toBe(localUtil.autoId());
    expect(localUtil.autoUlid()).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(Math.abs(Date.parse(localUtil.time.nowISO8601()) - Date.now())).toBeLessThan(5000);
    expect(Math.abs(localUtil.time.nowEpochSeconds() - Date.now() / 1000)).toBeLessThan(5);
    expect(localUtil.time.nowFormatted("yyyy-MM-dd")).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it("util.error aborts with errorType, data and errorInfo", async () => {
    const mod = loadResolverModule(
      resolverFile("err.js", `import { util } from "@aws-appsync/utils";
export function request(ctx) { util.error("nope", "Custom", { a: 1 }, { b: 2 }); }
export function response(ctx) { return ctx.result; }`),
    );
    const err = await runUnitResolver(mod, ctx(), async () => ({ result: null })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppSyncResolverError);
    expect(err).toMatchObject({ message: "nope", errorType: "Custom", data: { a: 1 }, errorInfo: { b: 2 } });
  });

  it("runtime.earlyReturn skips the data source and the response handler", async () => {
    const mod = loadResolverModule(
      resolverFile("early.js", `import { runtime } from "@aws-appsync/utils";
export function request(ctx) { runtime.earlyReturn({ early: ctx.args.x }); }
export function response() { throw new Error("must not run"); }`),
    );
    const calls: unknown[] = [];
    const out = await runUnitResolver(mod, ctx({ x: 7 }), async (r) => {
      calls.push(r);
      return { result: null };
    });
    expect(out.result).toEqual({ early: 7 });
    expect(calls).toHaveLength(0);
  });

  it("util.appendError keeps the result and records the error", async () => {
    const mod = loadResolverModule(
      resolverFile("append.js", `import { util } from "@aws-appsync/utils";
export function request(ctx) { return { payload: "p" }; }
export function response(ctx) { util.appendError("partial", "Warn"); return ctx.result; }`),
    );
    const out = await runUnitResolver(mod, ctx(), async (r) => ({ result: r.payload }));
    expect(out.result).toBe("p");
    expect(out.effects.appendedErrors.map((e) => [e.message, e.errorType])).toEqual([["partial", "Warn"]]);
  });

  it("refuses resolver files that import anything but @aws-appsync/utils (APPSYNC_JS has no modules)", () => {
    const file = resolverFile("bad.js", `import fs from "node:fs";
export function request() { return fs; }
export function response() {}`);
    expect(() => loadResolverModule(file)).toThrow();
  });

  it("runs resolvers without Node globals (process, require)", async () => {
    const mod = loadResolverModule(
      resolverFile("globals.js", `export function request() { return { payload: [typeof process, typeof require === "function" ? "has-require" : "no", typeof JSON] }; }
export function response(ctx) { return ctx.result; }`),
    );
    const out = await runUnitResolver(mod, ctx(), async (r) => ({ result: r.payload }));
    expect((out.result as string[])[0]).toBe("undefined");
    expect((out.result as string[])[2]).toBe("object");
  });
});
