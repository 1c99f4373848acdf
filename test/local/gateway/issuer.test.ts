import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import * as https from "node:https";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from "jose";
import { SIGN_IN_SCOPE, startIssuer, subjectFor, type LocalIssuer } from "../../../local/issuer";
import { localCertificate } from "../../../local/tls";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function postToken(issuer: LocalIssuer, body: object): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${issuer.issuerUrl}/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

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
    // As a Cognito user pool: one key for ID tokens, another for access tokens, public halves only.
    expect(jwks.keys).toHaveLength(2);
    for (const key of jwks.keys) expect(key).toMatchObject({ kty: "RSA", alg: "RS256", use: "sig" });
    expect(jwks.keys.map((k: { d?: string }) => k.d)).toEqual([undefined, undefined]);
    expect(new Set(jwks.keys.map((k: { kid: string }) => k.kid)).size).toBe(2);
  });

  it("mints an ID token with Cognito's ID-token claims over POST /token, verified against its JWKS", async () => {
    const { status, body } = await postToken(issuer, { username: "alice", expiresInSeconds: 120 });
    expect(status).toBe(200);
    expect(body).toMatchObject({ tokenType: "id", expiresIn: 120, sub: subjectFor("alice") });
    const jwks = createRemoteJWKSet(new URL(`${issuer.issuerUrl}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(body.idToken as string, jwks, { issuer: issuer.issuerUrl, audience: "test-client" });
    expect(payload).toMatchObject({ sub: subjectFor("alice"), "cognito:username": "alice", token_use: "id", email: "alice@example.com" });
    expect(payload.auth_time).toBe(payload.iat);
    expect((payload.exp as number) - (payload.iat as number)).toBe(120);
    for (const claim of ["jti", "origin_jti", "event_id"]) expect(payload[claim]).toMatch(UUID);
    expect(payload).not.toHaveProperty("client_id");
    expect(payload).not.toHaveProperty("scope");
  });

  it("mints an access token with Cognito's access-token claims (client_id, username, scope; no aud), under its own key", async () => {
    const { status, body } = await postToken(issuer, { username: "alice", expiresInSeconds: 300, tokenUse: "access" });
    expect(status).toBe(200);
    expect(body).toMatchObject({ tokenType: "access", expiresIn: 300, sub: subjectFor("alice") });
    expect(body).not.toHaveProperty("idToken");
    const accessToken = body.accessToken as string;
    const jwks = createRemoteJWKSet(new URL(`${issuer.issuerUrl}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(accessToken, jwks, { issuer: issuer.issuerUrl });
    expect(payload).toMatchObject({ sub: subjectFor("alice"), token_use: "access", client_id: "test-client", username: "alice", scope: SIGN_IN_SCOPE });
    expect(payload).not.toHaveProperty("aud");
    expect(payload).not.toHaveProperty("cognito:username");
    expect((payload.exp as number) - (payload.iat as number)).toBe(300);
    for (const claim of ["jti", "origin_jti"]) expect(payload[claim]).toMatch(UUID);
    expect(decodeProtectedHeader(accessToken).kid).not.toBe(decodeProtectedHeader(await issuer.mintIdToken("alice")).kid);
    expect(decodeJwt(await issuer.mintAccessToken("bob"))).toMatchObject({ token_use: "access", username: "bob", client_id: "test-client" });
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
      expect((await postToken(issuer, body)).status).toBe(400);
    }
  });

  it("rejects an unknown token kind, naming the kinds", async () => {
    expect(await postToken(issuer, { username: "alice", tokenUse: "refresh" })).toEqual({ status: 400, body: { error: "tokenUse must be one of id, access" } });
  });

  it("with tls: serves https to a client that trusts the local certificate, with https in iss, and lets the https console call it", async () => {
    const certificate = await localCertificate(mkdtempSync(path.join(tmpdir(), "issuer-tls-")));
    const secure = await startIssuer({ clientId: "test-client", tls: certificate });
    try {
      expect(secure.issuerUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const body = JSON.stringify({ username: "alice", tokenUse: "access" });
      const origin = "https://localhost:4000";
      const res = await new Promise<{ status?: number; cors?: string | string[]; text: string }>((resolve, reject) => {
        const req = https.request(`${secure.issuerUrl}/token`, { method: "POST", ca: certificate.cert, headers: { "content-type": "application/json", origin } }, (r) => {
          let text = "";
          r.on("data", (d: Buffer) => (text += d));
          r.on("end", () => resolve({ status: r.statusCode, cors: r.headers["access-control-allow-origin"], text }));
        });
        req.on("error", reject);
        req.end(body);
      });
      expect(res).toMatchObject({ status: 200, cors: origin });
      expect(decodeJwt(JSON.parse(res.text).accessToken)).toMatchObject({ iss: secure.issuerUrl, token_use: "access" });
      // A client that does not trust the certificate is refused at the handshake.
      await expect(fetch(`${secure.issuerUrl}/.well-known/jwks.json`)).rejects.toThrow();
    } finally {
      await secure.close();
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
    const access = await promisify(execFile)(tsx, [cli, "bob", "--access", "--config", file], { timeout: 20_000 });
    expect(decodeJwt(access.stdout.trim())).toMatchObject({ sub: subjectFor("bob"), client_id: "test-client", token_use: "access" });
  });
});
