/**
 * Shared set-up for the gateway tests: an issuer, a gateway on ephemeral ports, a SigV4 signer for publishes, a token
 * signer of the tests' own (any claims, its own JWKS), and the steps of a raw real-time connection (connect in either
 * form, connection_init, start) for the tests that speak the protocol itself.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { Sha256 } from "@aws-crypto/sha256-js";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from "jose";
import WebSocket from "ws";
import { startGateway, type GatewayOptions, type LocalGateway } from "../../../local/appsync";
import { startIssuer, subjectFor, type LocalIssuer } from "../../../local/issuer";

export const REGION = "us-east-1";
export const CREDENTIALS = { accessKeyId: "AKIALOCALTEST0000001", secretAccessKey: "local-secret-for-tests-only" };

export interface Harness {
  issuer: LocalIssuer;
  gateway: LocalGateway;
  sendQueryCalls: unknown[];
  /** What the gateway logged as internal errors (kept out of the test output, and out of every answer). */
  internalErrors: Array<{ err: unknown; context: string }>;
  close(): Promise<void>;
}

/** Gateway options a test may set; `issuer` replaces the harness's own issuer as the one whose tokens are accepted. */
export type HarnessOptions = Partial<Pick<GatewayOptions, "keepAliveIntervalMs" | "connectionInitTimeoutMs" | "credentials" | "issuer" | "limits">>;

export async function startHarness(
  sendQuery: (payload: unknown) => Promise<unknown> = async (p) => ({ sessionId: (p as { arguments: { input: { sessionId: string } } }).arguments.input.sessionId, messageId: "msg-00000001" }),
  extra: HarnessOptions = {},
): Promise<Harness> {
  const issuer = await startIssuer({ port: 0 });
  const sendQueryCalls: unknown[] = [];
  const internalErrors: Harness["internalErrors"] = [];
  const gateway = await startGateway({
    port: 0,
    region: REGION,
    credentials: CREDENTIALS,
    issuer: { issuerUrl: issuer.issuerUrl, clientId: issuer.clientId },
    lambdaDataSources: {
      sendQuery: async (payload) => {
        sendQueryCalls.push(payload);
        return sendQuery(payload);
      },
    },
    onInternalError: (err, context) => internalErrors.push({ err, context }),
    ...extra,
  });
  return {
    issuer,
    gateway,
    sendQueryCalls,
    internalErrors,
    close: async () => {
      await gateway.close();
      await issuer.close();
    },
  };
}

/** Signs a GraphQL POST the way the producers do (@smithy/signature-v4, service appsync, host with port). */
export async function signedFetch(
  url: string,
  body: string,
  credentials: { accessKeyId: string; secretAccessKey: string } = CREDENTIALS,
  opts: { region?: string; signingDate?: Date; tamper?: (signed: { headers: Record<string, string>; body: string }) => void } = {},
): Promise<Response> {
  const u = new URL(url);
  const request = new HttpRequest({
    method: "POST",
    protocol: u.protocol,
    hostname: u.hostname,
    port: Number(u.port),
    path: u.pathname,
    headers: { "content-type": "application/json", host: u.host },
    body,
  });
  const signer = new SignatureV4({ credentials, region: opts.region ?? REGION, service: "appsync", sha256: Sha256 });
  const signed = await signer.sign(request, { signingDate: opts.signingDate });
  const out = { headers: { ...(signed.headers as Record<string, string>) }, body };
  opts.tamper?.(out);
  delete out.headers.host;
  return fetch(url, { method: "POST", headers: out.headers, body: out.body, signal: AbortSignal.timeout(10_000) });
}

export async function postJwt(url: string, token: string | undefined, document: string, variables: Record<string, unknown> = {}): Promise<Response> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token !== undefined) headers.authorization = token;
  return fetch(url, { method: "POST", headers, body: JSON.stringify({ query: document, variables }), signal: AbortSignal.timeout(10_000) });
}

/** Polls a condition until it holds or the deadline passes (no fixed sleeps). */
export async function waitFor(condition: () => boolean, timeoutMs = 5000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A raw real-time connection: its socket and every message the gateway sent on it, parsed, in arrival order. */
export interface RawConnection {
  ws: WebSocket;
  got: Array<Record<string, any>>;
}

/** A user pool caller's auth header object, for the connect URL's `header` and a start's extensions.authorization. */
export function userPoolAuth(gateway: LocalGateway, token: string): Record<string, string> {
  return { Authorization: token, host: new URL(gateway.graphqlUrl).host };
}

/** Collects every message the gateway sends on `ws`. */
function rawConnection(ws: WebSocket): RawConnection {
  const got: Array<Record<string, any>> = [];
  ws.on("message", (m) => got.push(JSON.parse(m.toString())));
  ws.on("error", () => undefined); // a refused handshake is asserted by the tests that expect it
  return { ws, got };
}

/** Opens a socket with `header` as the connect URL's base64 auth header and `{}` as its payload; does not wait. */
export function connectRealtime(gateway: LocalGateway, header: Record<string, string>, protocol: string | undefined = "graphql-ws"): RawConnection {
  const encoded = Buffer.from(JSON.stringify(header)).toString("base64");
  return rawConnection(new WebSocket(`${gateway.realtimeUrl}?header=${encoded}&payload=e30=`, protocol ? [protocol] : []));
}

/** The `header-<base64url JSON, no padding>` subprotocol the published clients (Amplify v6, the Apollo link) send. */
export function headerSubprotocol(header: Record<string, string>): string {
  return `header-${Buffer.from(JSON.stringify(header)).toString("base64url")}`;
}

/** Opens a socket as Amplify and the Apollo link do: no query parameters, the connect header as a subprotocol. */
export function connectRealtimeWithSubprotocol(gateway: LocalGateway, protocols: string[], path = ""): RawConnection {
  return rawConnection(new WebSocket(`${gateway.realtimeUrl}${path}`, protocols));
}

/** The SigV4 auth header object of a real-time connect (`path` = `/graphql/connect`, body `{}`) or start, as the producers sign it. */
export async function iamAuthHeaders(gateway: LocalGateway, path: string, body: string, credentials: typeof CREDENTIALS = CREDENTIALS): Promise<Record<string, string>> {
  const host = new URL(gateway.graphqlUrl).host;
  const signer = new SignatureV4({ credentials, region: REGION, service: "appsync", sha256: Sha256 });
  const request = new HttpRequest({
    method: "POST",
    protocol: "https:",
    hostname: "127.0.0.1",
    port: Number(host.split(":")[1]),
    path,
    headers: { accept: "application/json, text/javascript", "content-encoding": "amz-1.0", "content-type": "application/json; charset=UTF-8", host },
    body,
  });
  return (await signer.sign(request)).headers as Record<string, string>;
}

/** Resolves with the close code and reason once the gateway (or the client) closed the socket. */
export async function closed(conn: RawConnection): Promise<{ code: number; reason: string }> {
  if (conn.ws.readyState === WebSocket.CLOSED) return { code: -1, reason: "already closed" };
  return new Promise((resolve) => conn.ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
}

/** Waits for the socket to open. */
export async function opened(conn: RawConnection): Promise<void> {
  if (conn.ws.readyState !== WebSocket.OPEN) await new Promise((r) => conn.ws.once("open", r));
}

/** Opens, sends connection_init and waits for the gateway's connection_ack or connection_error. */
export async function initConnection(conn: RawConnection): Promise<void> {
  await opened(conn);
  conn.ws.send(JSON.stringify({ type: "connection_init" }));
  await waitFor(() => conn.got.some((m) => m.type === "connection_ack" || m.type === "connection_error"), 5000, "connection_ack");
}

/** Sends `start` for a request (or its exact JSON text, when it was signed), with `authorization` when given. */
export function sendStart(
  conn: RawConnection,
  id: string,
  request: string | { query: string; variables?: Record<string, unknown> },
  authorization?: Record<string, string>,
): void {
  const data = typeof request === "string" ? request : JSON.stringify(request);
  conn.ws.send(JSON.stringify({ id, type: "start", payload: authorization ? { data, extensions: { authorization } } : { data } }));
}

/** Sends `start` and waits for its start_ack. */
export async function startSubscription(
  conn: RawConnection,
  id: string,
  request: { query: string; variables?: Record<string, unknown> },
  authorization: Record<string, string>,
): Promise<void> {
  sendStart(conn, id, request, authorization);
  await waitFor(() => conn.got.some((m) => m.type === "start_ack" && m.id === id), 5000, `start_ack for ${id}`);
}

/** The first message of `type` the gateway sent (waiting for it if none came yet). */
export async function firstMessage(conn: RawConnection, type: string): Promise<Record<string, any>> {
  await waitFor(() => conn.got.some((m) => m.type === type), 5000, `a ${type} message`);
  return conn.got.find((m) => m.type === type)!;
}

/** A token signer of the tests' own: an RS256 key, its JWKS served on 127.0.0.1, tokens with exactly the claims given. */
export interface TestSigner {
  issuerUrl: string;
  clientId: string;
  sign(claims: JWTPayload): Promise<string>;
  close(): Promise<void>;
}

/** Starts a JWKS endpoint for a fresh key; a gateway given `{issuerUrl, clientId}` of it trusts what `sign` mints. */
export async function startTestSigner(clientId = "test-app-client"): Promise<TestSigner> {
  const { publicKey, privateKey } = await generateKeyPair("RS256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "test-signer-key", alg: "RS256", use: "sig" };
  const server = http.createServer((req, res) => {
    const found = req.url === "/.well-known/jwks.json";
    res.writeHead(found ? 200 : 404, { "content-type": "application/json" });
    res.end(found ? JSON.stringify({ keys: [jwk] }) : "{}");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return {
    issuerUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    clientId,
    sign: (claims) => new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: jwk.kid, typ: "JWT" }).sign(privateKey),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * The claims Cognito puts in `username`'s ID or access token (issued now, valid an hour); an override replaces a
 * claim, or removes it when its value is undefined.
 */
export function cognitoClaims(signer: TestSigner, kind: "id" | "access", username: string, overrides: Record<string, unknown> = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  const common = { sub: subjectFor(username), iss: signer.issuerUrl, token_use: kind, auth_time: now, iat: now, exp: now + 3600, jti: `jti-${username}-${kind}`, origin_jti: `origin-${username}`, event_id: "event-1" };
  const own =
    kind === "id"
      ? { aud: signer.clientId, "cognito:username": username, email: `${username}@example.com`, email_verified: true }
      : { client_id: signer.clientId, username, scope: "aws.cognito.signin.user.admin" };
  const claims: Record<string, unknown> = { ...common, ...own, ...overrides };
  for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
  return claims as JWTPayload;
}
