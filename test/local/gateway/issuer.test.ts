import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { createRemoteJWKSet, decodeJwt, jwtVerify } from "jose";
import { startIssuer, subjectFor, type LocalIssuer } from "../../../local/issuer";

describe("local issuer", () => {
  let issuer: LocalIssuer;
  beforeAll(async () => {
    issuer = await startIssuer({ port: 0, clientId: "test-client" });
  });
  afterAll(async () => {
    await issuer.close();
  });

  it("binds 127.0.0.1 and publishes discovery and JWKS documents", async () => {
    expect(issuer.issuerUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const conf = await (await fetch(`${issuer.issuerUrl}/.well-known/openid-configuration`)).json();
    expect(conf).toMatchObject({ issuer: issuer.issuerUrl, jwks_uri: `${issuer.issuerUrl}/.well-known/jwks.json` });
    const jwks = await (await fetch(conf.jwks_uri)).json();
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: "RSA", alg: "RS256", use: "sig" });
    expect(jwks.keys[0].d).toBeUndefined();
  });

  it("mints a Cognito-shaped ID token over POST /token that verifies against its JWKS", async () => {
    const res = await fetch(`${issuer.issuerUrl}/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "alice", expiresInSeconds: 120 }),
    });
    expect(res.status).toBe(200);
    const { idToken } = await res.json();
    const jwks = createRemoteJWKSet(new URL(`${issuer.issuerUrl}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(idToken, jwks, { issuer: issuer.issuerUrl, audience: "test-client" });
    expect(payload).toMatchObject({ sub: subjectFor("alice"), "cognito:username": "alice", token_use: "id", email: "alice@example.com" });
    expect((payload.exp as number) - (payload.iat as number)).toBe(120);
  });

  it("derives the same sub for a username on every run (RFC 4122 v5 shape)", async () => {
    const other = await startIssuer();
    try {
      expect(decodeJwt(await other.mintIdToken("alice")).sub).toBe(decodeJwt(await issuer.mintIdToken("alice")).sub);
    } finally {
      await other.close();
    }
    expect(subjectFor("alice")).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it("rejects bad usernames and lifetimes", async () => {
    for (const body of [{ username: "" }, { username: "a b" }, { username: "alice", expiresInSeconds: 10 ** 9 }, {}]) {
      const res = await fetch(`${issuer.issuerUrl}/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      expect(res.status).toBe(400);
    }
  });

  it("npm run token: reads client-config.local.json and prints a token", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "issuer-cli-"));
    const file = path.join(dir, "client-config.local.json");
    writeFileSync(
      file,
      JSON.stringify({
        environment: "local",
        region: "us-east-1",
        graphqlUrl: "http://127.0.0.1:1/graphql",
        realtimeUrl: "ws://127.0.0.1:1/graphql",
        auth: { type: "local", issuerUrl: issuer.issuerUrl },
        models: { defaultModelId: "m", allowedModelIds: ["m"] },
      }),
    );
    const cli = path.resolve(__dirname, "../../../local/issuer/tokenCli.ts");
    const tsx = path.resolve(__dirname, "../../../node_modules/.bin/tsx");
    const { stdout } = await promisify(execFile)(tsx, [cli, "bob", "--config", file], { timeout: 20_000 });
    expect(decodeJwt(stdout.trim())).toMatchObject({ sub: subjectFor("bob"), aud: "test-client", token_use: "id" });
  });
});
