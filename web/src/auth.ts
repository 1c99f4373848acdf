/**
 * Sign-in for the console. Local stack: pick a test user and ask the local issuer for an ID token.
 * Deployed stack: Cognito user pool sign-in with USER_SRP_AUTH through amazon-cognito-identity-js (AWS's own,
 * maintained library): SRP never sends the password, works with the default app client flows, and the library
 * handles the SRP maths, challenges and token refresh that a hand-written InitiateAuth call would have to redo.
 * Tokens are kept in memory only (not localStorage), so a script injected into the page later cannot read old ones.
 */
import {
  AuthenticationDetails,
  CognitoUser,
  CognitoUserPool,
  type CognitoUserSession,
  type ICognitoStorage,
} from "amazon-cognito-identity-js";
import type { ClientConfig } from "../../client/config";

export interface SignedIn {
  username: string;
  /** A fresh ID token (refreshed or re-minted when close to expiry). */
  idToken(): Promise<string>;
  signOut(): void;
}

/** Thrown with a message fit for the page. */
export class SignInError extends Error {
  override name = "SignInError";
}

/** Seconds before expiry at which a token is renewed. */
const RENEW_BEFORE_S = 60;

function expiryOf(jwt: string): number {
  try {
    const payload = JSON.parse(atob(jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))) as { exp?: number };
    return typeof payload.exp === "number" ? payload.exp : 0;
  } catch {
    return 0;
  }
}

export const LOCAL_TEST_USERS = ["alice", "bob"] as const;

/** Local issuer: `POST <issuerUrl>/token {username}` -> `{idToken, expiresIn, sub}`. */
export async function signInLocal(issuerUrl: string, username: string, fetchImpl: typeof fetch = fetch): Promise<SignedIn> {
  const mint = async (): Promise<string> => {
    let res: Response;
    try {
      res = await fetchImpl(`${issuerUrl.replace(/\/$/, "")}/token`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username }),
      });
    } catch {
      throw new SignInError(`Could not reach the local issuer at ${issuerUrl}. Is \`npm start\` running?`);
    }
    const body = (await res.json().catch(() => ({}))) as { idToken?: unknown; error?: unknown };
    if (!res.ok || typeof body.idToken !== "string") {
      throw new SignInError(`The local issuer refused the sign-in${typeof body.error === "string" ? `: ${body.error}` : ""}.`);
    }
    return body.idToken;
  };
  let token = await mint();
  return {
    username,
    async idToken() {
      if (expiryOf(token) - Date.now() / 1000 < RENEW_BEFORE_S) token = await mint();
      return token;
    },
    signOut() {
      token = "";
    },
  };
}

/** In-memory storage for the Cognito library (its default is localStorage). */
class MemoryStorage implements ICognitoStorage {
  private readonly items = new Map<string, string>();
  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  removeItem(key: string): void {
    this.items.delete(key);
  }
  clear(): void {
    this.items.clear();
  }
}

export interface CognitoSignInOptions {
  username: string;
  password: string;
  /** Asked for when an administrator created the user with a temporary password. */
  newPassword?: () => Promise<string | undefined>;
}

const COGNITO_MESSAGES: Record<string, string> = {
  NotAuthorizedException: "Wrong username or password.",
  UserNotFoundException: "Wrong username or password.",
  UserNotConfirmedException: "This user has not been confirmed yet.",
  PasswordResetRequiredException: "A password reset is required for this user.",
  InvalidPasswordException: "The new password does not meet the user pool's password policy.",
  TooManyRequestsException: "Too many attempts. Wait a moment and try again.",
};

function friendlyCognitoError(err: unknown): SignInError {
  const code = (err as { code?: string; name?: string })?.code ?? (err as { name?: string })?.name ?? "";
  return new SignInError(COGNITO_MESSAGES[code] ?? "Sign-in failed. Check the user pool settings and try again.");
}

export function signInCognito(auth: Extract<ClientConfig["auth"], { type: "cognito" }>, opts: CognitoSignInOptions): Promise<SignedIn> {
  const storage = new MemoryStorage();
  const pool = new CognitoUserPool({ UserPoolId: auth.userPoolId, ClientId: auth.userPoolClientId, Storage: storage });
  const user = new CognitoUser({ Username: opts.username, Pool: pool, Storage: storage });
  user.setAuthenticationFlowType("USER_SRP_AUTH");
  const details = new AuthenticationDetails({ Username: opts.username, Password: opts.password });

  const signedIn = (session: CognitoUserSession): SignedIn => {
    let current = session;
    return {
      username: opts.username,
      idToken: () =>
        new Promise<string>((resolve, reject) => {
          if (current.isValid() && current.getIdToken().getExpiration() - Date.now() / 1000 > RENEW_BEFORE_S) {
            resolve(current.getIdToken().getJwtToken());
            return;
          }
          user.refreshSession(current.getRefreshToken(), (err: unknown, fresh: CognitoUserSession) => {
            if (err) reject(new SignInError("Your session expired. Sign in again."));
            else {
              current = fresh;
              resolve(fresh.getIdToken().getJwtToken());
            }
          });
        }),
      signOut: () => user.signOut(),
    };
  };

  return new Promise<SignedIn>((resolve, reject) => {
    const callbacks = {
      onSuccess: (session: CognitoUserSession) => resolve(signedIn(session)),
      onFailure: (err: unknown) => reject(friendlyCognitoError(err)),
      newPasswordRequired: () => {
        void (async () => {
          const next = opts.newPassword ? await opts.newPassword() : undefined;
          if (!next) return reject(new SignInError("This user must set a new password first."));
          user.completeNewPasswordChallenge(next, {}, callbacks);
        })();
      },
      mfaRequired: () => reject(new SignInError("This user needs MFA, which the console does not support yet.")),
      totpRequired: () => reject(new SignInError("This user needs MFA, which the console does not support yet.")),
    };
    user.authenticateUser(details, callbacks);
  });
}
