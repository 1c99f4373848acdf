/** Verifies AWS SigV4-signed requests against the one local IAM identity. */
import { createHash, timingSafeEqual } from "node:crypto";
import { Sha256 } from "@aws-crypto/sha256-js";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";

export interface LocalCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface SignedRequest {
  method: string;
  /** Path without the query string, e.g. `/graphql`. */
  path: string;
  query?: Record<string, string | string[]>;
  /** Header names in any case; only the signed ones are used. */
  headers: Record<string, string | string[] | undefined>;
  body: Uint8Array | string;
}

export type SigV4Result = { ok: true; accessKeyId: string } | { ok: false; reason: string };

export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;
const AUTH = /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;_.-]+),\s*Signature=([0-9a-f]{64})$/;

/** The reason for a session token the credentials did not issue; AWS answers it "The security token included in the request is invalid." */
export const INVALID_SECURITY_TOKEN = "security token does not belong to the credentials";

/** Whether an Authorization header value is SigV4, which picks the IAM auth mode as on AppSync. */
export function isSigV4Authorization(value: string | undefined): boolean {
  return typeof value === "string" && value.startsWith("AWS4-HMAC-SHA256 ");
}

/**
 * As AWS checks it: a session token belongs to temporary credentials only, so long-term credentials (no token) refuse
 * any token presented with them, and temporary ones refuse a missing or different token.
 */
function sessionTokenMatches(presented: string | undefined, issued: string | undefined): boolean {
  if (presented === undefined || issued === undefined) return presented === issued;
  const a = Buffer.from(presented);
  const b = Buffer.from(issued);
  return a.length === b.length && timingSafeEqual(a, b);
}

function parseAmzDate(v: string): Date | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(v);
  return m ? new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6])) : null;
}

/**
 * Re-signs the reconstructed request with @smithy/signature-v4 (the signer our producers use, so the canonical
 * request rules cannot drift from a hand-written copy) and compares the Authorization headers timing-safely.
 */
export async function verifySigV4(
  req: SignedRequest,
  expected: { credentials: LocalCredentials; region: string; service: string },
  now: Date = new Date(),
): Promise<SigV4Result> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(",") : v;
  }
  const authorization = headers["authorization"] ?? "";
  const m = AUTH.exec(authorization);
  if (!m) return { ok: false, reason: "malformed SigV4 Authorization header" };
  const [, accessKeyId, scopeDate, region, service, signedHeaderList] = m;
  if (accessKeyId !== expected.credentials.accessKeyId) return { ok: false, reason: "unknown access key" };
  if (region !== expected.region || service !== expected.service) return { ok: false, reason: "wrong credential scope" };
  const signed = signedHeaderList.split(";");
  if (!signed.includes("host") || !signed.includes("x-amz-date")) return { ok: false, reason: "host and x-amz-date must be signed" };
  const date = parseAmzDate(headers["x-amz-date"] ?? "");
  if (!date) return { ok: false, reason: "missing or malformed x-amz-date" };
  if (Math.abs(now.getTime() - date.getTime()) > MAX_CLOCK_SKEW_MS) return { ok: false, reason: "signature expired or not yet valid" };
  if (headers["x-amz-date"].slice(0, 8) !== scopeDate) return { ok: false, reason: "credential scope date mismatch" };
  if (!sessionTokenMatches(headers["x-amz-security-token"], expected.credentials.sessionToken)) return { ok: false, reason: INVALID_SECURITY_TOKEN };
  // The signer trusts a present x-amz-content-sha256 as the payload hash, so hold it to the body we actually got.
  const bodyHash = createHash("sha256").update(req.body).digest("hex");
  if (signed.includes("x-amz-content-sha256") && headers["x-amz-content-sha256"] !== bodyHash) {
    return { ok: false, reason: "payload hash mismatch" };
  }
  const onlySigned: Record<string, string> = {};
  for (const name of signed) {
    if (headers[name] === undefined) return { ok: false, reason: `signed header ${name} missing` };
    onlySigned[name] = headers[name];
  }
  const [hostname, port] = headers["host"].split(":");
  const request = new HttpRequest({
    method: req.method.toUpperCase(),
    protocol: "https:",
    hostname,
    port: port ? Number(port) : undefined,
    path: req.path,
    query: req.query ?? {},
    headers: onlySigned,
    body: req.body,
  });
  const signer = new SignatureV4({
    credentials: { accessKeyId: expected.credentials.accessKeyId, secretAccessKey: expected.credentials.secretAccessKey },
    region,
    service,
    sha256: Sha256,
    applyChecksum: false,
  });
  const resigned = await signer.sign(request, { signingDate: date, signableHeaders: new Set(signed) });
  const want = Buffer.from(String(resigned.headers["authorization"]));
  const got = Buffer.from(authorization);
  if (want.length !== got.length || !timingSafeEqual(want, got)) return { ok: false, reason: "signature mismatch" };
  return { ok: true, accessKeyId };
}
