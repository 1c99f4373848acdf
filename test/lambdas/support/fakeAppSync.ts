/** A real HTTP server on 127.0.0.1 (ephemeral port) standing in for the AppSync GraphQL endpoint; records every request. */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The raw body bytes as received. */
  body: Buffer;
}

export interface Reply {
  status?: number;
  body?: unknown;
  /** Never answer (to exercise the per-attempt timeout). */
  hang?: boolean;
}

export interface FakeAppSync {
  endpoint: string;
  requests: ReceivedRequest[];
  /** Decides the reply for the n-th request (0-based); default: 200 with a publishResponse echo. */
  reply: (request: ReceivedRequest, index: number) => Reply;
  close(): Promise<void>;
}

export async function startFakeAppSync(): Promise<FakeAppSync> {
  const requests: ReceivedRequest[] = [];
  const fake: FakeAppSync = {
    endpoint: "",
    requests,
    reply: (req) => {
      const vars = JSON.parse(req.body.toString("utf8")).variables;
      return { status: 200, body: { data: { publishResponse: vars } } };
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const received = { method: req.method ?? "", path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks) };
      const index = requests.push(received) - 1;
      const reply = fake.reply(received, index);
      if (reply.hang) return;
      res.writeHead(reply.status ?? 200, { "content-type": "application/json" });
      res.end(typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body ?? {}));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  fake.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  return fake;
}
