/**
 * Bedrock ConverseStream stand-in: serves `POST /model/{modelId}/converse-stream` over HTTP/2 cleartext (what the
 * real @aws-sdk/client-bedrock-runtime speaks to an http:// endpoint), framed as AWS event streams with
 * @smithy/eventstream-codec. No emulator offers ConverseStream, hence this small server.
 * Faults are chosen per request by markers in the last user message: see FAULTS.
 */
import * as http2 from "node:http2";
import { randomUUID } from "node:crypto";
import * as http from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import * as net from "node:net";
import type { AddressInfo } from "node:net";
import { Duplex } from "node:stream";
import { performance } from "node:perf_hooks";
import { EventStreamCodec, MessageHeaders } from "@smithy/eventstream-codec";
import { fromUtf8, toUtf8 } from "@smithy/util-utf8";
import { answerFor, reasoningFor } from "./answer";

/** Markers a test puts in the prompt to script a failure. */
export const FAULTS = {
  throttleMidStream: "[[fault:throttle-mid-stream]]",
  validation: "[[fault:validation]]",
  accessDenied: "[[fault:access-denied]]",
  streamError: "[[fault:stream-error]]",
} as const;
export const REASONING_MARKER = "[[reasoning]]";

/** Tokens sent before a mid-stream fault. */
export const TOKENS_BEFORE_FAULT = 3;

export interface BedrockTiming {
  /** Delay between the request and the first delta. */
  firstTokenMs: number;
  /** Deltas per second after the first; 0 or less = as fast as possible. */
  tokensPerSecond: number;
}

export interface EmittedToken {
  value: string;
  /** Epoch milliseconds (performance.timeOrigin + performance.now()) when the frame was written. */
  at: number;
}

export interface StandInRequest {
  modelId: string;
  /** Text of the last user message. */
  prompt: string;
  /** Epoch milliseconds when the request arrived. */
  receivedAt: number;
  tokens: EmittedToken[];
  fault?: keyof typeof FAULTS;
  /** Set when the stream ended normally: `end_turn` or `max_tokens`. */
  stopReason?: string;
  /** The client went away before the stream ended. */
  aborted?: boolean;
}

export interface BedrockStandIn {
  /** http://127.0.0.1:<port>: give it to the SDK as `endpoint` or AWS_ENDPOINT_URL_BEDROCK_RUNTIME. */
  endpoint: string;
  /** One entry per converse-stream request, in arrival order (the bench reads emission times here). */
  log: { requests: StandInRequest[] };
  /** Live timing; change it between requests. */
  timing: BedrockTiming;
  close(): Promise<void>;
}

export interface BedrockStandInOptions {
  /** 0 (default) = an ephemeral port. */
  port?: number;
  firstTokenMs?: number;
  tokensPerSecond?: number;
}

const codec = new EventStreamCodec(toUtf8, fromUtf8);
/** Test and bench control routes (HTTP/1.1 or 2): GET/DELETE requests (the emission log), GET/PUT timing. */
export const CONTROL_PREFIX = "/_local/";
const H2_PREFACE = "PRI * HTTP/2.0";
const now = () => performance.timeOrigin + performance.now();

function frame(messageType: "event" | "exception", type: string, body: unknown): Uint8Array {
  const headers: MessageHeaders = {
    ":message-type": { type: "string", value: messageType },
    [messageType === "event" ? ":event-type" : ":exception-type"]: { type: "string", value: type },
    ":content-type": { type: "string", value: "application/json" },
  };
  return codec.encode({ headers, body: fromUtf8(JSON.stringify(body)) });
}

interface ConverseRequestBody {
  messages?: { role?: string; content?: { text?: string }[] }[];
  system?: { text?: string }[];
  inferenceConfig?: { maxTokens?: number };
}

function lastUserText(body: ConverseRequestBody): string {
  const user = (body.messages ?? []).filter((m) => m.role === "user").pop();
  return (user?.content ?? []).map((c) => c.text ?? "").join("");
}

/** Rough input token count (about 4 characters a token), good enough for usage metadata. */
function estimateTokens(body: ConverseRequestBody): number {
  const chars = [...(body.system ?? []), ...(body.messages ?? []).flatMap((m) => m.content ?? [])].reduce((n, c) => n + (c.text ?? "").length, 0);
  return Math.max(1, Math.ceil(chars / 4));
}

function faultOf(prompt: string): keyof typeof FAULTS | undefined {
  return (Object.keys(FAULTS) as (keyof typeof FAULTS)[]).find((k) => prompt.includes(FAULTS[k]));
}

function sendError(stream: http2.ServerHttp2Stream, status: number, type: string, message: string): void {
  if (stream.closed || stream.destroyed) return;
  stream.respond({ ":status": status, "content-type": "application/json", "x-amzn-errortype": type, "x-amzn-requestid": randomUUID() });
  stream.end(JSON.stringify({ message }));
}

/**
 * The HTTP/2 session reads its socket's native handle, which would skip bytes already read for sniffing; a plain
 * Duplex over the socket (Node wraps it in a JS stream) replays them first.
 */
function replayed(socket: net.Socket, head: Buffer): Duplex {
  const duplex = new Duplex({
    read: () => void socket.resume(),
    write: (chunk, encoding, cb) => void socket.write(chunk, encoding, cb),
    final: (cb) => void socket.end(cb),
    destroy: (err, cb) => {
      socket.destroy(err ?? undefined);
      cb(err);
    },
  });
  duplex.push(head);
  socket.on("data", (c: Buffer) => {
    if (!duplex.push(c)) socket.pause();
  });
  socket.on("end", () => duplex.push(null));
  socket.on("close", () => duplex.destroy());
  return duplex;
}

export async function startBedrockStandIn(opts: BedrockStandInOptions = {}): Promise<BedrockStandIn> {
  const timing: BedrockTiming = { firstTokenMs: opts.firstTokenMs ?? 0, tokensPerSecond: opts.tokensPerSecond ?? 0 };
  const log: { requests: StandInRequest[] } = { requests: [] };
  const sessions = new Set<http2.ServerHttp2Session>();
  const timers = new Set<NodeJS.Timeout>();
  const h2 = http2.createServer();
  // The /_local/ control routes also answer HTTP/1.1 (fetch and curl speak it). Node 20's cleartext HTTP/2 server has
  // no HTTP/1.1 fallback, so one listener sniffs the HTTP/2 connection preface and hands each socket to the right server.
  const h1 = http.createServer((req, res) => {
    const pathname = (req.url ?? "").split("?")[0];
    if (pathname.startsWith(CONTROL_PREFIX)) return control(req, res, pathname);
    res.writeHead(505, { "content-type": "application/json" });
    res.end(JSON.stringify({ message: "converse-stream is served over HTTP/2 only" }));
  });
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      if (head.length < H2_PREFACE.length && H2_PREFACE.startsWith(head.toString("latin1"))) return; // not decided yet
      socket.off("data", onData);
      if (head.toString("latin1", 0, H2_PREFACE.length) === H2_PREFACE) {
        h2.emit("connection", replayed(socket, head));
      } else {
        socket.pause();
        socket.unshift(head);
        h1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
    socket.on("error", () => undefined);
  });

  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, Math.max(0, ms));
    timers.add(t);
  };

  h2.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });

  h2.on("request", (req, res) => {
    const pathname = (req.url ?? "").split("?")[0];
    if (pathname.startsWith(CONTROL_PREFIX)) control(req, res, pathname);
  });

  function control(req: http2.Http2ServerRequest | IncomingMessage, res: http2.Http2ServerResponse | ServerResponse, pathname: string): void {
    const send = (status: number, body?: unknown) => {
      res.writeHead(status, body === undefined ? {} : { "content-type": "application/json" });
      if (body === undefined) res.end();
      else res.end(JSON.stringify(body));
    };
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const route = `${req.method} ${pathname}`;
      if (route === `GET ${CONTROL_PREFIX}requests`) return send(200, log);
      if (route === `DELETE ${CONTROL_PREFIX}requests`) {
        log.requests.length = 0;
        return send(204);
      }
      if (route === `GET ${CONTROL_PREFIX}timing`) return send(200, timing);
      if (route === `PUT ${CONTROL_PREFIX}timing`) {
        let body: Partial<BedrockTiming>;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
        } catch {
          return send(400, { message: "body must be JSON" });
        }
        for (const key of ["firstTokenMs", "tokensPerSecond"] as const) {
          const v = body[key];
          if (v === undefined) continue;
          if (typeof v !== "number" || !Number.isFinite(v) || v < 0) return send(400, { message: `${key} must be a number >= 0` });
          timing[key] = v;
        }
        return send(200, timing);
      }
      send(404, { message: "unknown control route" });
    });
  }

  h2.on("stream", (stream, headers) => {
    stream.on("error", () => undefined); // a client reset is not the stand-in's failure
    if (String(headers[":path"] ?? "").startsWith(CONTROL_PREFIX)) return; // answered by the request handler above
    const match = /^\/model\/([^/]+)\/converse-stream$/.exec(String(headers[":path"] ?? "").split("?")[0]);
    if (headers[":method"] !== "POST" || !match) {
      sendError(stream, 404, "UnknownOperationException", "The stand-in serves only POST /model/{modelId}/converse-stream");
      return;
    }
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => {
      let body: ConverseRequestBody;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
      } catch {
        sendError(stream, 400, "ValidationException", "Malformed request body");
        return;
      }
      respond(stream, decodeURIComponent(match[1]), body);
    });
  });

  function respond(stream: http2.ServerHttp2Stream, modelId: string, body: ConverseRequestBody): void {
    const prompt = lastUserText(body);
    const fault = faultOf(prompt);
    const entry: StandInRequest = { modelId, prompt, receivedAt: now(), tokens: [], fault };
    log.requests.push(entry);

    if (!prompt) return sendError(stream, 400, "ValidationException", "A conversation must start with a user message.");
    if (fault === "validation") return sendError(stream, 400, "ValidationException", "Scripted fault: the request is invalid.");
    if (fault === "accessDenied") return sendError(stream, 403, "AccessDeniedException", "Scripted fault: you don't have access to the model with the specified model ID.");

    const maxTokens = body.inferenceConfig?.maxTokens;
    const all = answerFor(prompt, modelId);
    const tokens = typeof maxTokens === "number" && maxTokens > 0 ? all.slice(0, maxTokens) : all;
    const stopReason = tokens.length < all.length ? "max_tokens" : "end_turn";
    const reasoning = prompt.includes(REASONING_MARKER) ? reasoningFor(prompt) : [];
    const textIndex = reasoning.length ? 1 : 0;

    // Each step writes one frame; steps are spaced by timers (never busy loops) to model time to first token and rate.
    type Step = { frame: Uint8Array; token?: string; paced?: boolean; last?: boolean };
    const steps: Step[] = [{ frame: frame("event", "messageStart", { role: "assistant" }) }];
    for (const r of reasoning) steps.push({ frame: frame("event", "contentBlockDelta", { contentBlockIndex: 0, delta: { reasoningContent: { text: r } } }), paced: true });
    if (reasoning.length) {
      steps.push({ frame: frame("event", "contentBlockDelta", { contentBlockIndex: 0, delta: { reasoningContent: { signature: "stand-in-signature" } } }) });
      steps.push({ frame: frame("event", "contentBlockStop", { contentBlockIndex: 0 }) });
    }
    const faultAt = fault === "throttleMidStream" || fault === "streamError" ? Math.min(TOKENS_BEFORE_FAULT, tokens.length) : -1;
    for (const [i, t] of tokens.entries()) {
      if (i === faultAt) break;
      steps.push({ frame: frame("event", "contentBlockDelta", { contentBlockIndex: textIndex, delta: { text: t } }), token: t, paced: true });
    }
    if (fault === "throttleMidStream") {
      steps.push({ frame: frame("exception", "throttlingException", { message: "Scripted fault: too many requests, please wait before trying again." }), last: true });
    } else if (fault === "streamError") {
      steps.push({
        frame: frame("exception", "modelStreamErrorException", { message: "Scripted fault: the model stream failed.", originalStatusCode: 500, originalMessage: "stand-in" }),
        last: true,
      });
    } else {
      const outputTokens = tokens.length + reasoning.length;
      steps.push({ frame: frame("event", "contentBlockStop", { contentBlockIndex: textIndex }) });
      steps.push({ frame: frame("event", "messageStop", { stopReason }) });
      steps.push({
        frame: frame("event", "metadata", {
          usage: { inputTokens: estimateTokens(body), outputTokens, totalTokens: estimateTokens(body) + outputTokens },
          metrics: { latencyMs: 0 },
        }),
        last: true,
      });
    }

    stream.respond({ ":status": 200, "content-type": "application/vnd.amazon.eventstream", "x-amzn-requestid": randomUUID() });
    stream.on("close", () => {
      if (!entry.stopReason && !stream.writableFinished) entry.aborted = true;
    });

    let paced = 0;
    const run = (i: number) => {
      if (stream.closed || stream.destroyed) return;
      const step = steps[i];
      if (step.paced) paced++;
      stream.write(step.frame);
      if (step.token !== undefined) entry.tokens.push({ value: step.token, at: now() });
      if (step.last) {
        if (!fault) entry.stopReason = stopReason;
        stream.end();
        return;
      }
      const next = steps[i + 1];
      const wait = !next.paced ? 0 : paced === 0 ? timing.firstTokenMs : timing.tokensPerSecond > 0 ? 1000 / timing.tokensPerSecond : 0;
      if (wait > 0) later(wait, () => run(i + 1));
      else setImmediate(() => run(i + 1)); // yield between frames so other streams progress
    };
    run(0);
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    log,
    timing,
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        for (const s of sessions) s.destroy();
        h1.closeAllConnections();
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
