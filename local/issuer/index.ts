/**
 * Local OIDC-style issuer: mints Cognito-shaped ID tokens for named test users so the local gateway can verify
 * real RS256 signatures against a JWKS, exactly as AppSync verifies Cognito user pool tokens.
 */
import { createHash, randomUUID } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT, exportJWK, generateKeyPair, type KeyLike } from "jose";

export interface IssuerOptions {
  /** TCP port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** The `aud` of every token, like a Cognito app client id. */
  clientId?: string;
}

export interface MintOptions {
  /** Lifetime in seconds; negative values mint an already expired token (for tests). Default 3600. */
  expiresInSeconds?: number;
}

export interface LocalIssuer {
  issuerUrl: string;
  clientId: string;
  mintIdToken(username: string, opts?: MintOptions): Promise<string>;
  close(): Promise<void>;
}

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

export async function startIssuer(options: IssuerOptions = {}): Promise<LocalIssuer> {
  const clientId = options.clientId ?? DEFAULT_CLIENT_ID;
  const { publicKey, privateKey } = await generateKeyPair("RS256", { modulusLength: 2048 });
  const kid = randomUUID();
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" };
  let issuerUrl = "";
  let port = 0;

  const mint = async (username: string, opts: MintOptions = {}): Promise<string> => {
    const valid = validateMint(username, opts.expiresInSeconds);
    return signIdToken(privateKey as KeyLike, kid, issuerUrl, clientId, valid.username, valid.lifetime);
  };

  const server = http.createServer((req, res) => {
    const send = (status: number, body: unknown, extra: Record<string, string> = {}): void => {
      const origin = allowedOrigin(req.headers.origin);
      const cors: Record<string, string> = origin
        ? { "access-control-allow-origin": origin, "access-control-allow-headers": "content-type", vary: "origin" }
        : {};
      res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", ...cors, ...extra });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    if (!isLoopbackHost(req.headers.host, port)) return send(421, { error: "misdirected request" });
    const url = new URL(req.url ?? "/", issuerUrl);
    if (req.method === "OPTIONS") return send(204, undefined, { "access-control-allow-methods": "GET, POST" });
    if (req.method === "GET" && url.pathname === "/.well-known/jwks.json") return send(200, { keys: [jwk] });
    if (req.method === "GET" && url.pathname === "/.well-known/openid-configuration") {
      return send(200, {
        issuer: issuerUrl,
        jwks_uri: `${issuerUrl}/.well-known/jwks.json`,
        token_endpoint: `${issuerUrl}/token`,
        response_types_supported: ["token"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: ["RS256"],
      });
    }
    if (req.method === "POST" && url.pathname === "/token") {
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
            const valid = validateMint(body.username, body.expiresInSeconds);
            const idToken = await signIdToken(privateKey as KeyLike, kid, issuerUrl, clientId, valid.username, valid.lifetime);
            send(200, { idToken, tokenType: "id", expiresIn: valid.lifetime, sub: subjectFor(valid.username) });
          } catch (err) {
            send(400, { error: err instanceof IssuerRequestError ? err.message : "body must be JSON {username, expiresInSeconds?}" });
          }
        })();
      });
      return;
    }
    send(404, { error: "not found" });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  issuerUrl = `http://127.0.0.1:${port}`;

  return {
    issuerUrl,
    clientId,
    mintIdToken: mint,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function signIdToken(
  key: KeyLike,
  kid: string,
  issuerUrl: string,
  clientId: string,
  username: string,
  lifetimeSeconds: number,
): Promise<string> {
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
    .setProtectedHeader({ alg: "RS256", kid, typ: "JWT" })
    .setSubject(subjectFor(username))
    .setIssuer(issuerUrl)
    .setAudience(clientId)
    .setIssuedAt(now)
    .setExpirationTime(now + lifetimeSeconds)
    .setJti(randomUUID())
    .sign(key);
}
