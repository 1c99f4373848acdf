/**
 * Shared set-up for the gateway tests: an issuer, a gateway on ephemeral ports, a SigV4 signer for publishes, and the
 * steps of a raw real-time connection (connect, connection_init, start) for the tests that speak the protocol itself.
 */
import { Sha256 } from "@aws-crypto/sha256-js";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import WebSocket from "ws";
import { startGateway, type LocalGateway } from "../../../local/appsync";
import { startIssuer, type LocalIssuer } from "../../../local/issuer";

export const REGION = "us-east-1";
export const CREDENTIALS = { accessKeyId: "AKIALOCALTEST0000001", secretAccessKey: "local-secret-for-tests-only" };

export interface Harness {
  issuer: LocalIssuer;
  gateway: LocalGateway;
  sendQueryCalls: unknown[];
  close(): Promise<void>;
}

export async function startHarness(
  sendQuery: (payload: unknown) => Promise<unknown> = async (p) => ({ sessionId: (p as { arguments: { input: { sessionId: string } } }).arguments.input.sessionId, messageId: "msg-00000001" }),
  extra: { keepAliveIntervalMs?: number } = {},
): Promise<Harness> {
  const issuer = await startIssuer({ port: 0 });
  const sendQueryCalls: unknown[] = [];
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
    ...extra,
  });
  return {
    issuer,
    gateway,
    sendQueryCalls,
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

/** Opens a socket with `header` as the connect URL's base64 auth header and `{}` as its payload; does not wait. */
export function connectRealtime(gateway: LocalGateway, header: Record<string, string>, protocol: string | undefined = "graphql-ws"): RawConnection {
  const encoded = Buffer.from(JSON.stringify(header)).toString("base64");
  const ws = new WebSocket(`${gateway.realtimeUrl}?header=${encoded}&payload=e30=`, protocol ? [protocol] : []);
  const got: Array<Record<string, any>> = [];
  ws.on("message", (m) => got.push(JSON.parse(m.toString())));
  return { ws, got };
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
