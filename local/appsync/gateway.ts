/**
 * The local AppSync gateway: POST /graphql (graphql-js + the deployed APPSYNC_JS resolvers, SigV4 and JWT auth per
 * field directive), the real-time WebSocket endpoint on the same port, test fault injection under /_local/.
 * startGateway builds the parts once (GatewayContext) and hands HTTP to the router, upgrades to the real-time server.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { RESOLVERS, RESOLVERS_DIR, SCHEMA_FILE } from "../../graphql/api";
import { GraphQLEngine } from "./engine";
import { GatewayFaults, emptyStats, type GatewayStats } from "./faults";
import { IdentityVerifier } from "./identity";
import { RealtimeServer } from "./realtime";
import { GRAPHQL_PATH, routeRequest, type GatewayContext } from "./router";

export interface GatewayOptions {
  /** TCP port on 127.0.0.1; 0 picks a free one. */
  port?: number;
  region: string;
  /** The only IAM identity accepted for @aws_iam fields. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** JWTs must be signed by this issuer (JWKS), unexpired, aud = clientId, token_use = id. */
  issuer: { issuerUrl: string; clientId: string };
  /** The Lambda data sources by function name (sendQuery, messageControl), as graphql/api.ts binds them. */
  lambdaDataSources: Record<string, (payload: unknown) => Promise<unknown>>;
  /** Optional folder served at GET / (the web console). */
  staticDir?: string;
  /** How often `ka` is sent on real-time connections (default 60 s, as AppSync). */
  keepAliveIntervalMs?: number;
  /** connection_ack's connectionTimeoutMs (default 300000, as AppSync). */
  connectionTimeoutMs?: number;
  /** ctx.identity.accountId for IAM callers (default 000000000000). */
  accountId?: string;
}

/** A running gateway: its endpoints, the fault injector and counters tests drive, and its stop. */
export interface LocalGateway {
  graphqlUrl: string;
  realtimeUrl: string;
  faults: GatewayFaults;
  stats: GatewayStats;
  close(): Promise<void>;
}

/** Starts the gateway on 127.0.0.1 and resolves once it listens. */
export async function startGateway(opts: GatewayOptions): Promise<LocalGateway> {
  const bound = { port: 0 };
  // The port is known only after listen; requests cannot arrive before it.
  const isAllowedHost = (host: string | undefined): boolean => host === `127.0.0.1:${bound.port}` || host === `localhost:${bound.port}`;
  const ctx = gatewayContext(opts, isAllowedHost);
  const server = http.createServer((req, res) => void routeRequest(req, res, ctx));
  server.on("upgrade", (req, socket, head) => ctx.realtime.handleUpgrade(req, socket, head));
  bound.port = await listen(server, opts.port ?? 0);
  return {
    graphqlUrl: `http://127.0.0.1:${bound.port}${GRAPHQL_PATH}`,
    realtimeUrl: `ws://127.0.0.1:${bound.port}${GRAPHQL_PATH}`,
    faults: ctx.faults,
    stats: ctx.stats,
    close: () => close(server, ctx.realtime),
  };
}

/** The engine (resolvers per graphql/api.ts), the identity verifier and the real-time server, sharing one set of stats. */
function gatewayContext(opts: GatewayOptions, isAllowedHost: GatewayContext["isAllowedHost"]): GatewayContext {
  const stats = emptyStats();
  const engine = new GraphQLEngine({
    schemaFile: SCHEMA_FILE,
    resolversDir: RESOLVERS_DIR,
    resolvers: RESOLVERS,
    lambdaDataSources: opts.lambdaDataSources,
    onUnauthorized: () => {
      stats.rejectedAuth += 1;
    },
  });
  const verifier = new IdentityVerifier({ region: opts.region, credentials: opts.credentials, issuer: opts.issuer, accountId: opts.accountId });
  const realtime = new RealtimeServer({
    engine,
    verifier,
    stats,
    graphqlPath: GRAPHQL_PATH,
    keepAliveIntervalMs: opts.keepAliveIntervalMs ?? 60_000,
    connectionTimeoutMs: opts.connectionTimeoutMs ?? 300_000,
    isAllowedHost,
  });
  return { engine, verifier, realtime, stats, faults: new GatewayFaults(), staticDir: opts.staticDir, isAllowedHost };
}

function listen(server: http.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
  });
}

/** Terminates the real-time connections and every open HTTP connection, so close does not wait on keep-alive. */
function close(server: http.Server, realtime: RealtimeServer): Promise<void> {
  return new Promise<void>((resolve) => {
    realtime.close();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
