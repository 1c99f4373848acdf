/** The deployed APPSYNC_JS resolvers, run unchanged through the local @aws-appsync/utils implementation. */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { RESOLVERS, RESOLVERS_DIR } from "../../graphql/api";
import { ID_PATTERN } from "../../contracts/ids";
import {
  AppSyncResolverError,
  loadResolverModule,
  runUnitResolver,
  type ResolverContext,
} from "../../local/appsync/appsyncJsRuntime";
import { matchesFilter, type SubscriptionFilter } from "../../local/appsync/subscriptionFilter";

const USER_A = "0b7e5d2e-1111-5aaa-8bbb-000000000001";
const USER_B = "0b7e5d2e-2222-5aaa-8bbb-000000000002";

function ctxFor(args: Record<string, unknown>, sub: string): ResolverContext {
  return {
    arguments: args,
    args,
    identity: { sub, username: sub, claims: { sub }, issuer: "local", sourceIp: ["127.0.0.1"], defaultAuthStrategy: "ALLOW" },
    source: null,
    stash: {},
    prev: { result: null },
    request: { headers: {}, domainName: null },
    info: { fieldName: "receiveMessages", parentTypeName: "Subscription", variables: {}, selectionSetList: [], selectionSetGraphQL: "" },
  };
}

const receiveMessages = loadResolverModule(path.join(RESOLVERS_DIR, "receiveMessages.js"));
const none = async (req: Record<string, unknown>) => ({ result: req.payload ?? null });

async function filterFor(sub: string, sessionId: string): Promise<SubscriptionFilter> {
  const { effects } = await runUnitResolver(receiveMessages, ctxFor({ sessionId }, sub), none);
  if (!effects.subscriptionFilter) throw new Error("resolver set no filter");
  return effects.subscriptionFilter;
}

describe("receiveMessages resolver (unchanged file, local utils)", () => {
  it("sets a filter on the caller's sub AND the session id", async () => {
    const filter = await filterFor(USER_A, "session-0001");
    expect(matchesFilter(filter, { userId: USER_A, sessionId: "session-0001", data: "{}" })).toBe(true);
    expect(matchesFilter(filter, { userId: USER_A, sessionId: "session-0002", data: "{}" })).toBe(false);
    expect(matchesFilter(filter, { sessionId: "session-0001", data: "{}" })).toBe(false);
  });

  it("never lets user A's subscription match user B's events, even on the same session id", async () => {
    const filterA = await filterFor(USER_A, "session-shared");
    const filterB = await filterFor(USER_B, "session-shared");
    const eventOfB = { userId: USER_B, sessionId: "session-shared", data: "{}" };
    const eventOfA = { userId: USER_A, sessionId: "session-shared", data: "{}" };
    expect(matchesFilter(filterA, eventOfB)).toBe(false);
    expect(matchesFilter(filterB, eventOfA)).toBe(false);
    expect(matchesFilter(filterA, eventOfA)).toBe(true);
    expect(matchesFilter(filterB, eventOfB)).toBe(true);
  });

  it.each(["", "short", "a".repeat(65), "-leading-dash", "_leading1", "has space1", "unicodé1234", "../../etc/passwd", "semi;colon1", "new\nline12"])(
    "rejects the malformed session id %j with BadRequest before any filter is set",
    async (sessionId) => {
      const err = await runUnitResolver(receiveMessages, ctxFor({ sessionId }, USER_A), none).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AppSyncResolverError);
      expect(err).toMatchObject({ errorType: "BadRequest", message: "sessionId must be 8-64 letters, digits, '-' or '_'" });
    },
  );

  it.each(["abcdefgh", "a".repeat(64), "3f2b8c1e-4d5a-4b6c-9e7f-0a1b2c3d4e5f", "Session_01-x"])("accepts %j", async (sessionId) => {
    await expect(filterFor(USER_A, sessionId)).resolves.toBeDefined();
  });
});

describe("the session id pattern is one pattern", () => {
  const source = readFileSync(path.join(RESOLVERS_DIR, "receiveMessages.js"), "utf8");
  const literal = /const SESSION_ID = ("(?:[^"\\]|\\.)*");/.exec(source);

  it("SESSION_ID in receiveMessages.js equals ID_PATTERN in contracts/ids.ts", () => {
    expect(literal).not.toBeNull();
    const sessionId = JSON.parse((literal as RegExpExecArray)[1]) as string;
    expect(sessionId).toBe(ID_PATTERN.source);
    expect(ID_PATTERN.flags).toBe("");
  });
});

describe("the other resolvers run unchanged", () => {
  it("every binding in graphql/api.ts loads", () => {
    for (const b of RESOLVERS) expect(() => loadResolverModule(path.join(RESOLVERS_DIR, b.file))).not.toThrow();
  });

  it("publishResponse echoes its arguments through the NONE data source", async () => {
    const mod = loadResolverModule(path.join(RESOLVERS_DIR, "publishResponse.js"));
    const args = { sessionId: "session-0001", userId: USER_A, data: '{"x":"\\"quoted\\"\\n"}' };
    const { result } = await runUnitResolver(mod, ctxFor(args, USER_A), none);
    expect(result).toEqual(args);
  });

  it("sendQuery turns the Lambda's {error} answer into a typed GraphQL error", async () => {
    const mod = loadResolverModule(path.join(RESOLVERS_DIR, "sendQuery.js"));
    const lambda = async () => ({ result: { error: { message: "unknown model", type: "ValidationError" } } });
    await expect(runUnitResolver(mod, ctxFor({ input: {} }, USER_A), lambda)).rejects.toMatchObject({
      errorType: "ValidationError",
      message: "unknown model",
    });
  });

  it("sendQuery hands the Lambda AppSync's request id, and passes a limit's info on as errorInfo", async () => {
    const mod = loadResolverModule(path.join(RESOLVERS_DIR, "sendQuery.js"));
    const payloads: unknown[] = [];
    const info = { limit: "quota", resetsAt: "2026-11-24T00:00:00.000Z" };
    const lambda = async (req: Record<string, unknown>) => {
      payloads.push(req.payload);
      return { result: { error: { message: "Daily quota reached", type: "LimitExceeded", info } } };
    };
    const ctx = { ...ctxFor({ input: { sessionId: "session-0001" } }, USER_A), request: { headers: { "x-amzn-requestid": "req-123" }, domainName: null } };
    await expect(runUnitResolver(mod, ctx, lambda)).rejects.toMatchObject({ errorType: "LimitExceeded", message: "Daily quota reached", errorInfo: info });
    expect(payloads).toEqual([{ arguments: { input: { sessionId: "session-0001" } }, identity: ctx.identity, requestId: "req-123" }]);
  });
});
