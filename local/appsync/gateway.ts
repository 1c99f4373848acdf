/**
 * The local AppSync gateway: POST /graphql (graphql-js + the deployed APPSYNC_JS resolvers, SigV4 and JWT auth per
 * field directive), the real-time WebSocket endpoint on the same port, test fault injection under /_local/.
 */
import { createReadStream, statSync } from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { RESOLVERS, RESOLVERS_DIR, SCHEMA_FILE } from "../../graphql/api";
import { GraphQLEngine, appSyncError, type AppSyncResponse, type PreparedOperation } from "./engine";
import { GatewayFaults, emptyStats, type GatewayStats, type PublishFault } from "./faults";
import { IdentityVerifier, type Caller } from "./identity";
import { RealtimeServer } from "./realtime";

export interface GatewayOptions {
  /** TCP port on 127.0.0.1; 0 picks a free one. */
  port?: number;
  region: string;
  /** The only IAM identity accepted for @aws_iam fields. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** JWTs must be signed by this issuer (JWKS), unexpired, aud = clientId, token_use = id. */
  issuer: { issuerUrl: string; clientId: string };
  lambdaDataSources: { sendQuery: (payload: unknown) => Promise<unknown> };
  /** Optional folder served at GET / (the web console). */
  staticDir?: string;
  /** How often `ka` is sent on real-time connections (default 60 s, as AppSync). */
  keepAliveIntervalMs?: number;
  /** connection_ack's connectionTimeoutMs (default 300000, as AppSync). */
  connectionTimeoutMs?: number;
  /** ctx.identity.accountId for IAM callers (default 000000000000). */
  accountId?: string;
}

export interface LocalGateway {
  graphqlUrl: string;
  realtimeUrl: string;
  faults: GatewayFaults;
  stats: GatewayStats;
  close(): Promise<void>;
}

const GRAPHQL_PATH = "/graphql";
const MAX_BODY_BYTES = 1024 * 1024;
const PUBLISH_FIELD = "publishResponse";
const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".map": "application/json",
};
const CORS_HEADERS = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "POST, OPTIONS",
  "access-control-allow-headers":
    "content-type, authorization, x-amz-date, x-amz-security-token, x-amz-content-sha256, x-amz-user-agent, x-api-key",
  "access-control-max-age": "600",
};

class BodyTooLarge extends Error {}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new BodyTooLarge());
        req.resume();
      } else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json; charset=UTF-8", "cache-control": "no-store", ...extra });
  res.end(JSON.stringify(body));
}

function headerRecord(req: http.IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(",") : v;
  return out;
}

export async function startGateway(opts: GatewayOptions): Promise<LocalGateway> {
  const stats = emptyStats();
  const faults = new GatewayFaults();
  const engine = new GraphQLEngine({
    schemaFile: SCHEMA_FILE,
    resolversDir: RESOLVERS_DIR,
    resolvers: RESOLVERS,
    lambdaDataSources: opts.lambdaDataSources,
    onUnauthorized: () => {
      stats.rejectedAuth += 1;
    },
  });
  const verifier = new IdentityVerifier({
    region: opts.region,
    credentials: opts.credentials,
    issuer: opts.issuer,
    accountId: opts.accountId,
  });
  let port = 0;
  const isAllowedHost = (host: string | undefined): boolean => host === `127.0.0.1:${port}` || host === `localhost:${port}`;
  const realtime = new RealtimeServer({
    engine,
    verifier,
    stats,
    graphqlPath: GRAPHQL_PATH,
    keepAliveIntervalMs: opts.keepAliveIntervalMs ?? 60_000,
    connectionTimeoutMs: opts.connectionTimeoutMs ?? 300_000,
    isAllowedHost,
  });

  const publishFaultResponse = (res: http.ServerResponse, fault: PublishFault, responseKey: string): void => {
    stats.faultedPublishes += 1;
    if (fault.graphqlErrors) {
      sendJson(res, 200, {
        data: { [responseKey]: null },
        errors: [appSyncError("Injected publish failure", "InternalFailure", [responseKey])],
      }, CORS_HEADERS);
    } else if (fault.status === 401) {
      sendJson(res, 401, { errors: [{ errorType: "UnauthorizedException", message: "You are not authorized to make this call." }] }, CORS_HEADERS);
    } else {
      sendJson(res, fault.status, { errors: [{ errorType: "InternalFailure", message: "Injected publish failure" }] }, CORS_HEADERS);
    }
  };

  const handleGraphql = async (req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> => {
    let body: Buffer;
    try {
      body = await readBody(req, MAX_BODY_BYTES);
    } catch (err) {
      if (err instanceof BodyTooLarge) return sendJson(res, 413, { errors: [appSyncError("Request too large", "BadRequestException")] }, CORS_HEADERS);
      throw err;
    }
    const query: Record<string, string | string[]> = {};
    for (const [k, v] of url.searchParams) query[k] = query[k] === undefined ? v : ([] as string[]).concat(query[k], v);
    const sourceIp = req.socket.remoteAddress ?? "127.0.0.1";
    const auth = await verifier.authenticate({ method: req.method ?? "POST", path: url.pathname, query, headers: req.headers, body }, sourceIp);
    if (!auth.ok) {
      stats.rejectedAuth += 1;
      return sendJson(res, 401, { errors: [{ errorType: "UnauthorizedException", message: auth.message }] }, CORS_HEADERS);
    }
    let request: { query?: unknown; variables?: unknown; operationName?: unknown };
    try {
      request = JSON.parse(body.toString("utf8"));
    } catch {
      return sendJson(res, 400, { errors: [appSyncError("Request body is not valid JSON", "MalformedHttpRequestException")] }, CORS_HEADERS);
    }
    const prepared = engine.prepare(request?.query, request?.variables, request?.operationName);
    if ("errors" in prepared) return sendJson(res, 400, { data: null, errors: prepared.errors }, CORS_HEADERS);
    if (prepared.operation.operation === "subscription") {
      return sendJson(res, 400, { errors: [appSyncError("Subscriptions are only served on the real-time endpoint", "UnsupportedOperation")] }, CORS_HEADERS);
    }
    const response = await runOperation(prepared, auth.caller, headerRecord(req), res);
    if (response) sendJson(res, 200, response, CORS_HEADERS);
  };

  /** Executes, counts, applies publish faults and fans results out to subscribers before the HTTP answer leaves. */
  const runOperation = async (
    prepared: PreparedOperation,
    caller: Caller,
    headers: Record<string, string>,
    res: http.ServerResponse,
  ): Promise<AppSyncResponse | null> => {
    const isMutation = prepared.operation.operation === "mutation";
    // Faults only spend on publishes that would otherwise run: an unauthorized caller gets its Unauthorized error.
    if (isMutation && engine.allows("mutation", PUBLISH_FIELD, caller)) {
      const publish = prepared.rootFields.find((f) => f.name === PUBLISH_FIELD);
      const fault = publish ? faults.take(typeof publish.args.sessionId === "string" ? publish.args.sessionId : undefined) : null;
      if (publish && fault) {
        publishFaultResponse(res, fault, publish.responseKey);
        return null;
      }
    }
    const response = await engine.run(prepared, caller, headers);
    if (!isMutation) return response;
    for (const field of prepared.rootFields) {
      const fieldErrors = (response.errors ?? []).filter((e) => e.path?.[0] === field.responseKey);
      // A field refused for authorization never ran: AWS neither executes nor meters it as a mutation.
      if (!fieldErrors.some((e) => e.errorType === "Unauthorized")) {
        stats.mutationsByField[field.name] = (stats.mutationsByField[field.name] ?? 0) + 1;
      }
      const payload = response.data?.[field.responseKey];
      const failed = fieldErrors.length > 0;
      if (payload !== null && payload !== undefined && !failed && engine.triggers.has(field.name)) {
        await realtime.publish(field.name, payload);
      }
    }
    return response;
  };

  const handleFaults = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse((await readBody(req, 16 * 1024)).toString("utf8") || "{}") as Record<string, unknown>;
    } catch {
      return sendJson(res, 400, { error: "body must be JSON" });
    }
    try {
      const status = body.status as 500 | 401 | undefined;
      const graphqlErrors = body.graphqlErrors === true;
      if (body.clear === true) faults.clear();
      if (body.failPublishes !== undefined) {
        faults.failPublishes(Number(body.failPublishes), {
          status,
          graphqlErrors,
          sessionId: typeof body.sessionId === "string" ? body.sessionId : undefined,
        });
      }
      if (typeof body.rejectPublishes === "boolean") faults.rejectPublishes(body.rejectPublishes, { status, graphqlErrors });
    } catch (err) {
      return sendJson(res, 400, { error: err instanceof Error ? err.message : String(err) });
    }
    sendJson(res, 200, faults.state());
  };

  const serveStatic = (res: http.ServerResponse, pathname: string): void => {
    const root = path.resolve(opts.staticDir as string);
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      return sendJson(res, 400, { error: "bad path" });
    }
    let file = path.resolve(root, `.${decoded}`);
    if (file !== root && !file.startsWith(root + path.sep)) return sendJson(res, 404, { error: "not found" });
    try {
      if (statSync(file).isDirectory()) file = path.join(file, "index.html");
      statSync(file);
    } catch {
      return sendJson(res, 404, { error: "not found" });
    }
    res.writeHead(200, { "content-type": CONTENT_TYPES[path.extname(file)] ?? "application/octet-stream", "cache-control": "no-cache" });
    createReadStream(file).pipe(res);
  };

  const server = http.createServer((req, res) => {
    if (!isAllowedHost(req.headers.host)) return sendJson(res, 421, { error: "misdirected request" });
    let url: URL;
    try {
      url = new URL(req.url ?? "/", `http://127.0.0.1:${port}`);
    } catch {
      return sendJson(res, 400, { error: "bad request" });
    }
    const route = `${req.method} ${url.pathname}`;
    const fail = (err: unknown): void => {
      if (!res.headersSent) sendJson(res, 500, { errors: [appSyncError(err instanceof Error ? err.message : String(err), "InternalFailure")] });
      else res.destroy();
    };
    if (route === `OPTIONS ${GRAPHQL_PATH}`) {
      res.writeHead(204, CORS_HEADERS);
      return res.end();
    }
    if (route === `POST ${GRAPHQL_PATH}`) return void handleGraphql(req, res, url).catch(fail);
    const fromLoopback = ["127.0.0.1", "::ffff:127.0.0.1", "::1"].includes(req.socket.remoteAddress ?? "");
    if (route.includes(" /_local/") && !fromLoopback) return sendJson(res, 403, { error: "forbidden" });
    if (route === "POST /_local/faults") return void handleFaults(req, res).catch(fail);
    if (route === "GET /_local/stats") return sendJson(res, 200, { ...stats, faults: faults.state() });
    if (req.method === "GET" && opts.staticDir && !url.pathname.startsWith("/_local/")) return serveStatic(res, url.pathname);
    sendJson(res, 404, { error: "not found" });
  });
  server.on("upgrade", (req, socket, head) => realtime.handleUpgrade(req, socket, head));

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  port = (server.address() as AddressInfo).port;

  return {
    graphqlUrl: `http://127.0.0.1:${port}${GRAPHQL_PATH}`,
    realtimeUrl: `ws://127.0.0.1:${port}${GRAPHQL_PATH}`,
    faults,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        realtime.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
