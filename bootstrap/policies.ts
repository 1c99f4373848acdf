/**
 * The bootstrap stack's policy documents, built as plain JSON from the config: every value is known at synth, so
 * tests read them straight from cdk.tf.json and reviewers see them in the plan.
 * Actions are listed one by one (no wildcards): the calls the AWS provider makes to create, read, update and delete
 * what the platform stack declares. Resources are scoped to `<project>-<env>` names wherever the ARN carries a name.
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

export function deployPolicies(a: AccountBootstrap, role: DeployRole): DeployPolicy[] {
  const p = a.partition;
  const acct = a.accountId;
  const envs = role.environments;
  const each = (f: (e: (typeof envs)[number]) => string) => [...new Set(envs.map(f))];
  const regional = (service: string, rest: (e: (typeof envs)[number]) => string) => each((e) => `arn:${p}:${service}:${e.region}:${acct}:${rest(e)}`);

  const state: PolicyStatement[] = [
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

  const messaging: PolicyStatement[] = [
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
    {
      // CreateKey has no resource to scope to (AWS requires "*"); tags on the request pin it to our environments.
      Sid: "CreateEnvironmentKey",
      Effect: "Allow",
      Action: ["kms:CreateKey"],
      Resource: "*",
      Condition: { StringEquals: { "aws:RequestTag/Project": a.project, "aws:RequestTag/Environment": envs.map((e) => e.name) } },
    },
    {
      // Key ARNs carry generated ids, not names: scoped to our environments' keys by their tags.
      Sid: "ManageEnvironmentKey",
      Effect: "Allow",
      Action: [
        "kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:GetKeyRotationStatus", "kms:EnableKeyRotation", "kms:ListResourceTags", "kms:TagResource", "kms:UntagResource",
        "kms:ScheduleKeyDeletion", "kms:UpdateKeyDescription", "kms:CreateGrant", "kms:Decrypt", "kms:GenerateDataKey",
      ],
      Resource: regional("kms", () => "key/*"),
      Condition: { StringEquals: { "aws:ResourceTag/Project": a.project, "aws:ResourceTag/Environment": envs.map((e) => e.name) } },
    },
    {
      // An alias call authorizes against both the alias and the key.
      Sid: "KeyAliases",
      Effect: "Allow",
      Action: ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"],
      Resource: [...regional("kms", (e) => `alias/${e.prefix}*`), ...regional("kms", () => "key/*")],
    },
    {
      // ListAliases is account-wide only: AWS requires "*".
      Sid: "ListKeyAliases",
      Effect: "Allow",
      Action: ["kms:ListAliases"],
      Resource: "*",
    },
  ];

  const compute: PolicyStatement[] = [
    {
      Sid: "Functions",
      Effect: "Allow",
      Action: [
        "lambda:CreateFunction", "lambda:DeleteFunction", "lambda:GetFunction", "lambda:GetFunctionConfiguration", "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration",
        "lambda:ListVersionsByFunction", "lambda:PublishVersion", "lambda:GetFunctionCodeSigningConfig", "lambda:GetRuntimeManagementConfig",
        "lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency", "lambda:GetFunctionConcurrency",
        "lambda:GetPolicy", "lambda:AddPermission", "lambda:RemovePermission", "lambda:ListTags", "lambda:TagResource", "lambda:UntagResource",
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
    {
      // AppSync names its log group after the generated API id (/aws/appsync/apis/<id>), so that part cannot carry our prefix.
      Sid: "LogGroups",
      Effect: "Allow",
      Action: ["logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy", "logs:ListTagsForResource", "logs:TagResource", "logs:UntagResource", "logs:ListTagsLogGroup", "logs:TagLogGroup"],
      Resource: [...regional("logs", (e) => `log-group:/aws/lambda/${e.prefix}-*`), ...regional("logs", () => "log-group:/aws/appsync/apis/*")],
    },
    {
      // DescribeLogGroups lists the region's groups; it cannot be narrowed below log-group:*.
      Sid: "FindLogGroups",
      Effect: "Allow",
      Action: ["logs:DescribeLogGroups"],
      Resource: regional("logs", () => "log-group:*"),
    },
    {
      Sid: "Alarms",
      Effect: "Allow",
      Action: ["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource", "cloudwatch:TagResource", "cloudwatch:UntagResource"],
      Resource: regional("cloudwatch", (e) => `alarm:${e.prefix}-*`),
    },
  ];

  const api: PolicyStatement[] = [
    {
      // AppSync ARNs carry the generated API id, never the name: scoped to the account and the environments' regions.
      Sid: "GraphqlApi",
      Effect: "Allow",
      Action: [
        "appsync:CreateGraphqlApi", "appsync:GetGraphqlApi", "appsync:UpdateGraphqlApi", "appsync:DeleteGraphqlApi",
        "appsync:StartSchemaCreation", "appsync:GetSchemaCreationStatus", "appsync:GetIntrospectionSchema",
        "appsync:CreateDataSource", "appsync:GetDataSource", "appsync:UpdateDataSource", "appsync:DeleteDataSource",
        "appsync:CreateResolver", "appsync:GetResolver", "appsync:UpdateResolver", "appsync:DeleteResolver",
        "appsync:CreateFunction", "appsync:GetFunction", "appsync:UpdateFunction", "appsync:DeleteFunction",
        "appsync:GetGraphqlApiEnvironmentVariables", "appsync:PutGraphqlApiEnvironmentVariables",
        "appsync:ListTagsForResource", "appsync:TagResource", "appsync:UntagResource",
      ],
      Resource: regional("appsync", () => "*"),
    },
    {
      // CreateUserPool has no resource yet (AWS requires "*"); the rest act on pools with generated ids in our regions.
      Sid: "CreateUserPool",
      Effect: "Allow",
      Action: ["cognito-idp:CreateUserPool"],
      Resource: "*",
    },
    {
      Sid: "UserPools",
      Effect: "Allow",
      Action: [
        "cognito-idp:DescribeUserPool", "cognito-idp:UpdateUserPool", "cognito-idp:DeleteUserPool", "cognito-idp:GetUserPoolMfaConfig", "cognito-idp:SetUserPoolMfaConfig",
        "cognito-idp:CreateUserPoolClient", "cognito-idp:DescribeUserPoolClient", "cognito-idp:UpdateUserPoolClient", "cognito-idp:DeleteUserPoolClient",
        "cognito-idp:ListTagsForResource", "cognito-idp:TagResource", "cognito-idp:UntagResource",
      ],
      Resource: regional("cognito-idp", () => "userpool/*"),
    },
  ];

  const roles = each((e) => `arn:${p}:iam::${acct}:role/${e.prefix}-*`);
  const ownPolicies = each((e) => `arn:${p}:iam::${acct}:policy/${e.prefix}-*`);
  const boundaries = each((e) => boundaryArnOf(a, e));
  const iam: PolicyStatement[] = [
    {
      // Nothing here grants permissions: reads, deletes, trust and tags. Granting calls need the boundary (below).
      Sid: "FunctionAndServiceRoles",
      Effect: "Allow",
      Action: [
        "iam:GetRole", "iam:UpdateRole", "iam:DeleteRole", "iam:UpdateAssumeRolePolicy", "iam:TagRole", "iam:UntagRole",
        "iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole", "iam:GetRolePolicy", "iam:DeleteRolePolicy",
      ],
      Resource: roles,
    },
    // Per environment: its roles may only be created or given permissions while they carry its boundary, so no
    // policy the deploy role writes can reach beyond what the boundary allows (no iam:*, only the stack's services).
    ...envs.flatMap((e, i): PolicyStatement[] => {
      const tag = statementTag(e.name, i, envs.map((x) => x.name));
      const envRoles = [`arn:${p}:iam::${acct}:role/${e.prefix}-*`];
      const bounded = { StringEquals: { "iam:PermissionsBoundary": boundaryArnOf(a, e) } };
      return [
        { Sid: `BoundedRoles${tag}`, Effect: "Allow", Action: ["iam:CreateRole", "iam:PutRolePolicy", "iam:PutRolePermissionsBoundary"], Resource: envRoles, Condition: bounded },
        {
          // Only policies of our own environments, and only onto bounded roles: no AdministratorAccess through a function role.
          Sid: `AttachOwnPoliciesToBoundedRoles${tag}`,
          Effect: "Allow",
          Action: ["iam:AttachRolePolicy"],
          Resource: envRoles,
          Condition: { ...bounded, ArnLike: { "iam:PolicyARN": [`arn:${p}:iam::${acct}:policy/${e.prefix}-*`] } },
        },
      ];
    }),
    {
      Sid: "DetachOwnPolicies",
      Effect: "Allow",
      Action: ["iam:DetachRolePolicy"],
      Resource: roles,
      Condition: { ArnLike: { "iam:PolicyARN": ownPolicies } },
    },
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
      Resource: boundaries,
    },
    {
      Sid: "RolesKeepTheirBoundary",
      Effect: "Deny",
      Action: ["iam:DeleteRolePermissionsBoundary"],
      Resource: roles,
    },
    {
      Sid: "PassRolesToLambdaAndAppSync",
      Effect: "Allow",
      Action: ["iam:PassRole"],
      Resource: roles,
      Condition: { StringEquals: { "iam:PassedToService": ["lambda.amazonaws.com", "appsync.amazonaws.com"] } },
    },
  ];

  return [
    { concern: "state", description: "Terraform state objects and lock files of the environments", document: doc(state) },
    { concern: "messaging", description: "Topics, queues, tables and the environment key", document: doc(messaging) },
    { concern: "compute", description: "Functions, their triggers, log groups and alarms", document: doc(compute) },
    { concern: "api", description: "The AppSync API and the Cognito user pool", document: doc(api) },
    { concern: "iam", description: "The environments' own roles and policies", document: doc(iam) },
  ];
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
      // Functions write to /aws/lambda/<prefix>-*; AppSync to /aws/appsync/apis/<generated id>, which cannot carry our prefix.
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
    // API ARNs carry generated ids: any API of the account in this region, but only its publishResponse field.
    { Sid: "PublishResponseOnly", Effect: "Allow", Action: ["appsync:GraphQL"], Resource: [at("appsync", "apis/*/types/Mutation/fields/publishResponse")] },
    { Sid: "InvokeOwnFunctions", Effect: "Allow", Action: ["lambda:InvokeFunction"], Resource: [at("lambda", `function:${e.prefix}-*`)] },
    // Key ARNs carry generated ids; the role policies name the environment's key.
    { Sid: "UseKeys", Effect: "Allow", Action: ["kms:Decrypt", "kms:GenerateDataKey"], Resource: [at("kms", "key/*")] },
  ];
  return { name: permissionsBoundaryName(e.prefix), document: doc(statements) };
}

const READ_ONLY_ACTION = /^[a-z0-9-]+:(Get|Describe|List)[A-Za-z]*$/;

/**
 * The plan role's policies: the deploy policies' read calls on the same resources (what `terraform plan` refreshes),
 * reading the state, and writing only the S3 lock file, which plan takes while it reads.
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
