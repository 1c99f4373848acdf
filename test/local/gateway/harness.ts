/** Shared set-up for the gateway tests: an issuer, a gateway on ephemeral ports, and a SigV4 signer for publishes. */
import { Sha256 } from "@aws-crypto/sha256-js";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
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
