/** Turns request credentials into AppSync's ctx.identity: Cognito ID and access tokens (JWKS-verified) and SigV4 (IAM). */
import type { JwtPayload } from "aws-jwt-verify/jwt-model";
import type { AuthMode } from "./schema";
import { INVALID_SECURITY_TOKEN, isSigV4Authorization, verifySigV4, type LocalCredentials, type SignedRequest } from "./sigv4";
import { UserPoolTokenVerifier } from "../../lambdas/shared/userPoolToken";

/** ctx.identity of a user pool caller, as AppSync builds it from an ID or an access token. */
export interface CognitoIdentity {
  sub: string;
  issuer: string;
  /** `cognito:username` (ID tokens) or `username` (access tokens). */
  username: string;
  claims: JwtPayload;
  sourceIp: string[];
  defaultAuthStrategy: "ALLOW";
  groups: string[] | null;
}

export interface IamIdentity {
  accountId: string;
  accessKey: string;
  cognitoIdentityAuthProvider: null;
  cognitoIdentityAuthType: null;
  cognitoIdentityId: null;
  cognitoIdentityPoolId: null;
  sourceIp: string[];
  userArn: string;
  username: string;
  caller: string;
}

export type Caller = { mode: "AMAZON_COGNITO_USER_POOLS"; identity: CognitoIdentity } | { mode: "AWS_IAM"; identity: IamIdentity };

export type AuthResult = { ok: true; caller: Caller } | { ok: false; message: string };

export interface IdentityVerifierOptions {
  region: string;
  credentials: LocalCredentials;
  issuer: { issuerUrl: string; clientId: string };
  accountId?: string;
}

export const LOCAL_ACCOUNT_ID = "000000000000";

/** Verifies callers the two ways the gateway accepts: the issuer's user pool tokens and SigV4 with the local identity. */
export class IdentityVerifier {
  private readonly tokens: UserPoolTokenVerifier;

  constructor(private readonly opts: IdentityVerifierOptions) {
    this.tokens = new UserPoolTokenVerifier(opts.issuer);
  }

  /** Verifies a Cognito-shaped ID or access token (see lambdas/shared/userPoolToken.ts) and builds AppSync's ctx.identity from it. */
  async verifyJwt(token: string, sourceIp: string): Promise<AuthResult> {
    const verified = await this.tokens.verify(token);
    if (!verified.ok) return verified;
    return { ok: true, caller: { mode: "AMAZON_COGNITO_USER_POOLS", identity: cognitoIdentity(verified.claims, sourceIp) } };
  }

  async verifyIam(req: SignedRequest, sourceIp: string): Promise<AuthResult> {
    const r = await verifySigV4(req, { credentials: this.opts.credentials, region: this.opts.region, service: "appsync" });
    if (!r.ok && r.reason === INVALID_SECURITY_TOKEN) return { ok: false, message: "The security token included in the request is invalid." };
    if (!r.ok) {
      return { ok: false, message: `The request signature we calculated does not match the signature you provided (${r.reason}).` };
    }
    const accountId = this.opts.accountId ?? LOCAL_ACCOUNT_ID;
    const userArn = `arn:aws:iam::${accountId}:user/local`;
    return {
      ok: true,
      caller: {
        mode: "AWS_IAM",
        identity: {
          accountId,
          accessKey: r.accessKeyId,
          cognitoIdentityAuthProvider: null,
          cognitoIdentityAuthType: null,
          cognitoIdentityId: null,
          cognitoIdentityPoolId: null,
          sourceIp: [sourceIp],
          userArn,
          username: r.accessKeyId,
          caller: r.accessKeyId,
        },
      },
    };
  }

  /** AppSync picks the mode from the Authorization header: SigV4 -> IAM, anything else -> a user pool token. */
  async authenticate(req: SignedRequest, sourceIp: string): Promise<AuthResult> {
    const header = Object.entries(req.headers).find(([k]) => k.toLowerCase() === "authorization")?.[1];
    const value = Array.isArray(header) ? header[0] : header;
    if (!value) return { ok: false, message: "Valid authorization header not provided." };
    if (isSigV4Authorization(value)) return this.verifyIam(req, sourceIp);
    return this.verifyJwt(value, sourceIp);
  }
}

/** ctx.identity for verified token claims: the same shape for ID and access tokens, as AppSync gives resolvers. */
function cognitoIdentity(claims: JwtPayload, sourceIp: string): CognitoIdentity {
  const groups = claims["cognito:groups"];
  const username = claims["cognito:username"] ?? claims.username ?? claims.sub;
  return {
    sub: String(claims.sub),
    issuer: String(claims.iss),
    username: String(username),
    claims,
    sourceIp: [sourceIp],
    defaultAuthStrategy: "ALLOW",
    groups: Array.isArray(groups) ? groups.filter((g): g is string => typeof g === "string") : null,
  };
}

/** AppSync's message for a valid caller whose mode the field does not allow. */
export function notAuthorizedMessage(fieldName: string, typeName: string): string {
  return `Not Authorized to access ${fieldName} on type ${typeName}`;
}

export function modeAllowed(caller: Caller, modes: Set<AuthMode>, cognitoGroups: string[] | null): boolean {
  if (!modes.has(caller.mode)) return false;
  if (caller.mode === "AMAZON_COGNITO_USER_POOLS" && cognitoGroups) {
    return (caller.identity.groups ?? []).some((g) => cognitoGroups.includes(g));
  }
  return true;
}
