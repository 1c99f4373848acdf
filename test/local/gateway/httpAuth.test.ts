import { generateKeyPair, SignJWT } from "jose";
import { PUBLISH_RESPONSE_MUTATION, SEND_QUERY_MUTATION } from "../../../contracts/graphqlOperations";
import { subjectFor } from "../../../local/issuer";
import { CREDENTIALS, postJwt, signedFetch, startHarness, type Harness } from "./harness";

const publishBody = (sessionId = "session-0001") =>
  JSON.stringify({ query: PUBLISH_RESPONSE_MUTATION, variables: { sessionId, userId: "user-1", data: '{"a":"b"}' } });

describe("local gateway over HTTP: SigV4 for @aws_iam, issuer JWTs for @aws_cognito_user_pools", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  it("accepts publishResponse signed with the local credentials", async () => {
    const res = await signedFetch(h.gateway.graphqlUrl, publishBody());
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ data: { publishResponse: { sessionId: "session-0001", userId: "user-1", data: '{"a":"b"}' } } });
  });

  it("rejects publishResponse without any signature", async () => {
    const res = await fetch(h.gateway.graphqlUrl, { method: "POST", headers: { "content-type": "application/json" }, body: publishBody() });
    expect(res.status).toBe(401);
    const body = await res.json();
    expect(body.errors[0].errorType).toBe("UnauthorizedException");
    expect(body.data).toBeUndefined();
  });

  it("rejects a signature made with the wrong secret", async () => {
    const res = await signedFetch(h.gateway.graphqlUrl, publishBody(), { ...CREDENTIALS, secretAccessKey: "not-the-secret" });
    expect(res.status).toBe(401);
  });

  it("rejects a signature made with an unknown access key", async () => {
    const res = await signedFetch(h.gateway.graphqlUrl, publishBody(), { ...CREDENTIALS, accessKeyId: "AKIAOTHER0000000000" });
    expect(res.status).toBe(401);
  });

  it("rejects a signed request whose body was changed after signing", async () => {
    const res = await signedFetch(h.gateway.graphqlUrl, publishBody(), CREDENTIALS, {
      tamper: (s) => {
        s.body = publishBody("session-evil1");
      },
    });
    expect(res.status).toBe(401);
  });

  it("rejects a changed body even when x-amz-content-sha256 is recomputed by the attacker", async () => {
    const { createHash } = await import("node:crypto");
    const res = await signedFetch(h.gateway.graphqlUrl, publishBody(), CREDENTIALS, {
      tamper: (s) => {
        s.body = publishBody("session-evil1");
        s.headers["x-amz-content-sha256"] = createHash("sha256").update(s.body).digest("hex");
      },
    });
    expect(res.status).toBe(401);
  });

  it("rejects a signature older than five minutes", async () => {
    const res = await signedFetch(h.gateway.graphqlUrl, publishBody(), CREDENTIALS, { signingDate: new Date(Date.now() - 6 * 60_000) });
    expect(res.status).toBe(401);
  });

  it("rejects a signature for another region", async () => {
    const res = await signedFetch(h.gateway.graphqlUrl, publishBody(), CREDENTIALS, { region: "eu-west-1" });
    expect(res.status).toBe(401);
  });

  it("answers a Cognito token on the IAM-only field with AppSync's Unauthorized error", async () => {
    const token = await h.issuer.mintIdToken("alice");
    const executedBefore = h.gateway.stats.mutationsByField.publishResponse ?? 0;
    const res = await postJwt(h.gateway.graphqlUrl, token, PUBLISH_RESPONSE_MUTATION, { sessionId: "session-0001", userId: "x", data: "{}" });
    const body = await res.json();
    expect(body.data).toEqual({ publishResponse: null });
    // Refused, so not counted as an executed mutation (the bench reads this counter).
    expect(h.gateway.stats.mutationsByField.publishResponse ?? 0).toBe(executedBefore);
    expect(body.errors).toHaveLength(1);
    expect(body.errors[0]).toMatchObject({
      errorType: "Unauthorized",
      message: "Not Authorized to access publishResponse on type Mutation",
      path: ["publishResponse"],
    });
  });

  it("answers a signed IAM request on a Cognito-only field with Unauthorized", async () => {
    const res = await signedFetch(h.gateway.graphqlUrl, JSON.stringify({ query: "query { whoami }" }));
    const body = await res.json();
    expect(body.errors[0]).toMatchObject({ errorType: "Unauthorized", message: "Not Authorized to access whoami on type Query" });
  });

  it("gives ctx.identity.sub from a valid token, stable per username", async () => {
    const res = await postJwt(h.gateway.graphqlUrl, await h.issuer.mintIdToken("alice"), "query { whoami }");
    expect(await res.json()).toEqual({ data: { whoami: subjectFor("alice") } });
    expect(subjectFor("alice")).not.toBe(subjectFor("bob"));
  });

  it("rejects an expired token", async () => {
    const token = await h.issuer.mintIdToken("alice", { expiresInSeconds: -5 });
    const res = await postJwt(h.gateway.graphqlUrl, token, "query { whoami }");
    expect(res.status).toBe(401);
    expect((await res.json()).errors[0]).toMatchObject({ errorType: "UnauthorizedException", message: "Token has expired." });
  });

  it("rejects a token with the right claims signed by another key", async () => {
    const { privateKey } = await generateKeyPair("RS256");
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ "cognito:username": "alice", token_use: "id" })
      .setProtectedHeader({ alg: "RS256", kid: "forged" })
      .setSubject(subjectFor("alice"))
      .setIssuer(h.issuer.issuerUrl)
      .setAudience(h.issuer.clientId)
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(privateKey);
    const res = await postJwt(h.gateway.graphqlUrl, forged, "query { whoami }");
    expect(res.status).toBe(401);
  });

  it("rejects a token signed by another issuer instance (same claims, its own JWKS)", async () => {
    const { startIssuer } = await import("../../../local/issuer");
    const other = await startIssuer({ clientId: h.issuer.clientId });
    try {
      const res = await postJwt(h.gateway.graphqlUrl, await other.mintIdToken("alice"), "query { whoami }");
      expect(res.status).toBe(401);
    } finally {
      await other.close();
    }
  });

  it("rejects a request without an Authorization header", async () => {
    const res = await postJwt(h.gateway.graphqlUrl, undefined, "query { whoami }");
    expect(res.status).toBe(401);
  });

  it("runs the sendQuery resolver with the Lambda data source and turns the Lambda's error object into a GraphQL error", async () => {
    const hBad = await import("./harness").then((m) =>
      m.startHarness(async () => ({ error: { message: "prompt too long", type: "ValidationError" } })),
    );
    try {
      const res = await postJwt(hBad.gateway.graphqlUrl, await hBad.issuer.mintIdToken("alice"), SEND_QUERY_MUTATION, {
        input: { sessionId: "session-0001", prompt: "x" },
      });
      const body = await res.json();
      expect(body.data).toBeNull();
      expect(body.errors[0]).toMatchObject({ errorType: "ValidationError", message: "prompt too long", path: ["sendQuery"] });
      expect(hBad.sendQueryCalls).toHaveLength(1);
      expect(hBad.sendQueryCalls[0]).toMatchObject({ arguments: { input: { sessionId: "session-0001" } }, identity: { sub: subjectFor("alice"), username: "alice" } });
    } finally {
      await hBad.close();
    }
  });

  it("maps a throwing Lambda to the resolver's InternalFailure", async () => {
    const hBad = await import("./harness").then((m) =>
      m.startHarness(async () => {
        throw new Error("boom");
      }),
    );
    try {
      const res = await postJwt(hBad.gateway.graphqlUrl, await hBad.issuer.mintIdToken("alice"), SEND_QUERY_MUTATION, {
        input: { sessionId: "session-0001", prompt: "x" },
      });
      const body = await res.json();
      expect(body.errors[0]).toMatchObject({ errorType: "InternalFailure", message: "The request could not be processed" });
    } finally {
      await hBad.close();
    }
  });

  it("counts mutations and rejected auth in stats", async () => {
    const before = { ...h.gateway.stats, mutationsByField: { ...h.gateway.stats.mutationsByField } };
    await signedFetch(h.gateway.graphqlUrl, publishBody());
    await signedFetch(h.gateway.graphqlUrl, publishBody(), { ...CREDENTIALS, secretAccessKey: "wrong" });
    expect(h.gateway.stats.mutationsByField.publishResponse).toBe((before.mutationsByField.publishResponse ?? 0) + 1);
    expect(h.gateway.stats.rejectedAuth).toBe(before.rejectedAuth + 1);
  });

  it("refuses requests whose Host is not loopback (DNS rebinding)", async () => {
    const http = await import("node:http");
    const u = new URL(h.gateway.graphqlUrl);
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port: u.port, path: "/graphql", method: "POST", headers: { host: "evil.example:80" } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end("{}");
    });
    expect(status).toBe(421);
  });
});
