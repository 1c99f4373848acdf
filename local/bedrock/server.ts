/**
 * Bedrock ConverseStream stand-in: serves `POST /model/{modelId}/converse-stream` over HTTP/2 cleartext (what the
 * real @aws-sdk/client-bedrock-runtime speaks to an http:// endpoint), framed as AWS event streams with
 * @smithy/eventstream-codec, and ApplyGuardrail (`POST /guardrail/{id}/version/{version}/apply`, guardrail.ts).
 * No emulator offers ConverseStream, hence this small server.
 * This module listens and routes; what to answer is script.ts, how to frame it framing.ts, /_local/ control.ts.
 */
import * as http2 from "node:http2";
import * as http from "node:http";
import * as net from "node:net";
import type { AddressInfo } from "node:net";
import { Duplex } from "node:stream";
import { CONTROL_PREFIX, handleControl, type StandInState } from "./control";
import { type Later, now, playScript, sendHttpError, type StandInRequest } from "./framing";
import { applyStandInGuardrail, type ApplyGuardrailBody } from "./guardrail";
import { type BedrockTiming, type ConverseRequestBody, converseScript, readConverseRequest } from "./script";

export { CONTROL_PREFIX } from "./control";
export { FAULTS, GUARDRAIL_MARKER, REASONING_MARKER, TOKENS_BEFORE_FAULT } from "./script";
export { FAILING_EXPRESSION, FAILING_TOOL, STAND_IN_EXPRESSION, TOOL_MARKER, toolLeadIn, toolResultLine, toolResultsText } from "./toolUse";
export type { ToolRequest, ToolResultSeen } from "./toolUse";
export { STAND_IN_BLOCKED_MESSAGE, STAND_IN_UNSAFE_TEXT } from "./guardrail";
export type { GuardrailCheck } from "./guardrail";
export type { BedrockTiming } from "./script";
export type { EmittedToken, StandInRequest } from "./framing";

/** A running stand-in. */
export interface BedrockStandIn {
  /** http://127.0.0.1:<port>: give it to the SDK as `endpoint` or AWS_ENDPOINT_URL_BEDROCK_RUNTIME. */
  endpoint: string;
  /** One entry per converse-stream request, in arrival order (the bench reads emission times here), and per ApplyGuardrail call. */
  log: StandInState["log"];
  /** Live timing; change it between requests. */
  timing: BedrockTiming;
  close(): Promise<void>;
}

/** Where to listen and the initial timing (both timings default to 0: as fast as possible). */
export interface BedrockStandInOptions {
  /** 0 (default) = an ephemeral port. */
  port?: number;
  firstTokenMs?: number;
  tokensPerSecond?: number;
}

const H2_PREFACE = "PRI * HTTP/2.0";
const CONVERSE_PATH = /^\/model\/([^/]+)\/converse-stream$/;
const APPLY_GUARDRAIL_PATH = /^\/guardrail\/([^/]+)\/version\/([^/]+)\/apply$/;
const pathOf = (url: string | undefined): string => (url ?? "").split("?")[0];

/** Starts the stand-in on 127.0.0.1: converse-stream over HTTP/2, the control routes over HTTP/1.1 and HTTP/2. */
export async function startBedrockStandIn(opts: BedrockStandInOptions = {}): Promise<BedrockStandIn> {
  const state: StandInState = { log: { requests: [], guardrailChecks: [] }, timing: { firstTokenMs: opts.firstTokenMs ?? 0, tokensPerSecond: opts.tokensPerSecond ?? 0 } };
  const timers = new Set<NodeJS.Timeout>();
  const sessions = new Set<http2.ServerHttp2Session>();
  const sockets = new Set<net.Socket>();
  const later: Later = (ms, fn) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, Math.max(0, ms));
    timers.add(t);
  };
  const h1 = http1Server(state);
  const listener = sniffingListener(h1, http2Server(state, later, sessions), sockets);
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  const { port } = listener.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    log: state.log,
    timing: state.timing,
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        for (const s of sessions) s.destroy();
        h1.closeAllConnections();
        for (const s of sockets) s.destroy();
        listener.close(() => resolve());
      }),
  };
}

/** HTTP/2: converse-stream on the stream API, the control routes through the compatibility (request) API. */
function http2Server(state: StandInState, later: Later, sessions: Set<http2.ServerHttp2Session>): http2.Http2Server {
  const h2 = http2.createServer();
  h2.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  h2.on("request", (req, res) => {
    const pathname = pathOf(req.url);
    if (pathname.startsWith(CONTROL_PREFIX)) handleControl(req, res, pathname, state);
  });
  h2.on("stream", (stream, headers) => {
    stream.on("error", () => undefined); // a client reset is not the stand-in's failure
    const pathname = pathOf(String(headers[":path"] ?? ""));
    if (pathname.startsWith(CONTROL_PREFIX)) return; // answered by the request handler above
    const converseMatch = CONVERSE_PATH.exec(pathname);
    const applyMatch = APPLY_GUARDRAIL_PATH.exec(pathname);
    if (headers[":method"] !== "POST" || !(converseMatch || applyMatch)) {
      return sendHttpError(stream, { status: 404, type: "UnknownOperationException", message: "The stand-in serves only POST /model/{modelId}/converse-stream and /guardrail/{id}/version/{version}/apply" });
    }
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      if (converseMatch) converse(stream, converseMatch[1], raw, state, later);
      else applyGuardrail(stream, applyMatch!, raw, state);
    });
  });
  return h2;
}

/** One converse-stream request: parse the body, log the request on arrival, play its script. */
function converse(stream: http2.ServerHttp2Stream, encodedModelId: string, raw: string, state: StandInState, later: Later): void {
  let body: ConverseRequestBody;
  try {
    body = JSON.parse(raw || "{}");
  } catch {
    return sendHttpError(stream, { status: 400, type: "ValidationException", message: "Malformed request body" });
  }
  const request = readConverseRequest(decodeURIComponent(encodedModelId), body);
  const entry: StandInRequest = {
    modelId: request.modelId,
    prompt: request.prompt,
    receivedAt: now(),
    tokens: [],
    fault: request.fault,
    guardrail: request.guardrail,
    ...(request.round > 0 ? { round: request.round } : {}),
    ...(request.toolCall ? { toolCall: request.toolCall } : {}),
    ...(request.toolResults.length ? { toolResults: request.toolResults } : {}),
    ...(request.toolNames.length ? { toolsOffered: request.toolNames } : {}),
  };
  state.log.requests.push(entry);
  playScript(stream, converseScript(request, state.timing), entry, later);
}

/** One ApplyGuardrail call: the stand-in's verdict as JSON, logged in the emission log. */
function applyGuardrail(stream: http2.ServerHttp2Stream, match: RegExpExecArray, raw: string, state: StandInState): void {
  let body: ApplyGuardrailBody;
  try {
    body = JSON.parse(raw || "{}");
  } catch {
    return sendHttpError(stream, { status: 400, type: "ValidationException", message: "Malformed request body" });
  }
  const { check, response } = applyStandInGuardrail(decodeURIComponent(match[1]), decodeURIComponent(match[2]), body);
  state.log.guardrailChecks.push(check);
  if (stream.closed || stream.destroyed) return;
  stream.respond({ ":status": 200, "content-type": "application/json" });
  stream.end(JSON.stringify(response));
}

/** HTTP/1.1 (fetch, curl): the control routes only; converse-stream needs HTTP/2. */
function http1Server(state: StandInState): http.Server {
  return http.createServer((req, res) => {
    const pathname = pathOf(req.url);
    if (pathname.startsWith(CONTROL_PREFIX)) return handleControl(req, res, pathname, state);
    res.writeHead(505, { "content-type": "application/json" });
    res.end(JSON.stringify({ message: "converse-stream is served over HTTP/2 only" }));
  });
}

/**
 * One listener for both protocols: Node 20's cleartext HTTP/2 server has no HTTP/1.1 fallback, so each socket's first
 * bytes are compared with the HTTP/2 connection preface and the socket goes to the server that speaks its protocol.
 */
function sniffingListener(h1: http.Server, h2: http2.Http2Server, sockets: Set<net.Socket>): net.Server {
  return net.createServer((socket) => {
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
