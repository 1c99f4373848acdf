/**
 * The whole platform on one machine: dynalite, fauxqs (SNS/SQS with the deployed topology), the Bedrock stand-in,
 * the local issuer and AppSync gateway, and the REAL handlers from lambdas/, wired by environment variables only.
 * Config comes from environments/local.tfvars through the same schema as every deployed environment.
 * Used by `npm start` (local/start.ts) and by end-to-end tests.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "@cdktf/hcl2json";
import type { Context, SQSEvent } from "aws-lambda";
import { clientConfigSchema, type ClientConfig } from "../client/config";
import { ConfigError, ENVIRONMENTS_DIR, validateEnvironment } from "../config/load";
import { resourceNames } from "../config/names";
import { runtimeSettingsFor } from "../config/runtime";
import type { EnvironmentConfig } from "../config/schema";
import { DEFAULT_METRICS_NAMESPACE, observabilityVariables, runtimeVariables } from "../contracts/runtimeSettings";
import { buildWebConsole } from "../web/build";
import { startGateway, type LocalGateway } from "./appsync";
import { startBedrockStandIn, type BedrockStandIn } from "./bedrock";
import { startDynamo, type LocalDynamo } from "./dynamo";
import { startIssuer, type LocalIssuer } from "./issuer";
import { startMessaging, type LocalMessaging } from "./messaging";
import { createLambdaContext, startEventSourcePoller, type EventSourcePoller, type SqsHandler } from "./poller";

export const REPO_ROOT = path.resolve(__dirname, "..");
/** Where `npm start` writes the client config (read by `npm run chat`, `npm run token`, the web page, the bench). */
export const LOCAL_CLIENT_CONFIG_PATH = path.join(REPO_ROOT, "client-config.local.json");
const LOCAL_TFVARS = path.join(ENVIRONMENTS_DIR, "local.tfvars");

/** The one IAM identity of the local stack: the handlers sign publishResponse with it, the gateway accepts only it. Not a secret. */
export const LOCAL_CREDENTIALS = { accessKeyId: "AKIDLOCALSTACK", secretAccessKey: "local-stack-secret-not-a-real-key" } as const;

export interface LocalStackPorts {
  gateway?: number;
  issuer?: number;
  bedrock?: number;
  /** fauxqs: SNS and SQS on one port. */
  sqs?: number;
  dynamo?: number;
}

export interface LocalStackOptions {
  /** Deep-merged into environments/local.tfvars, then validated by the same schema (e.g. `{queue: {fifo: true}}`). */
  configOverrides?: object;
  /** 0 or absent = ephemeral port. Everything binds 127.0.0.1. */
  ports?: LocalStackPorts;
  /** Bedrock stand-in pacing; default 200 ms to the first token, 50 tokens/s. */
  bedrock?: { firstTokenMs?: number; tokensPerSecond?: number };
  /**
   * Failed work-queue records come back after this many seconds instead of the queue's visibility timeout (default 2).
   * The relay sets its own backoff on the outbound queue (ChangeMessageVisibility, as deployed), so this does not apply there.
   */
  retryDelaySeconds?: number;
  /** Path for the client config file; default client-config.local.json at the repo root; false = do not write. */
  writeClientConfig?: string | false;
  /** Concurrent stream-worker invocations (default 10; Lambda scales out on the work queue). */
  workerConcurrency?: number;
  /** Concurrent outbound-relay invocations (default 5). */
  relayConcurrency?: number;
}

export interface LocalStackEndpoints {
  /** The web console (GET / on the gateway). */
  webUrl: string;
  graphqlUrl: string;
  realtimeUrl: string;
  issuerUrl: string;
  bedrock: string;
  /** fauxqs, for SNS and SQS clients. */
  sqs: string;
  sns: string;
  dynamodb: string;
}

export interface LocalStack {
  config: EnvironmentConfig;
  clientConfig: ClientConfig;
  /** Where the client config was written, if it was. */
  clientConfigPath?: string;
  endpoints: LocalStackEndpoints;
  gateway: LocalGateway;
  issuer: LocalIssuer;
  bedrock: BedrockStandIn;
  messaging: LocalMessaging;
  dynamo: LocalDynamo;
  pollers: { work: EventSourcePoller; outbound: EventSourcePoller };
  /** Stops pollers (waiting for in-flight invocations), then every server; restores process.env. Idempotent. */
  stop(): Promise<void>;
}

type Json = { [key: string]: unknown };

function deepMerge(base: unknown, over: unknown): unknown {
  const isMap = (v: unknown): v is Json => v !== null && typeof v === "object" && !Array.isArray(v);
  if (!isMap(base) || !isMap(over)) return over;
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = v === undefined ? out[k] : deepMerge(out[k], v);
  return out;
}

/** environments/local.tfvars with overrides merged in before validation, so overrides get the same checks and defaults. */
export async function loadLocalConfig(overrides: object = {}): Promise<EnvironmentConfig> {
  const display = path.relative(process.cwd(), LOCAL_TFVARS) || LOCAL_TFVARS;
  let raw: unknown;
  try {
    raw = await parse(path.basename(LOCAL_TFVARS), readFileSync(LOCAL_TFVARS, "utf8"));
  } catch (e) {
    throw new ConfigError(display, [`is not valid HCL: ${(e as Error).message}`]);
  }
  return validateEnvironment(display, deepMerge(raw, overrides), "local");
}

type Handler<E = unknown, R = unknown> = (event: E, context: Context) => Promise<R>;
interface Handlers {
  sendQuery: Handler;
  streamWorker: SqsHandler;
  outboundRelay: SqsHandler;
}

const HANDLER_MODULES = {
  sendQuery: "../lambdas/send-query/handler",
  streamWorker: "../lambdas/stream-worker/handler",
  outboundRelay: "../lambdas/outbound-relay/handler",
} as const;
const LAMBDAS_DIR = path.join(REPO_ROOT, "lambdas") + path.sep;

/**
 * Loads the real handlers now, so their module-scope clients and settings see the environment just set. A second
 * stack in the same process must not reuse modules that captured the first one's ports: under jest a fresh module
 * registry, elsewhere the lambdas/ entries are dropped from require's cache.
 */
function loadHandlers(): Handlers {
  const load = (): Handlers => {
    const pick = (id: string): Handler => {
      const mod = require(id) as { handler?: Handler };
      if (typeof mod.handler !== "function") throw new Error(`${id} exports no handler`);
      return mod.handler;
    };
    return {
      sendQuery: pick(HANDLER_MODULES.sendQuery),
      streamWorker: pick(HANDLER_MODULES.streamWorker) as SqsHandler,
      outboundRelay: pick(HANDLER_MODULES.outboundRelay) as SqsHandler,
    };
  };
  if (typeof jest !== "undefined") {
    let handlers: Handlers | undefined;
    jest.isolateModules(() => {
      handlers = load();
    });
    return handlers!;
  }
  for (const key of Object.keys(require.cache)) if (key.startsWith(LAMBDAS_DIR)) delete require.cache[key];
  return load();
}

/** Sets variables, remembering what was there, so stop() can put process.env back. */
function applyEnvironment(vars: Record<string, string | undefined>): () => void {
  const previous: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(vars)) {
    previous[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  return () => {
    for (const [k, v] of Object.entries(previous)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}

export async function startLocalStack(opts: LocalStackOptions = {}): Promise<LocalStack> {
  const config = await loadLocalConfig(opts.configOverrides);
  const names = resourceNames(config);
  const ports = opts.ports ?? {};
  const cleanups: (() => Promise<void> | void)[] = [];
  const cleanup = async () => {
    for (const c of cleanups.splice(0).reverse()) {
      try {
        await c();
      } catch (e) {
        console.error("local stack: error while stopping", e);
      }
    }
  };

  try {
    const started = <T extends { close(): Promise<void> }>(service: T): T => {
      cleanups.push(() => service.close());
      return service;
    };
    // allSettled, so that whatever did start is stopped again when one service fails to start.
    const [dynamoR, messagingR, bedrockR, issuerR] = await Promise.allSettled([
      startDynamo(config, { port: ports.dynamo }).then(started),
      startMessaging(config, { port: ports.sqs }).then(started),
      startBedrockStandIn({ port: ports.bedrock, firstTokenMs: opts.bedrock?.firstTokenMs ?? 200, tokensPerSecond: opts.bedrock?.tokensPerSecond ?? 50 }).then(started),
      startIssuer({ port: ports.issuer }).then(started),
    ]);
    const failed = [dynamoR, messagingR, bedrockR, issuerR].find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
    const value = <T>(r: PromiseSettledResult<T>) => (r as PromiseFulfilledResult<T>).value;
    const [dynamo, messaging, bedrock, issuer] = [value(dynamoR), value(messagingR), value(bedrockR), value(issuerR)];

    // The gateway must exist before the handlers load (they read its URL); its data source calls them once they do.
    let handlers: Handlers | undefined;
    const accountId = config.account_id;
    const invoke = async (functionName: string, handler: Handler | undefined, payload: unknown) => {
      if (!handler) throw new Error("the local stack is still starting");
      return handler(payload, createLambdaContext({ functionName, region: config.region, accountId, timeoutMs: config.lambda.timeout_seconds * 1000, memoryLimitInMB: config.lambda.memory_mb }));
    };
    // The web console is bundled at start and served by the gateway at GET / (with client-config.json beside it).
    const webDir = mkdtempSync(path.join(os.tmpdir(), "web-console-"));
    cleanups.push(() => rmSync(webDir, { recursive: true, force: true }));
    await buildWebConsole(webDir);
    const gateway = started(
      await startGateway({
        staticDir: webDir,
        port: ports.gateway,
        region: config.region,
        credentials: { ...LOCAL_CREDENTIALS },
        issuer: { issuerUrl: issuer.issuerUrl, clientId: issuer.clientId },
        accountId,
        // The AppSync Lambda resolver payload ({arguments, identity, ...}) goes to the handler unchanged, as AppSync invokes it.
        lambdaDataSources: { sendQuery: (payload) => invoke(names.functions.sendQuery, handlers?.sendQuery, payload) },
      }),
    );

    const settings = runtimeSettingsFor(config, {
      appsyncEndpoint: gateway.graphqlUrl,
      inboundTopicArn: messaging.topics.inboundArn,
      outboundTopicArn: messaging.topics.outboundArn,
      idempotencyTableName: dynamo.tables.idempotency,
      historyTableName: dynamo.tables.history,
    });
    const keep = (name: string, fallback: string) => process.env[name] ?? fallback;
    const restoreEnv = applyEnvironment({
      AWS_REGION: config.region,
      AWS_DEFAULT_REGION: config.region,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      // A developer's own session or profile must not leak into local calls.
      AWS_SESSION_TOKEN: undefined,
      AWS_PROFILE: undefined,
      AWS_ENDPOINT_URL: undefined,
      AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: undefined,
      AWS_ENDPOINT_URL_SNS: messaging.endpoint,
      AWS_ENDPOINT_URL_SQS: messaging.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_BEDROCK_RUNTIME: bedrock.endpoint,
      ...runtimeVariables(settings),
      // Quiet by default; set POWERTOOLS_LOG_LEVEL=DEBUG before `npm start` to see the handlers' logs.
      POWERTOOLS_LOG_LEVEL: keep("POWERTOOLS_LOG_LEVEL", "WARN"),
      LOG_LEVEL: keep("LOG_LEVEL", "WARN"),
      ...observabilityVariables({ metricsNamespace: `${DEFAULT_METRICS_NAMESPACE}Local` }),
      POWERTOOLS_METRICS_DISABLED: "true",
      POWERTOOLS_TRACE_ENABLED: "false",
      POWERTOOLS_TRACER_CAPTURE_RESPONSE: "false",
      POWERTOOLS_TRACER_CAPTURE_HTTPS_REQUESTS: "false",
    });
    cleanups.unshift(restoreEnv); // runs last: servers and pollers stop first

    handlers = loadHandlers();
    const pollerCommon = {
      sqs: messaging.clients.sqs,
      region: config.region,
      timeoutMs: config.lambda.timeout_seconds * 1000,
      memoryLimitInMB: config.lambda.memory_mb,
    };
    // Batch sizes and ReportBatchItemFailures as the deployed event source mappings (modules/platformStack.ts).
    const work = startEventSourcePoller({
      ...pollerCommon,
      queueUrl: messaging.queues.work.url,
      queueArn: messaging.queues.work.arn,
      // Only the work queue: the worker has no backoff of its own, and SQS-level retries must fit in a local session.
      retryDelaySeconds: opts.retryDelaySeconds ?? 2,
      batchSize: 1,
      reportBatchItemFailures: true,
      concurrency: opts.workerConcurrency ?? 10,
      functionName: names.functions.streamWorker,
      handler: (event: SQSEvent, context: Context) => handlers!.streamWorker(event, context),
    });
    const outbound = startEventSourcePoller({
      ...pollerCommon,
      queueUrl: messaging.queues.outbound.url,
      queueArn: messaging.queues.outbound.arn,
      batchSize: 10,
      reportBatchItemFailures: true,
      concurrency: opts.relayConcurrency ?? 5,
      functionName: names.functions.outboundRelay,
      handler: (event: SQSEvent, context: Context) => handlers!.outboundRelay(event, context),
    });
    // Both at once: each may be in a long poll of up to a second.
    cleanups.push(async () => void (await Promise.all([work.stop(), outbound.stop()])));

    const clientConfig = clientConfigSchema.parse({
      environment: config.name,
      region: config.region,
      graphqlUrl: gateway.graphqlUrl,
      realtimeUrl: gateway.realtimeUrl,
      auth: { type: "local", issuerUrl: issuer.issuerUrl },
      models: { defaultModelId: config.models.default_model_id, allowedModelIds: config.models.allowed_model_ids },
    } satisfies ClientConfig);
    const clientConfigPath = opts.writeClientConfig === false ? undefined : path.resolve(opts.writeClientConfig ?? LOCAL_CLIENT_CONFIG_PATH);
    if (clientConfigPath) writeFileSync(clientConfigPath, `${JSON.stringify(clientConfig, null, 2)}\n`);
    writeFileSync(path.join(webDir, "client-config.json"), `${JSON.stringify(clientConfig, null, 2)}\n`);

    let stopping: Promise<void> | undefined;
    return {
      config,
      clientConfig,
      clientConfigPath,
      endpoints: {
        webUrl: new URL("/", gateway.graphqlUrl).toString(),
        graphqlUrl: gateway.graphqlUrl,
        realtimeUrl: gateway.realtimeUrl,
        issuerUrl: issuer.issuerUrl,
        bedrock: bedrock.endpoint,
        sqs: messaging.endpoint,
        sns: messaging.endpoint,
        dynamodb: dynamo.endpoint,
      },
      gateway,
      issuer,
      bedrock,
      messaging,
      dynamo,
      pollers: { work, outbound },
      stop: () => (stopping ??= cleanup()),
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
