/**
 * Verifies a user pool token as AppSync does for @aws_cognito_user_pools (one home for the rule: the WebSocket
 * authorizer and the local AppSync gateway both use it): the signature against the issuer's JWKS,
 * `iss`, `exp`, and Cognito's own rules (aws-jwt-verify's validateCognitoJwtFields): an ID token (`token_use=id`) names
 * the app client in `aud`, an access token (`token_use=access`) in `client_id`. On top: a non-empty `sub`, and an `iat`
 * no more than MAX_IAT_SKEW_SECONDS in the future. One home for both callers of the rule: the local AppSync gateway
 * (local/appsync/identity.ts) and the Function URL's function, which must accept exactly the tokens AppSync accepts.
 */
import { JwtVerifier } from "aws-jwt-verify";
import { validateCognitoJwtFields } from "aws-jwt-verify/cognito-verifier";
import { JwtExpiredError } from "aws-jwt-verify/error";
import type { Fetcher } from "aws-jwt-verify/https";
import { SimpleJwksCache } from "aws-jwt-verify/jwk";
import type { JwtPayload } from "aws-jwt-verify/jwt-model";

/** How far in the future a token's `iat` may be: the clock skew SigV4 allows too (5 minutes). */
export const MAX_IAT_SKEW_SECONDS = 300;
const JWKS_TIMEOUT_MS = 5000;

/** The issuer whose tokens are accepted and the app client they must be for. */
export interface UserPoolTokenOptions {
  issuerUrl: string;
  clientId: string;
}

/** A verified token's claims, or AppSync's message for a refused one. */
export type UserPoolTokenResult = { ok: true; claims: JwtPayload } | { ok: false; message: string };

/** A claim the Cognito rules on top of aws-jwt-verify refuse. */
class CognitoClaimError extends Error {}

/**
 * aws-jwt-verify's own fetcher speaks https only; the local issuer serves http (and https with --tls), and Cognito's
 * JWKS https: the platform's fetch handles all three, so the same code runs deployed and locally.
 */
const jwksFetcher: Fetcher = {
  fetch: async (uri) => {
    const res = await fetch(uri, { signal: AbortSignal.timeout(JWKS_TIMEOUT_MS) });
    if (!res.ok) throw new Error(`JWKS ${uri} answered HTTP ${res.status}`);
    return res.arrayBuffer();
  },
};

/** Where an issuer publishes its keys: Cognito's issuer has a path (`/<user pool id>`), so the JWKS is below it. */
export function jwksUriOf(issuerUrl: string): string {
  return `${issuerUrl.replace(/\/+$/, "")}/.well-known/jwks.json`;
}

/** The checks AppSync makes that aws-jwt-verify's generic verifier leaves to us. */
function checkCognitoClaims(payload: JwtPayload, clientId: string): void {
  validateCognitoJwtFields(payload, { tokenUse: null, clientId });
  if (typeof payload.sub !== "string" || payload.sub.length === 0) throw new CognitoClaimError("sub is empty");
  if (typeof payload.exp !== "number") throw new CognitoClaimError("exp is missing");
  if (typeof payload.iat !== "number") throw new CognitoClaimError("iat is missing");
  if (payload.iat > Date.now() / 1000 + MAX_IAT_SKEW_SECONDS) throw new CognitoClaimError("iat is in the future");
}

/** One issuer's tokens, verified with its JWKS (fetched once, refetched for an unknown kid, with aws-jwt-verify's back-off). */
export class UserPoolTokenVerifier {
  private readonly verifier;

  constructor(opts: UserPoolTokenOptions) {
    this.verifier = JwtVerifier.create(
      {
        issuer: opts.issuerUrl,
        jwksUri: jwksUriOf(opts.issuerUrl),
        audience: null, // access tokens carry no aud: the app client is checked per token_use in checkCognitoClaims
        customJwtCheck: ({ payload }) => checkCognitoClaims(payload, opts.clientId),
      },
      { jwksCache: new SimpleJwksCache({ fetcher: jwksFetcher }) },
    );
  }

  /** The token's claims, or the message AppSync answers a bad token with (never the reason, as on AWS). */
  async verify(token: string): Promise<UserPoolTokenResult> {
    try {
      return { ok: true, claims: await this.verifier.verify(token) };
    } catch (err) {
      if (err instanceof JwtExpiredError) return { ok: false, message: "Token has expired." };
      return { ok: false, message: "You are not authorized to make this call." };
    }
  }
}
