/**
 * Builds graphql/schema.graphql with AppSync's built-in directives and scalars, and reads the per-field auth modes
 * and @aws_subscribe bindings from it.
 */
import { readFileSync } from "node:fs";
import {
  buildSchema,
  GraphQLObjectType,
  type GraphQLField,
  type GraphQLSchema,
  type ConstDirectiveNode,
  valueFromASTUntyped,
} from "graphql";

/** AppSync defines these implicitly; graphql-js needs them declared. */
export const APPSYNC_DEFINITIONS = `
directive @aws_subscribe(mutations: [String]) on FIELD_DEFINITION
directive @aws_iam on FIELD_DEFINITION | OBJECT
directive @aws_cognito_user_pools(cognito_groups: [String]) on FIELD_DEFINITION | OBJECT
directive @aws_api_key on FIELD_DEFINITION | OBJECT
directive @aws_oidc on FIELD_DEFINITION | OBJECT
directive @aws_lambda on FIELD_DEFINITION | OBJECT
directive @aws_auth(cognito_groups: [String]) on FIELD_DEFINITION
scalar AWSDate
scalar AWSTime
scalar AWSDateTime
scalar AWSTimestamp
scalar AWSEmail
scalar AWSJSON
scalar AWSURL
scalar AWSPhone
scalar AWSIPAddress
`;

export type AuthMode = "AWS_IAM" | "AMAZON_COGNITO_USER_POOLS" | "API_KEY" | "OPENID_CONNECT" | "AWS_LAMBDA";

const DIRECTIVE_MODES: Record<string, AuthMode> = {
  aws_iam: "AWS_IAM",
  aws_cognito_user_pools: "AMAZON_COGNITO_USER_POOLS",
  aws_api_key: "API_KEY",
  aws_oidc: "OPENID_CONNECT",
  aws_lambda: "AWS_LAMBDA",
};

/** Auth modes a field accepts, and (for Cognito) the groups it is limited to, if any. */
export interface FieldAuth {
  modes: Set<AuthMode>;
  cognitoGroups: string[] | null;
}

export function buildAppSyncSchema(schemaFile: string): GraphQLSchema {
  return buildSchema(`${APPSYNC_DEFINITIONS}\n${readFileSync(schemaFile, "utf8")}`);
}

function directivesOf(node: { directives?: readonly ConstDirectiveNode[] } | null | undefined): readonly ConstDirectiveNode[] {
  return node?.directives ?? [];
}

function authFrom(directives: readonly ConstDirectiveNode[]): FieldAuth | null {
  const modes = new Set<AuthMode>();
  let cognitoGroups: string[] | null = null;
  for (const d of directives) {
    const mode = DIRECTIVE_MODES[d.name.value];
    if (!mode) continue;
    modes.add(mode);
    const groups = d.arguments?.find((a) => a.name.value === "cognito_groups");
    if (groups) cognitoGroups = valueFromASTUntyped(groups.value) as string[];
  }
  return modes.size > 0 ? { modes, cognitoGroups } : null;
}

/** AppSync's rule: the field's directives, else its type's, else the API's default mode (Cognito here). */
export function fieldAuth(parent: GraphQLObjectType, field: GraphQLField<unknown, unknown>, defaultMode: AuthMode): FieldAuth {
  return (
    authFrom(directivesOf(field.astNode)) ??
    authFrom(directivesOf(parent.astNode)) ?? { modes: new Set([defaultMode]), cognitoGroups: null }
  );
}

/** Subscription field name -> the mutation field names listed in its @aws_subscribe. */
export function subscriptionBindings(schema: GraphQLSchema): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const sub = schema.getSubscriptionType();
  if (!sub) return out;
  for (const field of Object.values(sub.getFields())) {
    const d = directivesOf(field.astNode).find((x) => x.name.value === "aws_subscribe");
    const arg = d?.arguments?.find((a) => a.name.value === "mutations");
    if (arg) out.set(field.name, valueFromASTUntyped(arg.value) as string[]);
  }
  return out;
}
