/**
 * Lambda's Invoke, the two ways the platform calls a function: `InvocationType: "Event"`, the one call send-query makes
 * on the async ingress (Lambda answers 202 once the event is in its own queue; anything else is an error), and
 * `RequestResponse`, the worker's synchronous call of a tool Lambda, with a timeout (the function's own error comes
 * back as a ToolInvocationError). The SDK reads the endpoint from `AWS_ENDPOINT_URL_LAMBDA`, so the local stack points
 * it at its async invoker (local/asyncInvoker.ts) by configuration.
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

/** The worker's one operation on a tool Lambda: invoke it and wait for its answer. */
export interface SyncInvoker {
  /**
   * Invokes `functionName` (a name or ARN) and resolves with its response payload (UTF-8). Rejects with a
   * LambdaInvokeError when the function failed (FunctionError), and with the SDK's error or the abort otherwise.
   */
  invokeRequestResponse(functionName: string, payload: string, options: { timeoutMs: number; signal?: AbortSignal }): Promise<string>;
}

/** Raised when Lambda answered but did not queue the event, or (RequestResponse) the function itself failed. */
export class LambdaInvokeError extends Error {
  override readonly name = "LambdaInvokeError";
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export function createLambdaInvoker(options: LambdaInvokerOptions = {}, client = new LambdaClient({ region: options.region, endpoint: options.endpoint, credentials: options.credentials })): AsyncInvoker & SyncInvoker {
  return {
    async invokeRequestResponse(functionName, payload, { timeoutMs, signal }) {
      const abortSignal = signal ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
      const out = await client.send(new InvokeCommand({ FunctionName: functionName, InvocationType: "RequestResponse", Payload: Buffer.from(payload, "utf8") }), { abortSignal });
      const body = out.Payload ? Buffer.from(out.Payload).toString("utf8") : "";
      if (out.FunctionError) throw new LambdaInvokeError(functionErrorText(body, out.FunctionError), out.StatusCode);
      return body;
    },
    async invokeEvent(functionName, payload) {
      const out = await client.send(new InvokeCommand({ FunctionName: functionName, InvocationType: "Event", Payload: Buffer.from(payload, "utf8") }), {
        abortSignal: AbortSignal.timeout(options.timeoutMs ?? 3000),
      });
      if (out.StatusCode !== 202) throw new LambdaInvokeError(`Lambda did not queue the event for ${functionName}: status ${out.StatusCode}`, out.StatusCode);
    },
  };
}

/** A failed function's answer, `{errorType, errorMessage}`, as one line: what the model is told went wrong. */
function functionErrorText(body: string, kind: string): string {
  try {
    const parsed = JSON.parse(body) as { errorType?: unknown; errorMessage?: unknown };
    if (typeof parsed.errorMessage === "string") return `${typeof parsed.errorType === "string" ? `${parsed.errorType}: ` : ""}${parsed.errorMessage}`;
  } catch {
    // Not Lambda's JSON error shape: the raw text, below.
  }
  return body ? `${kind}: ${body}` : kind;
}
