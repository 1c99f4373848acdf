/** ARN builders shared by the constructs: the account id comes from config (never data.aws_caller_identity, which fails offline). */
import { PROFILE_PREFIX } from "../config/rules";

/** The partition of a region: GovCloud regions live in aws-us-gov, the rest of our allowed regions in aws. */
export function partitionOf(region: string): string {
  return region.startsWith("us-gov-") ? "aws-us-gov" : "aws";
}

/** Cross-region inference profile ids carry a geography prefix (`us.anthropic...`, config/rules.ts); foundation model ids do not. */
export function isInferenceProfile(modelId: string): boolean {
  return PROFILE_PREFIX.test(modelId);
}

/** The ARNs bedrock:InvokeModelWithResponseStream must be allowed on to call these model ids, and nothing more. */
export function bedrockModelArns(modelIds: string[], region: string, accountId: string): string[] {
  const p = partitionOf(region);
  const arns = new Set<string>();
  for (const id of modelIds) {
    if (isInferenceProfile(id)) {
      arns.add(`arn:${p}:bedrock:${region}:${accountId}:inference-profile/${id}`);
      // A profile routes each call to one of several regions, so its foundation model is allowed in any region.
      arns.add(`arn:${p}:bedrock:*::foundation-model/${id.replace(PROFILE_PREFIX, "")}`);
    } else {
      arns.add(`arn:${p}:bedrock:${region}::foundation-model/${id}`);
    }
  }
  return [...arns];
}

/** The one mutation field the producers may call: publishResponse, never the whole API. */
export function publishResponseFieldArn(region: string, accountId: string, apiId: string): string {
  return `arn:${partitionOf(region)}:appsync:${region}:${accountId}:apis/${apiId}/types/Mutation/fields/publishResponse`;
}

/** Name of the managed policy that bounds every role of an environment (`<project>-<env>-boundary`). */
export function permissionsBoundaryName(prefix: string): string {
  return `${prefix}-boundary`;
}

/**
 * The boundary's ARN, from config alone (no lookup, so it plans offline). The bootstrap stack creates the policy; the
 * deploy role may only create or change roles that carry it.
 */
export function permissionsBoundaryArn(region: string, accountId: string, prefix: string): string {
  return `arn:${partitionOf(region)}:iam::${accountId}:policy/${permissionsBoundaryName(prefix)}`;
}

/** The one guardrail the worker may apply: bedrock:ApplyGuardrail on it, and nothing else. */
export function guardrailArn(region: string, accountId: string, guardrailId: string): string {
  return `arn:${partitionOf(region)}:bedrock:${region}:${accountId}:guardrail/${guardrailId}`;
}

/** A function of ours by its name (config/names.ts), known at synth: what lambda:InvokeFunction is allowed on. */
export function functionArn(region: string, accountId: string, functionName: string): string {
  return `arn:${partitionOf(region)}:lambda:${region}:${accountId}:function:${functionName}`;
}

/** The `iss` of a Cognito user pool's tokens (its JWKS is at <issuer>/.well-known/jwks.json): what the Function URL and the WebSocket authorizer trust. */
export function cognitoIssuer(region: string, userPoolId: string): string {
  return `https://cognito-idp.${region}.amazonaws.com/${userPoolId}`;
}
