/**
 * The whole platform on one machine: dynalite, fauxqs (SNS/SQS with the deployed topology), the Bedrock stand-in,
 * the local issuer and AppSync gateway, the Function URL stand-in (with "function_url" in transports), the WebSocket API
 * stand-in (with "websocket"), and the REAL handlers
 * from lambdas/, wired by environment variables only.
 * Config comes from environments/local.tfvars through the same schema as every deployed environment.
 * Used by `npm start` (local/start.ts) and by end-to-end tests.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Context } from "aws-lambda";
import { clientConfigSchema, type ClientConfig } from "../client/config";
import { resourceNames } from "../config/names";
import { clientBatchingFor, functionUrlSettingsFor, runtimeSettingsFor, toolSpecsFor } from "../config/runtime";
import type { EnvironmentConfig } from "../config/schema";
import { DEFAULT_METRICS_NAMESPACE, functionUrlVariables, observabilityVariables, runtimeVariables, tokenVariables, websocketVariables, type RuntimeSettings } from "../contracts/runtimeSettings";
import { TOOL_SPEC_FILE_NAME } from "../contracts/toolSpecs";
import { buildWebConsole } from "../web/build";
import { startGateway, type LocalGateway } from "./appsync";
import { startAsyncInvoker, type LocalAsyncInvoker } from "./asyncInvoker";
import { startBedrockStandIn, type BedrockStandIn } from "./bedrock";
import { LOCAL_CLIENT_CONFIG_PATH } from "./clientConfigPath";
import { LOCAL_CREDENTIALS } from "./credentials";
import { startDynamo, type LocalDynamo } from "./dynamo";
import { startIssuer, type LocalIssuer } from "./issuer";
import { loadLocalConfig } from "./localConfig";
import { startMessaging, type LocalMessaging } from "./messaging";
import { createLambdaContext, startEventSourcePoller, type EventSourcePoller, type SqsHandler } from "./poller";
import { localCertificate, type LocalCertificate } from "./tls";
import { installLambdaStreamingGlobals, isStreamingHandler, startFunctionUrl, type LocalFunctionUrl, type StreamingHandler } from "./functionUrl";
import { startWebsocketApi, type LocalWebsocketApi, type WebsocketFunctions } from "./websocket";

export { loadLocalConfig } from "./localConfig";
export { LOCAL_CLIENT_CONFIG_PATH } from "./clientConfigPath";

/** The repository's root folder. */
export const REPO_ROOT = path.resolve(__dirname, "..");

/** Fixed ports for the servers of the stack. */
export interface LocalStackPorts {
  gateway?: number;
  issuer?: number;
  bedrock?: number;
  /** fauxqs: SNS and SQS on one port. */
  sqs?: number;
  dynamo?: number;
  /** The WebSocket API stand-in (websocket transport only). */
  websocket?: number;
  /** The Function URL stand-in (with "function_url" in transports). */
  functionUrl?: number;
}

/** How startLocalStack starts the stack; every field is optional. */
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
  /** Concurrent stream-worker invocations (default 10; Lambda scales out on the work queue), on either ingress. */
  workerConcurrency?: number;
  /** The async ingress: Lambda's retries come after this many ms x the retry number (Lambda: about 60 s, then 120 s); default 1000. */
  asyncRetryDelayMs?: number;
  /** Concurrent outbound-relay invocations (default 5). */
  relayConcurrency?: number;
  /**
   * Runs the loading of the handler modules in a fresh module registry, so a second stack in one process does not
   * reuse modules that captured the first one's ports. Under jest pass `jest.isolateModules`; by default the
   * lambdas/ entries are dropped from require's cache first.
   */
  isolateModules?: (load: () => void) => void;
  /**
   * Serve the gateway (GraphQL, real-time, web console) and the issuer over https/wss with the local certificate
   * (local/tls.ts). The handlers and the gateway's JWKS fetch then call them over TLS, so this process must have
   * started with NODE_EXTRA_CA_CERTS naming the certificate (`npm start -- --tls` runs itself again so).
   */
  tls?: boolean;
  /** Wraps each handler once it is loaded (the bench's CPU meter); default: the handlers as they are. */
  instrument?: (name: HandlerName, handler: Handler) => Handler;
}

/** Where each part of a running stack listens (all on 127.0.0.1). */
export interface LocalStackEndpoints {
  /** The web console (GET / on the gateway). */
  webUrl: string;
  graphqlUrl: string;
  realtimeUrl: string;
  issuerUrl: string;
  bedrock: string;
  /** The async ingress's Lambda Invoke API (local/asyncInvoker.ts); absent on the queued ingress. */
  lambda?: string;
  /** fauxqs, for SNS and SQS clients. */
  sqs: string;
  sns: string;
  dynamodb: string;
  /** The Function URL stand-in (local/functionUrl); only with "function_url" in transports. */
  functionUrl?: string;
  /** The websocket transport only: what clients connect to, and the @connections endpoint the worker posts to. */
  websocketUrl?: string;
  websocketManagement?: string;
}

/** A running local stack: its config, its servers and pollers, and stop(). */
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
  /** The async ingress's invoker of the worker; absent on the queued ingress. */
  asyncInvoker?: LocalAsyncInvoker;
  /** The WebSocket API stand-in; only with "websocket" in transports. */
  websocket?: LocalWebsocketApi;
  /** The Function URL stand-in running the url-stream handler; only with "function_url" in transports. */
  functionUrl?: LocalFunctionUrl;
  /** Stops pollers (waiting for in-flight invocations), then every server; restores process.env. Idempotent. */
  stop(): Promise<void>;
}

/** Stops one started part of the stack. */
type Stop = () => Promise<void> | void;
/** What a starter started, with the one function that stops it again. */
type Started<T> = T & { stop: Stop };

/** Stop functions in start order. stopAll() runs them newest first, once each, logging a failure and going on. */
class StopList {
  private readonly stops: Stop[] = [];

  /** Stopped before everything added so far. */
  add(stop: Stop): void {
    this.stops.push(stop);
  }

  /** Stopped after everything else, whenever it was added. */
  addFinal(stop: Stop): void {
    this.stops.unshift(stop);
  }

  async stopAll(): Promise<void> {
    for (const stop of this.stops.splice(0).reverse()) {
      try {
        await stop();
      } catch (e) {
        console.error("local stack: error while stopping", e);
      }
    }
  }
}

/** The stand-ins for the AWS services the handlers call, and the issuer the gateway trusts. */
interface BackingServices {
  dynamo: LocalDynamo;
  messaging: LocalMessaging;
  bedrock: BedrockStandIn;
  issuer: LocalIssuer;
}

/** Starts dynalite, fauxqs, the Bedrock stand-in and the issuer at once; when one fails, the others are stopped again. */
async function startBackingServices(config: EnvironmentConfig, opts: LocalStackOptions, tls: LocalCertificate | undefined): Promise<Started<BackingServices>> {
  const ports = opts.ports ?? {};
  const pacing = { firstTokenMs: opts.bedrock?.firstTokenMs ?? 200, tokensPerSecond: opts.bedrock?.tokensPerSecond ?? 50 };
  // allSettled, so that whatever did start is stopped again when one service fails to start.
  const settled = await Promise.allSettled([
    startDynamo(config, { port: ports.dynamo }),
    startMessaging(config, { port: ports.sqs }),
    startBedrockStandIn({ port: ports.bedrock, ...pacing }),
    startIssuer({ port: ports.issuer, tls }),
  ]);
  const stops = new StopList();
  for (const result of settled) if (result.status === "fulfilled") stops.add(() => result.value.close());
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) {
    await stops.stopAll();
    throw failed.reason;
  }
  const value = <T>(r: PromiseSettledResult<T>) => (r as PromiseFulfilledResult<T>).value;
  const [dynamo, messaging, bedrock, issuer] = settled;
  return { dynamo: value(dynamo), messaging: value(messaging), bedrock: value(bedrock), issuer: value(issuer), stop: () => stops.stopAll() };
}

/** A Lambda handler as lambdas/ exports it. */
export type Handler<E = unknown, R = unknown> = (event: E, context: Context) => Promise<R>;
/** The functions of the stack. */
export type HandlerName = keyof Handlers;
/** The real handlers of the functions, as lambdas/ exports them. */
interface Handlers {
  sendQuery: Handler;
  messageControl: Handler;
  streamWorker: SqsHandler;
  outboundRelay: SqsHandler;
  /** Only with "websocket" in transports. */
  websocketAuthorizer?: Handler;
  websocketRoutes?: Handler;
}

/** The functions AppSync invokes as data sources (graphql/api.ts `lambda:<name>`). */
const RESOLVER_FUNCTIONS = ["sendQuery", "messageControl"] as const;
type ResolverFunction = (typeof RESOLVER_FUNCTIONS)[number];

/** A context shaped like the one Lambda gives `functionName`, with the environment's timeout and memory. */
function lambdaContext(config: EnvironmentConfig, functionName: string): Context {
  return createLambdaContext({
    functionName,
    region: config.region,
    accountId: config.account_id,
    timeoutMs: config.lambda.timeout_seconds * 1000,
    memoryLimitInMB: config.lambda.memory_mb,
  });
}

/** The web console, bundled into a temporary folder, and the gateway that serves it next to GraphQL and real-time. */
interface WebConsoleAndGateway {
  gateway: LocalGateway;
  /** Served at GET /; the client config is written here too. */
  webDir: string;
}

/** Where the gateway listens: a fixed or ephemeral port, and the certificate when it serves https/wss. */
interface GatewayListen {
  port?: number;
  tls?: LocalCertificate;
}

/**
 * Bundles the web console and starts the gateway. `handlerOf` gives a resolver function's handler once it is loaded:
 * the handlers load after the gateway (they read its URL), and until then the data sources refuse calls.
 */
async function startWebConsoleAndGateway(
  config: EnvironmentConfig,
  issuer: LocalIssuer,
  listen: GatewayListen,
  handlerOf: (name: ResolverFunction) => Handler | undefined,
): Promise<Started<WebConsoleAndGateway>> {
  const webDir = mkdtempSync(path.join(os.tmpdir(), "web-console-"));
  const removeWebDir = () => rmSync(webDir, { recursive: true, force: true });
  try {
    await buildWebConsole(webDir);
    const gateway = await startGateway({
      staticDir: webDir,
      port: listen.port,
      tls: listen.tls,
      region: config.region,
      credentials: { ...LOCAL_CREDENTIALS },
      issuer: { issuerUrl: issuer.issuerUrl, clientId: issuer.clientId },
      accountId: config.account_id,
      lambdaDataSources: resolverDataSources(config, handlerOf),
    });
    const stop = async () => {
      try {
        await gateway.close();
      } finally {
        removeWebDir();
      }
    };
    return { gateway, webDir, stop };
  } catch (e) {
    removeWebDir();
    throw e;
  }
}

/** The AppSync Lambda resolver payload ({arguments, identity, ...}) goes to the handler unchanged, as AppSync invokes it. */
function resolverDataSources(config: EnvironmentConfig, handlerOf: (name: ResolverFunction) => Handler | undefined): Record<ResolverFunction, (payload: unknown) => Promise<unknown>> {
  const names = resourceNames(config).functions;
  const invoke = (name: ResolverFunction) => async (payload: unknown) => {
    const handler = handlerOf(name);
    if (!handler) throw new Error("the local stack is still starting");
    return handler(payload, lambdaContext(config, names[name]));
  };
  return { sendQuery: invoke("sendQuery"), messageControl: invoke("messageControl") };
}

/** Sets variables, remembering what was there; returns the function that puts process.env back. */
function setProcessEnv(vars: Record<string, string | undefined>): () => void {
  const previous: Record<string, string | undefined> = {};
  const assign = (k: string, v: string | undefined) => {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  };
  for (const [k, v] of Object.entries(vars)) {
    previous[k] = process.env[k];
    assign(k, v);
  }
  return () => {
    for (const [k, v] of Object.entries(previous)) assign(k, v);
  };
}

/**
 * The transports' own variables: the websocket stand-in's @connections endpoint and the connections table, and whose
 * tokens $connect accepts; the Function URL function's, trusting the local issuer as the deployed one trusts the pool.
 */
function transportVariables(config: EnvironmentConfig, settings: RuntimeSettings, { dynamo, issuer }: BackingServices, websocket: LocalWebsocketApi | undefined): Record<string, string> {
  const trusted = { jwtIssuer: issuer.issuerUrl, jwtClientId: issuer.clientId };
  return {
    ...(websocket && dynamo.tables.connections
      ? { ...websocketVariables({ websocketEndpoint: websocket.managementEndpoint, connectionsTableName: dynamo.tables.connections }), ...tokenVariables(trusted) }
      : {}),
    ...(hasFunctionUrl(config) ? functionUrlVariables(settings, functionUrlSettingsFor(config, { issuerUrl: issuer.issuerUrl, clientId: issuer.clientId })) : {}),
  };
}

/** The worker's tool spec file, as the stacks put it beside the bundle, in a folder of its own (none without tools). */
function writeToolSpecs(config: EnvironmentConfig): { file?: string; remove(): void } {
  const specs = toolSpecsFor(config);
  if (!specs) return { remove: () => undefined };
  const dir = mkdtempSync(path.join(os.tmpdir(), "local-tools-"));
  const file = path.join(dir, TOOL_SPEC_FILE_NAME);
  writeFileSync(file, JSON.stringify(specs));
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Points the handlers at the local services through the same variables the deployed functions get, plus the SDK's
 * endpoint and credential variables. Returns the function that restores process.env (and removes the tool specs).
 */
function applyRuntimeVariables(config: EnvironmentConfig, services: BackingServices, gateway: LocalGateway, lambdaEndpoint: string | undefined, websocket: LocalWebsocketApi | undefined): () => void {
  const { messaging, dynamo, bedrock } = services;
  const tools = writeToolSpecs(config);
  const settings = runtimeSettingsFor(config, {
    appsyncEndpoint: gateway.graphqlUrl,
    inboundTopicArn: messaging.topics.inboundArn,
    outboundTopicArn: messaging.topics.outboundArn,
    idempotencyTableName: dynamo.tables.idempotency,
    historyTableName: dynamo.tables.history,
    messagesTableName: dynamo.tables.messages,
    usageTableName: dynamo.tables.usage,
    toolsFile: tools.file,
  });
  const keep = (name: string, fallback: string) => process.env[name] ?? fallback;
  const restore = setProcessEnv({
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
    // The async ingress: send-query's Invoke calls reach the local async invoker.
    AWS_ENDPOINT_URL_LAMBDA: lambdaEndpoint,
    ...runtimeVariables(settings),
    ...transportVariables(config, settings, services, websocket),
    // Quiet by default; set POWERTOOLS_LOG_LEVEL=DEBUG before `npm start` to see the handlers' logs.
    POWERTOOLS_LOG_LEVEL: keep("POWERTOOLS_LOG_LEVEL", "WARN"),
    LOG_LEVEL: keep("LOG_LEVEL", "WARN"),
    ...observabilityVariables({ metricsNamespace: `${DEFAULT_METRICS_NAMESPACE}Local` }),
    POWERTOOLS_METRICS_DISABLED: "true",
    POWERTOOLS_TRACE_ENABLED: "false",
    POWERTOOLS_TRACER_CAPTURE_RESPONSE: "false",
    POWERTOOLS_TRACER_CAPTURE_HTTPS_REQUESTS: "false",
  });
  return () => {
    restore();
    tools.remove();
  };
}

const HANDLER_MODULES = {
  sendQuery: "../lambdas/send-query/handler",
  messageControl: "../lambdas/message-control/handler",
  streamWorker: "../lambdas/stream-worker/handler",
  outboundRelay: "../lambdas/outbound-relay/handler",
  websocketAuthorizer: "../lambdas/websocket-authorizer/handler",
  websocketRoutes: "../lambdas/websocket-routes/handler",
} as const;
const LAMBDAS_DIR = path.join(REPO_ROOT, "lambdas") + path.sep;

/** The default for LocalStackOptions.isolateModules: drops the lambdas/ entries from require's cache, then loads. */
function withFreshLambdaModules(load: () => void): void {
  for (const key of Object.keys(require.cache)) if (key.startsWith(LAMBDAS_DIR)) delete require.cache[key];
  load();
}

/** The Function URL's streaming handler, loaded only with "function_url" in transports. */
const URL_STREAM_MODULE = "../lambdas/url-stream/handler";

/** Whether the environment lists the Function URL transport. */
const hasFunctionUrl = (config: EnvironmentConfig) => config.transports.includes("function_url");

/**
 * Loads the real handlers now, so their module-scope clients and settings see the variables just set: the websocket
 * ones only with that transport; with `urlStream`, also the Function URL's streaming handler (the runtime's streaming
 * globals installed first).
 */
function loadHandlers(isolateModules: (load: () => void) => void, websocket: boolean, urlStream: boolean): { handlers: Handlers; urlStream?: StreamingHandler } {
  const pick = (id: string): Handler => {
    const mod = require(id) as { handler?: Handler };
    if (typeof mod.handler !== "function") throw new Error(`${id} exports no handler`);
    return mod.handler;
  };
  let loaded: { handlers: Handlers; urlStream?: StreamingHandler } | undefined;
  if (urlStream) installLambdaStreamingGlobals();
  isolateModules(() => {
    const handlers: Handlers = {
      sendQuery: pick(HANDLER_MODULES.sendQuery),
      messageControl: pick(HANDLER_MODULES.messageControl),
      streamWorker: pick(HANDLER_MODULES.streamWorker) as SqsHandler,
      outboundRelay: pick(HANDLER_MODULES.outboundRelay) as SqsHandler,
      ...(websocket ? { websocketAuthorizer: pick(HANDLER_MODULES.websocketAuthorizer), websocketRoutes: pick(HANDLER_MODULES.websocketRoutes) } : {}),
    };
    const streaming = urlStream ? pick(URL_STREAM_MODULE) : undefined;
    if (streaming && !isStreamingHandler(streaming)) throw new Error(`${URL_STREAM_MODULE} is not wrapped by awslambda.streamifyResponse`);
    loaded = { handlers, urlStream: streaming as StreamingHandler | undefined };
  });
  if (!loaded) throw new Error("isolateModules did not run the handler loader");
  return loaded;
}

/**
 * The Function URL stand-in (local/functionUrl), at function_url.reserved_concurrency, running the url-stream handler
 * once it is loaded (it loads after the server starts, as the other handlers after the gateway).
 */
function startFunctionUrlStandIn(config: EnvironmentConfig, opts: LocalStackOptions, tls: LocalCertificate | undefined, handlerOf: () => StreamingHandler | undefined): Promise<LocalFunctionUrl> {
  return startFunctionUrl({
    handler: handlerOf,
    contextFor: () => lambdaContext(config, resourceNames(config).urlStreamFunction),
    reservedConcurrency: config.function_url.reserved_concurrency,
    port: opts.ports?.functionUrl,
    tls,
  });
}

/** The handlers, each wrapped by `instrument` when one is given. */
function instrumented(handlers: Handlers, instrument: LocalStackOptions["instrument"]): Handlers {
  if (!instrument) return handlers;
  const wrap = <H extends Handler>(name: HandlerName, h: H) => instrument(name, h) as H;
  return {
    sendQuery: wrap("sendQuery", handlers.sendQuery),
    messageControl: wrap("messageControl", handlers.messageControl),
    streamWorker: wrap("streamWorker", handlers.streamWorker as Handler) as SqsHandler,
    outboundRelay: wrap("outboundRelay", handlers.outboundRelay as Handler) as SqsHandler,
    ...(handlers.websocketAuthorizer ? { websocketAuthorizer: wrap("websocketAuthorizer", handlers.websocketAuthorizer) } : {}),
    ...(handlers.websocketRoutes ? { websocketRoutes: wrap("websocketRoutes", handlers.websocketRoutes) } : {}),
  };
}

/**
 * The websocket transport's API Gateway stand-in (local/websocket/): listens before the handlers load (they read its
 * @connections endpoint); until then an upgrade gets a 503. The stage is the environment's name, as deployed.
 */
function startWebsocketTransport(config: EnvironmentConfig, tls: LocalCertificate | undefined, port: number | undefined, handlersOf: () => Handlers | undefined): Promise<LocalWebsocketApi> {
  const names = resourceNames(config).websocketFunctions;
  const functions = (): WebsocketFunctions | undefined => {
    const h = handlersOf();
    return h?.websocketAuthorizer && h.websocketRoutes ? { authorizer: h.websocketAuthorizer, routes: h.websocketRoutes } : undefined;
  };
  return startWebsocketApi({
    region: config.region,
    accountId: config.account_id,
    stage: config.name,
    credentials: { ...LOCAL_CREDENTIALS },
    functions,
    contextFor: (fn) => lambdaContext(config, fn === "authorizer" ? names.authorizer : names.routes),
    port,
    tls: tls && { key: tls.key, cert: tls.cert },
  });
}

/**
 * The event source mappings: the work queue drives the stream worker, the outbound queue the relay, with the batch
 * sizes and ReportBatchItemFailures of the deployed mappings (modules/platformStack.ts). On the async ingress the
 * deployed stack has no mapping on the work queue; the poller here still runs, idle, since nothing publishes to it.
 */
function startPollers(config: EnvironmentConfig, messaging: LocalMessaging, handlers: Handlers, opts: LocalStackOptions): Started<LocalStack["pollers"]> {
  const names = resourceNames(config);
  const common = { sqs: messaging.clients.sqs, region: config.region, timeoutMs: config.lambda.timeout_seconds * 1000, memoryLimitInMB: config.lambda.memory_mb };
  const work = startEventSourcePoller({
    ...common,
    queueUrl: messaging.queues.work.url,
    queueArn: messaging.queues.work.arn,
    // Only the work queue: the worker has no backoff of its own, and SQS-level retries must fit in a local session.
    retryDelaySeconds: opts.retryDelaySeconds ?? 2,
    batchSize: 1,
    reportBatchItemFailures: true,
    concurrency: opts.workerConcurrency ?? 10,
    functionName: names.functions.streamWorker,
    handler: handlers.streamWorker,
  });
  const outbound = startEventSourcePoller({
    ...common,
    queueUrl: messaging.queues.outbound.url,
    queueArn: messaging.queues.outbound.arn,
    batchSize: 10,
    reportBatchItemFailures: true,
    concurrency: opts.relayConcurrency ?? 5,
    functionName: names.functions.outboundRelay,
    handler: handlers.outboundRelay,
  });
  // Both at once: each may be in a long poll of up to a second.
  return { work, outbound, stop: async () => void (await Promise.all([work.stop(), outbound.stop()])) };
}

/**
 * The async ingress: send-query's Event invocations of the worker, run as Lambda runs them (local/asyncInvoker.ts),
 * with the event invoke config of the deployed stack. The server starts before the handlers load (they read its URL);
 * until then an invocation is refused.
 */
async function startWorkerInvoker(config: EnvironmentConfig, messaging: LocalMessaging, handlerOf: () => SqsHandler | undefined, opts: LocalStackOptions): Promise<LocalAsyncInvoker> {
  const names = resourceNames(config);
  if (!messaging.asyncFailures) throw new Error("the async ingress needs its on-failure queue");
  return startAsyncInvoker({
    functionName: names.functions.streamWorker,
    functionArn: `arn:aws:lambda:${config.region}:${config.account_id}:function:${names.functions.streamWorker}`,
    handler: (event, context) => {
      const handler = handlerOf();
      if (!handler) throw new Error("the local stack is still starting");
      return handler(event as never, context);
    },
    contextFor: () => lambdaContext(config, names.functions.streamWorker),
    timeoutMs: config.lambda.timeout_seconds * 1000,
    maximumRetryAttempts: config.async_ingress.maximum_retry_attempts,
    maximumEventAgeSeconds: config.async_ingress.maximum_event_age_seconds,
    retryDelayMs: opts.asyncRetryDelayMs,
    concurrency: opts.workerConcurrency ?? 10,
    sqs: messaging.clients.sqs,
    onFailureQueueUrl: messaging.asyncFailures.url,
  });
}

/** Writes the client config where `target` says (LocalStackOptions.writeClientConfig) and beside the web console. */
function writeClientConfig(
  config: EnvironmentConfig,
  issuer: LocalIssuer,
  front: WebConsoleAndGateway,
  target: string | false | undefined,
  caCertificateFile: string | undefined,
  websocket: LocalWebsocketApi | undefined,
  functionUrl: string | undefined,
): Pick<LocalStack, "clientConfig" | "clientConfigPath"> {
  const clientConfig = clientConfigSchema.parse({
    environment: config.name,
    region: config.region,
    graphqlUrl: front.gateway.graphqlUrl,
    realtimeUrl: front.gateway.realtimeUrl,
    auth: { type: "local", issuerUrl: issuer.issuerUrl },
    models: { defaultModelId: config.models.default_model_id, allowedModelIds: config.models.allowed_model_ids },
    batching: clientBatchingFor(config),
    caCertificateFile,
    websocketUrl: websocket?.url,
    functionUrl,
  } satisfies ClientConfig);
  const text = `${JSON.stringify(clientConfig, null, 2)}\n`;
  const clientConfigPath = target === false ? undefined : path.resolve(target ?? LOCAL_CLIENT_CONFIG_PATH);
  if (clientConfigPath) writeFileSync(clientConfigPath, text);
  writeFileSync(path.join(front.webDir, "client-config.json"), text);
  return { clientConfig, clientConfigPath };
}

/** Every URL of the stack, as printed by `npm start` and its --ready-json line. */
function endpointsOf(services: BackingServices, gateway: LocalGateway): LocalStackEndpoints {
  return {
    webUrl: new URL("/", gateway.graphqlUrl).toString(),
    graphqlUrl: gateway.graphqlUrl,
    realtimeUrl: gateway.realtimeUrl,
    issuerUrl: services.issuer.issuerUrl,
    bedrock: services.bedrock.endpoint,
    sqs: services.messaging.endpoint,
    sns: services.messaging.endpoint,
    dynamodb: services.dynamo.endpoint,
  };
}

/**
 * Starts the local stack: the backing services, then the web console and gateway, the handlers' variables, the
 * handlers, their pollers and the client config. Whatever started is stopped again, newest first, on stop() or
 * when a later step fails.
 */
export async function startLocalStack(opts: LocalStackOptions = {}): Promise<LocalStack> {
  const config = await loadLocalConfig(opts.configOverrides);
  const tls = opts.tls ? await localCertificate() : undefined;
  const stops = new StopList();
  try {
    const services = await startBackingServices(config, opts, tls);
    stops.add(services.stop);
    // The gateway's Lambda data sources call the handlers once loadHandlers has run.
    let handlers: Handlers | undefined;
    const front = await startWebConsoleAndGateway(config, services.issuer, { port: opts.ports?.gateway, tls }, (name) => handlers?.[name]);
    stops.add(front.stop);
    const asyncInvoker = config.ingress === "async" ? await startWorkerInvoker(config, services.messaging, () => handlers?.streamWorker, opts) : undefined;
    if (asyncInvoker) stops.add(() => asyncInvoker.close());
    const websocket = config.transports.includes("websocket") ? await startWebsocketTransport(config, tls, opts.ports?.websocket, () => handlers) : undefined;
    if (websocket) stops.add(() => websocket.close());
    // Restored last: in-flight invocations still read process.env while pollers and servers stop.
    let urlStream: StreamingHandler | undefined;
    const functionUrl = hasFunctionUrl(config) ? await startFunctionUrlStandIn(config, opts, tls, () => urlStream) : undefined;
    if (functionUrl) stops.add(() => functionUrl.close());
    stops.addFinal(applyRuntimeVariables(config, services, front.gateway, asyncInvoker?.endpoint, websocket));
    const loaded = loadHandlers(opts.isolateModules ?? withFreshLambdaModules, !!websocket, functionUrl !== undefined);
    handlers = instrumented(loaded.handlers, opts.instrument);
    urlStream = loaded.urlStream;
    const pollers = startPollers(config, services.messaging, handlers, opts);
    stops.add(pollers.stop);
    const client = writeClientConfig(config, services.issuer, front, opts.writeClientConfig, tls?.caFile, websocket, functionUrl?.url);

    let stopping: Promise<void> | undefined;
    const { dynamo, messaging, bedrock, issuer } = services;
    return {
      config,
      ...client,
      endpoints: {
        ...endpointsOf(services, front.gateway),
        ...(asyncInvoker ? { lambda: asyncInvoker.endpoint } : {}),
        ...(websocket ? { websocketUrl: websocket.url, websocketManagement: websocket.managementEndpoint } : {}),
        ...(functionUrl ? { functionUrl: functionUrl.url } : {}),
      },
      asyncInvoker,
      websocket,
      functionUrl,
      gateway: front.gateway,
      issuer,
      bedrock,
      messaging,
      dynamo,
      pollers: { work: pollers.work, outbound: pollers.outbound },
      stop: () => (stopping ??= stops.stopAll()),
    };
  } catch (e) {
    await stops.stopAll();
    throw e;
  }
}
