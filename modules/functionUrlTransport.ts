import { Construct } from "constructs";
import { DataResource } from "cdktf";
import { LambdaFunctionUrl } from "@cdktf/provider-aws/lib/lambda-function-url";
import { enforce, FUNCTION_URL_CONCURRENCY, rangeProblem } from "../config/rules";
import { BundledFunction, type BundledFunctionProps } from "./bundledFunction";

/**
 * The streaming function's own props (BundledFunctionProps: name, entry, memory, timeout, logs, variables, grants,
 * boundary, asset files), with `entry` a handler wrapped by `awslambda.streamifyResponse` and `reservedConcurrency`
 * 1-1000 (FUNCTION_URL_CONCURRENCY: at most this many requests run at once, an unauthenticated flood included), and the URL's.
 */
export interface FunctionUrlTransportProps extends BundledFunctionProps {
  /** Origins a browser may call the URL from (CORS): the token in the Authorization header authorizes, never a cookie. */
  readonly allowedOrigins: string[];
  /** The function's region, where the invoke permission is added. */
  readonly region: string;
}

/** The statement id the Lambda console gives the InvokeFunction half of a public function URL's permissions. */
export const INVOKE_VIA_URL_STATEMENT = "FunctionURLAllowInvokeAction";

/**
 * A Lambda Function URL streaming its function's response (invoke mode RESPONSE_STREAM), with no IAM auth on the URL:
 * the function verifies the caller's token before anything else, and its reserved concurrency caps what a flood of
 * unauthenticated requests can cost. CORS for the given origins, POST only.
 */
export class FunctionUrlTransport extends Construct {
  /** https://<id>.lambda-url.<region>.on.aws/ */
  public readonly functionUrl: string;
  public readonly functionArn: string;
  public readonly functionName: string;

  constructor(scope: Construct, id: string, props: FunctionUrlTransportProps) {
    super(scope, id);
    // Named by the config key that sets it, which the schema checks with the same rule.
    enforce(id, rangeProblem(props.reservedConcurrency, FUNCTION_URL_CONCURRENCY), "function_url.reserved_concurrency");
    const { allowedOrigins, region, ...functionProps } = props;
    const fn = new BundledFunction(this, "function", functionProps);
    const url = new LambdaFunctionUrl(this, "url", {
      functionName: fn.functionName,
      authorizationType: "NONE",
      invokeMode: "RESPONSE_STREAM",
      cors: { allowOrigins: allowedOrigins, allowMethods: ["POST"], allowHeaders: ["authorization", "content-type"], allowCredentials: false, maxAge: 3600 },
    });
    this.invokableThroughUrl(fn.functionName, region, url);
    this.functionUrl = url.functionUrl;
    this.functionArn = fn.functionArn;
    this.functionName = fn.functionName;
  }

  /**
   * A public URL needs two statements in the function's policy: hashicorp/aws 5.100's aws_lambda_function_url adds
   * lambda:InvokeFunctionUrl (condition lambda:FunctionUrlAuthType NONE) itself; URLs created since October 2025 also
   * need lambda:InvokeFunction conditioned on lambda:InvokedViaFunctionUrl, which its aws_lambda_permission cannot
   * express (invoked_via_function_url came in 6.x). Added after the URL with the AWS CLI, idempotently; with the
   * provider on 6.x this becomes an aws_lambda_permission with invoked_via_function_url = true.
   */
  private invokableThroughUrl(functionName: string, region: string, url: LambdaFunctionUrl): void {
    const cli = `aws lambda --region "$REGION"`;
    new DataResource(this, "invoke-via-url", {
      triggersReplace: [url.functionArn, url.urlId],
      dependsOn: [url],
      provisioners: [
        {
          type: "local-exec",
          command: [
            `${cli} remove-permission --function-name "$FUNCTION" --statement-id ${INVOKE_VIA_URL_STATEMENT} >/dev/null 2>&1 || true`,
            `${cli} add-permission --function-name "$FUNCTION" --statement-id ${INVOKE_VIA_URL_STATEMENT} --action lambda:InvokeFunction --principal '*' --invoked-via-function-url`,
          ].join(" && "),
          environment: { REGION: region, FUNCTION: functionName },
        },
      ],
    });
  }
}
