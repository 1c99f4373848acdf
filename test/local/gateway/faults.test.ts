import WebSocket from "ws";
import { PUBLISH_RESPONSE_MUTATION, RECEIVE_MESSAGES_SUBSCRIPTION } from "../../../contracts/graphqlOperations";
import { subjectFor } from "../../../local/issuer";
import { subscribe, type Subscription } from "../../../client/realtime";
import { signedFetch, startHarness, waitFor, type Harness } from "./harness";

describe("local gateway fault injection for publishResponse", () => {
  let h: Harness;
  let sub: Subscription;
  const got: string[] = [];
  const alice = subjectFor("alice");

  beforeAll(async () => {
    h = await startHarness();
    sub = await subscribe({
      realtimeUrl: h.gateway.realtimeUrl,
      graphqlUrl: h.gateway.graphqlUrl,
      authorization: await h.issuer.mintIdToken("alice"),
      query: RECEIVE_MESSAGES_SUBSCRIPTION,
      variables: { sessionId: "session-fault-1" },
      onData: (d) => got.push((d.receiveMessages as { data: string }).data),
      WebSocketImpl: WebSocket,
    });
  });
  afterEach(() => h.gateway.faults.clear());
  afterAll(async () => {
    sub.close();
    await h.close();
  });

  const publish = async (data: string, sessionId = "session-fault-1") => {
    const res = await signedFetch(h.gateway.graphqlUrl, JSON.stringify({ query: PUBLISH_RESPONSE_MUTATION, variables: { sessionId, userId: alice, data } }));
    return { status: res.status, body: await res.json() };
  };

  const setFaults = async (body: unknown) => {
    const res = await fetch(new URL("/_local/faults", h.gateway.graphqlUrl), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  };

  it("fails the next n publishes with HTTP 500, delivers none of them, then recovers", async () => {
    got.length = 0;
    h.gateway.faults.failPublishes(2);
    const before = h.gateway.stats.mutationsByField.publishResponse ?? 0;
    expect((await publish("f1")).status).toBe(500);
    expect((await publish("f2")).status).toBe(500);
    const ok = await publish("ok1");
    expect(ok.status).toBe(200);
    expect(ok.body.errors).toBeUndefined();
    await waitFor(() => got.length === 1);
    expect(got).toEqual(["ok1"]);
    expect(h.gateway.stats.faultedPublishes).toBeGreaterThanOrEqual(2);
    expect(h.gateway.stats.mutationsByField.publishResponse).toBe(before + 1);
  });

  it("can fail with 401 or with a 200 carrying errors", async () => {
    h.gateway.faults.failPublishes(1, { status: 401 });
    h.gateway.faults.failPublishes(1, { graphqlErrors: true });
    const first = await publish("x");
    expect(first.status).toBe(401);
    expect(first.body.errors[0].errorType).toBe("UnauthorizedException");
    const second = await publish("y");
    expect(second.status).toBe(200);
    expect(second.body.data).toEqual({ publishResponse: null });
    expect(second.body.errors[0]).toMatchObject({ errorType: "InternalFailure", path: ["publishResponse"] });
    expect((await publish("z")).status).toBe(200);
  });

  it("scopes failures to one sessionId without using them up on other sessions", async () => {
    h.gateway.faults.failPublishes(1, { sessionId: "session-fault-1" });
    expect((await publish("other", "session-fault-2")).status).toBe(200);
    expect((await publish("mine")).status).toBe(500);
    expect((await publish("mine again")).status).toBe(200);
  });

  it("rejects every publish while rejectPublishes is on", async () => {
    h.gateway.faults.rejectPublishes(true);
    for (let i = 0; i < 3; i++) expect((await publish(`r${i}`)).status).toBe(500);
    h.gateway.faults.rejectPublishes(false);
    expect((await publish("after")).status).toBe(200);
  });

  it("is driven over HTTP by out-of-process tests: POST /_local/faults and GET /_local/stats", async () => {
    got.length = 0;
    expect(await setFaults({ failPublishes: 1, graphqlErrors: true, sessionId: "session-fault-1" })).toEqual({
      status: 200,
      body: { pendingFailures: 1, rejecting: false },
    });
    expect((await publish("h1")).body.errors).toHaveLength(1);
    expect((await setFaults({ rejectPublishes: true, status: 401 })).body.rejecting).toBe(true);
    expect((await publish("h2")).status).toBe(401);
    expect((await setFaults({ rejectPublishes: false })).body).toEqual({ pendingFailures: 0, rejecting: false });
    expect((await publish("h3")).status).toBe(200);
    await waitFor(() => got.length === 1);
    expect(got).toEqual(["h3"]);
    const stats = await (await fetch(new URL("/_local/stats", h.gateway.graphqlUrl))).json();
    expect(stats).toMatchObject({ activeSubscriptions: 1, connections: 1 });
    expect(stats.deliveries).toBeGreaterThan(0);
    expect((await setFaults({ failPublishes: -1 })).status).toBe(400);
    expect((await setFaults({ failPublishes: 1, status: 418 })).status).toBe(400);
  });

  it("does not spend a fault on a caller who is not allowed to publish", async () => {
    h.gateway.faults.failPublishes(1);
    const res = await fetch(h.gateway.graphqlUrl, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: await h.issuer.mintIdToken("alice") },
      body: JSON.stringify({ query: PUBLISH_RESPONSE_MUTATION, variables: { sessionId: "session-fault-1", userId: alice, data: "x" } }),
    });
    expect((await res.json()).errors[0].errorType).toBe("Unauthorized");
    expect(h.gateway.faults.state().pendingFailures).toBe(1);
  });
});
