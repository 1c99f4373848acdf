/**
 * `npm run chat -- "prompt" [--user alice] [--direct|--queued] [--model id] [--session id] [--config file] [--timeout s]`
 * One question, one streamed answer, against the local stack (`npm start`) or a deployed environment (its client config
 * file). Subscribes first (waits for start_ack), then sends `sendQuery`; prints the answer on stdout as it arrives,
 * in order (MessageAssembler), and a summary on stderr; tool notices and the reasoning go to stderr as they stream
 * (chatActivity.ts). A dropped connection, a gap or silence resumes the answer from
 * the durable record (client/sessionStream.ts). Exit 0 on a final answer; 1 on an error event, a GraphQL error, an
 * unreachable answer or the timeout; 2 on a usage mistake.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { MessageAssembler } from "../client/assembler";
import { parseClientConfig, type ClientConfig } from "../client/config";
import { graphqlRequest } from "../client/graphql";
import type { WebSocketConstructor } from "../client/realtime";
import { SessionStream, type TrackedMessage } from "../client/sessionStream";
import { ID_PATTERN } from "../contracts/ids";
import { GUARDRAIL_INTERVENED_REASON } from "../contracts/messageState";
import { SEND_QUERY_MUTATION } from "../contracts/graphqlOperations";
import { requestToken } from "./issuer/tokenCli";
import { LOCAL_CLIENT_CONFIG_PATH } from "./clientConfigPath";
import { AgentActivityPrinter } from "./chatActivity";

const DEFAULT_TIMEOUT_S = 120;

export const USAGE = `Usage: npm run chat -- "prompt" [options]

  --user <name>       local stack: the test user to sign in as (default alice)
  --direct            deliver straight from the worker to AppSync (environments with client_delivery_choice)
  --queued            deliver through the outbound topic and queue
  --model <id>        one of the environment's allowed model ids (default: the environment's default)
  --session <id>      continue a session (8-64 letters, digits, - or _); default: a new session
  --config <file>     client config file (default client-config.local.json, written by npm start)
  --timeout <s>       give up after this many seconds (default ${DEFAULT_TIMEOUT_S})
  -h, --help          this text

Deployed (Cognito) environments: set ID_TOKEN to a user's Cognito ID token (e.g. sign in on the web console).`;

export interface ChatArgs {
  prompt: string;
  user: string;
  delivery?: "DIRECT" | "QUEUED";
  modelId?: string;
  sessionId?: string;
  configPath: string;
  timeoutMs: number;
}

/** A mistake in how the CLI was called (exit 2), as opposed to a failed answer (exit 1). */
export class UsageError extends Error {}
/** A failure worth one clear line to the user, without a stack trace. */
export class ChatError extends Error {}

export function parseChatArgs(argv: string[]): ChatArgs | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        user: { type: "string" },
        direct: { type: "boolean" },
        queued: { type: "boolean" },
        model: { type: "string" },
        session: { type: "string" },
        config: { type: "string" },
        timeout: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return "help";
  const prompt = positionals.join(" ");
  if (!prompt.trim()) throw new UsageError("a prompt is required");
  if (values.direct && values.queued) throw new UsageError("choose one of --direct and --queued");
  if (values.session !== undefined && !ID_PATTERN.test(values.session)) throw new UsageError("--session must be 8-64 letters, digits, '-' or '_'");
  const timeoutS = values.timeout === undefined ? DEFAULT_TIMEOUT_S : Number(values.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0 || timeoutS > 3600) throw new UsageError("--timeout must be a number of seconds in (0, 3600]");
  return {
    prompt,
    user: values.user ?? "alice",
    delivery: values.direct ? "DIRECT" : values.queued ? "QUEUED" : undefined,
    modelId: values.model,
    sessionId: values.session,
    configPath: path.resolve(values.config ?? LOCAL_CLIENT_CONFIG_PATH),
    timeoutMs: Math.round(timeoutS * 1000),
  };
}

export function readClientConfig(file: string): ClientConfig {
  let raw: string;
  try {
    raw = readFileSync(file, "utf8");
  } catch {
    throw new ChatError(`${file} not found: start the local stack first (npm start), or pass --config <client-config.json> of a deployed environment`);
  }
  try {
    return parseClientConfig(raw);
  } catch (e) {
    throw new ChatError(`${file} is not a valid client config: ${(e as Error).message}`);
  }
}

/** A Cognito-shaped ID token: the local issuer's for local stacks, ID_TOKEN for deployed (Cognito) ones. */
export async function tokenFor(config: ClientConfig, user: string, env: NodeJS.ProcessEnv): Promise<string> {
  if (config.auth.type === "local") {
    try {
      return await requestToken(config.auth.issuerUrl, user);
    } catch (e) {
      throw new ChatError(`could not get a token from the local issuer at ${config.auth.issuerUrl} (is npm start running?): ${(e as Error).message}`);
    }
  }
  const token = env.ID_TOKEN?.trim();
  if (!token) {
    throw new ChatError(
      `environment "${config.environment}" signs in with Cognito (user pool ${config.auth.userPoolId}). ` +
        `Set ID_TOKEN to the ID token of a user in that pool (sign in on the web console and copy it), then run again: ` +
        `ID_TOKEN=... npm run chat -- "your prompt"`,
    );
  }
  return token;
}

export interface ChatResult {
  sessionId: string;
  messageId: string;
  text: string;
  /** Milliseconds from sending to the first chunk; undefined when no chunk arrived. */
  timeToFirstTokenMs?: number;
  /** Output tokens (from usage) per second of streaming (first chunk to final event). */
  tokensPerSecond?: number;
  outputTokens?: number;
  chunks: number;
  /** The last chunk came inside the final event (envelope version 2). */
  tailInFinal: boolean;
  duplicates: number;
  missing: number;
  path: string;
  /** The environment's batching mode, when its client config says. */
  batching?: string;
}

interface Output {
  write(s: string): unknown;
}

function formatSummary(r: ChatResult): string {
  const ms = (n: number | undefined) => (n === undefined ? "n/a" : `${Math.round(n)} ms`);
  const rate = r.tokensPerSecond === undefined ? "n/a" : `${r.tokensPerSecond.toFixed(1)} (${r.outputTokens} output tokens)`;
  return [
    "",
    "---",
    `time to first token  ${ms(r.timeToFirstTokenMs)}`,
    `tokens per second    ${rate}`,
    `chunks               ${r.chunks}${r.tailInFinal ? " (the last inside the final event)" : ""}${r.missing ? ` (${r.missing} never arrived; the final text filled them in)` : ""}${r.duplicates ? ` (${r.duplicates} duplicates dropped)` : ""}`,
    `path                 ${r.path}`,
    ...(r.batching ? [`batching             ${r.batching}`] : []),
    `session              ${r.sessionId}  message ${r.messageId}`,
    "",
  ].join("\n");
}

/** The answer as it streams: reassembled in order (MessageAssembler), printed as it grows, resumed by SessionStream. */
class StreamedAnswer {
  private printed = "";

  constructor(
    readonly tracked: TrackedMessage,
    private readonly out: Output,
  ) {}

  get assembler(): MessageAssembler {
    return this.tracked.assembler;
  }

  /** Ends the printed answer with a newline; throws a ChatError when the answer failed or could not be reached. */
  end(): void {
    const e = this.assembler.error;
    if (e || this.tracked.failure) {
      if (this.printed) this.out.write("\n");
      throw new ChatError(e ? `the answer failed: ${e.message} (code ${e.code}${e.retryable ? ", retryable: try again" : ""})` : this.tracked.failure!);
    }
    if (!this.printed.endsWith("\n")) this.out.write("\n");
  }

  /** Prints what the text grew by since last time. */
  show(): void {
    const text = this.assembler.text;
    if (text === this.printed) return;
    if (text.startsWith(this.printed)) {
      this.out.write(text.slice(this.printed.length));
    } else if (this.assembler.final?.stopReason === GUARDRAIL_INTERVENED_REASON) {
      // A terminal cannot take printed text back; say plainly that it is withdrawn.
      this.out.write(`\n[the content policy stopped this answer; disregard the text above. It is replaced by:]\n${text}`);
    } else {
      // Only when gaps were reconciled differently by the final text: show the exact answer once more.
      this.out.write(`\n[the streamed text had gaps; the exact answer follows]\n${text}`);
    }
    this.printed = text;
  }
}

/**
 * Opens the session's stream (resolves on start_ack): it reconnects and resumes from the durable record on its own;
 * `onChange` runs on every change of a message, and the CLI says on stderr when it reconnects.
 */
async function openSession(config: ClientConfig, token: string, sessionId: string, stderr: Output, onChange: () => void): Promise<SessionStream> {
  try {
    return await SessionStream.open({
      realtimeUrl: config.realtimeUrl,
      graphqlUrl: config.graphqlUrl,
      sessionId,
      token: async () => token,
      WebSocketImpl: WebSocket as unknown as WebSocketConstructor,
      request: graphqlRequest,
      now: () => performance.now(),
      onChange,
      onConnection: (state) => void stderr.write(state === "reconnecting" ? "\n[connection lost; reconnecting]\n" : state === "live" ? "[reconnected; resuming]\n" : ""),
    });
  } catch (e) {
    throw new ChatError(`could not subscribe at ${config.realtimeUrl}: ${(e as Error).message}`);
  }
}

/** Sends the question with sendQuery; throws a ChatError when the API cannot be reached or refuses it. */
async function sendQuestion(config: ClientConfig, token: string, input: Record<string, unknown>, timeoutMs: number): Promise<void> {
  let response;
  try {
    response = await graphqlRequest<{ sendQuery: { sessionId: string; messageId: string } }>(
      config.graphqlUrl,
      SEND_QUERY_MUTATION,
      { input },
      { authorization: token },
      { timeoutMs },
    );
  } catch (e) {
    throw new ChatError(`could not reach ${config.graphqlUrl}: ${(e as Error).message}`);
  }
  if (response.errors) {
    const first = response.errors[0];
    throw new ChatError(`sendQuery was refused: ${first.errorType ? `${first.errorType}: ` : ""}${first.message}`);
  }
}

/** Waits for `promise`, or rejects with a ChatError saying `message` after `ms`. */
async function within(promise: Promise<void>, ms: number, message: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ChatError(message)), ms);
  });
  try {
    await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The figures of a finished answer, timed from `sentAt`. */
function resultOf(args: ChatArgs, config: ClientConfig, sessionId: string, assembler: MessageAssembler, sentAt: number): ChatResult {
  const final = assembler.final!;
  const first = assembler.firstChunkAt;
  const streamingMs = first !== undefined && assembler.finishedAt !== undefined ? assembler.finishedAt - first : 0;
  return {
    sessionId,
    messageId: assembler.messageId,
    text: assembler.text,
    timeToFirstTokenMs: first === undefined ? undefined : first - sentAt,
    tokensPerSecond: streamingMs > 0 ? final.usage.outputTokens / (streamingMs / 1000) : undefined,
    outputTokens: final.usage.outputTokens,
    chunks: assembler.chunkCount,
    tailInFinal: assembler.arrivals.some((a) => a.inFinal),
    duplicates: assembler.duplicateCount,
    missing: assembler.missingSequenceNumbers.length,
    path: args.delivery ? `${args.delivery.toLowerCase()} (requested)` : "the environment's default (its direct_send setting)",
    batching: config.batching?.mode,
  };
}

/** Runs one chat turn; resolves with the result or rejects with a ChatError. Prints the answer to `out` as it arrives. */
export async function chat(args: ChatArgs, io: { stdout: Output; stderr: Output; env: NodeJS.ProcessEnv }): Promise<ChatResult> {
  const config = readClientConfig(args.configPath);
  const token = await tokenFor(config, args.user, io.env);
  const sessionId = args.sessionId ?? `cli-${randomUUID()}`;
  // Chosen here, so events can be matched to this question even before sendQuery's answer arrives.
  const messageId = randomUUID();
  const deadline = performance.now() + args.timeoutMs;
  const timeLeft = () => Math.max(1, Math.ceil(deadline - performance.now()));

  let answer: StreamedAnswer | undefined;
  const activity = new AgentActivityPrinter(io.stderr);
  const onChange = () => {
    if (answer) activity.show(answer.assembler);
    answer?.show();
  };
  const stream = await openSession(config, token, sessionId, io.stderr, onChange);
  answer = new StreamedAnswer(stream.track(messageId), io.stdout);
  try {
    const sentAt = performance.now();
    const input: Record<string, unknown> = { sessionId, messageId, prompt: args.prompt };
    if (args.modelId) input.modelId = args.modelId;
    if (args.delivery) input.delivery = args.delivery;
    await sendQuestion(config, token, input, Math.min(30_000, timeLeft()));
    await within(answer.tracked.ended.then(() => undefined), timeLeft(), `no complete answer within ${args.timeoutMs / 1000} s`);
    activity.finish();
    answer.end();
    return resultOf(args, config, sessionId, answer.assembler, sentAt);
  } finally {
    stream.close();
  }
}

export async function main(argv: string[], io = { stdout: process.stdout as Output, stderr: process.stderr as Output, env: process.env }): Promise<number> {
  let args;
  try {
    args = parseChatArgs(argv);
  } catch (e) {
    io.stderr.write(`${(e as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (args === "help") {
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }
  try {
    const result = await chat(args, io);
    io.stderr.write(formatSummary(result));
    return 0;
  } catch (e) {
    io.stderr.write(`chat: ${e instanceof ChatError ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 1;
  }
}

if (require.main === module) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  process.on("SIGINT", () => process.exit(130));
  // exitCode, not exit(): stdout may still be draining into a pipe.
  void main(process.argv.slice(2)).then((code) => (process.exitCode = code));
}
