/**
 * Local OIDC-style issuer: mints Cognito-shaped ID and access tokens (tokens.ts) for named test users so the local
 * gateway can verify real RS256 signatures against a JWKS, exactly as AppSync verifies Cognito user pool tokens.
 * Serves http, or https with the local certificate (`npm start -- --tls`).
 */
import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import { TOKEN_USES, generateIssuerKeys, signToken, subjectFor, type IssuerKeys, type TokenUse } from "./tokens";

export { SIGN_IN_SCOPE, subjectFor, type TokenUse } from "./tokens";

/** How startIssuer listens and whom its tokens are for. */
export interface IssuerOptions {
  /** TCP port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** The app client id: `aud` of ID tokens, `client_id` of access tokens. */
  clientId?: string;
  /** PEM key and certificate: serve https (the `iss` of the tokens is then an https URL). */
  tls?: { key: string; cert: string };
}

/** Options of one minted token. */
export interface MintOptions {
  /** Lifetime in seconds; negative values mint an already expired token (for tests). Default 3600. */
  expiresInSeconds?: number;
}

/** A running issuer: its URL (the `iss` of its tokens), client id, direct mints for tests, and close(). */
export interface LocalIssuer {
  issuerUrl: string;
  clientId: string;
  mintIdToken(username: string, opts?: MintOptions): Promise<string>;
  mintAccessToken(username: string, opts?: MintOptions): Promise<string>;
  close(): Promise<void>;
}

/** The app client id when IssuerOptions.clientId is not given. */
export const DEFAULT_CLIENT_ID = "local-client";
const USERNAME = /^[A-Za-z0-9._@+-]{1,64}$/;
const MIN_LIFETIME_S = -86_400;
const MAX_LIFETIME_S = 86_400;
const MAX_BODY_BYTES = 4096;

/** A token request the issuer refuses (HTTP 400), with a message safe to show. */
export class IssuerRequestError extends Error {}

/** A valid mint request: the username, the lifetime and the kind. */
interface ValidMint {
  username: string;
  lifetime: number;
  tokenUse: TokenUse;
}

function validateMint(username: unknown, expiresInSeconds: unknown, tokenUse: unknown = "id"): ValidMint {
  if (typeof username !== "string" || !USERNAME.test(username)) {
    throw new IssuerRequestError("username must be 1-64 letters, digits or . _ @ + -");
  }
  const lifetime = expiresInSeconds === undefined ? 3600 : expiresInSeconds;
  if (typeof lifetime !== "number" || !Number.isInteger(lifetime) || lifetime < MIN_LIFETIME_S || lifetime > MAX_LIFETIME_S) {
    throw new IssuerRequestError(`expiresInSeconds must be an integer in [${MIN_LIFETIME_S}, ${MAX_LIFETIME_S}]`);
  }
  if (!TOKEN_USES.includes(tokenUse as TokenUse)) throw new IssuerRequestError(`tokenUse must be one of ${TOKEN_USES.join(", ")}`);
  return { username, lifetime, tokenUse: tokenUse as TokenUse };
}

/** Loopback pages (the local web console, over http or https) may call the issuer from the browser; nothing else may. */
function allowedOrigin(origin: string | undefined): string | undefined {
  return origin && /^https?:\/\/(127\.0\.0\.1|localhost)(:\d{1,5})?$/.test(origin) ? origin : undefined;
}

/** Guards against DNS rebinding: only loopback Host headers reach the handlers. */
export function isLoopbackHost(host: string | undefined, port: number): boolean {
  return host === `127.0.0.1:${port}` || host === `localhost:${port}`;
}

/** The issuer's signing keys (public halves served at jwks.json), its URL once listening and its app client id. */
interface IssuerState {
  keys: IssuerKeys;
  clientId: string;
  issuerUrl: string;
  port: number;
}

/** Starts the issuer on 127.0.0.1 with fresh RS256 key pairs (one per token kind). */
export async function startIssuer(options: IssuerOptions = {}): Promise<LocalIssuer> {
  const issuer: IssuerState = { keys: await generateIssuerKeys(), clientId: options.clientId ?? DEFAULT_CLIENT_ID, issuerUrl: "", port: 0 };
  const listener: http.RequestListener = (req, res) => handleRequest(issuer, req, res);
  const server = options.tls ? https.createServer({ key: options.tls.key, cert: options.tls.cert }, listener) : http.createServer(listener);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  issuer.port = (server.address() as AddressInfo).port;
  issuer.issuerUrl = `${options.tls ? "https" : "http"}://127.0.0.1:${issuer.port}`;

  const mintKind = (tokenUse: TokenUse) => async (username: string, opts: MintOptions = {}) => (await mint(issuer, { username, expiresInSeconds: opts.expiresInSeconds, tokenUse })).token;
  return {
    issuerUrl: issuer.issuerUrl,
    clientId: issuer.clientId,
    mintIdToken: mintKind("id"),
    mintAccessToken: mintKind("access"),
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
  if (req.method === "GET" && url.pathname === "/.well-known/jwks.json") return send(200, { keys: [issuer.keys.id.jwk, issuer.keys.access.jwk] });
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

/** The body of POST /token. */
interface TokenRequestBody {
  username?: unknown;
  expiresInSeconds?: unknown;
  /** "id" (default) or "access". */
  tokenUse?: unknown;
}

/**
 * POST /token with JSON {username, expiresInSeconds?, tokenUse?}: answers `{idToken}` or `{accessToken}` (with
 * tokenType, expiresIn and sub), or 400/415 saying why not.
 */
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
        const minted = await mint(issuer, JSON.parse(Buffer.concat(chunks).toString("utf8")) as TokenRequestBody);
        const field = minted.tokenUse === "access" ? "accessToken" : "idToken";
        send(200, { [field]: minted.token, tokenType: minted.tokenUse, expiresIn: minted.lifetime, sub: subjectFor(minted.username) });
      } catch (err) {
        send(400, { error: err instanceof IssuerRequestError ? err.message : "body must be JSON {username, expiresInSeconds?, tokenUse?}" });
      }
    })();
  });
}

/** Validates a mint request and signs the token; throws IssuerRequestError for a bad username, lifetime or kind. */
async function mint(issuer: IssuerState, body: TokenRequestBody): Promise<ValidMint & { token: string }> {
  const valid = validateMint(body?.username, body?.expiresInSeconds, body?.tokenUse);
  const token = await signToken(issuer.keys, {
    issuerUrl: issuer.issuerUrl,
    clientId: issuer.clientId,
    username: valid.username,
    lifetimeSeconds: valid.lifetime,
    tokenUse: valid.tokenUse,
  });
  return { ...valid, token };
}
