/** The test hooks under /_local/ (the router lets loopback peers only): publish faults and the gateway's counters. */
import type { GatewayFaults } from "../faults";
import { GatewayError } from "../gatewayError";
import type { Exchange, GatewayContext, RouteReply } from "../router";
import { readBody } from "./requestBody";

const MAX_BODY_BYTES = 16 * 1024;

/** POST /_local/faults: schedules or clears publish faults (see README), answers the fault state. */
export async function postFaults({ req }: Exchange, ctx: GatewayContext): Promise<RouteReply> {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse((await readBody(req, MAX_BODY_BYTES)).toString("utf8") || "{}") as Record<string, unknown>;
  } catch {
    throw new GatewayError(400, "BadRequest", "body must be JSON", "local");
  }
  try {
    applyFaultRequest(body, ctx.faults);
  } catch (err) {
    throw new GatewayError(400, "BadRequest", err instanceof Error ? err.message : String(err), "local");
  }
  return { status: 200, body: ctx.faults.state() };
}

/** GET /_local/stats: the counters and the fault state. */
export function getStats(_exchange: Exchange, ctx: GatewayContext): RouteReply {
  return { status: 200, body: { ...ctx.stats, faults: ctx.faults.state() } };
}

/** `{clear}`, then `{failPublishes, status, graphqlErrors, sessionId}`, then `{rejectPublishes}`; bad values throw. */
function applyFaultRequest(body: Record<string, unknown>, faults: GatewayFaults): void {
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
}
