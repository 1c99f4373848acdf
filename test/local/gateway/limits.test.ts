/**
 * The API's execution limits in the gateway, as deployed (graphql/api.ts API_LIMITS): one resolver per request, so
 * aliased sendQuery fields reach the Lambda once; a batch of operations runs none; fields past the depth limit error;
 * every field of one request carries the same AppSync request id (x-amzn-requestid), which send-query checks too.
 */
import { getIntrospectionQuery } from "graphql";
import { API_LIMITS } from "../../../graphql/api";
import { LIMIT_ERROR_TYPES } from "../../../local/appsync/engine";
import { postJwt, startHarness, type Harness } from "./harness";

const aliased = (n: number) =>
  `mutation Many {\n${Array.from({ length: n }, (_, i) => `  q${i}: sendQuery(input: { sessionId: "session-alias-${i}", prompt: "hi" }) { sessionId messageId }`).join("\n")}\n}`;

describe("the API's limits in the local gateway", () => {
  let h: Harness;
  let token: string;
  beforeAll(async () => {
    h = await startHarness();
    token = await h.issuer.mintIdToken("alice");
  });
  afterAll(() => h.close());
  beforeEach(() => void (h.sendQueryCalls.length = 0));

  it("are the deployed ones: one resolver per request, depth 15", () => {
    expect(API_LIMITS).toEqual({ resolverCountLimit: 1, queryDepthLimit: 15 });
  });

  it("20 aliased sendQuery fields start one: the next gets a resolver count error without reaching the Lambda", async () => {
    const res = await postJwt(h.gateway.graphqlUrl, token, aliased(20));
    const body = await res.json();
    expect(res.status).toBe(200);
    expect(h.sendQueryCalls).toHaveLength(1);
    // sendQuery is non-null, so the second field's error nulls the mutation's data and the serial execution of the
    // mutation's fields stops there (graphql-js): one error, the 18 fields after it never run.
    expect(body).toEqual({ data: null, errors: [expect.objectContaining({ path: ["q1"], errorType: LIMIT_ERROR_TYPES.resolverCount, message: expect.stringMatching(/resolver count limit of 1/) })] });
  });

  it("the same field spread twice through fragments counts twice", async () => {
    const doc = `mutation { ...A ...B } fragment A on Mutation { a: sendQuery(input: { sessionId: "session-frag-1", prompt: "x" }) { sessionId } } fragment B on Mutation { b: sendQuery(input: { sessionId: "session-frag-2", prompt: "y" }) { sessionId } }`;
    const body = await (await postJwt(h.gateway.graphqlUrl, token, doc)).json();
    expect(h.sendQueryCalls).toHaveLength(1);
    expect(body.errors).toMatchObject([{ errorType: LIMIT_ERROR_TYPES.resolverCount }]);
  });

  it("a batch (a JSON array of operations) is refused whole: none reaches the Lambda", async () => {
    const one = { query: aliased(1) };
    const res = await fetch(h.gateway.graphqlUrl, { method: "POST", headers: { "content-type": "application/json", authorization: token }, body: JSON.stringify([one, one, one]) });
    expect(res.status).toBe(400);
    expect((await res.json()).errors[0]).toMatchObject({ errorType: "BadRequestException", message: expect.stringMatching(/one operation per request/) });
    expect(h.sendQueryCalls).toHaveLength(0);
  });

  it("the standard introspection query is within the depth limit", async () => {
    const body = await (await postJwt(h.gateway.graphqlUrl, token, getIntrospectionQuery())).json();
    expect(body.errors).toBeUndefined();
    expect(body.data.__schema.queryType.name).toBe("Query");
  });
});

describe("with the limits raised or lowered", () => {
  it("every field of one request carries the same request id, and another request another one", async () => {
    const h = await startHarness(undefined, { limits: { resolverCountLimit: 5, queryDepthLimit: 15 } });
    try {
      const token = await h.issuer.mintIdToken("alice");
      await postJwt(h.gateway.graphqlUrl, token, aliased(3));
      await postJwt(h.gateway.graphqlUrl, token, aliased(1));
      const ids = h.sendQueryCalls.map((p) => (p as { requestId: string }).requestId);
      expect(ids).toHaveLength(4);
      expect(new Set(ids.slice(0, 3)).size).toBe(1);
      expect(ids[3]).not.toBe(ids[0]);
      expect(ids[0]).toMatch(/^[0-9a-f-]{36}$/);
    } finally {
      await h.close();
    }
  });

  it("a field deeper than the depth limit errors", async () => {
    const h = await startHarness(undefined, { limits: { resolverCountLimit: 1, queryDepthLimit: 1 } });
    try {
      const body = await (await postJwt(h.gateway.graphqlUrl, await h.issuer.mintIdToken("alice"), aliased(1))).json();
      expect(body.errors).toMatchObject([{ errorType: LIMIT_ERROR_TYPES.queryDepth, path: ["q0", "sessionId"] }]);
    } finally {
      await h.close();
    }
  });
});
