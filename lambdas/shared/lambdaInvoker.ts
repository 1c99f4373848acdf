/**
 * Lambda's Invoke API with `X-Amz-Invocation-Type: Event`, the one call send-query makes on the async ingress: one
 * SigV4-signed POST, hand-rolled because the SDK's Lambda client is not among the project's dependencies and this is
 * all of it that is used. Lambda answers 202 once the event is in its own queue; anything else is an error.
 * The endpoint is the SDK's own variable (`AWS_ENDPOINT_URL_LAMBDA`, then `AWS_ENDPOINT_URL`), so the local stack
 * points it at its async invoker (local/asyncInvoker.ts) by configuration only.
 */
import { Sha256 } from "@aws-crypto/sha256-js";
import { defaultProvider } from "@aws-sdk/credential-provider-node";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@smithy/types";

/** The one operation the async ingress needs: queue an event for a function. */
export interface AsyncInvoker {
  /** Resolves once Lambda has accepted the event (HTTP 202); throws otherwise. */
  invokeEvent(functionName: string, payload: string): Promise<void>;
}

export interface LambdaInvokerOptions {
  /** Signing region and the default endpoint's region (default AWS_REGION). */
  region?: string;
  /** Default: AWS_ENDPOINT_URL_LAMBDA, AWS_ENDPOINT_URL, else https://lambda.<region>.amazonaws.com. */
  endpoint?: string;
  /** Default: the SDK's default chain (the execution role in Lambda). */
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** An attempt is aborted after this long (default 3000 ms). */
  timeoutMs?: number;
  /** Injected for tests. */
  fetch?: typeof fetch;
}

/** Raised when Lambda did not accept the event. */
export class LambdaInvokeError extends Error {
  override readonly name = "LambdaInvokeError";
  constructor(message: string, readonly status?: number) {
    super(message);
  }
}

export function createLambdaInvoker(options: LambdaInvokerOptions = {}): AsyncInvoker {
  const region = options.region ?? process.env.AWS_REGION;
  if (!region) throw new Error("createLambdaInvoker: set AWS_REGION or pass a region");
  const base = new URL(options.endpoint ?? process.env.AWS_ENDPOINT_URL_LAMBDA ?? process.env.AWS_ENDPOINT_URL ?? `https://lambda.${region}.amazonaws.com`);
  const signer = new SignatureV4({ service: "lambda", region, sha256: Sha256, credentials: options.credentials ?? defaultProvider() });
  const doFetch = options.fetch ?? fetch;
  return {
    async invokeEvent(functionName, payload) {
      const pathname = `${base.pathname.replace(/\/$/, "")}/2015-03-31/functions/${encodeURIComponent(functionName)}/invocations`;
      const request = new HttpRequest({
        method: "POST",
        protocol: base.protocol,
        hostname: base.hostname,
        port: base.port ? Number(base.port) : undefined,
        path: pathname,
        // The host header must carry the port for a local endpoint, or the signature will not match.
        headers: { host: base.host, "content-type": "application/json", "x-amz-invocation-type": "Event" },
        body: payload,
      });
      const signed = await signer.sign(request);
      const res = await doFetch(`${base.protocol}//${base.host}${pathname}`, {
        method: "POST",
        headers: signed.headers as Record<string, string>,
        body: payload,
        signal: AbortSignal.timeout(options.timeoutMs ?? 3000),
      });
      if (res.status !== 202) throw new LambdaInvokeError(`Lambda did not accept the event for ${functionName}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`, res.status);
      await res.body?.cancel();
    },
  };
}
