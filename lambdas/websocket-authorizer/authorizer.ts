/**
 * The WebSocket API's $connect authorizer (a Lambda REQUEST authorizer): the Cognito token (ID or access, as the
 * AppSync API accepts, lambdas/shared/userPoolToken.ts) from the `token` query parameter, or from the
 * `Sec-WebSocket-Protocol` header the way browsers can send it (`["llm-stream", "<jwt>"]`). Nothing else runs before
 * it: no token is a 401, a bad or expired one a 403 (a Deny policy), and neither reaches a route, a table or a model.
 * An allowed connection carries the verified sub as `userId` in the authorizer context of every route it calls.
 */
import { protocolHeader, TOKEN_QUERY_PARAMETER, tokenFromProtocols } from "../../contracts/websocketFrames";
import type { UserPoolTokenResult } from "../shared/userPoolToken";
import type { RuntimeLogger } from "../shared/telemetry";

/** The parts of API Gateway's REQUEST authorizer event for $connect that the authorizer reads. */
export interface ConnectAuthorizerEvent {
  type?: string;
  /** arn:<partition>:execute-api:<region>:<account>:<api id>/<stage>/$connect */
  methodArn: string;
  headers?: Record<string, string | undefined> | null;
  queryStringParameters?: Record<string, string | undefined> | null;
}

/** What the route functions find in requestContext.authorizer (beside API Gateway's principalId). */
export interface ConnectionAuthorizerContext {
  /** The token's verified sub. */
  userId: string;
}

export interface AuthorizerResult {
  principalId: string;
  policyDocument: { Version: "2012-10-17"; Statement: { Action: "execute-api:Invoke"; Effect: "Allow" | "Deny"; Resource: string }[] };
  context?: ConnectionAuthorizerContext;
}

/** The token check (UserPoolTokenVerifier), passed in. */
export interface TokenVerifier {
  verify(token: string): Promise<UserPoolTokenResult>;
}

/** API Gateway answers 401 for an authorizer that fails with exactly this message (anything else thrown is a 500). */
export const UNAUTHORIZED = "Unauthorized";

/** The token the client sent: the query parameter wins over the subprotocol. */
export function connectToken(event: ConnectAuthorizerEvent): string | undefined {
  const fromQuery = event.queryStringParameters?.[TOKEN_QUERY_PARAMETER];
  if (fromQuery) return fromQuery;
  return tokenFromProtocols(protocolHeader(event.headers));
}

const policy = (effect: "Allow" | "Deny", methodArn: string): AuthorizerResult["policyDocument"] => ({
  Version: "2012-10-17",
  Statement: [{ Action: "execute-api:Invoke", Effect: effect, Resource: methodArn }],
});

/** Allows the connection with the token's sub, denies a bad token, and throws UNAUTHORIZED when there is none. */
export async function authorizeConnect(event: ConnectAuthorizerEvent, verifier: TokenVerifier, logger: RuntimeLogger): Promise<AuthorizerResult> {
  const token = connectToken(event);
  if (!token) {
    logger.info("connection refused: no token");
    throw new Error(UNAUTHORIZED);
  }
  const verified = await verifier.verify(token);
  if (!verified.ok) {
    logger.info("connection refused: bad token", { reason: verified.message });
    return { principalId: "anonymous", policyDocument: policy("Deny", event.methodArn) };
  }
  const userId = String(verified.claims.sub);
  return { principalId: userId, policyDocument: policy("Allow", event.methodArn), context: { userId } };
}
