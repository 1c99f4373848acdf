/**
 * A Lambda Function URL stand-in for the local stack: an HTTP server on 127.0.0.1 that turns each request into the
 * payload format 2.0 event a Function URL sends, runs the real streaming handler with the runtime's response stream
 * (runtime.ts), and answers as the URL does: the prelude's status and headers, then the body as a chunked response
 * while the handler writes it. Also as the URL: CORS (preflight answered here, for loopback pages), 413 over 6 MB, 429
 * beyond the reserved concurrency, 502 for a handler that fails before it wrote anything. A client that goes away
 * destroys the handler's stream (its 'error' and 'close' fire), as a dropped connection does to the runtime's request.
 * No local Lambda emulator on the registries runs an in-process streaming handler, hence this small server.
 */
import { randomUUID } from "node:crypto";
import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import { isLoopbackHost } from "../issuer";
import { HTTP_INTEGRATION_CONTENT_TYPE, LocalResponseStream, PRELUDE_DELIMITER, type ResponseSink, type StreamingHandler } from "./runtime";

/** A Function URL's request payload limit. */
export const MAX_REQUEST_BYTES = 6 * 1024 * 1024;

export interface FunctionUrlOptions {
  /** The streaming handler, once loaded (the stack loads it after the server starts); until then requests get 503. */
  handler: () => StreamingHandler | undefined;
  /** A fresh Lambda context per invocation. */
  contextFor: () => unknown;
  /** Invocations at once (the function's reserved concurrency); beyond it 429, as Lambda throttles. */
  reservedConcurrency: number;
  /** 0 or absent = an ephemeral port. */
  port?: number;
  tls?: { key: string; cert: string };
  onError?: (error: unknown) => void;
}

export interface LocalFunctionUrl {
  /** http://127.0.0.1:<port>/ (https with tls): what the client config names `functionUrl`. */
  url: string;
  /** Invocations running now. */
  readonly inFlight: number;
  close(): Promise<void>;
}

interface ServerState {
  opts: FunctionUrlOptions;
  port: number;
  inFlight: number;
}

/** Starts the stand-in on 127.0.0.1. */
export async function startFunctionUrl(opts: FunctionUrlOptions): Promise<LocalFunctionUrl> {
  const state: ServerState = { opts, port: 0, inFlight: 0 };
  const listener: http.RequestListener = (req, res) => void serve(state, req, res).catch((e: unknown) => fail(state, res, e));
  const server = opts.tls ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert }, listener) : http.createServer(listener);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  state.port = (server.address() as AddressInfo).port;
  return {
    url: `${opts.tls ? "https" : "http"}://127.0.0.1:${state.port}/`,
    get inFlight() {
      return state.inFlight;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A JSON answer the URL itself gives (not the function's), with the CORS headers the request earns. */
function answer(req: http.IncomingMessage, res: http.ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, { "content-type": "application/json", ...corsHeaders(req) });
  res.end(JSON.stringify(body));
}

/** The configured CORS, for loopback pages only (the local web console, over http or https). */
function corsHeaders(req: http.IncomingMessage): Record<string, string> {
  const origin = req.headers.origin;
  if (!origin || !/^https?:\/\/(127\.0\.0\.1|localhost)(:\d{1,5})?$/.test(origin)) return {};
  return { "access-control-allow-origin": origin, vary: "origin" };
}

async function serve(state: ServerState, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  if (!isLoopbackHost(req.headers.host, state.port)) return answer(req, res, 421, { Message: "Misdirected request" });
  if (req.method === "OPTIONS") return preflight(req, res);
  const body = await readBody(req);
  if (body === undefined) return answer(req, res, 413, { Message: `Request must be smaller than ${MAX_REQUEST_BYTES} bytes for the InvokeFunction operation` });
  const handler = state.opts.handler();
  if (!handler) return answer(req, res, 503, { Message: "The local stack is still starting" });
  if (state.inFlight >= state.opts.reservedConcurrency) return answer(req, res, 429, { Message: "Rate Exceeded." });
  state.inFlight++;
  try {
    await invoke(handler, urlEvent(req, body), req, res, state.opts.contextFor());
  } finally {
    state.inFlight--;
  }
}

/** The URL answers a CORS preflight itself, from its CORS config: POST with the authorization and content-type headers. */
function preflight(req: http.IncomingMessage, res: http.ServerResponse): void {
  const cors = corsHeaders(req);
  const allowed = cors["access-control-allow-origin"] ? { ...cors, "access-control-allow-methods": "POST", "access-control-allow-headers": "authorization,content-type", "access-control-max-age": "3600" } : {};
  res.writeHead(200, allowed);
  res.end();
}

/** The body, or undefined past the payload limit. */
async function readBody(req: http.IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_REQUEST_BYTES) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The payload format 2.0 event of a Function URL request (text bodies as text, others base64, as the URL does). */
function urlEvent(req: http.IncomingMessage, body: Buffer): Record<string, unknown> {
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(",") : v;
  const text = /^(text\/|application\/(json|x-www-form-urlencoded|xml))/.test(headers["content-type"] ?? "");
  const now = new Date();
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    ...(url.search ? { queryStringParameters: Object.fromEntries(url.searchParams) } : {}),
    requestContext: {
      accountId: "anonymous",
      apiId: "local-function-url",
      domainName: headers.host,
      domainPrefix: "local-function-url",
      http: { method: req.method, path: url.pathname, protocol: `HTTP/${req.httpVersion}`, sourceIp: req.socket.remoteAddress, userAgent: headers["user-agent"] ?? "" },
      requestId: randomUUID(),
      routeKey: "$default",
      stage: "$default",
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(body.length ? { body: text ? body.toString("utf8") : body.toString("base64"), isBase64Encoded: !text } : { isBase64Encoded: false }),
  };
}

/**
 * Runs the handler with a response stream whose bytes become the HTTP response. The client going away destroys the
 * stream with a reset, as a dropped connection ends the runtime's request. (On AWS the Node runtime has been reported
 * to emit no such event: aws-lambda-nodejs-runtime-interface-client#145; see the README's Transports section.)
 */
async function invoke(handler: StreamingHandler, event: unknown, req: http.IncomingMessage, res: http.ServerResponse, context: unknown): Promise<void> {
  const stream = new LocalResponseStream(frontEnd(req, res));
  // The runtime listens to its own request's errors: a handler that does not is not crashed by a reset.
  stream.on("error", () => {});
  let running = true;
  res.on("close", () => {
    if (running && !stream.writableFinished) stream.destroy(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }));
  });
  try {
    await handler(event, stream, context);
    if (!stream.writableEnded && !stream.destroyed) stream.end();
  } catch (error) {
    if (!res.headersSent) return answer(req, res, 502, { Message: "Internal Server Error" });
    res.destroy(error instanceof Error ? error : undefined); // a stream the function failed mid-way ends abruptly
  } finally {
    running = false;
  }
}

/**
 * What the URL makes of the runtime's bytes: with the http-integration content type, the JSON prelude up to the 8 null
 * bytes gives the status, headers and cookies, and the rest is the body; otherwise status 200 with that content type.
 */
function frontEnd(req: http.IncomingMessage, res: http.ServerResponse): ResponseSink {
  let head = Buffer.alloc(0);
  let started = false;
  const start = (contentType: string, rest: Buffer): void => {
    started = true;
    if (contentType !== HTTP_INTEGRATION_CONTENT_TYPE) {
      res.writeHead(200, { "content-type": contentType, ...corsHeaders(req) });
      if (rest.length) res.write(rest);
      return;
    }
    head = Buffer.concat([head, rest]);
    const at = head.indexOf(Buffer.from(PRELUDE_DELIMITER));
    if (at < 0) return void (started = false); // the prelude is not all here yet
    const prelude = JSON.parse(head.subarray(0, at).toString("utf8")) as { statusCode?: number; headers?: Record<string, string>; cookies?: string[] };
    res.writeHead(prelude.statusCode ?? 200, { ...(prelude.headers ?? {}), ...(prelude.cookies?.length ? { "set-cookie": prelude.cookies } : {}), ...corsHeaders(req) });
    const body = head.subarray(at + PRELUDE_DELIMITER.length);
    if (body.length) res.write(body);
  };
  return {
    bytes: (chunk, contentType) => (started ? void res.write(chunk) : start(contentType, chunk)),
    end: (contentType) => {
      if (!started) start(contentType, Buffer.alloc(0));
      if (!res.headersSent) res.writeHead(200, corsHeaders(req));
      res.end();
    },
  };
}

function fail(state: ServerState, res: http.ServerResponse, error: unknown): void {
  (state.opts.onError ?? console.error)(error);
  if (!res.headersSent) {
    res.writeHead(500, { "content-type": "application/json" });
    res.end(JSON.stringify({ Message: "Internal Server Error" }));
  } else res.destroy();
}
