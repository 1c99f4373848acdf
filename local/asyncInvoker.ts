/**
 * Lambda's asynchronous invocation for the local stack: serves the Invoke API (`POST /2015-03-31/functions/<name>/
 * invocations` with `X-Amz-Invocation-Type: Event`) on 127.0.0.1, answers 202 at once and runs the function's handler
 * behind the answer as Lambda does: at most `concurrency` at a time (a burst waits in the queue, as with a reserved
 * concurrency), retried `maximumRetryAttempts` times after a failure, and a failed event, or one that waited longer
 * than `maximumEventAgeSeconds`, is sent to the on-failure queue in fauxqs as a Lambda destination record.
 * Hand-rolled: no local Lambda emulator on the registries here runs in-process handlers with destinations, and this is
 * one route. `POST /_local/faults` makes the next attempts fail as a crashed runtime would (for the tests).
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { Context } from "aws-lambda";

/** A crash the next `count` attempts suffer: before the handler runs (the runtime died at start), or after it returned (the response never reached Lambda). */
export interface CrashFault {
  crash: "before" | "after";
  count: number;
}

export interface AsyncInvokerOptions {
  /** The one function served, by name, and its handler. */
  functionName: string;
  handler: (event: unknown, context: Context) => Promise<unknown>;
  /** A fresh context per attempt (the function's timeout counts down from its start). */
  contextFor: () => Context;
  /** The function's timeout: a longer attempt counts as failed (its handler cannot be killed in-process). */
  timeoutMs: number;
  maximumRetryAttempts: number;
  maximumEventAgeSeconds: number;
  /** Lambda waits about 1 minute, then 2, before its retries; locally `retryDelayMs` x the retry number (default 1000). */
  retryDelayMs?: number;
  /** Attempts at once (the function's reserved concurrency); further events wait. Default 10. */
  concurrency?: number;
  /** The on-failure destination. */
  sqs: SQSClient;
  onFailureQueueUrl: string;
  functionArn: string;
  port?: number;
  onError?: (error: unknown) => void;
}

export interface AsyncInvokerStats {
  accepted: number;
  attempts: number;
  failedAttempts: number;
  /** Events sent to the on-failure destination. */
  deadLettered: number;
}

export interface LocalAsyncInvoker {
  /** Set as AWS_ENDPOINT_URL_LAMBDA for the handlers. */
  endpoint: string;
  readonly stats: AsyncInvokerStats;
  /** Stops accepting, drops queued events and waits for the running attempts. */
  close(): Promise<void>;
}

interface QueuedEvent {
  payload: unknown;
  requestId: string;
  acceptedAt: number;
  attempts: number;
}

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (body += chunk));
    req.on("end", () => resolve(body));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

/** An attempt that takes longer than the timeout fails, as Lambda ends it (here the handler runs on unseen). */
function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`Task timed out after ${ms / 1000} seconds`)), ms)));
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export async function startAsyncInvoker(o: AsyncInvokerOptions): Promise<LocalAsyncInvoker> {
  const stats: AsyncInvokerStats = { accepted: 0, attempts: 0, failedAttempts: 0, deadLettered: 0 };
  const waiting: QueuedEvent[] = [];
  const running = new Set<Promise<void>>();
  const timers = new Set<NodeJS.Timeout>();
  let crash: CrashFault | undefined;
  let closed = false;
  const report = o.onError ?? ((e: unknown) => console.error("local async invoker:", e));

  /** The destination record Lambda sends on failure (RetriesExhausted or EventAgeExceeded). */
  const deadLetter = async (event: QueuedEvent, condition: "RetriesExhausted" | "EventAgeExceeded", error?: unknown) => {
    const record = {
      version: "1.0",
      timestamp: new Date().toISOString(),
      requestContext: { requestId: event.requestId, functionArn: `${o.functionArn}:$LATEST`, condition, approximateInvokeCount: event.attempts },
      requestPayload: event.payload,
      ...(error !== undefined
        ? { responseContext: { statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" }, responsePayload: { errorType: (error as Error)?.name ?? "Error", errorMessage: (error as Error)?.message ?? String(error) } }
        : {}),
    };
    await o.sqs.send(new SendMessageCommand({ QueueUrl: o.onFailureQueueUrl, MessageBody: JSON.stringify(record) }));
    stats.deadLettered++;
  };

  const attempt = async (event: QueuedEvent): Promise<void> => {
    if (Date.now() - event.acceptedAt > o.maximumEventAgeSeconds * 1000) return deadLetter(event, "EventAgeExceeded");
    event.attempts++;
    stats.attempts++;
    const fault = crash && crash.count > 0 ? crash : undefined;
    if (fault) fault.count--;
    try {
      if (fault?.crash === "before") throw new Error("Runtime exited with error: signal: killed (a scripted crash)");
      await withTimeout(o.handler(event.payload, o.contextFor()), o.timeoutMs);
      if (fault?.crash === "after") throw new Error("Runtime exited with error: signal: killed (a scripted crash after the handler returned)");
    } catch (error) {
      stats.failedAttempts++;
      if (event.attempts > o.maximumRetryAttempts) return deadLetter(event, "RetriesExhausted", error);
      if (closed) return;
      const timer = setTimeout(() => {
        timers.delete(timer);
        enqueue(event);
      }, (o.retryDelayMs ?? 1000) * event.attempts);
      timers.add(timer);
    }
  };

  const pump = () => {
    while (!closed && running.size < (o.concurrency ?? 10) && waiting.length > 0) {
      const run = attempt(waiting.shift()!)
        .catch(report)
        .finally(() => {
          running.delete(run);
          pump();
        });
      running.add(run);
    }
  };
  const enqueue = (event: QueuedEvent) => {
    waiting.push(event);
    pump();
  };

  const route = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (req.method === "POST" && url.pathname === "/_local/faults") {
      const body = JSON.parse((await readBody(req)) || "{}") as Partial<CrashFault> & { clear?: boolean };
      crash = body.clear ? undefined : { crash: body.crash === "after" ? "after" : "before", count: Math.max(0, Number(body.count ?? 1)) };
      return send(res, 200, { ok: true });
    }
    if (req.method === "GET" && url.pathname === "/_local/stats") return send(res, 200, stats);
    const match = req.method === "POST" ? INVOKE_PATH.exec(url.pathname) : null;
    if (!match) return send(res, 404, { message: "not found" });
    // Lambda's errors, in its JSON shape (the x-amzn-errortype header names the exception).
    if (decodeURIComponent(match[1]) !== o.functionName) return send(res, 404, { Type: "User", message: `Function not found: ${match[1]}` });
    if (req.headers["x-amz-invocation-type"] !== "Event") return send(res, 400, { Type: "User", message: "only InvocationType Event is served locally" });
    if (!String(req.headers.authorization ?? "").startsWith("AWS4-HMAC-SHA256 ")) return send(res, 403, { message: "Missing Authentication Token" });
    let payload: unknown;
    try {
      payload = JSON.parse(await readBody(req));
    } catch {
      return send(res, 400, { Type: "User", message: "Could not parse request body into json" });
    }
    if (closed) return send(res, 503, { message: "stopping" });
    stats.accepted++;
    const requestId = randomUUID();
    res.writeHead(202, { "x-amzn-requestid": requestId });
    res.end();
    enqueue({ payload, requestId, acceptedAt: Date.now(), attempts: 0 });
  };

  const server: Server = createServer((req, res) => void route(req, res).catch((e) => (report(e), res.headersSent || send(res, 500, { message: String(e) }))));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port ?? 0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stats,
    close: async () => {
      closed = true;
      waiting.splice(0);
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.allSettled([...running]);
    },
  };
}
