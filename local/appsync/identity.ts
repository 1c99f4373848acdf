/** Turns request credentials into AppSync's ctx.identity: Cognito ID tokens (JWKS-verified) and SigV4 (IAM). */
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from "jose";
import { isSigV4Authorization, verifySigV4, type LocalCredentials, type SignedRequest } from "./sigv4";
import type { AuthMode } from "./schema";

export interface CognitoIdentity {
  sub: string;
  issuer: string;
  username: string;
  claims: JWTPayload & Record<string, unknown>;
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

export class IdentityVerifier {
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>;

  constructor(private readonly opts: IdentityVerifierOptions) {
    this.jwks = createRemoteJWKSet(new URL("/.well-known/jwks.json", opts.issuer.issuerUrl), { timeoutDuration: 5000 });
  }

  /** Verifies a Cognito-shaped ID token: signature (issuer's JWKS), iss, aud = client id, exp, token_use = id. */
  async verifyJwt(token: string, sourceIp: string): Promise<AuthResult> {
    try {
      const { payload } = await jwtVerify(token, this.jwks, {
        issuer: this.opts.issuer.issuerUrl,
        audience: this.opts.issuer.clientId,
        algorithms: ["RS256"],
        requiredClaims: ["sub", "exp", "iat"],
      });
      if (payload.token_use !== "id") return { ok: false, message: "Valid authorization header not provided." };
      const claims = payload as CognitoIdentity["claims"];
      const groups = Array.isArray(claims["cognito:groups"]) ? (claims["cognito:groups"] as string[]) : null;
      return {
        ok: true,
        caller: {
          mode: "AMAZON_COGNITO_USER_POOLS",
          identity: {
            sub: String(payload.sub),
            issuer: String(payload.iss),
            username: String(claims["cognito:username"] ?? payload.sub),
            claims,
            sourceIp: [sourceIp],
            defaultAuthStrategy: "ALLOW",
            groups,
          },
        },
      };
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) return { ok: false, message: "Token has expired." };
      return { ok: false, message: "You are not authorized to make this call." };
    }
  }

  async verifyIam(req: SignedRequest, sourceIp: string): Promise<AuthResult> {
    const r = await verifySigV4(req, { credentials: this.opts.credentials, region: this.opts.region, service: "appsync" });
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
