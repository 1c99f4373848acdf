/**
 * `npm run chat -- "prompt" [--user alice] [--transport appsync|function-url|websocket] [--direct|--queued] [--model id]
 * [--session id] [--config file] [--timeout s]`
 * One question, one streamed answer, against the local stack (`npm start`) or a deployed environment (its client config
 * file). AppSync (the default): subscribes first (waits for start_ack), then sends `sendQuery`; a dropped connection, a
 * gap or silence resumes the answer from the durable record (client/sessionStream.ts). Function URL: POSTs the question
 * and reads the NDJSON answer from the response (client/functionUrlStream.ts). WebSocket: opens the API Gateway
 * WebSocket (client/websocketStream.ts) and sends `sendQuery` on it; a connection that drops before the end is
 * followed by replaying the record (`message`). Prints the answer on stdout as it arrives, in order
 * (MessageAssembler), and a summary on stderr; tool notices and the reasoning go to stderr as they stream
 * (chatActivity.ts), whatever the transport. Exit 0 on a final answer; 1 on an error event, a refused query, an
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
import { FunctionUrlError, streamFromFunctionUrl } from "../client/functionUrlStream";
import { WebsocketStream } from "../client/websocketStream";
import { ID_PATTERN } from "../contracts/ids";
import { GUARDRAIL_INTERVENED_REASON } from "../contracts/messageState";
import { MESSAGE_QUERY, SEND_QUERY_MUTATION } from "../contracts/graphqlOperations";
import { ENDED_STATUSES, type MessageState } from "../contracts/messageState";
import { parseEvent } from "../contracts/streamEvents";
import { requestToken } from "./issuer/tokenCli";
import { LOCAL_CLIENT_CONFIG_PATH } from "./clientConfigPath";
import { AgentActivityPrinter } from "./chatActivity";

const DEFAULT_TIMEOUT_S = 120;

export const USAGE = `Usage: npm run chat -- "prompt" [options]

  --user <name>       local stack: the test user to sign in as (default alice)
  --transport <t>     appsync (default: subscription + mutation), function-url (POST, the answer streams back as
                      NDJSON; environments with "function_url" in transports: client config functionUrl) or
                      websocket (the API Gateway WebSocket of environments with "websocket": client config websocketUrl)
  --direct            AppSync: deliver straight from the worker to AppSync (environments with client_delivery_choice)
  --queued            AppSync: deliver through the outbound topic and queue
  --model <id>        one of the environment's allowed model ids (default: the environment's default)
  --session <id>      continue a session (8-64 letters, digits, - or _); default: a new session
  --config <file>     client config file (default client-config.local.json, written by npm start)
  --timeout <s>       give up after this many seconds (default ${DEFAULT_TIMEOUT_S})
  -h, --help          this text

Deployed (Cognito) environments: set ID_TOKEN to a user's Cognito ID token (e.g. sign in on the web console).`;

/** How the answer travels (`--transport`); the values are the flag's. */
export const CHAT_TRANSPORTS = ["appsync", "function-url", "websocket"] as const;
export type ChatTransport = (typeof CHAT_TRANSPORTS)[number];

export interface ChatArgs {
  prompt: string;
  user: string;
  transport: ChatTransport;
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
        transport: { type: "string" },
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
  const transport = (values.transport ?? "appsync") as ChatTransport;
  if (!CHAT_TRANSPORTS.includes(transport)) throw new UsageError(`--transport must be one of ${CHAT_TRANSPORTS.join(", ")}, got ${values.transport}`);
  if (transport !== "appsync" && (values.direct || values.queued)) throw new UsageError("--direct and --queued choose an AppSync path; they go with --transport appsync only");
  if (values.session !== undefined && !ID_PATTERN.test(values.session)) throw new UsageError("--session must be 8-64 letters, digits, '-' or '_'");
  const timeoutS = values.timeout === undefined ? DEFAULT_TIMEOUT_S : Number(values.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0 || timeoutS > 3600) throw new UsageError("--timeout must be a number of seconds in (0, 3600]");
  return {
    prompt,
    user: values.user ?? "alice",
    transport,
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
    readonly tracked: Pick<TrackedMessage, "assembler" | "failure">,
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

/** Runs one chat turn over the chosen transport; resolves with the result or rejects with a ChatError. Prints the answer to `out` as it arrives. */
export async function chat(args: ChatArgs, io: { stdout: Output; stderr: Output; env: NodeJS.ProcessEnv }): Promise<ChatResult> {
  const config = readClientConfig(args.configPath);
  const token = await tokenFor(config, args.user, io.env);
  const turn: Turn = {
    sessionId: args.sessionId ?? `cli-${randomUUID()}`,
    // Chosen here, so events can be matched to this question even before sendQuery's answer arrives.
    messageId: randomUUID(),
    deadline: performance.now() + args.timeoutMs,
  };
  switch (args.transport) {
    case "websocket":
      return chatOverWebsocket(args, config, token, turn, io);
    case "function-url":
      return chatOverFunctionUrl(args, config, token, turn, io);
    default:
      return chatOverAppSync(args, config, token, turn, io);
  }
}

/** One turn's ids and deadline. */
interface Turn {
  sessionId: string;
  messageId: string;
  /** performance.now() by which the answer must be complete. */
  deadline: number;
}

const timeLeft = (turn: Turn) => Math.max(1, Math.ceil(turn.deadline - performance.now()));

/** AppSync: subscribe (start_ack), then the sendQuery mutation; SessionStream resumes from the record. */
async function chatOverAppSync(args: ChatArgs, config: ClientConfig, token: string, turn: Turn, io: { stdout: Output; stderr: Output }): Promise<ChatResult> {
  let answer: StreamedAnswer | undefined;
  const activity = new AgentActivityPrinter(io.stderr);
  const onChange = () => {
    if (answer) activity.show(answer.assembler);
    answer?.show();
  };
  const stream = await openSession(config, token, turn.sessionId, io.stderr, onChange);
  const tracked = stream.track(turn.messageId);
  answer = new StreamedAnswer(tracked, io.stdout);
  try {
    const sentAt = performance.now();
    const input: Record<string, unknown> = { sessionId: turn.sessionId, messageId: turn.messageId, prompt: args.prompt };
    if (args.modelId) input.modelId = args.modelId;
    if (args.delivery) input.delivery = args.delivery;
    await sendQuestion(config, token, input, Math.min(30_000, timeLeft(turn)));
    await within(tracked.ended.then(() => undefined), timeLeft(turn), `no complete answer within ${args.timeoutMs / 1000} s`);
    activity.finish();
    answer.end();
    return resultOf(args, config, turn.sessionId, answer.assembler, sentAt);
  } finally {
    stream.close();
  }
}

/** The Function URL: POST the question, print the NDJSON answer as it arrives on the response. */
async function chatOverFunctionUrl(args: ChatArgs, config: ClientConfig, token: string, turn: Turn, io: { stdout: Output; stderr: Output }): Promise<ChatResult> {
  if (!config.functionUrl) throw new ChatError(`environment "${config.environment}" has no functionUrl in its client config: its transports do not include "function_url"`);
  const input = { sessionId: turn.sessionId, messageId: turn.messageId, prompt: args.prompt, ...(args.modelId ? { modelId: args.modelId } : {}) };
  const answer = new StreamedAnswer({ assembler: new MessageAssembler(turn.messageId, { now: () => performance.now() }) }, io.stdout);
  const activity = new AgentActivityPrinter(io.stderr);
  const timeout = AbortSignal.timeout(timeLeft(turn));
  const sentAt = performance.now();
  try {
    for await (const event of streamFromFunctionUrl(config.functionUrl, token, input, { signal: timeout })) {
      answer.assembler.accept(event);
      activity.show(answer.assembler);
      answer.show();
    }
    activity.finish();
  } catch (e) {
    if (e instanceof FunctionUrlError) throw new ChatError(`the Function URL refused the question: ${e.type}: ${e.message}`);
    if (timeout.aborted) throw new ChatError(`no complete answer within ${args.timeoutMs / 1000} s`);
    throw new ChatError(`could not read the answer from ${config.functionUrl}: ${(e as Error).message}`);
  }
  answer.end();
  if (!answer.assembler.final) throw new ChatError("the Function URL's answer ended before its final event");
  return { ...resultOf(args, config, turn.sessionId, answer.assembler, sentAt), path: "function-url (NDJSON on the response)" };
}

/** A message followed on one WebSocket: `ended` resolves on its final or error event, or when the socket drops first. */
interface SocketAnswer extends TrackedMessage {
  failure?: string;
  settle(): void;
}

function socketAnswer(messageId: string): SocketAnswer {
  let settle!: () => void;
  const ended = new Promise<TrackedMessage>((resolve) => (settle = () => resolve(answer)));
  const answer: SocketAnswer = { messageId, assembler: new MessageAssembler(messageId, { now: () => performance.now() }), ended, settle: () => settle() };
  return answer;
}

/** The API Gateway WebSocket: connect (the token as a subprotocol), sendQuery on the socket, events on the same socket. */
async function chatOverWebsocket(args: ChatArgs, config: ClientConfig, token: string, turn: Turn, io: { stdout: Output; stderr: Output }): Promise<ChatResult> {
  if (!config.websocketUrl) throw new ChatError(`environment "${config.environment}" has no websocketUrl in its client config: its transports do not include "websocket"`);
  const tracked = socketAnswer(turn.messageId);
  const answer = new StreamedAnswer(tracked, io.stdout);
  const activity = new AgentActivityPrinter(io.stderr);
  const stream = await WebsocketStream.open({
    websocketUrl: config.websocketUrl,
    token,
    WebSocketImpl: WebSocket as unknown as WebSocketConstructor,
    onEvent: (event) => {
      tracked.assembler.accept(event, performance.now());
      activity.show(tracked.assembler);
      answer.show();
      if (tracked.assembler.done) tracked.settle();
    },
    // A drop before the end settles too: the rest is then read from the record.
    onClose: () => tracked.settle(),
  }).catch((e: Error) => {
    throw new ChatError(`could not connect to ${config.websocketUrl}: ${e.message}`);
  });
  try {
    const sentAt = performance.now();
    await stream.sendQuery({ sessionId: turn.sessionId, messageId: turn.messageId, prompt: args.prompt, ...(args.modelId ? { modelId: args.modelId } : {}) }).catch((e: Error) => {
      throw new ChatError(`sendQuery was refused: ${e.message}`);
    });
    await within(tracked.ended.then(() => undefined), timeLeft(turn), `no complete answer within ${args.timeoutMs / 1000} s`);
    if (!tracked.assembler.done) await replayRecord(config, token, turn, tracked, io.stderr);
    activity.finish();
    answer.show();
    answer.end();
    return { ...resultOf(args, config, turn.sessionId, tracked.assembler, sentAt), path: "websocket (API Gateway, PostToConnection)" };
  } finally {
    stream.close();
  }
}

/** The socket dropped before the end: the record has every event; read it each second until the message ended. */
async function replayRecord(config: ClientConfig, token: string, turn: Turn, tracked: SocketAnswer, stderr: Output): Promise<void> {
  stderr.write("\n[connection lost; reading the rest from the message record]\n");
  while (performance.now() < turn.deadline) {
    const res = await graphqlRequest<{ message: MessageState | null }>(config.graphqlUrl, MESSAGE_QUERY, { sessionId: turn.sessionId, messageId: turn.messageId }, { authorization: token }).catch(() => undefined);
    const record = res?.data?.message;
    for (const e of record?.events ?? []) tracked.assembler.accept(parseEvent(e), performance.now());
    if (tracked.assembler.done || (record && ENDED_STATUSES.includes(record.status))) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
  tracked.failure = "the connection dropped and the answer did not end before the timeout";
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
