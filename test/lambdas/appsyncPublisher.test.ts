import { AppSyncPublishError, createAppSyncPublisher, signingRegion } from "../../lambdas/shared/appsyncPublisher";
import { PUBLISH_RESPONSE_MUTATION } from "../../contracts/graphqlOperations";
import { parseEvent, type TokenEvent } from "../../contracts/streamEvents";
import { startFakeAppSync, type FakeAppSync } from "./support/fakeAppSync";
import { sigv4Oracle } from "./support/sigv4Oracle";

const credentials = { accessKeyId: "AKIDEXAMPLETEST", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sessionToken: "session-token-example" };

function tokenEvent(value: string, sequenceNumber = 0): TokenEvent {
  return {
    action: "on_new_llm_token",
    userId: "user-sub-1",
    timestamp: "2026-01-01T00:00:00.000Z",
    data: { sessionId: "session-0001", messageId: "message-0001", token: { runId: "message-0001", sequenceNumber, value } },
  };
}

let server: FakeAppSync;
beforeEach(async () => {
  server = await startFakeAppSync();
});
afterEach(async () => {
  await server.close();
});

const fast = { baseDelayMs: 1, maxDelayMs: 5, region: "us-east-1", credentials };

describe("appsyncPublisher", () => {
  it("delivers tokens byte for byte (quotes, backslashes, newlines, unicode, emoji) as GraphQL variables", async () => {
    const tokens = [
      'He said "hi"',
      "C:\\path\\to\\file \\n not a newline",
      "line one\nline two\r\n\ttabbed",
      "naïve café — 日本語 ∑",
      "emoji 👩‍👩‍👧 🚀 and flags 🇫🇷",
      "control \u0000\u0001\u001f and } { ) ( $var #comment",
      "\u2028\u2029 separators",
      "```ts\nconst s = `x ${y}`;\n```",
    ];
    const publisher = createAppSyncPublisher({ endpoint: server.endpoint, ...fast });
    for (const [i, value] of tokens.entries()) await publisher.publish(tokenEvent(value, i));

    expect(server.requests).toHaveLength(tokens.length);
    server.requests.forEach((req, i) => {
      const body = JSON.parse(req.body.toString("utf8"));
      expect(body.query).toBe(PUBLISH_RESPONSE_MUTATION);
      expect(body.variables.sessionId).toBe("session-0001");
      expect(body.variables.userId).toBe("user-sub-1");
      const event = parseEvent(body.variables.data);
      expect(event.action).toBe("on_new_llm_token");
      if (event.action !== "on_new_llm_token") return;
      expect(Buffer.from(event.data.token.value, "utf8").equals(Buffer.from(tokens[i]!, "utf8"))).toBe(true);
      expect(event.data.token.sequenceNumber).toBe(i);
    });
  });

  it("signs with SigV4 for service appsync, covering host with its port; an independent recomputation matches", async () => {
    const publisher = createAppSyncPublisher({ endpoint: server.endpoint, ...fast });
    await publisher.publish(tokenEvent("signed"));
    const [req] = server.requests;
    const check = sigv4Oracle(req!, credentials.secretAccessKey);
    expect(check.expected).toBe(check.actual);
    expect(check.valid).toBe(true);
    expect(check).toMatchObject({ accessKeyId: credentials.accessKeyId, region: "us-east-1", service: "appsync" });
    expect(check.signedHeaders).toEqual(expect.arrayContaining(["host", "x-amz-date", "content-type", "x-amz-security-token"]));
    expect(req!.headers.host).toBe(new URL(server.endpoint).host);
    expect(req!.headers["x-amz-security-token"]).toBe(credentials.sessionToken);

    // The verifier is not a rubber stamp: a changed body or a wrong secret fails it.
    expect(sigv4Oracle({ ...req!, body: Buffer.concat([req!.body, Buffer.from(" ")]) }, credentials.secretAccessKey).valid).toBe(false);
    expect(sigv4Oracle(req!, "another-secret").valid).toBe(false);
  });

  it("takes the signing region from an AppSync host name, else AWS_REGION", () => {
    expect(signingRegion("https://abc.appsync-api.eu-west-2.amazonaws.com/graphql", "us-east-1")).toBe("eu-west-2");
    expect(signingRegion("https://api.example.com/graphql", "ap-south-1")).toBe("ap-south-1");
    expect(() => signingRegion("http://127.0.0.1:9/graphql", "")).toThrow(/AWS_REGION/);
  });

  it("retries 5xx and 429 and then succeeds", async () => {
    server.reply = (_req, i) => (i === 0 ? { status: 503, body: {} } : i === 1 ? { status: 429, body: {} } : { status: 200, body: { data: { publishResponse: null } } });
    const publisher = createAppSyncPublisher({ endpoint: server.endpoint, ...fast });
    await publisher.publish(tokenEvent("retry me"));
    expect(server.requests).toHaveLength(3);
    // Each attempt is signed afresh and carries the same body.
    expect(new Set(server.requests.map((r) => r.body.toString()))).toEqual(new Set([server.requests[0]!.body.toString()]));
    for (const r of server.requests) expect(sigv4Oracle(r, credentials.secretAccessKey).valid).toBe(true);
  });

  it("treats a 200 carrying `errors` as a failure: no retry for a permanent error", async () => {
    server.reply = () => ({ status: 200, body: { data: { publishResponse: null }, errors: [{ errorType: "Unauthorized", message: "Not Authorized to access publishResponse on type Mutation" }] } });
    const publisher = createAppSyncPublisher({ endpoint: server.endpoint, ...fast });
    const failure = await publisher.publish(tokenEvent("lost?")).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(AppSyncPublishError);
    expect(failure).toMatchObject({ attempts: 1, retryable: false, status: 200, graphqlErrors: [{ errorType: "Unauthorized" }] });
    expect(server.requests).toHaveLength(1);
  });

  it("retries a 200 whose `errors` look transient", async () => {
    server.reply = (_req, i) => (i < 2 ? { status: 200, body: { data: null, errors: [{ errorType: "ThrottlingException", message: "Rate exceeded" }] } } : { status: 200, body: { data: {} } });
    const publisher = createAppSyncPublisher({ endpoint: server.endpoint, ...fast });
    await publisher.publish(tokenEvent("throttled"));
    expect(server.requests).toHaveLength(3);
  });

  it("does not retry other 4xx", async () => {
    server.reply = () => ({ status: 400, body: { errors: [{ message: "bad" }] } });
    const publisher = createAppSyncPublisher({ endpoint: server.endpoint, ...fast });
    await expect(publisher.publish(tokenEvent("x"))).rejects.toMatchObject({ name: "AppSyncPublishError", status: 400, retryable: false, attempts: 1 });
  });

  it("gives up after maxAttempts with a typed, retryable error", async () => {
    server.reply = () => ({ status: 500, body: {} });
    const publisher = createAppSyncPublisher({ endpoint: server.endpoint, ...fast, maxAttempts: 3 });
    await expect(publisher.publish(tokenEvent("x"))).rejects.toMatchObject({ name: "AppSyncPublishError", attempts: 3, retryable: true, status: 500 });
    expect(server.requests).toHaveLength(3);
  });

  it("retries network errors (connection refused) and attempt timeouts", async () => {
    const closed = server.endpoint;
    await server.close();
    const refused = createAppSyncPublisher({ endpoint: closed, ...fast, maxAttempts: 2 });
    await expect(refused.publish(tokenEvent("x"))).rejects.toMatchObject({ attempts: 2, retryable: true, status: undefined });

    server = await startFakeAppSync();
    server.reply = (_req, i) => (i === 0 ? { hang: true } : { status: 200, body: { data: {} } });
    const slow = createAppSyncPublisher({ endpoint: server.endpoint, ...fast, attemptTimeoutMs: 200 });
    await slow.publish(tokenEvent("x"));
    expect(server.requests).toHaveLength(2);
  });

  it("bounds the total time spent retrying", async () => {
    server.reply = () => ({ status: 503, body: {} });
    const publisher = createAppSyncPublisher({ endpoint: server.endpoint, ...fast, baseDelayMs: 200, maxDelayMs: 200, maxAttempts: 50, totalTimeoutMs: 300, random: () => 1 });
    const started = Date.now();
    await expect(publisher.publish(tokenEvent("x"))).rejects.toBeInstanceOf(AppSyncPublishError);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(server.requests.length).toBeLessThanOrEqual(2);
  });

  it("a signal that fires stops the retries: no attempt starts after it, the backoff wait is cut short", async () => {
    const controller = new AbortController();
    // Fires while the first 503 is on its way back; the publisher would otherwise retry for a minute.
    server.reply = () => {
      controller.abort(new Error("deadline"));
      return { status: 503, body: {} };
    };
    const publisher = createAppSyncPublisher({ endpoint: server.endpoint, ...fast, baseDelayMs: 30_000, maxDelayMs: 30_000, maxAttempts: 50, totalTimeoutMs: 60_000, random: () => 1 });
    const started = Date.now();
    await expect(publisher.publish(tokenEvent("x"), { signal: controller.signal })).rejects.toMatchObject({ name: "AppSyncPublishError", attempts: 1 });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(server.requests).toHaveLength(1);
    // Already fired: nothing is sent at all.
    await expect(publisher.publish(tokenEvent("y"), { signal: controller.signal })).rejects.toMatchObject({ attempts: 0 });
    expect(server.requests).toHaveLength(1);
  });

  it("a signal that fires cancels an attempt in flight", async () => {
    const controller = new AbortController();
    server.reply = () => {
      setImmediate(() => controller.abort(new Error("deadline")));
      return { hang: true };
    };
    const publisher = createAppSyncPublisher({ endpoint: server.endpoint, ...fast, attemptTimeoutMs: 60_000, totalTimeoutMs: 120_000 });
    const started = Date.now();
    await expect(publisher.publish(tokenEvent("x"), { signal: controller.signal })).rejects.toBeInstanceOf(AppSyncPublishError);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(server.requests).toHaveLength(1);
  });

  it("maxAttempts per call caps the attempts below the publisher's own", async () => {
    server.reply = () => ({ status: 500, body: {} });
    const publisher = createAppSyncPublisher({ endpoint: server.endpoint, ...fast, maxAttempts: 4 });
    await expect(publisher.publish(tokenEvent("x"), { maxAttempts: 1 })).rejects.toMatchObject({ attempts: 1, retryable: true });
    expect(server.requests).toHaveLength(1);
  });
});
