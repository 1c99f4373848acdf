/**
 * Publishes stream events to AppSync with the SigV4-signed `publishResponse` mutation (the worker's direct path and the
 * relay). Values travel only as GraphQL variables; a 200 carrying `errors` is a failure; transient failures are retried
 * with exponential backoff and full jitter, bounded in attempts and total time.
 */
import { Sha256 } from "@aws-crypto/sha256-js";
import { defaultProvider } from "@aws-sdk/credential-provider-node";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@smithy/types";
import { PUBLISH_RESPONSE_MUTATION } from "../../contracts/graphqlOperations";
import { toPublishVariables, type PublishVariables, type StreamEvent } from "../../contracts/streamEvents";
import type { EventPublisher, PublishOptions } from "./eventPublisher";
import { silentLogger, type RuntimeLogger } from "./telemetry";

export interface AppSyncPublisherOptions {
  /** The GraphQL endpoint, e.g. https://xxxx.appsync-api.us-east-1.amazonaws.com/graphql or http://127.0.0.1:4000/graphql. */
  endpoint: string;
  /** Signing region; defaults to the region in an AppSync host name, else AWS_REGION. */
  region?: string;
  /** Static credentials or a provider; defaults to the SDK's default chain (the execution role in Lambda). */
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Attempts per event, first one included (default 4). */
  maxAttempts?: number;
  /** First backoff cap in ms; doubles per retry (default 50). */
  baseDelayMs?: number;
  /** Largest backoff cap in ms (default 1000). */
  maxDelayMs?: number;
  /** No retry starts once this much time has passed since the first attempt (default 8000 ms). */
  totalTimeoutMs?: number;
  /** One HTTP attempt is aborted after this long (default 3000 ms). */
  attemptTimeoutMs?: number;
  /** Injected for tests. */
  fetch?: typeof fetch;
  random?: () => number;
  logger?: RuntimeLogger;
}

export interface GraphQLErrorShape {
  message?: string;
  errorType?: string;
}

/** Raised when an event could not be delivered; `retryable` tells whether a later attempt (e.g. via the queue) may work. */
export class AppSyncPublishError extends Error {
  override readonly name = "AppSyncPublishError";
  constructor(
    message: string,
    readonly attempts: number,
    readonly retryable: boolean,
    readonly status?: number,
    readonly graphqlErrors?: GraphQLErrorShape[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Waits `ms`, or less when `signal` fires first (a plain timer, so fake timers drive it too). */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

const APPSYNC_HOST = /\.appsync-api\.([a-z0-9-]+)\.amazonaws\.com$/;
const TRANSIENT_GRAPHQL = /throttl|rate exceeded|too many|timeout|timed out|unavailable|internal/i;

/** Region for signing: an AppSync host name carries it; custom domains and local endpoints use AWS_REGION. */
export function signingRegion(endpoint: string, fallback = process.env.AWS_REGION): string {
  const match = APPSYNC_HOST.exec(new URL(endpoint).hostname);
  const region = match?.[1] ?? fallback;
  if (!region) throw new Error(`Cannot tell the signing region of ${endpoint}: set AWS_REGION`);
  return region;
}

function stopReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason.message || reason.name : String(reason ?? "aborted");
}

/** How one attempt ended: delivered, or why not and whether another attempt may work. */
type Outcome = { ok: true } | { ok: false; retryable: boolean; reason: string; status?: number; errors?: GraphQLErrorShape[]; cause?: unknown };

/** The publisher's options with their defaults applied, and the signer built once. */
interface PublisherConfig {
  url: URL;
  signer: SignatureV4;
  fetch: typeof fetch;
  random: () => number;
  logger: RuntimeLogger;
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  totalTimeoutMs: number;
  attemptTimeoutMs: number;
}

/** A publisher for one AppSync endpoint; every event is sent as the `publishResponse` mutation's variables. */
export function createAppSyncPublisher(options: AppSyncPublisherOptions): EventPublisher {
  const config = resolveConfig(options);
  return {
    publish: (event: StreamEvent, publishOptions: PublishOptions = {}) => publishWithRetries(config, requestBody(toPublishVariables(event)), publishOptions),
  };
}

function resolveConfig(options: AppSyncPublisherOptions): PublisherConfig {
  return {
    url: new URL(options.endpoint),
    signer: new SignatureV4({
      service: "appsync",
      region: options.region ?? signingRegion(options.endpoint),
      credentials: options.credentials ?? defaultProvider(),
      sha256: Sha256,
    }),
    fetch: options.fetch ?? fetch,
    random: options.random ?? Math.random,
    logger: options.logger ?? silentLogger,
    maxAttempts: options.maxAttempts ?? 4,
    baseDelayMs: options.baseDelayMs ?? 50,
    maxDelayMs: options.maxDelayMs ?? 1000,
    totalTimeoutMs: options.totalTimeoutMs ?? 8000,
    attemptTimeoutMs: options.attemptTimeoutMs ?? 3000,
  };
}

/** The GraphQL request body: the mutation document, with every value in the variables. */
function requestBody(variables: PublishVariables): string {
  return JSON.stringify({ query: PUBLISH_RESPONSE_MUTATION, operationName: "PublishResponse", variables });
}

/**
 * Attempts until one succeeds, the failure is permanent, the attempts (the call's `maxAttempts` or fewer) or the
 * total time are used up, or `signal` fires; waits a full-jitter exponential backoff between attempts.
 */
async function publishWithRetries(config: PublisherConfig, body: string, options: PublishOptions): Promise<void> {
  const { signal } = options;
  const attemptsAllowed = Math.max(1, Math.min(config.maxAttempts, options.maxAttempts ?? config.maxAttempts));
  const started = Date.now();
  for (let n = 1; ; n++) {
    if (signal?.aborted) throw new AppSyncPublishError(`publishResponse stopped before attempt ${n}: ${stopReason(signal)}`, n - 1, true);
    const outcome = await attemptOnce(config, body, signal);
    if (outcome.ok) return;
    const delay = config.random() * Math.min(config.maxDelayMs, config.baseDelayMs * 2 ** (n - 1));
    const outOfTime = Date.now() - started + delay > config.totalTimeoutMs;
    if (signal?.aborted) outcome.reason = `stopped (${stopReason(signal)}) after ${outcome.reason}`;
    if (!outcome.retryable || n >= attemptsAllowed || outOfTime || signal?.aborted) {
      throw new AppSyncPublishError(`publishResponse failed after ${n} attempt(s): ${outcome.reason}`, n, outcome.retryable, outcome.status, outcome.errors, { cause: outcome.cause });
    }
    config.logger.debug("publishResponse attempt failed; retrying", { attempt: n, reason: outcome.reason, delayMs: Math.round(delay) });
    await pause(delay, signal);
  }
}

/** One signed POST, cancelled after `attemptTimeoutMs` or when `stop` fires; a network failure is a retryable outcome. */
async function attemptOnce(config: PublisherConfig, body: string, stop?: AbortSignal): Promise<Outcome> {
  const headers = await signedHeaders(config, body);
  const timeout = AbortSignal.timeout(config.attemptTimeoutMs);
  let response: Response;
  try {
    response = await config.fetch(config.url, { method: "POST", headers, body, signal: stop ? AbortSignal.any([timeout, stop]) : timeout });
  } catch (cause) {
    return { ok: false, retryable: true, reason: `network error: ${(cause as Error).message}`, cause };
  }
  return classifyResponse(response.status, await response.text().catch(() => ""));
}

/** SigV4 headers (service appsync) for one POST of `body`; each attempt is signed afresh. */
async function signedHeaders({ url, signer }: PublisherConfig, body: string): Promise<Record<string, string>> {
  const request = new HttpRequest({
    method: "POST",
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    path: url.pathname,
    // `url.host` keeps a non-default port: the signature covers it and a local gateway verifies it.
    headers: { "content-type": "application/json", accept: "application/json", host: url.host },
    body,
  });
  return (await signer.sign(request)).headers as Record<string, string>;
}

/** What an AppSync answer means: 429/5xx and transient GraphQL `errors` may work later; other 4xx and errors do not. */
function classifyResponse(status: number, text: string): Outcome {
  if (status === 429 || status >= 500) return { ok: false, retryable: true, reason: `HTTP ${status}`, status };
  if (status < 200 || status >= 300) return { ok: false, retryable: false, reason: `HTTP ${status}: ${text.slice(0, 200)}`, status };
  let parsed: { errors?: GraphQLErrorShape[] };
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    // A 2xx that is not JSON comes from something in between (proxy, gateway hiccup): worth another try.
    return { ok: false, retryable: true, reason: "response is not JSON", status, cause };
  }
  if (!Array.isArray(parsed.errors) || parsed.errors.length === 0) return { ok: true };
  const errors = parsed.errors.map((e) => ({ message: e.message, errorType: e.errorType }));
  const retryable = errors.some((e) => TRANSIENT_GRAPHQL.test(`${e.errorType ?? ""} ${e.message ?? ""}`));
  const summary = errors.map((e) => `${e.errorType ?? "Error"}: ${e.message ?? ""}`).join("; ");
  return { ok: false, retryable, reason: `GraphQL errors: ${summary}`, status, errors };
}
