/**
 * Local OIDC-style issuer: mints Cognito-shaped ID tokens for named test users so the local gateway can verify
 * real RS256 signatures against a JWKS, exactly as AppSync verifies Cognito user pool tokens.
 */
import { createHash, randomUUID } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT, exportJWK, generateKeyPair, type JWK, type KeyLike } from "jose";

/** How startIssuer listens and whom its tokens are for. */
export interface IssuerOptions {
  /** TCP port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** The `aud` of every token, like a Cognito app client id. */
  clientId?: string;
}

/** Options of one minted token. */
export interface MintOptions {
  /** Lifetime in seconds; negative values mint an already expired token (for tests). Default 3600. */
  expiresInSeconds?: number;
}

/** A running issuer: its URL (the `iss` of its tokens), client id, a direct mint for tests, and close(). */
export interface LocalIssuer {
  issuerUrl: string;
  clientId: string;
  mintIdToken(username: string, opts?: MintOptions): Promise<string>;
  close(): Promise<void>;
}

/** The `aud` of tokens when IssuerOptions.clientId is not given. */
export const DEFAULT_CLIENT_ID = "local-client";
const USERNAME = /^[A-Za-z0-9._@+-]{1,64}$/;
const MIN_LIFETIME_S = -86_400;
const MAX_LIFETIME_S = 86_400;
const MAX_BODY_BYTES = 4096;
/** Fixed namespace so a username's sub is the same on every run and every machine. */
const SUB_NAMESPACE = "5b0f7a36-3a2e-4c1c-9a52-6f3f0a0c1d7e";

/** RFC 4122 version-5 UUID (SHA-1, namespaced); a few lines instead of another dependency. */
export function subjectFor(username: string): string {
  const ns = Buffer.from(SUB_NAMESPACE.replace(/-/g, ""), "hex");
  const bytes = createHash("sha1").update(ns).update(username, "utf8").digest().subarray(0, 16);
  bytes[6] = (bytes[6] & 0x0f) | 0x50;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A token request the issuer refuses (HTTP 400), with a message safe to show. */
export class IssuerRequestError extends Error {}

function validateMint(username: unknown, expiresInSeconds: unknown): { username: string; lifetime: number } {
  if (typeof username !== "string" || !USERNAME.test(username)) {
    throw new IssuerRequestError("username must be 1-64 letters, digits or . _ @ + -");
  }
  const lifetime = expiresInSeconds === undefined ? 3600 : expiresInSeconds;
  if (typeof lifetime !== "number" || !Number.isInteger(lifetime) || lifetime < MIN_LIFETIME_S || lifetime > MAX_LIFETIME_S) {
    throw new IssuerRequestError(`expiresInSeconds must be an integer in [${MIN_LIFETIME_S}, ${MAX_LIFETIME_S}]`);
  }
  return { username, lifetime };
}

/** Loopback pages (the local web console) may call the issuer from the browser; nothing else may. */
function allowedOrigin(origin: string | undefined): string | undefined {
  return origin && /^http:\/\/(127\.0\.0\.1|localhost)(:\d{1,5})?$/.test(origin) ? origin : undefined;
}

/** Guards against DNS rebinding: only loopback Host headers reach the handlers. */
export function isLoopbackHost(host: string | undefined, port: number): boolean {
  return host === `127.0.0.1:${port}` || host === `localhost:${port}`;
}

/** The issuer's signing key, its public JWK (served at jwks.json), its URL once listening and the `aud` of its tokens. */
interface IssuerState {
  privateKey: KeyLike;
  jwk: JWK;
  clientId: string;
  issuerUrl: string;
  port: number;
}

/** Starts the issuer on 127.0.0.1 with a fresh RS256 key pair. */
export async function startIssuer(options: IssuerOptions = {}): Promise<LocalIssuer> {
  const { publicKey, privateKey } = await generateKeyPair("RS256", { modulusLength: 2048 });
  const jwk = { ...(await exportJWK(publicKey)), kid: randomUUID(), alg: "RS256", use: "sig" };
  const issuer: IssuerState = { privateKey, jwk, clientId: options.clientId ?? DEFAULT_CLIENT_ID, issuerUrl: "", port: 0 };
  const server = http.createServer((req, res) => handleRequest(issuer, req, res));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  issuer.port = (server.address() as AddressInfo).port;
  issuer.issuerUrl = `http://127.0.0.1:${issuer.port}`;

  return {
    issuerUrl: issuer.issuerUrl,
    clientId: issuer.clientId,
    mintIdToken: async (username, opts = {}) => (await mint(issuer, username, opts.expiresInSeconds)).idToken,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Answers with JSON, and CORS headers for loopback pages. */
function sendJson(req: http.IncomingMessage, res: http.ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const origin = allowedOrigin(req.headers.origin);
  const cors: Record<string, string> = origin ? { "access-control-allow-origin": origin, "access-control-allow-headers": "content-type", vary: "origin" } : {};
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", ...cors, ...extra });
  res.end(body === undefined ? undefined : JSON.stringify(body));
}

/** The routes: discovery document, JWKS and POST /token, behind the loopback Host check. */
function handleRequest(issuer: IssuerState, req: http.IncomingMessage, res: http.ServerResponse): void {
  const send = (status: number, body: unknown, extra?: Record<string, string>) => sendJson(req, res, status, body, extra);
  if (!isLoopbackHost(req.headers.host, issuer.port)) return send(421, { error: "misdirected request" });
  const url = new URL(req.url ?? "/", issuer.issuerUrl);
  if (req.method === "OPTIONS") return send(204, undefined, { "access-control-allow-methods": "GET, POST" });
  if (req.method === "GET" && url.pathname === "/.well-known/jwks.json") return send(200, { keys: [issuer.jwk] });
  if (req.method === "GET" && url.pathname === "/.well-known/openid-configuration") {
    return send(200, {
      issuer: issuer.issuerUrl,
      jwks_uri: `${issuer.issuerUrl}/.well-known/jwks.json`,
      token_endpoint: `${issuer.issuerUrl}/token`,
      response_types_supported: ["token"],
      subject_types_supported: ["public"],
      id_token_signing_alg_values_supported: ["RS256"],
    });
  }
  if (req.method === "POST" && url.pathname === "/token") return handleTokenRequest(issuer, req, send);
  send(404, { error: "not found" });
}

/** POST /token with JSON {username, expiresInSeconds?}: mints an ID token, or answers 400/415 saying why not. */
function handleTokenRequest(issuer: IssuerState, req: http.IncomingMessage, send: (status: number, body: unknown) => void): void {
  if (!(req.headers["content-type"] ?? "").startsWith("application/json")) {
    return send(415, { error: "content-type must be application/json" });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  req.on("data", (c: Buffer) => {
    size += c.length;
    if (size > MAX_BODY_BYTES) req.destroy();
    else chunks.push(c);
  });
  req.on("end", () => {
    void (async () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { username?: unknown; expiresInSeconds?: unknown };
        const minted = await mint(issuer, body.username, body.expiresInSeconds);
        send(200, { idToken: minted.idToken, tokenType: "id", expiresIn: minted.lifetime, sub: subjectFor(minted.username) });
      } catch (err) {
        send(400, { error: err instanceof IssuerRequestError ? err.message : "body must be JSON {username, expiresInSeconds?}" });
      }
    })();
  });
}

/** Validates a mint request and signs the token; throws IssuerRequestError for a bad username or lifetime. */
async function mint(issuer: IssuerState, username: unknown, expiresInSeconds: unknown): Promise<{ idToken: string; username: string; lifetime: number }> {
  const valid = validateMint(username, expiresInSeconds);
  return { ...valid, idToken: await signIdToken(issuer, valid.username, valid.lifetime) };
}

async function signIdToken(issuer: IssuerState, username: string, lifetimeSeconds: number): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  // Cognito ID tokens carry these claims; AppSync exposes them as ctx.identity.claims.
  return new SignJWT({
    "cognito:username": username,
    token_use: "id",
    email: `${username}@example.com`,
    email_verified: true,
    auth_time: now,
    event_id: randomUUID(),
  })
    .setProtectedHeader({ alg: "RS256", kid: issuer.jwk.kid, typ: "JWT" })
    .setSubject(subjectFor(username))
    .setIssuer(issuer.issuerUrl)
    .setAudience(issuer.clientId)
    .setIssuedAt(now)
    .setExpirationTime(now + lifetimeSeconds)
    .setJti(randomUUID())
    .sign(issuer.privateKey);
}
