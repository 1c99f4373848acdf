import { generateKeyPair, SignJWT } from "jose";
import { PUBLISH_RESPONSE_MUTATION, SEND_QUERY_MUTATION } from "../../../contracts/graphqlOperations";
import { subjectFor } from "../../../local/issuer";
import { GraphQLEngine } from "../../../local/appsync/engine";
import { CREDENTIALS, cognitoClaims, postJwt, signedFetch, startHarness, startTestSigner, type Harness, type TestSigner } from "./harness";

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

describe("user pool tokens as Cognito issues them (ID and access), checked as AppSync checks them", () => {
  let signer: TestSigner;
  let h: Harness;
  beforeAll(async () => {
    signer = await startTestSigner();
    h = await startHarness(undefined, { issuer: signer });
  });
  afterAll(async () => {
    await h.close();
    await signer.close();
  });

  const whoami = async (token: string) => {
    const res = await postJwt(h.gateway.graphqlUrl, token, "query { whoami }");
    return { status: res.status, body: await res.json() };
  };
  const refused = { status: 401, body: { errors: [{ errorType: "UnauthorizedException", message: "You are not authorized to make this call." }] } };

  it("accepts an ID token (token_use=id, the app client in aud)", async () => {
    expect(await whoami(await signer.sign(cognitoClaims(signer, "id", "alice")))).toEqual({ status: 200, body: { data: { whoami: subjectFor("alice") } } });
  });

  it("accepts an access token (token_use=access, the app client in client_id, no aud), as Amplify sends it", async () => {
    expect(await whoami(await signer.sign(cognitoClaims(signer, "access", "alice")))).toEqual({ status: 200, body: { data: { whoami: subjectFor("alice") } } });
  });

  it("gives resolvers the same ctx.identity for an access token: sub, username (from username), claims, groups", async () => {
    const token = await signer.sign(cognitoClaims(signer, "access", "carol", { "cognito:groups": ["admins", "beta"] }));
    const res = await postJwt(h.gateway.graphqlUrl, token, SEND_QUERY_MUTATION, { input: { sessionId: "session-0001", prompt: "x" } });
    expect(res.status).toBe(200);
    expect(h.sendQueryCalls.at(-1)).toMatchObject({
      identity: {
        sub: subjectFor("carol"),
        username: "carol",
        issuer: signer.issuerUrl,
        groups: ["admins", "beta"],
        claims: { token_use: "access", client_id: signer.clientId, scope: "aws.cognito.signin.user.admin" },
        defaultAuthStrategy: "ALLOW",
      },
    });
  });

  it("takes the ID token's username from cognito:username", async () => {
    const token = await signer.sign(cognitoClaims(signer, "id", "dave"));
    await postJwt(h.gateway.graphqlUrl, token, SEND_QUERY_MUTATION, { input: { sessionId: "session-0001", prompt: "x" } });
    expect(h.sendQueryCalls.at(-1)).toMatchObject({ identity: { sub: subjectFor("dave"), username: "dave", groups: null, claims: { token_use: "id" } } });
  });

  it.each([
    ["an access token for another app client", (s: TestSigner) => cognitoClaims(s, "access", "alice", { client_id: "other-client" })],
    ["an access token naming the app client only in aud", (s: TestSigner) => cognitoClaims(s, "access", "alice", { client_id: undefined, aud: "test-app-client" })],
    ["an ID token for another app client", (s: TestSigner) => cognitoClaims(s, "id", "alice", { aud: "other-client" })],
    ["an ID token naming the app client only in client_id", (s: TestSigner) => cognitoClaims(s, "id", "alice", { aud: undefined, client_id: "test-app-client" })],
    ["a token without token_use", (s: TestSigner) => cognitoClaims(s, "id", "alice", { token_use: undefined })],
    ["a refresh-like token_use", (s: TestSigner) => cognitoClaims(s, "access", "alice", { token_use: "refresh" })],
    ["an empty sub", (s: TestSigner) => cognitoClaims(s, "access", "alice", { sub: "" })],
    ["a token without sub", (s: TestSigner) => cognitoClaims(s, "id", "alice", { sub: undefined })],
    ["a token without exp", (s: TestSigner) => cognitoClaims(s, "access", "alice", { exp: undefined })],
    ["a token issued 10 minutes in the future (skew allowed: 5 minutes)", (s: TestSigner) => cognitoClaims(s, "access", "alice", { iat: Math.floor(Date.now() / 1000) + 600 })],
    ["another issuer's iss", (s: TestSigner) => cognitoClaims(s, "id", "alice", { iss: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other" })],
  ])("refuses %s with 401", async (_what, claimsFor) => {
    expect(await whoami(await signer.sign(claimsFor(signer)))).toEqual(refused);
  });

  it("accepts an iat within the 5-minute skew", async () => {
    const token = await signer.sign(cognitoClaims(signer, "access", "alice", { iat: Math.floor(Date.now() / 1000) + 60 }));
    expect((await whoami(token)).status).toBe(200);
  });

  it("answers an expired access token with Token has expired.", async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await signer.sign(cognitoClaims(signer, "access", "alice", { iat: now - 7200, exp: now - 5 }));
    expect(await whoami(token)).toEqual({ status: 401, body: { errors: [{ errorType: "UnauthorizedException", message: "Token has expired." }] } });
  });
});

describe("SigV4 session tokens, as AWS checks them", () => {
  const SESSION = { ...CREDENTIALS, sessionToken: "the-session-token-these-credentials-came-with" };

  it("refuses any session token sent with long-term credentials (the local identity has none)", async () => {
    const h = await startHarness();
    try {
      const res = await signedFetch(h.gateway.graphqlUrl, publishBody(), { ...CREDENTIALS, sessionToken: "bogus-session-token" } as typeof CREDENTIALS);
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ errors: [{ errorType: "UnauthorizedException", message: "The security token included in the request is invalid." }] });
      expect((await signedFetch(h.gateway.graphqlUrl, publishBody())).status).toBe(200);
    } finally {
      await h.close();
    }
  });

  it("with temporary credentials, accepts only their own session token", async () => {
    const h = await startHarness(undefined, { credentials: SESSION });
    try {
      expect((await signedFetch(h.gateway.graphqlUrl, publishBody(), SESSION as typeof CREDENTIALS)).status).toBe(200);
      expect((await signedFetch(h.gateway.graphqlUrl, publishBody(), { ...SESSION, sessionToken: "another-token" } as typeof CREDENTIALS)).status).toBe(401);
      expect((await signedFetch(h.gateway.graphqlUrl, publishBody(), CREDENTIALS)).status).toBe(401);
    } finally {
      await h.close();
    }
  });
});

describe("document and variable errors as AppSync answers them", () => {
  let h: Harness;
  let token: string;
  beforeAll(async () => {
    h = await startHarness();
    token = await h.issuer.mintIdToken("alice");
  });
  afterAll(async () => {
    await h.close();
  });

  const post = async (query: string, variables: Record<string, unknown> = {}) => {
    const res = await postJwt(h.gateway.graphqlUrl, token, query, variables);
    return { status: res.status, body: await res.json() };
  };

  it("answers a field the schema lacks with 200, data null and a ValidationError", async () => {
    const { status, body } = await post("query { whoami nonsense }");
    expect(status).toBe(200);
    expect(body.data).toBeNull();
    expect(body.errors[0]).toMatchObject({ errorType: "ValidationError", message: expect.stringMatching(/nonsense/), locations: [{ line: 1, column: 16 }] });
  });

  it("answers a missing required variable with a ValidationError", async () => {
    const { status, body } = await post(SEND_QUERY_MUTATION, {});
    expect(status).toBe(200);
    expect(body).toEqual({ data: null, errors: [expect.objectContaining({ errorType: "ValidationError", message: expect.stringMatching(/\$input/) })] });
    expect(h.sendQueryCalls).toHaveLength(0);
  });

  it("answers a variable of the wrong type with a ValidationError, not an InternalFailure", async () => {
    const { status, body } = await post(SEND_QUERY_MUTATION, { input: { sessionId: 12345678, prompt: ["not", "a", "string"] } });
    expect(status).toBe(200);
    expect(body.data).toBeNull();
    expect(body.errors.map((e: { errorType: string }) => e.errorType)).toEqual(body.errors.map(() => "ValidationError"));
    expect(JSON.stringify(body)).not.toMatch(/InternalFailure/);
  });

  it("still answers a body without a query with 400 BadRequestException", async () => {
    const res = await fetch(h.gateway.graphqlUrl, { method: "POST", headers: { "content-type": "application/json", authorization: token }, body: "{}" });
    expect(res.status).toBe(400);
    expect((await res.json()).errors[0]).toMatchObject({ errorType: "BadRequestException" });
  });

  it("answers an unexpected failure with AppSync's generic InternalFailure and logs the cause, never sends it", async () => {
    const spy = jest.spyOn(GraphQLEngine.prototype, "prepare").mockImplementationOnce(() => {
      throw new TypeError("Cannot read properties of null (reading 'secretInternalDetail')");
    });
    try {
      const res = await postJwt(h.gateway.graphqlUrl, token, "query { whoami }");
      const text = await res.text();
      expect(res.status).toBe(500);
      expect(JSON.parse(text)).toEqual({ errors: [expect.objectContaining({ errorType: "InternalFailure", message: "An internal error occurred." })] });
      expect(text).not.toMatch(/secretInternalDetail|TypeError|at /);
      expect(h.internalErrors.map((e) => String(e.err))).toContainEqual(expect.stringMatching(/secretInternalDetail/));
    } finally {
      spy.mockRestore();
    }
  });
});
