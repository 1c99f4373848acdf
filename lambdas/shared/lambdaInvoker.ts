/**
 * Lambda's Invoke with `InvocationType: "Event"`, the one call send-query makes on the async ingress. Lambda answers
 * 202 once the event is in its own queue; anything else is an error. The SDK reads the endpoint from
 * `AWS_ENDPOINT_URL_LAMBDA`, so the local stack points it at its async invoker (local/asyncInvoker.ts) by configuration.
 */
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@smithy/types";

/** The one operation the async ingress needs: queue an event for a function. */
export interface AsyncInvoker {
  /** Resolves once Lambda has accepted the event (HTTP 202); throws otherwise. */
  invokeEvent(functionName: string, payload: string): Promise<void>;
}

export interface LambdaInvokerOptions {
  /** Default: the SDK's (AWS_REGION). */
  region?: string;
  /** Default: the SDK's (AWS_ENDPOINT_URL_LAMBDA, AWS_ENDPOINT_URL, else Lambda's regional endpoint). */
  endpoint?: string;
  /** Default: the SDK's default chain (the execution role in Lambda). */
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** An attempt is aborted after this long (default 3000 ms). */
  timeoutMs?: number;
}

/** Raised when Lambda answered but did not queue the event. */
export class LambdaInvokeError extends Error {
  override readonly name = "LambdaInvokeError";
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export function createLambdaInvoker(options: LambdaInvokerOptions = {}, client = new LambdaClient({ region: options.region, endpoint: options.endpoint, credentials: options.credentials })): AsyncInvoker {
  return {
    async invokeEvent(functionName, payload) {
      const out = await client.send(new InvokeCommand({ FunctionName: functionName, InvocationType: "Event", Payload: Buffer.from(payload, "utf8") }), {
        abortSignal: AbortSignal.timeout(options.timeoutMs ?? 3000),
      });
      if (out.StatusCode !== 202) throw new LambdaInvokeError(`Lambda did not queue the event for ${functionName}: status ${out.StatusCode}`, out.StatusCode);
    },
  };
}
