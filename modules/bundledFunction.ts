import { Construct } from "constructs";
import { AssetType, TerraformAsset, Token } from "cdktf";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { LambdaEventSourceMapping } from "@cdktf/provider-aws/lib/lambda-event-source-mapping";
import { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function";
import { LOG_RETENTION_DAYS } from "../config/schema";
import { bundleHandler } from "./bundle";
import { policyDocument, Statement } from "./policy";

/** Lambda rejects environments whose keys and values together exceed 4 KB. */
export const LAMBDA_ENVIRONMENT_LIMIT = 4096;
/** The range AWS accepts for an SQS event source's scaling_config.maximum_concurrency. */
export const MIN_QUEUE_CONCURRENCY = 2;
export const MAX_QUEUE_CONCURRENCY = 1000;
/** Room for a value only known at apply time (an ARN, a URL, a table name). */
const UNRESOLVED_VALUE_BYTES = 128;

function variablesSize(env: Record<string, string>): number {
  return Object.entries(env).reduce((n, [k, v]) => n + Buffer.byteLength(k) + (Token.isUnresolved(v) ? UNRESOLVED_VALUE_BYTES : Buffer.byteLength(v)), 0);
}

export interface BundledFunctionProps {
  /** Function name; also names its log group /aws/lambda/<name>. */
  readonly functionName: string;
  /** TypeScript entry point exporting `handler`, bundled by esbuild at synth. */
  readonly entry: string;
  /** 128-10240 MB. */
  readonly memoryMb: number;
  /** 1-900 s. */
  readonly timeoutSeconds: number;
  /** Reserved concurrency; -1 leaves the function unreserved. */
  readonly reservedConcurrency: number;
  /** One of CloudWatch's retention periods. */
  readonly logRetentionDays: number;
  /** The function's Lambda environment variables (no secrets: credentials come from the role). */
  readonly variables: Record<string, string>;
  /** What this function may do beyond writing its logs and traces. */
  readonly statements: Statement[];
  /** Managed policy that bounds the role (the deploy role may only create roles that carry it). */
  readonly permissionsBoundaryArn: string;
}

/** A Node.js 22 arm64 Lambda bundled from TypeScript, with its own role, log group and X-Ray tracing. */
export class BundledFunction extends Construct {
  public readonly functionArn: string;
  public readonly functionName: string;
  public readonly roleArn: string;
  public readonly logGroupName: string;
  /** Content hash of the bundle (changes only when the code does). */
  public readonly codeHash: string;
  private readonly fn: LambdaFunction;
  private readonly reservedConcurrency: number;

  constructor(scope: Construct, id: string, props: BundledFunctionProps) {
    super(scope, id);
    if (props.memoryMb < 128 || props.memoryMb > 10240) throw new Error(`${id}: memoryMb must be between 128 and 10240, got ${props.memoryMb}`);
    if (props.timeoutSeconds < 1 || props.timeoutSeconds > 900) throw new Error(`${id}: timeoutSeconds must be between 1 and 900, got ${props.timeoutSeconds}`);
    this.reservedConcurrency = props.reservedConcurrency;
    if (props.reservedConcurrency < -1) throw new Error(`${id}: reservedConcurrency must be -1 (unreserved) or more, got ${props.reservedConcurrency}`);
    if (!LOG_RETENTION_DAYS.includes(props.logRetentionDays)) throw new Error(`${id}: logRetentionDays must be a CloudWatch retention period, got ${props.logRetentionDays}`);

    const envBytes = variablesSize(props.variables);
    if (envBytes > LAMBDA_ENVIRONMENT_LIMIT) {
      const largest = Object.entries(props.variables)
        .map(([k, v]) => [k, Buffer.byteLength(k) + (Token.isUnresolved(v) ? UNRESOLVED_VALUE_BYTES : Buffer.byteLength(v))] as const)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 2)
        .map(([k, n]) => `${k} ${n} bytes`);
      throw new Error(`${id}: environment variables take about ${envBytes} bytes, over Lambda's 4 KB limit (largest: ${largest.join(", ")})`);
    }

    const asset = new TerraformAsset(this, "code", { path: bundleHandler(props.entry), type: AssetType.ARCHIVE });
    const logGroup = new CloudwatchLogGroup(this, "logs", { name: `/aws/lambda/${props.functionName}`, retentionInDays: props.logRetentionDays });

    // Only Lambda assumes the role; iam:PassRole already keeps other accounts' functions from using it.
    const trust = policyDocument(this, "trust", [{ actions: ["sts:AssumeRole"], principals: [{ type: "Service", identifiers: ["lambda.amazonaws.com"] }] }]);
    const role = new IamRole(this, "role", { name: props.functionName, assumeRolePolicy: trust.json, permissionsBoundary: props.permissionsBoundaryArn });
    const permissions = policyDocument(this, "permissions", [
      // Log streams are created on demand inside the function's own group: `:*` is the stream part of the ARN.
      { sid: "WriteOwnLogs", actions: ["logs:CreateLogStream", "logs:PutLogEvents"], resources: [`${logGroup.arn}:*`] },
      // X-Ray's trace APIs have no resource-level permissions: AWS requires Resource "*".
      { sid: "WriteTraces", actions: ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resources: ["*"] },
      ...props.statements,
    ]);
    const policy = new IamRolePolicy(this, "policy", { name: "least-privilege", role: role.id, policy: permissions.json });

    this.fn = new LambdaFunction(this, "function", {
      functionName: props.functionName,
      role: role.arn,
      runtime: "nodejs22.x",
      architectures: ["arm64"],
      handler: "index.handler",
      filename: asset.path,
      sourceCodeHash: asset.assetHash,
      memorySize: props.memoryMb,
      timeout: props.timeoutSeconds,
      reservedConcurrentExecutions: props.reservedConcurrency === -1 ? undefined : props.reservedConcurrency,
      tracingConfig: { mode: "Active" },
      loggingConfig: { logFormat: "JSON", logGroup: logGroup.name, applicationLogLevel: "INFO", systemLogLevel: "WARN" },
      environment: { variables: props.variables },
      // The log group and the permissions exist before the first invocation.
      dependsOn: [logGroup, policy],
    });
    this.functionArn = this.fn.arn;
    this.functionName = this.fn.functionName;
    this.roleArn = role.arn;
    this.logGroupName = logGroup.name;
    this.codeHash = asset.assetHash;
  }

  /**
   * Polls an SQS queue; with reportBatchItemFailures only the failed messages of a batch are retried.
   * A reserved function caps the poller at its reservation (scaling_config.maximum_concurrency): otherwise the poller
   * scales past it, throttled invocations still count as receives, and a burst dead-letters work nobody processed.
   */
  consumeQueue(id: string, opts: { queueArn: string; batchSize: number; reportBatchItemFailures: boolean }): LambdaEventSourceMapping {
    if (opts.batchSize < 1 || opts.batchSize > 10) throw new Error(`${id}: batchSize must be between 1 and 10, got ${opts.batchSize}`);
    const reserved = this.reservedConcurrency;
    // SQS maximum_concurrency is 2-1000: a reservation of 0 or 1 cannot be matched, and a cap of 2 over 1 would throttle.
    if (reserved !== -1 && (reserved < MIN_QUEUE_CONCURRENCY || reserved > MAX_QUEUE_CONCURRENCY)) {
      throw new Error(
        `${id}: lambda.reserved_concurrency must be -1 (unreserved) or between ${MIN_QUEUE_CONCURRENCY} and ${MAX_QUEUE_CONCURRENCY} for a queue consumer (the SQS event source's maximum_concurrency range), got ${reserved}`,
      );
    }
    return new LambdaEventSourceMapping(this, id, {
      functionName: this.fn.arn,
      eventSourceArn: opts.queueArn,
      batchSize: opts.batchSize,
      functionResponseTypes: opts.reportBatchItemFailures ? ["ReportBatchItemFailures"] : undefined,
      scalingConfig: reserved === -1 ? undefined : { maximumConcurrency: reserved },
    });
  }
}
