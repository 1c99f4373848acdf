/**
 * POST /graphql as AppSync answers it: read the body, authenticate the caller (SigV4 or a user pool token), prepare
 * the document, apply a scheduled publish fault, run, then meter the mutation and deliver it to its subscribers
 * before the HTTP answer leaves. Subscriptions are served on the real-time endpoint only (realtime.ts).
 */
import { randomUUID } from "node:crypto";
import type * as http from "node:http";
import { appSyncError, type AppSyncResponse, type GraphQLEngine, type PreparedOperation } from "../engine";
import type { PublishFault } from "../faults";
import { GatewayError } from "../gatewayError";
import type { Caller } from "../identity";
import type { Exchange, GatewayContext, RouteReply } from "../router";
import { BodyTooLarge, readBody } from "./requestBody";

const MAX_BODY_BYTES = 1024 * 1024;
/** The field the fault injector fails (the producers' publish). */
const PUBLISH_FIELD = "publishResponse";

/** Sent with every /graphql answer: the web console may be served from another origin. */
export const CORS_HEADERS: Record<string, string> = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "POST, OPTIONS",
  "access-control-allow-headers":
    "content-type, authorization, x-amz-date, x-amz-security-token, x-amz-content-sha256, x-amz-user-agent, x-api-key",
  "access-control-max-age": "600",
};

/** A publish the fault injector fails, and the response key its null data goes under. */
interface ScheduledFault {
  fault: PublishFault;
  responseKey: string;
}

/** OPTIONS /graphql: the browser's CORS preflight. */
export function graphqlPreflight({ res }: Exchange): void {
  res.writeHead(204, CORS_HEADERS);
  res.end();
}

/** POST /graphql: one query or mutation, answered with AppSync's `{data, errors}`. */
export async function postGraphql({ req, url }: Exchange, ctx: GatewayContext): Promise<RouteReply> {
  const body = await readRequestBody(req);
  const caller = await authenticate(req, url, body, ctx);
  const prepared = prepareOperation(body, ctx.engine);
  const scheduled = takePublishFault(prepared, caller, ctx);
  if (scheduled) return injectedFailure(scheduled, ctx);
  const response = await ctx.engine.run(prepared, caller, headerRecord(req));
  if (prepared.operation.operation === "mutation") await meterAndDeliver(prepared, response, ctx);
  return { status: 200, body: response };
}

/** The body, up to 1 MiB (413 beyond). */
async function readRequestBody(req: http.IncomingMessage): Promise<Buffer> {
  try {
    return await readBody(req, MAX_BODY_BYTES);
  } catch (err) {
    if (err instanceof BodyTooLarge) throw new GatewayError(413, "BadRequestException", "Request too large");
    throw err;
  }
}

/** The caller, in the auth mode the Authorization header picks; a bad credential is a 401 and counted. */
async function authenticate(req: http.IncomingMessage, url: URL, body: Buffer, ctx: GatewayContext): Promise<Caller> {
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of url.searchParams) query[k] = query[k] === undefined ? v : ([] as string[]).concat(query[k], v);
  const sourceIp = req.socket.remoteAddress ?? "127.0.0.1";
  const signed = { method: req.method ?? "POST", path: url.pathname, query, headers: req.headers, body };
  const auth = await ctx.verifier.authenticate(signed, sourceIp);
  if (auth.ok) return auth.caller;
  ctx.stats.rejectedAuth += 1;
  throw new GatewayError(401, "UnauthorizedException", auth.message, "request");
}

/** The parsed and validated operation; a body that is not JSON, an invalid document or a subscription is a 400. */
function prepareOperation(body: Buffer, engine: GraphQLEngine): PreparedOperation {
  let request: { query?: unknown; variables?: unknown; operationName?: unknown };
  try {
    request = JSON.parse(body.toString("utf8"));
  } catch {
    throw new GatewayError(400, "MalformedHttpRequestException", "Request body is not valid JSON");
  }
  // AppSync takes one operation per request; a batch (a JSON array of operations) runs none of them.
  if (Array.isArray(request)) throw new GatewayError(400, "BadRequestException", "Batched requests are not supported: send one operation per request.");
  const prepared = engine.prepare(request?.query, request?.variables, request?.operationName);
  if ("errors" in prepared) throw GatewayError.invalidDocument(prepared.errors);
  if (prepared.operation.operation === "subscription") {
    throw new GatewayError(400, "UnsupportedOperation", "Subscriptions are only served on the real-time endpoint");
  }
  return prepared;
}

/** Takes a scheduled fault for a publish, spent only on one that would run: an unauthorized caller gets its Unauthorized. */
function takePublishFault(prepared: PreparedOperation, caller: Caller, ctx: GatewayContext): ScheduledFault | null {
  if (prepared.operation.operation !== "mutation" || !ctx.engine.allows("mutation", PUBLISH_FIELD, caller)) return null;
  const publish = prepared.rootFields.find((f) => f.name === PUBLISH_FIELD);
  if (!publish) return null;
  const fault = ctx.faults.take(typeof publish.args.sessionId === "string" ? publish.args.sessionId : undefined);
  return fault ? { fault, responseKey: publish.responseKey } : null;
}

/** The failed publish, not executed: a 200 carrying errors, or the HTTP error AppSync would send. */
function injectedFailure({ fault, responseKey }: ScheduledFault, ctx: GatewayContext): RouteReply {
  ctx.stats.faultedPublishes += 1;
  if (fault.graphqlErrors) {
    const errors = [appSyncError("Injected publish failure", "InternalFailure", [responseKey])];
    return { status: 200, body: { data: { [responseKey]: null }, errors } };
  }
  if (fault.status === 401) throw new GatewayError(401, "UnauthorizedException", "You are not authorized to make this call.", "request");
  throw new GatewayError(fault.status, "InternalFailure", "Injected publish failure", "request");
}

/** Counts each mutation field that ran and delivers each successful result to the subscriptions it triggers. */
async function meterAndDeliver(prepared: PreparedOperation, response: AppSyncResponse, ctx: GatewayContext): Promise<void> {
  for (const field of prepared.rootFields) {
    const fieldErrors = (response.errors ?? []).filter((e) => e.path?.[0] === field.responseKey);
    // A field refused for authorization never ran: AWS neither executes nor meters it as a mutation.
    if (!fieldErrors.some((e) => e.errorType === "Unauthorized")) {
      ctx.stats.mutationsByField[field.name] = (ctx.stats.mutationsByField[field.name] ?? 0) + 1;
    }
    const payload = response.data?.[field.responseKey];
    if (payload !== null && payload !== undefined && fieldErrors.length === 0 && ctx.engine.triggers.has(field.name)) {
      await ctx.realtime.publish(field.name, payload);
    }
  }
}

/**
 * Request headers as the resolvers' ctx.request.headers: one string per name, plus the request id AppSync adds
 * (`x-amzn-requestid`, the same for every field of one request; a client's own value is replaced).
 */
function headerRecord(req: http.IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(",") : v;
  out["x-amzn-requestid"] = randomUUID();
  return out;
}
