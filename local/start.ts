/**
 * `npm start`: runs the local stack until Ctrl-C (or SIGTERM), then stops everything and exits 0.
 * `--ready-json` prints exactly one JSON line on stdout once ready (for tests that spawn the stack as a child).
 * `--tls` serves https/wss with the local certificate (local/tls.ts), running itself again to trust it.
 */
import * as path from "node:path";
import { parseArgs } from "node:util";
import { resourceNames } from "../config/names";
import { LOCAL_CREDENTIALS } from "./credentials";
import { guardProcess } from "./processGuard";
import { startLocalStack, type LocalStack, type LocalStackOptions } from "./stack";
import { LOCAL_STACK_STATE_PATH, removeStackState, writeStackState } from "./stackState";
import { localCertificate, runAgainTrusting } from "./tls";

const USAGE = `Usage: npm start -- [options]

  --gateway-port <n>         AppSync gateway (GraphQL + real-time), default 4000
  --issuer-port <n>          local token issuer, default 4001
  --bedrock-port <n>         Bedrock stand-in, default ephemeral
  --sqs-port <n>             fauxqs (SNS + SQS), default ephemeral
  --dynamo-port <n>          dynalite, default ephemeral
  --websocket-port <n>       the WebSocket API stand-in (transports with "websocket"), default ephemeral
  --first-token-ms <n>       stand-in delay before the first token, default 200
  --tokens-per-second <n>    stand-in token rate, default 50 (0 = as fast as possible)
  --retry-delay-seconds <n>  failed work-queue records come back after n s instead of the visibility timeout, default 2 (the relay sets its own backoff)
  --config-overrides <json>  merged into environments/local.tfvars, then validated as any environment,
                             e.g. '{"queue":{"fifo":true}}' or '{"ingress":"async"}'
  --async-retry-delay-ms <n> ingress "async": Lambda's retries come after n ms x the retry number, not 1 and 2 minutes, default 1000
  --client-config <path>     where to write the client config, default client-config.local.json
  --no-client-config         do not write the client config file (nor the state file, unless --state-file is given)
  --state-file <path>        where to say how \`npm run usage -- local\` reaches this stack, default local/.state/stack.json
  --tls                      serve the gateway, web console and issuer over https/wss with a self-signed
                             certificate for 127.0.0.1 and localhost (.local-tls/cert.pem; trust it with
                             NODE_EXTRA_CA_CERTS=.local-tls/cert.pem in Node clients)
  --ready-json               print one JSON line with every endpoint when ready (nothing else on stdout)
  --exit-on-stdin-close      stop when stdin closes (a parent test process went away)
  -h, --help                 this text`;

/** The line printed by --ready-json. */
export interface ReadyLine {
  ready: true;
  pid: number;
  environment: string;
  region: string;
  endpoints: LocalStack["endpoints"];
  /** The fixed local IAM identity the gateway accepts for @aws_iam (not a secret). */
  credentials: { accessKeyId: string; secretAccessKey: string };
  topics: { inboundArn: string; outboundArn: string };
  queues: {
    work: { url: string; arn: string; dlqUrl: string; dlqArn: string };
    outbound: { url: string; arn: string; dlqUrl: string; dlqArn: string };
    /** The worker's on-failure destination; only with ingress = "async". */
    asyncFailures?: { url: string; arn: string };
  };
  /** The environment's ingress: "queue" or "async". */
  ingress: string;
  /** The functions' names (config/names.ts). */
  functions: { sendQuery: string; streamWorker: string; outboundRelay: string; messageControl: string };
  tables: { history: string; idempotency: string; messages: string; usage: string; connections?: string };
  /** The websocket transport's functions (config/names.ts); only with "websocket" in transports. */
  websocketFunctions?: { authorizer: string; routes: string };
  clientConfigPath: string | null;
  clientConfig: LocalStack["clientConfig"];
}

/** A TCP port flag: 0-65535 (0 = any free port); undefined when the flag is absent. */
function port(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--${name} must be a whole number between 0 and 65535, got ${value}`);
  return n;
}

/** A timing or count flag: a whole number of 0 or more; undefined when the flag is absent. */
function wholeNumber(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${name} must be a whole number of 0 or more, got ${value}`);
  return n;
}

/** The `npm start` flags as LocalStackOptions; throws an Error naming the flag when a value is wrong. */
export function parseStartArgs(argv: string[]): { options: LocalStackOptions; readyJson: boolean; exitOnStdinClose: boolean; help: boolean; stateFile?: string } {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      "gateway-port": { type: "string" },
      "issuer-port": { type: "string" },
      "bedrock-port": { type: "string" },
      "sqs-port": { type: "string" },
      "dynamo-port": { type: "string" },
      "websocket-port": { type: "string" },
      "first-token-ms": { type: "string" },
      "tokens-per-second": { type: "string" },
      "retry-delay-seconds": { type: "string" },
      "async-retry-delay-ms": { type: "string" },
      "config-overrides": { type: "string" },
      "client-config": { type: "string" },
      "no-client-config": { type: "boolean" },
      "state-file": { type: "string" },
      tls: { type: "boolean" },
      "ready-json": { type: "boolean" },
      "exit-on-stdin-close": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  let configOverrides: object | undefined;
  if (values["config-overrides"] !== undefined) {
    try {
      configOverrides = JSON.parse(values["config-overrides"]);
    } catch (e) {
      throw new Error(`--config-overrides must be JSON: ${(e as Error).message}`);
    }
  }
  return {
    options: {
      configOverrides,
      ports: {
        gateway: port("gateway-port", values["gateway-port"]) ?? 4000,
        issuer: port("issuer-port", values["issuer-port"]) ?? 4001,
        bedrock: port("bedrock-port", values["bedrock-port"]),
        sqs: port("sqs-port", values["sqs-port"]),
        dynamo: port("dynamo-port", values["dynamo-port"]),
        websocket: port("websocket-port", values["websocket-port"]),
      },
      bedrock: {
        firstTokenMs: wholeNumber("first-token-ms", values["first-token-ms"]),
        tokensPerSecond: wholeNumber("tokens-per-second", values["tokens-per-second"]),
      },
      retryDelaySeconds: wholeNumber("retry-delay-seconds", values["retry-delay-seconds"]),
      asyncRetryDelayMs: wholeNumber("async-retry-delay-ms", values["async-retry-delay-ms"]),
      writeClientConfig: values["no-client-config"] ? false : values["client-config"],
      tls: !!values.tls,
    },
    readyJson: !!values["ready-json"],
    exitOnStdinClose: !!values["exit-on-stdin-close"],
    help: !!values.help,
    // Beside the client config: a run that writes none (tests) leaves the developer's state file alone.
    stateFile: values["state-file"] ? path.resolve(values["state-file"]) : values["no-client-config"] ? undefined : LOCAL_STACK_STATE_PATH,
  };
}

/** What --ready-json prints: every endpoint, the local identity, the queues and tables of a running stack. */
export function readyLine(stack: LocalStack): ReadyLine {
  const q = (p: LocalStack["messaging"]["queues"]["work"]) => ({ url: p.url, arn: p.arn, dlqUrl: p.dlqUrl, dlqArn: p.dlqArn });
  return {
    ready: true,
    pid: process.pid,
    environment: stack.config.name,
    region: stack.config.region,
    endpoints: stack.endpoints,
    credentials: { ...LOCAL_CREDENTIALS },
    topics: stack.messaging.topics,
    queues: {
      work: q(stack.messaging.queues.work),
      outbound: q(stack.messaging.queues.outbound),
      ...(stack.messaging.asyncFailures ? { asyncFailures: { url: stack.messaging.asyncFailures.url, arn: stack.messaging.asyncFailures.arn } } : {}),
    },
    ingress: stack.config.ingress,
    functions: resourceNames(stack.config).functions,
    tables: stack.dynamo.tables,
    ...(stack.websocket ? { websocketFunctions: resourceNames(stack.config).websocketFunctions } : {}),
    clientConfigPath: stack.clientConfigPath ?? null,
    clientConfig: stack.clientConfig,
  };
}

function banner(stack: LocalStack): string {
  const e = stack.endpoints;
  const delivery = `${stack.config.direct_send ? "direct" : "queued"}, ingress: ${stack.config.ingress}`;
  return [
    "",
    `Local stack "${stack.config.name}" is running (127.0.0.1 only; default delivery: ${delivery}${stack.config.queue.fifo ? ", FIFO queues" : ""}).`,
    "",
    `  Web console     ${e.webUrl}`,
    `  GraphQL         ${e.graphqlUrl}`,
    `  Real-time       ${e.realtimeUrl}`,
    `  Token issuer    ${e.issuerUrl}`,
    ...(e.websocketUrl ? [`  WebSocket       ${e.websocketUrl}  (API Gateway stand-in; @connections at ${e.websocketManagement})`] : []),
    ...(stack.clientConfig.caCertificateFile ? [`  Certificate     ${stack.clientConfig.caCertificateFile}  (self-signed; trust it: NODE_EXTRA_CA_CERTS)`] : []),
    `  Bedrock         ${e.bedrock}  (stand-in)`,
    ...(e.lambda ? [`  Lambda (async)  ${e.lambda}  (invokes the worker as Lambda's async queue does)`] : []),
    ...(e.functionUrl ? [`  Function URL    ${e.functionUrl}  (stand-in: POST a question with a token, NDJSON streams back)`] : []),
    `  SNS/SQS         ${e.sqs}  (fauxqs)`,
    `  DynamoDB        ${e.dynamodb}  (dynalite)`,
    stack.clientConfigPath ? `  Client config   ${stack.clientConfigPath}` : "  Client config   (not written)",
    "",
    `Next, in another terminal:  npm run chat -- "hello"${e.websocketUrl ? "   (or --transport websocket)" : ""}   (usage so far: npm run usage -- local)`,
    "Ctrl-C stops everything.",
    "",
  ].join("\n");
}

async function main(argv: string[]): Promise<void> {
  // Node 20 is supported by this project (package.json engines); the SDK's notice about its own future would only add noise.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const args = parseStartArgs(argv);
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  // The stack's own handlers call the https gateway: the certificate must be trusted from the process's start.
  if (args.options.tls && runAgainTrusting((await localCertificate()).caFile)) return;
  guardProcess(); // an error in one connection is logged, and the stack keeps serving the others
  const stack = await startLocalStack(args.options);

  let stopping = false;
  const shutdown = (why: string) => {
    if (stopping) {
      process.stderr.write("Stopping forcefully.\n");
      process.exit(1);
    }
    stopping = true;
    if (!args.readyJson) process.stderr.write(`\n${why}: stopping the local stack...\n`);
    stack.stop().then(
      () => process.exit(0),
      (e: unknown) => {
        process.stderr.write(`error while stopping: ${e instanceof Error ? e.stack : String(e)}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  if (args.exitOnStdinClose) {
    process.stdin.on("end", () => shutdown("stdin closed"));
    process.stdin.resume();
  }

  if (args.stateFile) {
    const stateFile = args.stateFile;
    writeStackState(stateFile, { pid: process.pid, region: stack.config.region, dynamodbEndpoint: stack.endpoints.dynamodb, usageTable: stack.dynamo.tables.usage, credentials: { accessKeyId: LOCAL_CREDENTIALS.accessKeyId, secretAccessKey: LOCAL_CREDENTIALS.secretAccessKey } });
    process.on("exit", () => removeStackState(stateFile));
  }
  if (args.readyJson) process.stdout.write(`${JSON.stringify(readyLine(stack))}\n`);
  else process.stdout.write(banner(stack));
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    const busy = (err as NodeJS.ErrnoException)?.code === "EADDRINUSE" ? " (a port is taken: pick others with --gateway-port/--issuer-port, or 0 for any free port)" : "";
    process.stderr.write(`npm start failed: ${err instanceof Error ? err.message : String(err)}${busy}\n`);
    process.exit(1);
  });
}
