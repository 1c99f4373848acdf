import WebSocket, { WebSocketServer } from "ws";
import { PUBLISH_RESPONSE_MUTATION, RECEIVE_MESSAGES_SUBSCRIPTION } from "../../../contracts/graphqlOperations";
import { subjectFor } from "../../../local/issuer";
import { subscribe, SubscriptionError, type Subscription } from "../../../client/realtime";
import { GraphQLEngine } from "../../../local/appsync/engine";
import {
  CREDENTIALS,
  closed,
  connectRealtime,
  connectRealtimeWithSubprotocol,
  firstMessage,
  headerSubprotocol,
  iamAuthHeaders,
  initConnection,
  opened,
  sendStart,
  signedFetch,
  startHarness,
  startSubscription,
  userPoolAuth,
  waitFor,
  type Harness,
  type RawConnection,
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
      const iamHeaders = (path: string, body: string, creds = CREDENTIALS) => iamAuthHeaders(h.gateway, path, body, creds);
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

const receiveMessagesRequest = (sessionId: string) => ({ query: RECEIVE_MESSAGES_SUBSCRIPTION, variables: { sessionId } });

/** Publishes one event the way the producers do, and fails the test if the gateway refuses it. */
async function publishTo(h: Harness, sessionId: string, userId: string, data: string): Promise<void> {
  const res = await signedFetch(h.gateway.graphqlUrl, JSON.stringify({ query: PUBLISH_RESPONSE_MUTATION, variables: { sessionId, userId, data } }));
  if (res.status !== 200) throw new Error(`publish failed: ${res.status}`);
}

/** The error entries the gateway sent on a connection, as "errorType: message". */
const errorsOf = (conn: RawConnection) =>
  conn.got.filter((m) => m.type === "error").map((m) => `${m.payload.errors[0].errorType}: ${m.payload.errors[0].message}`);

describe("real-time connect header in either form AppSync accepts", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  /** Alice's auth header, padded so that its base64 needs `=` padding, which the subprotocol form leaves out. */
  const paddedHeader = (token: string) => {
    const header: Record<string, string> = userPoolAuth(h.gateway, token);
    while (Buffer.byteLength(JSON.stringify(header)) % 3 === 0) header["x-amz-user-agent"] = `${header["x-amz-user-agent"] ?? ""}a`;
    return header;
  };

  it.each(["", "/realtime"])("serves a subscription whose connect header is a header-<base64url> subprotocol (path /graphql%s)", async (path) => {
    const token = await h.issuer.mintIdToken("alice");
    const protocol = headerSubprotocol(paddedHeader(token));
    expect(protocol).not.toMatch(/[=+/]/);
    const conn = connectRealtimeWithSubprotocol(h.gateway, ["graphql-ws", protocol], path);
    await opened(conn);
    expect(conn.ws.protocol).toBe("graphql-ws");
    await initConnection(conn);
    expect(conn.got[0]).toMatchObject({ type: "connection_ack" });
    await startSubscription(conn, "sp1", receiveMessagesRequest(`session-sub-${path.length}`), userPoolAuth(h.gateway, token));
    await publishTo(h, `session-sub-${path.length}`, subjectFor("alice"), "via subprotocol");
    expect((await firstMessage(conn, "data")).payload.data.receiveMessages.data).toBe("via subprotocol");
    conn.ws.close();
  });

  it("selects graphql-ws whichever order the subprotocols come in", async () => {
    const conn = connectRealtimeWithSubprotocol(h.gateway, [headerSubprotocol(userPoolAuth(h.gateway, await h.issuer.mintIdToken("alice"))), "graphql-ws"]);
    await opened(conn);
    expect(conn.ws.protocol).toBe("graphql-ws");
    await initConnection(conn);
    expect(conn.got[0].type).toBe("connection_ack");
    conn.ws.close();
  });

  it("verifies an IAM connect header sent as a subprotocol (signed for /graphql/connect with body {})", async () => {
    const conn = connectRealtimeWithSubprotocol(h.gateway, ["graphql-ws", headerSubprotocol(await iamAuthHeaders(h.gateway, "/graphql/connect", "{}"))]);
    await initConnection(conn);
    expect(conn.got[0].type).toBe("connection_ack");
    conn.ws.close();
  });

  it("answers an expired token in the subprotocol with connection_error and closes the connection", async () => {
    const expired = await h.issuer.mintIdToken("alice", { expiresInSeconds: -10 });
    const conn = connectRealtimeWithSubprotocol(h.gateway, ["graphql-ws", headerSubprotocol(userPoolAuth(h.gateway, expired))]);
    const closing = closed(conn);
    await initConnection(conn);
    expect(conn.got).toEqual([{ type: "connection_error", payload: { errors: [{ errorType: "UnauthorizedException", message: "Token has expired.", errorCode: 401 }] } }]);
    expect((await closing).code).toBe(1000);
  });

  it.each([
    ["a subprotocol that is not base64url JSON", ["graphql-ws", `header-${Buffer.from("not json").toString("base64url")}`], /subprotocol must be base64url JSON/],
    ["neither form", ["graphql-ws"], /header-<base64url JSON> subprotocol or as header and payload query parameters/],
  ])("answers %s with connection_error", async (_what, protocols, message) => {
    const conn = connectRealtimeWithSubprotocol(h.gateway, protocols);
    await initConnection(conn);
    expect(conn.got[0]).toMatchObject({ type: "connection_error", payload: { errors: [{ errorType: "UnauthorizedException", message: expect.stringMatching(message) }] } });
  });
});

describe("a real-time endpoint nobody can crash", () => {
  let h: Harness;
  let token: string;
  beforeAll(async () => {
    h = await startHarness();
    token = await h.issuer.mintIdToken("alice");
  });
  afterAll(async () => {
    await h.close();
  });
  afterEach(() => {
    expect(h.internalErrors).toEqual([]);
  });

  const acked = async () => {
    const conn = connectRealtime(h.gateway, userPoolAuth(h.gateway, token));
    await initConnection(conn);
    return conn;
  };
  const unsupported = "UnsupportedOperation: unknown not supported through the realtime channel";

  it("answers every malformed frame with an error and keeps serving the connection", async () => {
    const conn = await acked();
    const auth = { extensions: { authorization: userPoolAuth(h.gateway, token) } };
    const frames: Array<[string | Buffer, string]> = [
      ["null", unsupported],
      ["42", unsupported],
      ["[1,2]", unsupported],
      ['"connection_init"', unsupported],
      ["{}", unsupported],
      ['{"type":"subscribe","id":"graphql-transport-ws"}', unsupported],
      ['{"type":', "BadRequestException: Message is not valid JSON"],
      [Buffer.from([0xff, 0xfe, 0x00]), "BadRequestException: Message is not valid JSON"],
      ['{"type":"start"}', "BadRequestException: start needs an id"],
      ['{"type":"start","id":7,"payload":{"data":"{}"}}', "BadRequestException: start needs an id"],
      ['{"type":"start","id":"no-payload"}', "BadRequestException: payload.data must be a JSON string"],
      ['{"type":"start","id":"null-payload","payload":null}', "BadRequestException: payload.data must be a JSON string"],
      [JSON.stringify({ type: "start", id: "bad-json", payload: { data: "{not json", ...auth } }), "BadRequestException: payload.data is not valid JSON"],
      [JSON.stringify({ type: "start", id: "null-json", payload: { data: "null", ...auth } }), "BadRequestException: A query must be provided."],
      [JSON.stringify({ type: "start", id: "bad-ext", payload: { data: "{}", extensions: "x" } }), "UnauthorizedException: Valid authorization header not provided."],
    ];
    for (const [frame] of frames) conn.ws.send(frame);
    await waitFor(() => errorsOf(conn).length === frames.length, 5000, "an error for every frame");
    expect(errorsOf(conn).sort()).toEqual(frames.map(([, error]) => error).sort());
    expect(conn.got.find((m) => m.type === "error" && m.payload.errors[0].message === "payload.data must be a JSON string")?.id).toBe("no-payload");
    await startSubscription(conn, "after-garbage", receiveMessagesRequest("session-junk-01"), userPoolAuth(h.gateway, token));
    conn.ws.close();
  });

  it("survives `null` as the first frame of a fresh, unauthenticated connection", async () => {
    const conn = connectRealtime(h.gateway, { host: new URL(h.gateway.graphqlUrl).host });
    await opened(conn);
    conn.ws.send("null");
    expect(errorsOf(conn)).toEqual([]);
    await waitFor(() => errorsOf(conn).length === 1, 5000, "the error for null");
    expect(errorsOf(conn)).toEqual([unsupported]);
    const closing = closed(conn);
    conn.ws.send('{"type":"start"}'); // a start begins the protocol: the missing auth header now ends the connection
    expect(await closing).toEqual({ code: 1000, reason: "" });
    expect(conn.got.at(-1)).toMatchObject({ type: "connection_error", payload: { errors: [{ errorType: "UnauthorizedException" }] } });
    const next = await acked();
    expect(next.got[0].type).toBe("connection_ack");
    next.ws.close();
  });

  it("answers a frame over 256 KiB with an error, and closes the connection on one over 1 MiB (1009)", async () => {
    const conn = await acked();
    conn.ws.send(JSON.stringify({ type: "start", id: "big", payload: { data: "x".repeat(300 * 1024) } }));
    await waitFor(() => errorsOf(conn).length === 1, 5000, "the error for a 300 KiB frame");
    expect(errorsOf(conn)).toEqual(["BadRequestException: Message exceeds 262144 bytes"]);
    const closing = closed(conn);
    conn.ws.send("x".repeat(1024 * 1024 + 1));
    expect((await closing).code).toBe(1009);
  });

  it("holds the cap of 100 subscriptions per connection when 300 starts arrive back to back", async () => {
    const conn = await acked();
    const before = h.gateway.stats.activeSubscriptions;
    for (let i = 0; i < 300; i++) sendStart(conn, `cap-${i}`, receiveMessagesRequest("session-cap-001"), userPoolAuth(h.gateway, token));
    const answered = () => conn.got.filter((m) => m.type === "start_ack" || m.type === "error");
    await waitFor(() => answered().length === 300, 20_000, "an answer to every start");
    expect(conn.got.filter((m) => m.type === "start_ack")).toHaveLength(100);
    expect(errorsOf(conn)).toEqual(Array(200).fill("MaxSubscriptionsReachedError: Too many subscriptions on this connection"));
    expect(h.gateway.stats.activeSubscriptions).toBe(before + 100);
    conn.ws.send(JSON.stringify({ type: "stop", id: "cap-0" }));
    await startSubscription(conn, "cap-after-stop", receiveMessagesRequest("session-cap-001"), userPoolAuth(h.gateway, token));
    expect(h.gateway.stats.activeSubscriptions).toBe(before + 100);
    const closing = closed(conn);
    conn.ws.close();
    await closing;
    await waitFor(() => h.gateway.stats.activeSubscriptions === before, 5000, "the subscriptions to go with the connection");
  });

  it("cancels a start that is stopped while it is still being authorized", async () => {
    const conn = await acked();
    const before = h.gateway.stats.activeSubscriptions;
    const original = GraphQLEngine.prototype.subscribe;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let held!: ReturnType<typeof original>;
    const spy = jest.spyOn(GraphQLEngine.prototype, "subscribe").mockImplementationOnce(function (this: GraphQLEngine, ...args) {
      held = gate.then(() => original.apply(this, args));
      return held;
    });
    try {
      sendStart(conn, "held", receiveMessagesRequest("session-held-01"), userPoolAuth(h.gateway, token));
      await waitFor(() => spy.mock.calls.length === 1, 5000, "the start to reach the resolver");
      conn.ws.send(JSON.stringify({ type: "stop", id: "held" }));
      await waitFor(() => conn.got.some((m) => m.type === "complete" && m.id === "held"), 5000, "complete");
      release();
      await held;
      // A later start's start_ack leaves after everything the held start still had to do.
      await startSubscription(conn, "later", receiveMessagesRequest("session-held-01"), userPoolAuth(h.gateway, token));
      expect(conn.got.filter((m) => m.type === "start_ack").map((m) => m.id)).toEqual(["later"]);
      expect(h.gateway.stats.activeSubscriptions).toBe(before + 1);
    } finally {
      spy.mockRestore();
      conn.ws.close();
    }
  });

  it("answers an unexpected failure with AppSync's generic InternalFailure, and logs the cause instead of sending it", async () => {
    const conn = await acked();
    const raw: string[] = [];
    conn.ws.on("message", (m) => raw.push(m.toString()));
    const spy = jest.spyOn(GraphQLEngine.prototype, "prepare").mockImplementationOnce(() => {
      throw new TypeError("Cannot read properties of null (reading 'secretInternalDetail')");
    });
    try {
      sendStart(conn, "boom", receiveMessagesRequest("session-boom-01"), userPoolAuth(h.gateway, token));
      expect(await firstMessage(conn, "error")).toEqual({ type: "error", id: "boom", payload: { errors: [expect.objectContaining({ errorType: "InternalFailure", message: "An internal error occurred." })] } });
      expect(raw.join("\n")).not.toMatch(/secretInternalDetail|TypeError/);
      expect(h.internalErrors.map((e) => String(e.err))).toEqual([expect.stringMatching(/secretInternalDetail/)]);
      h.internalErrors.length = 0;
      await startSubscription(conn, "fine-again", receiveMessagesRequest("session-boom-01"), userPoolAuth(h.gateway, token));
    } finally {
      spy.mockRestore();
      conn.ws.close();
    }
  });
});

describe("real-time connections that never begin the protocol", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(undefined, { connectionInitTimeoutMs: 300 });
  });
  afterAll(async () => {
    await h.close();
  });

  it("closes a connection that sent neither connection_init nor a start within the bound (4408), and keeps the others", async () => {
    const token = await h.issuer.mintIdToken("alice");
    const initialized = connectRealtime(h.gateway, userPoolAuth(h.gateway, token));
    await initConnection(initialized);
    const silent = connectRealtime(h.gateway, userPoolAuth(h.gateway, token));
    const chatty = connectRealtime(h.gateway, userPoolAuth(h.gateway, token));
    await opened(chatty);
    chatty.ws.send("null"); // garbage does not count as beginning the protocol
    const [silentClose, chattyClose] = await Promise.all([closed(silent), closed(chatty)]);
    expect(silentClose).toEqual({ code: 4408, reason: "connection_init timeout" });
    expect(chattyClose.code).toBe(4408);
    // The initialized connection opened first, so its bound (had it one) ran out first too.
    expect(initialized.ws.readyState).toBe(WebSocket.OPEN);
    await waitFor(() => h.gateway.stats.connections === 1, 5000, "the gateway to drop the two closed connections");
    initialized.ws.close();
  });
});
