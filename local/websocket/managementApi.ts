/**
 * The @connections management API of the local WebSocket API, as the real ApiGatewayManagementApiClient reaches it by
 * endpoint override: `POST /<stage>/@connections/{id}` sends the body to that connection as one message, `GET` answers
 * its connectedAt, identity and lastActiveAt, `DELETE` closes it. Each request must be SigV4-signed for execute-api
 * with the local identity (else 403 ForbiddenException); a closed or unknown connection is 410 GoneException, a body
 * over 128 KB 413 PayloadTooLargeException, as API Gateway answers them.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { WEBSOCKET_LIMITS } from "../../contracts/websocketFrames";
import { verifySigV4, type LocalCredentials } from "../appsync/sigv4";

/** What the management API does to a connection: the server's registry implements it. */
export interface ConnectionControl {
  /** Sends one message; false when the connection is closed or unknown. */
  post(connectionId: string, data: string): boolean;
  /** The connection's details; undefined when it is closed or unknown. */
  describe(connectionId: string): { connectedAt: number; lastActiveAt: number; sourceIp: string; userAgent?: string } | undefined;
  /** Closes the connection; false when it is closed or unknown. */
  disconnect(connectionId: string): boolean;
}

export interface ManagementApiOptions {
  region: string;
  credentials: LocalCredentials;
  connections: ConnectionControl;
  /** Counts each answered post, gone or not (the stats). */
  onPost(outcome: "delivered" | "gone" | "refused"): void;
}

const CONNECTIONS_PATH = /^(?:\/[^/@]+)?\/@connections\/([A-Za-z0-9_=-]+)$/;

function error(res: ServerResponse, status: number, type: string, message: string): void {
  res.writeHead(status, { "content-type": "application/json", "x-amzn-ErrorType": type });
  res.end(JSON.stringify({ message }));
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | "too large"> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) return "too large";
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** True when the request is /@connections/...: then it has been answered. */
export async function serveManagementApi(req: IncomingMessage, res: ServerResponse, url: URL, o: ManagementApiOptions): Promise<boolean> {
  const match = CONNECTIONS_PATH.exec(url.pathname);
  if (!match) return false;
  const connectionId = match[1];
  const body = await readBody(req, WEBSOCKET_LIMITS.messageBytes);
  if (body === "too large") return (o.onPost("refused"), error(res, 413, "PayloadTooLargeException", "Message too long"), true);
  const signed = await verifySigV4({ method: req.method ?? "GET", path: url.pathname, query: Object.fromEntries(url.searchParams), headers: req.headers, body }, { credentials: o.credentials, region: o.region, service: "execute-api" });
  if (!signed.ok) return (error(res, 403, "ForbiddenException", "Forbidden"), true);
  if (req.method === "POST") {
    const delivered = o.connections.post(connectionId, body.toString("utf8"));
    o.onPost(delivered ? "delivered" : "gone");
    if (!delivered) return (error(res, 410, "GoneException", `Connection ${connectionId} is gone`), true);
    res.writeHead(200).end();
    return true;
  }
  if (req.method === "GET") {
    const found = o.connections.describe(connectionId);
    if (!found) return (error(res, 410, "GoneException", `Connection ${connectionId} is gone`), true);
    const iso = (ms: number) => new Date(ms).toISOString();
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ connectedAt: iso(found.connectedAt), lastActiveAt: iso(found.lastActiveAt), identity: { sourceIp: found.sourceIp, userAgent: found.userAgent ?? "" } }));
    return true;
  }
  if (req.method === "DELETE") {
    if (!o.connections.disconnect(connectionId)) return (error(res, 410, "GoneException", `Connection ${connectionId} is gone`), true);
    res.writeHead(204).end();
    return true;
  }
  error(res, 405, "MethodNotAllowedException", `${req.method} is not supported on @connections`);
  return true;
}
