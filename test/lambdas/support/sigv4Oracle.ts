/**
 * The tests' SigV4 oracle: recomputes the signature of a received request from the known credentials (canonical
 * request -> string to sign -> HMAC chain, with node:crypto only), so the publisher's signer is tested against the
 * specification rather than against itself. Not a verifier to serve with: the gateway's is local/appsync/sigv4.ts.
 */
import { createHash, createHmac } from "node:crypto";
import type { ReceivedRequest } from "./fakeAppSync";

const sha256Hex = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");
const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data, "utf8").digest();

/** The oracle's verdict, with both signatures for a readable failure. */
export interface OracleVerdict {
  valid: boolean;
  accessKeyId: string;
  region: string;
  service: string;
  signedHeaders: string[];
  expected: string;
  actual: string;
}

/** Recomputes `req`'s signature with `secretAccessKey` and says whether the one it carries is that one. */
export function sigv4Oracle(req: ReceivedRequest, secretAccessKey: string): OracleVerdict {
  const auth = String(req.headers.authorization ?? "");
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(auth);
  if (!match) throw new Error(`not a SigV4 Authorization header: ${auth}`);
  const [, accessKeyId, date, region, service, signedHeaderList, actual] = match as unknown as string[];
  const signedHeaders = signedHeaderList!.split(";");
  const amzDate = String(req.headers["x-amz-date"] ?? "");
  const [path, query = ""] = req.path.split("?");
  const canonicalQuery = query
    .split("&")
    .filter(Boolean)
    .sort()
    .join("&");
  const canonicalHeaders = signedHeaders
    .map((name) => {
      const value = req.headers[name];
      const text = Array.isArray(value) ? value.join(",") : String(value ?? "");
      return `${name}:${text.trim().replace(/\s+/g, " ")}\n`;
    })
    .join("");
  const canonicalRequest = [req.method, path, canonicalQuery, canonicalHeaders, signedHeaderList, sha256Hex(req.body)].join("\n");
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256Hex(canonicalRequest)].join("\n");
  const kDate = hmac(`AWS4${secretAccessKey}`, date!);
  const kSigning = hmac(hmac(hmac(kDate, region!), service!), "aws4_request");
  const expected = createHmac("sha256", kSigning).update(stringToSign, "utf8").digest("hex");
  return { valid: expected === actual && amzDate.startsWith(date!), accessKeyId: accessKeyId!, region: region!, service: service!, signedHeaders, expected, actual: actual! };
}
