import WebSocket, { WebSocketServer } from "ws";
import { PUBLISH_RESPONSE_MUTATION, RECEIVE_MESSAGES_SUBSCRIPTION } from "../../../contracts/graphqlOperations";
import { subjectFor } from "../../../local/issuer";
import { subscribe, SubscriptionError, type Subscription } from "../../../client/realtime";
import { Sha256 } from "@aws-crypto/sha256-js";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import {
  CREDENTIALS,
  REGION,
  connectRealtime,
  firstMessage,
  initConnection,
  opened,
  sendStart,
  signedFetch,
  startHarness,
  startSubscription,
  userPoolAuth,
  waitFor,
  type Harness,
} from "./harness";

type Channel = { sessionId: string; userId: string; data: string };

describe("local gateway real-time WebSocket (AppSync protocol) with client/realtime.ts", () => {
  let h: Harness;
  const open: Subscription[] = [];
  beforeAll(async () => {
    h = await startHarness(undefined, { keepAliveIntervalMs: 200 });
  });
  afterEach(() => {
    while (open.length) open.pop()?.close();
  });
  afterAll(async () => {
    await h.close();
  });

  async function publish(sessionId: string, userId: string, data: string): Promise<void> {
    const res = await signedFetch(h.gateway.graphqlUrl, JSON.stringify({ query: PUBLISH_RESPONSE_MUTATION, variables: { sessionId, userId, data } }));
    const body = await res.json();
    if (res.status !== 200 || body.errors) throw new Error(`publish failed: ${res.status} ${JSON.stringify(body)}`);
  }

  async function subscribeAs(username: string, sessionId: string, received: Channel[]): Promise<Subscription> {
    const sub = await subscribe({
      realtimeUrl: h.gateway.realtimeUrl,
      graphqlUrl: h.gateway.graphqlUrl,
      authorization: await h.issuer.mintIdToken(username),
      query: RECEIVE_MESSAGES_SUBSCRIPTION,
      variables: { sessionId },
      onData: (d) => received.push(d.receiveMessages as Channel),
      WebSocketImpl: WebSocket,
    });
    open.push(sub);
    return sub;
  }

  it("delivers exactly the subscriber's own events, in publish order", async () => {
    const alice = subjectFor("alice");
    const got: Channel[] = [];
    await subscribeAs("alice", "session-alice-1", got);
    await publish("session-alice-1", subjectFor("bob"), "bob's event on alice's session id");
    await publish("session-other-1", alice, "alice, other session");
    for (let i = 0; i < 30; i++) await publish("session-alice-1", alice, `chunk ${i}`);
    await waitFor(() => got.length >= 30, 5000, "30 deliveries");
    expect(got.map((c) => c.data)).toEqual(Array.from({ length: 30 }, (_, i) => `chunk ${i}`));
    expect(got.every((c) => c.userId === alice && c.sessionId === "session-alice-1")).toBe(true);
  });

  it("bob subscribed to alice's sessionId receives none of alice's events", async () => {
    const aliceGot: Channel[] = [];
    const bobGot: Channel[] = [];
    await subscribeAs("alice", "session-shared-1", aliceGot);
    await subscribeAs("bob", "session-shared-1", bobGot);
    for (let i = 0; i < 5; i++) await publish("session-shared-1", subjectFor("alice"), `secret ${i}`);
    // A sentinel for bob's own identity goes out after alice's events; once it arrives, anything leaked would have too.
    await publish("session-shared-1", subjectFor("bob"), "sentinel for bob");
    await waitFor(() => aliceGot.length === 5 && bobGot.length === 1, 5000, "alice's 5 events and bob's sentinel");
    expect(bobGot.map((c) => c.data)).toEqual(["sentinel for bob"]);
    expect(aliceGot.map((c) => c.data)).toEqual(["secret 0", "secret 1", "secret 2", "secret 3", "secret 4"]);
  });

  it("rejects a malformed sessionId in the subscription resolver with its error message", async () => {
    await expect(subscribeAs("alice", "bad id!", [])).rejects.toThrow(/BadRequest: sessionId must be 8-64 letters/);
    await expect(subscribeAs("alice", "short", [])).rejects.toThrow(SubscriptionError);
  });

  it("rejects expired and forged tokens on connect", async () => {
    const expired = await h.issuer.mintIdToken("alice", { expiresInSeconds: -10 });
    const base = { realtimeUrl: h.gateway.realtimeUrl, graphqlUrl: h.gateway.graphqlUrl, query: RECEIVE_MESSAGES_SUBSCRIPTION, variables: { sessionId: "session-alice-1" }, onData: () => undefined, WebSocketImpl: WebSocket };
    await expect(subscribe({ ...base, authorization: expired })).rejects.toThrow(/UnauthorizedException/);
    const [head, body] = (await h.issuer.mintIdToken("alice")).split(".");
    await expect(subscribe({ ...base, authorization: `${head}.${body}.${"A".repeat(342)}` })).rejects.toThrow(/UnauthorizedException/);
  });

  it("stops delivering after close (stop -> complete) and drops the subscription", async () => {
    const got: Channel[] = [];
    const sub = await subscribeAs("carol", "session-carol-1", got);
    await publish("session-carol-1", subjectFor("carol"), "one");
    await waitFor(() => got.length === 1);
    const active = h.gateway.stats.activeSubscriptions;
    sub.close();
    await waitFor(() => h.gateway.stats.activeSubscriptions === active - 1, 5000, "subscription removal");
    await publish("session-carol-1", subjectFor("carol"), "two");
    expect(got.map((c) => c.data)).toEqual(["one"]);
  });

  describe("raw protocol", () => {
    const receiveMessages = (sessionId: string) => ({ query: RECEIVE_MESSAGES_SUBSCRIPTION, variables: { sessionId } });
    /** A raw connection for `token`, whose header also authorizes its starts. */
    const connectWith = (token: string, protocol?: string) => connectRealtime(h.gateway, userPoolAuth(h.gateway, token), protocol);

    it("speaks connection_init/ack with connectionTimeoutMs, periodic ka, start/start_ack, stop/complete", async () => {
      const token = await h.issuer.mintIdToken("alice");
      const conn = connectWith(token);
      const { ws, got } = conn;
      await opened(conn);
      expect(ws.protocol).toBe("graphql-ws");
      await initConnection(conn);
      expect(got.find((m) => m.type === "connection_ack")?.payload.connectionTimeoutMs).toBe(300000);
      await waitFor(() => got.filter((m) => m.type === "ka").length >= 2, 3000, "two ka messages");
      await startSubscription(conn, "s1", receiveMessages("session-raw-01"), userPoolAuth(h.gateway, token));
      await publish("session-raw-01", subjectFor("alice"), "hello");
      expect(await firstMessage(conn, "data")).toEqual({
        type: "data",
        id: "s1",
        payload: { data: { receiveMessages: { sessionId: "session-raw-01", userId: subjectFor("alice"), data: "hello" } } },
      });
      ws.send(JSON.stringify({ id: "s1", type: "stop" }));
      await waitFor(() => got.some((m) => m.type === "complete" && m.id === "s1"));
      ws.close();
    });

    it("selects only the fields the subscription asked for", async () => {
      const token = await h.issuer.mintIdToken("alice");
      const conn = connectWith(token);
      await initConnection(conn);
      const query = "subscription S($s: String!) { receiveMessages(sessionId: $s) { data } }";
      await startSubscription(conn, "s2", { query, variables: { s: "session-raw-02" } }, userPoolAuth(h.gateway, token));
      await publish("session-raw-02", subjectFor("alice"), "only data");
      expect((await firstMessage(conn, "data")).payload).toEqual({ data: { receiveMessages: { data: "only data" } } });
      conn.ws.close();
    });

    it("accepts a start without connection_init (documented as optional) once the connect header verifies", async () => {
      const token = await h.issuer.mintIdToken("alice");
      const conn = connectWith(token);
      await opened(conn);
      await startSubscription(conn, "n1", receiveMessages("session-raw-05"), userPoolAuth(h.gateway, token));
      conn.ws.close();
    });

    it("answers a start without extensions.authorization with an Unauthorized error", async () => {
      const conn = connectWith(await h.issuer.mintIdToken("alice"));
      await initConnection(conn);
      sendStart(conn, "s3", receiveMessages("session-raw-03"));
      expect(await firstMessage(conn, "error")).toMatchObject({ id: "s3", payload: { errors: [{ errorType: "UnauthorizedException" }] } });
      conn.ws.close();
    });

    it("verifies IAM (SigV4) connect headers and refuses IAM on the Cognito-only subscription field", async () => {
      const host = new URL(h.gateway.graphqlUrl).host;
      const iamHeaders = async (path: string, body: string, creds = CREDENTIALS) => {
        const signer = new SignatureV4({ credentials: creds, region: REGION, service: "appsync", sha256: Sha256 });
        const signed = await signer.sign(
          new HttpRequest({
            method: "POST",
            protocol: "https:",
            hostname: "127.0.0.1",
            port: Number(host.split(":")[1]),
            path,
            headers: { accept: "application/json, text/javascript", "content-encoding": "amz-1.0", "content-type": "application/json; charset=UTF-8", host },
            body,
          }),
        );
        return signed.headers as Record<string, string>;
      };
      const open = async (header: Record<string, string>) => {
        const conn = connectRealtime(h.gateway, header);
        await initConnection(conn);
        return conn;
      };
      const bad = await open(await iamHeaders("/graphql/connect", "{}", { ...CREDENTIALS, secretAccessKey: "wrong" }));
      expect(bad.got[0]).toMatchObject({ type: "connection_error", payload: { errors: [{ errorType: "UnauthorizedException", errorCode: 401 }] } });
      bad.ws.close();

      const conn = await open(await iamHeaders("/graphql/connect", "{}"));
      expect(conn.got[0].type).toBe("connection_ack");
      const data = JSON.stringify(receiveMessages("session-iam-01"));
      sendStart(conn, "i1", data, await iamHeaders("/graphql", data));
      expect(await firstMessage(conn, "error")).toMatchObject({
        id: "i1",
        payload: { errors: [{ errorType: "Unauthorized", message: "Not Authorized to access receiveMessages on type Subscription" }] },
      });
      conn.ws.close();
    });

    it("refuses a connection without the graphql-ws subprotocol", async () => {
      const { ws } = connectWith(await h.issuer.mintIdToken("alice"), "graphql-transport-ws");
      const status = await new Promise<number>((resolve) => {
        ws.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
        ws.once("error", () => resolve(-1));
      });
      expect(status).toBe(400);
    });

    it("answers a mutation sent over the socket with UnsupportedOperation", async () => {
      const token = await h.issuer.mintIdToken("alice");
      const conn = connectWith(token);
      await initConnection(conn);
      sendStart(conn, "s4", { query: "query { whoami }" }, userPoolAuth(h.gateway, token));
      expect((await firstMessage(conn, "error")).payload.errors[0].errorType).toBe("UnsupportedOperation");
      conn.ws.close();
    });
  });

  it("client reports a keep-alive timeout when the server stops sending ka", async () => {
    const server = new WebSocketServer({ host: "127.0.0.1", port: 0, handleProtocols: () => "graphql-ws" });
    await new Promise((r) => server.once("listening", r));
    const port = (server.address() as { port: number }).port;
    server.on("connection", (ws) => {
      ws.on("message", (raw) => {
        const msg = JSON.parse(raw.toString());
        if (msg.type === "connection_init") ws.send(JSON.stringify({ type: "connection_ack", payload: { connectionTimeoutMs: 300 } }));
        if (msg.type === "start") ws.send(JSON.stringify({ type: "start_ack", id: msg.id }));
      });
    });
    try {
      const errors: Error[] = [];
      const sub = await subscribe({
        realtimeUrl: `ws://127.0.0.1:${port}/graphql`,
        graphqlUrl: `http://127.0.0.1:${port}/graphql`,
        authorization: "token",
        query: RECEIVE_MESSAGES_SUBSCRIPTION,
        variables: { sessionId: "session-ka-0001" },
        onData: () => undefined,
        onError: (e) => errors.push(e),
        WebSocketImpl: WebSocket,
      });
      await waitFor(() => errors.length === 1, 3000, "keep-alive timeout");
      expect(errors[0].message).toMatch(/keep-alive/);
      sub.close();
    } finally {
      for (const c of server.clients) c.terminate();
      await new Promise((r) => server.close(r));
    }
  });
});
