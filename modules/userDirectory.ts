import { Construct } from "constructs";
import { CognitoUserPool } from "@cdktf/provider-aws/lib/cognito-user-pool";
import { CognitoUserPoolClient } from "@cdktf/provider-aws/lib/cognito-user-pool-client";
import { cognitoIssuer } from "./arns";

export interface UserDirectoryProps {
  /** User pool name. */
  readonly name: string;
  /** The pool's region: its issuer URL names it. */
  readonly region: string;
  /** Use this pool instead of creating one (the app client is still created in it). */
  readonly existingUserPoolId?: string;
  /** Refuse deleting the pool (production users). */
  readonly deletionProtection: boolean;
}

/** The Cognito user pool that signs clients in (AppSync's default auth) and a public app client for them. */
export class UserDirectory extends Construct {
  public readonly userPoolId: string;
  public readonly userPoolClientId: string;
  /** What the pool's tokens carry in `iss`; its JWKS is at `<issuer>/.well-known/jwks.json`. */
  public readonly issuerUrl: string;

  constructor(scope: Construct, id: string, props: UserDirectoryProps) {
    super(scope, id);
    if (props.existingUserPoolId) {
      this.userPoolId = props.existingUserPoolId;
    } else {
      const pool = new CognitoUserPool(this, "pool", {
        name: props.name,
        usernameAttributes: ["email"],
        autoVerifiedAttributes: ["email"],
        // Users are invited by the platform team; no open sign-up by default.
        adminCreateUserConfig: { allowAdminCreateUserOnly: true },
        passwordPolicy: {
          minimumLength: 12,
          requireLowercase: true,
          requireUppercase: true,
          requireNumbers: true,
          requireSymbols: true,
          temporaryPasswordValidityDays: 3,
        },
        mfaConfiguration: "OPTIONAL",
        softwareTokenMfaConfiguration: { enabled: true },
        accountRecoverySetting: { recoveryMechanism: [{ name: "verified_email", priority: 1 }] },
        deletionProtection: props.deletionProtection ? "ACTIVE" : "INACTIVE",
      });
      this.userPoolId = pool.id;
    }
    const client = new CognitoUserPoolClient(this, "client", {
      name: `${props.name}-client`,
      userPoolId: this.userPoolId,
      // Browser and CLI clients cannot keep a secret.
      generateSecret: false,
      explicitAuthFlows: ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
      preventUserExistenceErrors: "ENABLED",
      enableTokenRevocation: true,
      accessTokenValidity: 60,
      idTokenValidity: 60,
      refreshTokenValidity: 30,
      tokenValidityUnits: [{ accessToken: "minutes", idToken: "minutes", refreshToken: "days" }],
    });
    this.userPoolClientId = client.id;
    this.issuerUrl = cognitoIssuer(props.region, this.userPoolId);
  }
}
