/**
 * The tokens of the local issuer, with the claims Cognito puts in each kind: an ID token (`token_use: "id"`, `aud` =
 * app client id, `cognito:username`) or an access token (`token_use: "access"`, `client_id`, `username`, `scope`).
 * As in a Cognito user pool, each kind is signed with its own key, and both keys are in the JWKS.
 */
import { createHash, randomUUID } from "node:crypto";
import { SignJWT, exportJWK, generateKeyPair, type JWK, type KeyLike } from "jose";

/** Which token to mint: Cognito's `token_use` values. */
export type TokenUse = "id" | "access";
export const TOKEN_USES: readonly TokenUse[] = ["id", "access"];

/** The scope Cognito gives the access token of a user-pool (SRP or password) sign-in. */
export const SIGN_IN_SCOPE = "aws.cognito.signin.user.admin";

/** One RS256 signing key and its public JWK (with kid). */
interface SigningKey {
  privateKey: KeyLike;
  jwk: JWK;
}

/** The issuer's two signing keys, one per token kind. */
export type IssuerKeys = Record<TokenUse, SigningKey>;

/** Who a token is for and how long it lives. */
export interface TokenRequest {
  issuerUrl: string;
  clientId: string;
  username: string;
  lifetimeSeconds: number;
  tokenUse: TokenUse;
}

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

/** A fresh RS256 key pair per token kind. */
export async function generateIssuerKeys(): Promise<IssuerKeys> {
  const one = async (): Promise<SigningKey> => {
    const { publicKey, privateKey } = await generateKeyPair("RS256", { modulusLength: 2048 });
    return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid: randomUUID(), alg: "RS256", use: "sig" } };
  };
  const [id, access] = await Promise.all([one(), one()]);
  return { id, access };
}

/** The claims that differ between the kinds; AppSync exposes all of them as ctx.identity.claims. */
function kindClaims(request: TokenRequest): Record<string, unknown> {
  if (request.tokenUse === "access") {
    return { token_use: "access", client_id: request.clientId, username: request.username, scope: SIGN_IN_SCOPE, version: 2 };
  }
  return {
    token_use: "id",
    aud: request.clientId,
    "cognito:username": request.username,
    email: `${request.username}@example.com`,
    email_verified: true,
  };
}

/** Signs one token: the kind's claims, plus the sign-in's `auth_time`, `event_id`, `origin_jti` and the token's own `jti`. */
export function signToken(keys: IssuerKeys, request: TokenRequest): Promise<string> {
  const key = keys[request.tokenUse];
  const now = Math.floor(Date.now() / 1000);
  // Each mint is a sign-in of its own, so origin_jti and event_id are fresh too.
  return new SignJWT({ ...kindClaims(request), auth_time: now, event_id: randomUUID(), origin_jti: randomUUID() })
    .setProtectedHeader({ alg: "RS256", kid: key.jwk.kid })
    .setSubject(subjectFor(request.username))
    .setIssuer(request.issuerUrl)
    .setIssuedAt(now)
    .setExpirationTime(now + request.lifetimeSeconds)
    .setJti(randomUUID())
    .sign(key.privateKey);
}
