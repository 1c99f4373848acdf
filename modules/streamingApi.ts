import { readFileSync } from "node:fs";
import * as path from "node:path";
import { Construct } from "constructs";
import { Fn } from "cdktf";
import { AppsyncDatasource } from "@cdktf/provider-aws/lib/appsync-datasource";
import { AppsyncGraphqlApi } from "@cdktf/provider-aws/lib/appsync-graphql-api";
import { AppsyncResolver } from "@cdktf/provider-aws/lib/appsync-resolver";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { enforce, logRetentionProblem } from "../config/rules";
import { API_LIMITS, DataSourceKind, RESOLVERS, RESOLVERS_DIR, SCHEMA_FILE } from "../graphql/api";
import { partitionOf } from "./arns";
import { policyDocument } from "./policy";

export interface StreamingApiProps {
  /** API name; also prefixes its roles. */
  readonly name: string;
  /** Account of the API (role trust conditions, log group ARN). */
  readonly accountId: string;
  /** Region of the API and of the user pool. */
  readonly region: string;
  /** Cognito user pool for the default auth mode; AWS_IAM is the additional mode for the producers. */
  readonly userPoolId: string;
  /** The platform's app client: only its tokens are accepted (a shared pool has other clients). */
  readonly userPoolClientId: string;
  /** X-Ray tracing of resolvers. */
  readonly xray: boolean;
  /** NONE, ERROR, INFO, DEBUG or ALL. */
  readonly fieldLogLevel: string;
  /** Whether clients may introspect the schema (off in production). */
  readonly introspection: boolean;
  /** Retention of the API's log group: one of CloudWatch's periods. */
  readonly logRetentionDays: number;
  /** KMS key that encrypts the API's log group; its key policy must let CloudWatch Logs use it for that group. */
  readonly logsKmsKeyArn: string;
  /** Managed policy that bounds the API's roles (logging, data source). */
  readonly permissionsBoundaryArn: string;
}

/**
 * AppSync's app_id_client_regex for exactly one client id: anchored, regex metacharacters escaped (Cognito ids match
 * [\w+]+, and `+` is one). The id is only known at apply, so Terraform's replace() escapes it.
 */
export function exactClientIdRegex(clientId: string): string {
  // Written as HCL string literals (backslashes doubled once for HCL, once more for TypeScript).
  return `^${Fn.replace(clientId, "/([.^$|?*+()\\\\[\\\\]{}\\\\\\\\])/", "\\\\$1")}$`;
}

/** AppSync logs an API to a group named after its generated id. */
export function apiLogGroupName(apiId: string): string {
  return `/aws/appsync/apis/${apiId}`;
}

function assumableBy(scope: Construct, id: string, service: string, accountId: string) {
  return policyDocument(scope, id, [
    {
      actions: ["sts:AssumeRole"],
      principals: [{ type: "Service", identifiers: [service] }],
      condition: [{ test: "StringEquals", variable: "aws:SourceAccount", values: [accountId] }],
    },
  ]);
}

/** The Lambdas AppSync invokes as data sources (graphql/api.ts `lambda:<name>`). */
export interface ResolverFunctionArns {
  sendQuery: string;
  messageControl: string;
}

/** The AppSync GraphQL API from graphql/schema.graphql with the APPSYNC_JS resolvers and the limits of graphql/api.ts. */
export class StreamingApi extends Construct {
  public readonly apiId: string;
  public readonly apiArn: string;
  public readonly graphqlUrl: string;
  public readonly realtimeUrl: string;
  public readonly logGroupName: string;
  private readonly props: StreamingApiProps;

  constructor(scope: Construct, id: string, props: StreamingApiProps) {
    super(scope, id);
    enforce(id, logRetentionProblem(props.logRetentionDays), "logRetentionDays");
    this.props = props;
    const p = partitionOf(props.region);

    const clientRegex = exactClientIdRegex(props.userPoolClientId);
    const logRole = new IamRole(this, "log-role", {
      name: `${props.name}-logs`,
      assumeRolePolicy: assumableBy(this, "log-trust", "appsync.amazonaws.com", props.accountId).json,
      permissionsBoundary: props.permissionsBoundaryArn,
    });
    const api = new AppsyncGraphqlApi(this, "api", {
      name: props.name,
      schema: readFileSync(SCHEMA_FILE, "utf8"),
      authenticationType: "AMAZON_COGNITO_USER_POOLS",
      // Only the platform's app client: with a shared pool, tokens of its other clients would otherwise call sendQuery.
      userPoolConfig: { userPoolId: props.userPoolId, awsRegion: props.region, defaultAction: "ALLOW", appIdClientRegex: clientRegex },
      additionalAuthenticationProvider: [{ authenticationType: "AWS_IAM" }],
      xrayEnabled: props.xray,
      introspectionConfig: props.introspection ? "ENABLED" : "DISABLED",
      // One resolver per request (so one sendQuery, one generation) and a depth bound: graphql/api.ts says why.
      resolverCountLimit: API_LIMITS.resolverCountLimit,
      queryDepthLimit: API_LIMITS.queryDepthLimit,
      // Verbose content would log prompts and tokens: kept out of the logs.
      logConfig: { cloudwatchLogsRoleArn: logRole.arn, fieldLogLevel: props.fieldLogLevel, excludeVerboseContent: true },
    });
    // AppSync writes to this fixed group name; created here so it has a retention and the environment's key (created first:
    // kms_key_id references it).
    const logGroup = new CloudwatchLogGroup(this, "logs", { name: apiLogGroupName(api.id), retentionInDays: props.logRetentionDays, kmsKeyId: props.logsKmsKeyArn });
    const logPolicy = policyDocument(this, "log-permissions", [
      { actions: ["logs:CreateLogGroup"], resources: [`arn:${p}:logs:${props.region}:${props.accountId}:log-group:${apiLogGroupName(api.id)}`] },
      // `:*` is the log-stream part of the group's ARN.
      { actions: ["logs:CreateLogStream", "logs:PutLogEvents"], resources: [`${logGroup.arn}:*`] },
    ]);
    new IamRolePolicy(this, "log-policy", { name: "write-api-logs", role: logRole.id, policy: logPolicy.json });

    this.apiId = api.id;
    this.apiArn = api.arn;
    this.graphqlUrl = api.uris.lookup("GRAPHQL");
    this.realtimeUrl = api.uris.lookup("REALTIME");
    this.logGroupName = logGroup.name;
  }

  /** Creates the data sources and one APPSYNC_JS unit resolver per entry of RESOLVERS. */
  attachResolvers(functions: ResolverFunctionArns): void {
    const none = new AppsyncDatasource(this, "none", { apiId: this.apiId, name: "NoneSource", type: "NONE" });
    const dataSources: Record<DataSourceKind, AppsyncDatasource> = {
      none,
      "lambda:sendQuery": this.lambdaDataSource("send-query", "SendQueryLambda", functions.sendQuery),
      "lambda:messageControl": this.lambdaDataSource("message-control", "MessageControlLambda", functions.messageControl),
    };
    for (const r of RESOLVERS) {
      new AppsyncResolver(this, `${r.typeName}-${r.fieldName}`, {
        apiId: this.apiId,
        type: r.typeName,
        field: r.fieldName,
        kind: "UNIT",
        dataSource: dataSources[r.dataSource].name,
        runtime: { name: "APPSYNC_JS", runtimeVersion: "1.0.0" },
        code: readFileSync(path.join(RESOLVERS_DIR, r.file), "utf8"),
      });
    }
  }

  /** A Lambda data source with a role that may invoke exactly that function. */
  private lambdaDataSource(id: string, name: string, functionArn: string): AppsyncDatasource {
    const { props } = this;
    const invokeRole = new IamRole(this, `${id}-invoke-role`, {
      name: `${props.name}-${id}`,
      assumeRolePolicy: assumableBy(this, `${id}-invoke-trust`, "appsync.amazonaws.com", props.accountId).json,
      permissionsBoundary: props.permissionsBoundaryArn,
    });
    const invokePolicy = policyDocument(this, `${id}-invoke-permissions`, [{ actions: ["lambda:InvokeFunction"], resources: [functionArn] }]);
    const invoke = new IamRolePolicy(this, `${id}-invoke-policy`, { name: `invoke-${id}`, role: invokeRole.id, policy: invokePolicy.json });
    return new AppsyncDatasource(this, id, {
      apiId: this.apiId,
      name,
      type: "AWS_LAMBDA",
      serviceRoleArn: invokeRole.arn,
      lambdaConfig: { functionArn },
      dependsOn: [invoke],
    });
  }
}
