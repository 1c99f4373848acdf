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
  /** Attempts that have ended (returned, failed or timed out), and their summed duration in ms: the bench's counters read them. */
  finishedAttempts: number;
  attemptDurationMs: number;
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

/** The destination record Lambda sends on failure (RetriesExhausted or EventAgeExceeded). */
function destinationRecord(event: QueuedEvent, functionArn: string, condition: "RetriesExhausted" | "EventAgeExceeded", error?: unknown) {
  return {
    version: "1.0",
    timestamp: new Date().toISOString(),
    requestContext: { requestId: event.requestId, functionArn: `${functionArn}:$LATEST`, condition, approximateInvokeCount: event.attempts },
    requestPayload: event.payload,
    ...(error !== undefined
      ? { responseContext: { statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" }, responsePayload: { errorType: (error as Error)?.name ?? "Error", errorMessage: (error as Error)?.message ?? String(error) } }
      : {}),
  };
}

/** Lambda's internal queue for one function: events wait for a free slot, fail, wait to be retried, or go to the destination. */
class EventQueue {
  readonly stats: AsyncInvokerStats = { accepted: 0, attempts: 0, failedAttempts: 0, deadLettered: 0, finishedAttempts: 0, attemptDurationMs: 0 };
  crash: CrashFault | undefined;
  private readonly waiting: QueuedEvent[] = [];
  private readonly running = new Set<Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(private readonly o: AsyncInvokerOptions) {}

  accept(payload: unknown): string {
    this.stats.accepted++;
    const requestId = randomUUID();
    this.enqueue({ payload, requestId, acceptedAt: Date.now(), attempts: 0 });
    return requestId;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.waiting.splice(0);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.running]);
  }

  private enqueue(event: QueuedEvent): void {
    this.waiting.push(event);
    this.pump();
  }

  private pump(): void {
    const report = this.o.onError ?? ((e: unknown) => console.error("local async invoker:", e));
    while (!this.closed && this.running.size < (this.o.concurrency ?? 10) && this.waiting.length > 0) {
      const run: Promise<void> = this.attempt(this.waiting.shift()!)
        .catch(report)
        .finally(() => {
          this.running.delete(run);
          this.pump();
        });
      this.running.add(run);
    }
  }

  private async deadLetter(event: QueuedEvent, condition: "RetriesExhausted" | "EventAgeExceeded", error?: unknown): Promise<void> {
    await this.o.sqs.send(new SendMessageCommand({ QueueUrl: this.o.onFailureQueueUrl, MessageBody: JSON.stringify(destinationRecord(event, this.o.functionArn, condition, error)) }));
    this.stats.deadLettered++;
  }

  private async attempt(event: QueuedEvent): Promise<void> {
    const o = this.o;
    if (Date.now() - event.acceptedAt > o.maximumEventAgeSeconds * 1000) return this.deadLetter(event, "EventAgeExceeded");
    event.attempts++;
    this.stats.attempts++;
    const fault = this.crash && this.crash.count > 0 ? this.crash : undefined;
    if (fault) fault.count--;
    const startedAt = Date.now();
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      this.stats.finishedAttempts++;
      this.stats.attemptDurationMs += Date.now() - startedAt;
    };
    try {
      if (fault?.crash === "before") throw new Error("Runtime exited with error: signal: killed (a scripted crash)");
      await withTimeout(o.handler(event.payload, o.contextFor()), o.timeoutMs);
      end();
      if (fault?.crash === "after") throw new Error("Runtime exited with error: signal: killed (a scripted crash after the handler returned)");
    } catch (error) {
      end();
      this.stats.failedAttempts++;
      if (event.attempts > o.maximumRetryAttempts) return this.deadLetter(event, "RetriesExhausted", error);
      if (this.closed) return;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.enqueue(event);
      }, (o.retryDelayMs ?? 1000) * event.attempts);
      this.timers.add(timer);
    }
  }
}

/** The Invoke API (Event only) for the one function, and the test hooks. */
async function route(queue: EventQueue, functionName: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  if (req.method === "POST" && url.pathname === "/_local/faults") {
    const body = JSON.parse((await readBody(req)) || "{}") as Partial<CrashFault> & { clear?: boolean };
    queue.crash = body.clear ? undefined : { crash: body.crash === "after" ? "after" : "before", count: Math.max(0, Number(body.count ?? 1)) };
    return send(res, 200, { ok: true });
  }
  if (req.method === "GET" && url.pathname === "/_local/stats") return send(res, 200, queue.stats);
  const match = req.method === "POST" ? INVOKE_PATH.exec(url.pathname) : null;
  if (!match) return send(res, 404, { message: "not found" });
  if (decodeURIComponent(match[1]) !== functionName) return send(res, 404, { Type: "User", message: `Function not found: ${match[1]}` });
  if (req.headers["x-amz-invocation-type"] !== "Event") return send(res, 400, { Type: "User", message: "only InvocationType Event is served locally" });
  if (!String(req.headers.authorization ?? "").startsWith("AWS4-HMAC-SHA256 ")) return send(res, 403, { message: "Missing Authentication Token" });
  let payload: unknown;
  try {
    payload = JSON.parse(await readBody(req));
  } catch {
    return send(res, 400, { Type: "User", message: "Could not parse request body into json" });
  }
  res.writeHead(202, { "x-amzn-requestid": queue.accept(payload) });
  res.end();
}

export async function startAsyncInvoker(o: AsyncInvokerOptions): Promise<LocalAsyncInvoker> {
  const queue = new EventQueue(o);
  const report = o.onError ?? ((e: unknown) => console.error("local async invoker:", e));
  const server: Server = createServer((req, res) =>
    void route(queue, o.functionName, req, res).catch((e: unknown) => {
      report(e);
      if (!res.headersSent) send(res, 500, { message: String(e) });
    }),
  );
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port ?? 0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stats: queue.stats,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await closed;
      await queue.close();
    },
  };
}
