import { Construct } from "constructs";
import { AssetType, TerraformAsset, Token } from "cdktf";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { LambdaEventSourceMapping } from "@cdktf/provider-aws/lib/lambda-event-source-mapping";
import { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function";
import { LambdaFunctionEventInvokeConfig } from "@cdktf/provider-aws/lib/lambda-function-event-invoke-config";
import {
  ASYNC_RETRY_ATTEMPTS, MAXIMUM_EVENT_AGE_SECONDS, enforce, LAMBDA_MEMORY_MB, LAMBDA_TIMEOUT_SECONDS, logRetentionProblem, queueConcurrencyProblem, rangeProblem, RESERVED_CONCURRENCY, UNRESERVED,
} from "../config/rules";
import { bundleHandler } from "./bundle";
import { policyDocument, Statement } from "./policy";

/** Lambda rejects environments whose keys and values together exceed 4 KB. */
export const LAMBDA_ENVIRONMENT_LIMIT = 4096;
/** Room for a value only known at apply time (an ARN, a URL, a table name). */
const UNRESOLVED_VALUE_BYTES = 128;
/** An SQS event source's batch size without a batching window. */
const SQS_BATCH_SIZE = { min: 1, max: 10 };

function variableBytes(name: string, value: string): number {
  return Buffer.byteLength(name) + (Token.isUnresolved(value) ? UNRESOLVED_VALUE_BYTES : Buffer.byteLength(value));
}

/** The check the schema cannot make: the whole environment's size, with apply-time values estimated. */
function environmentSizeProblem(variables: Record<string, string>): string | undefined {
  const sizes = Object.entries(variables).map(([k, v]) => [k, variableBytes(k, v)] as const);
  const total = sizes.reduce((n, [, bytes]) => n + bytes, 0);
  if (total <= LAMBDA_ENVIRONMENT_LIMIT) return undefined;
  const largest = [...sizes].sort((a, b) => b[1] - a[1]).slice(0, 2).map(([k, n]) => `${k} ${n} bytes`);
  return `environment variables take about ${total} bytes, over Lambda's 4 KB limit (largest: ${largest.join(", ")})`;
}

export interface BundledFunctionProps {
  /** Function name; also names its log group /aws/lambda/<name>. */
  readonly functionName: string;
  /** TypeScript entry point exporting `handler`, bundled by esbuild at synth. */
  readonly entry: string;
  /** 128-10240 MB (config/rules.ts LAMBDA_MEMORY_MB). */
  readonly memoryMb: number;
  /** 1-900 s (LAMBDA_TIMEOUT_SECONDS). */
  readonly timeoutSeconds: number;
  /** Reserved concurrency, at most 1000; -1 leaves the function unreserved. */
  readonly reservedConcurrency: number;
  /** One of CloudWatch's retention periods. */
  readonly logRetentionDays: number;
  /** KMS key that encrypts the function's log group; its key policy must let CloudWatch Logs use it for that group. */
  readonly logsKmsKeyArn: string;
  /** The function's Lambda environment variables (no secrets: credentials come from the role). */
  readonly variables: Record<string, string>;
  /** Files written beside the bundled code (name -> content), e.g. the worker's tool specs; default none. */
  readonly assetFiles?: Record<string, string>;
  /** What this function may do beyond writing its logs and traces. */
  readonly statements: Statement[];
  /** Managed policy that bounds the role (the deploy role may only create roles that carry it). */
  readonly permissionsBoundaryArn: string;
}

/** A Node.js 22 arm64 Lambda bundled from TypeScript, with its own role, encrypted log group and X-Ray tracing. */
export class BundledFunction extends Construct {
  public readonly functionArn: string;
  /** What an API Gateway integration or authorizer invokes. */
  public readonly invokeArn: string;
  public readonly functionName: string;
  public readonly roleArn: string;
  public readonly logGroupName: string;
  private readonly fn: LambdaFunction;
  private readonly reservedConcurrency: number;

  constructor(scope: Construct, id: string, props: BundledFunctionProps) {
    super(scope, id);
    enforce(id, rangeProblem(props.memoryMb, LAMBDA_MEMORY_MB), "memoryMb");
    enforce(id, rangeProblem(props.timeoutSeconds, LAMBDA_TIMEOUT_SECONDS), "timeoutSeconds");
    enforce(id, rangeProblem(props.reservedConcurrency, RESERVED_CONCURRENCY), "reservedConcurrency");
    enforce(id, logRetentionProblem(props.logRetentionDays), "logRetentionDays");
    enforce(id, environmentSizeProblem(props.variables));
    this.reservedConcurrency = props.reservedConcurrency;

    const asset = new TerraformAsset(this, "code", { path: bundleHandler(props.entry, props.assetFiles), type: AssetType.ARCHIVE });
    // kms_key_id references the key, so Terraform creates the key, with the policy that lets Logs use it, first.
    const logGroup = new CloudwatchLogGroup(this, "logs", { name: `/aws/lambda/${props.functionName}`, retentionInDays: props.logRetentionDays, kmsKeyId: props.logsKmsKeyArn });

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
      reservedConcurrentExecutions: props.reservedConcurrency === UNRESERVED ? undefined : props.reservedConcurrency,
      tracingConfig: { mode: "Active" },
      loggingConfig: { logFormat: "JSON", logGroup: logGroup.name, applicationLogLevel: "INFO", systemLogLevel: "WARN" },
      environment: { variables: props.variables },
      // The log group and the permissions exist before the first invocation.
      dependsOn: [logGroup, policy],
    });
    this.functionArn = this.fn.arn;
    this.invokeArn = this.fn.invokeArn;
    this.functionName = this.fn.functionName;
    this.roleArn = role.arn;
    this.logGroupName = logGroup.name;
  }

  /**
   * How Lambda treats this function's asynchronous (Event) invocations: how long an event may wait in Lambda's own
   * queue, how many times a failed one is retried, and the SQS queue a failed or expired one goes to. Lambda sends it
   * there with this function's role, which needs sqs:SendMessage on the queue (and the queue's key).
   */
  invokedAsynchronously(id: string, opts: { maximumEventAgeSeconds: number; maximumRetryAttempts: number; onFailureQueueArn: string }): LambdaFunctionEventInvokeConfig {
    enforce(id, rangeProblem(opts.maximumEventAgeSeconds, MAXIMUM_EVENT_AGE_SECONDS), "maximumEventAgeSeconds");
    enforce(id, rangeProblem(opts.maximumRetryAttempts, ASYNC_RETRY_ATTEMPTS), "maximumRetryAttempts");
    return new LambdaFunctionEventInvokeConfig(this, id, {
      functionName: this.fn.functionName,
      maximumEventAgeInSeconds: opts.maximumEventAgeSeconds,
      maximumRetryAttempts: opts.maximumRetryAttempts,
      destinationConfig: { onFailure: { destination: opts.onFailureQueueArn } },
    });
  }

  /**
   * Polls an SQS queue; with reportBatchItemFailures only the failed messages of a batch are retried.
   * A reserved function caps the poller at its reservation (scaling_config.maximum_concurrency): otherwise the poller
   * scales past it, throttled invocations still count as receives, and a burst dead-letters work nobody processed.
   */
  consumeQueue(id: string, opts: { queueArn: string; batchSize: number; reportBatchItemFailures: boolean }): LambdaEventSourceMapping {
    enforce(id, rangeProblem(opts.batchSize, SQS_BATCH_SIZE), "batchSize");
    const reserved = this.reservedConcurrency;
    const concurrency = queueConcurrencyProblem(reserved, "for a queue consumer");
    // Named by the config key that sets it, which the schema checks with the same rule.
    if (concurrency) throw new Error(`${id}: lambda.reserved_concurrency ${concurrency}, got ${reserved}`);
    return new LambdaEventSourceMapping(this, id, {
      functionName: this.fn.arn,
      eventSourceArn: opts.queueArn,
      batchSize: opts.batchSize,
      functionResponseTypes: opts.reportBatchItemFailures ? ["ReportBatchItemFailures"] : undefined,
      scalingConfig: reserved === UNRESERVED ? undefined : { maximumConcurrency: reserved },
    });
  }
}
