/**
 * The stand-in's control routes under /_local/, for tests and the bench that run the stack as a child process:
 * GET/DELETE requests (the emission log, with the ApplyGuardrail calls), GET/PUT timing. Served over HTTP/1.1 and HTTP/2 alike.
 */
import type * as http2 from "node:http2";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { StandInRequest } from "./framing";
import type { GuardrailCheck } from "./guardrail";
import type { BedrockTiming } from "./script";

/** Path prefix of the control routes. */
export const CONTROL_PREFIX = "/_local/";

/** What the control routes read and change: the stand-in's emission log (and ApplyGuardrail calls) and its live timing. */
export interface StandInState {
  log: { requests: StandInRequest[]; guardrailChecks: GuardrailCheck[] };
  timing: BedrockTiming;
}

interface ControlReply {
  status: number;
  body?: unknown;
}

const ROUTES = new Map<string, (state: StandInState, body: string) => ControlReply>([
  [`GET ${CONTROL_PREFIX}requests`, (state) => ({ status: 200, body: state.log })],
  [
    `DELETE ${CONTROL_PREFIX}requests`,
    (state) => {
      state.log.requests.length = 0;
      state.log.guardrailChecks.length = 0;
      return { status: 204 };
    },
  ],
  [`GET ${CONTROL_PREFIX}timing`, (state) => ({ status: 200, body: state.timing })],
  [`PUT ${CONTROL_PREFIX}timing`, putTiming],
]);

/** Answers one control request once its body has arrived; unknown routes get 404. */
export function handleControl(req: http2.Http2ServerRequest | IncomingMessage, res: http2.Http2ServerResponse | ServerResponse, pathname: string, state: StandInState): void {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const route = ROUTES.get(`${req.method} ${pathname}`);
    const reply = route ? route(state, Buffer.concat(chunks).toString("utf8")) : { status: 404, body: { message: "unknown control route" } };
    res.writeHead(reply.status, reply.body === undefined ? {} : { "content-type": "application/json" });
    if (reply.body === undefined) res.end();
    else res.end(JSON.stringify(reply.body));
  });
}

/** PUT timing: sets the given fields, each a number >= 0, and answers the whole timing. */
function putTiming(state: StandInState, raw: string): ControlReply {
  let body: Partial<BedrockTiming>;
  try {
    body = JSON.parse(raw || "{}");
  } catch {
    return { status: 400, body: { message: "body must be JSON" } };
  }
  for (const key of ["firstTokenMs", "tokensPerSecond"] as const) {
    const v = body[key];
    if (v === undefined) continue;
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) return { status: 400, body: { message: `${key} must be a number >= 0` } };
    state.timing[key] = v;
  }
  return { status: 200, body: state.timing };
}
