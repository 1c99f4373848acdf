/**
 * The local AppSync gateway: POST /graphql (graphql-js + the deployed APPSYNC_JS resolvers, SigV4 and JWT auth per
 * field directive), the real-time WebSocket endpoint on the same port, test fault injection under /_local/.
 * startGateway builds the parts once (GatewayContext) and hands HTTP to the router, upgrades to the real-time server.
 */
import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import { RESOLVERS, RESOLVERS_DIR, SCHEMA_FILE, type ApiLimits } from "../../graphql/api";
import { GraphQLEngine, type InternalErrorLog } from "./engine";
import { GatewayFaults, emptyStats, type GatewayStats } from "./faults";
import { IdentityVerifier } from "./identity";
import { RealtimeServer } from "./realtime";
import { GRAPHQL_PATH, routeRequest, type GatewayContext } from "./router";
import type { LocalCredentials } from "./sigv4";

export interface GatewayOptions {
  /** TCP port on 127.0.0.1; 0 picks a free one. */
  port?: number;
  region: string;
  /** The only IAM identity accepted for @aws_iam fields; with a sessionToken it is temporary, and only that token goes with it. */
  credentials: LocalCredentials;
  /** User pool tokens must be signed by this issuer (JWKS) and name clientId: `aud` of ID tokens, `client_id` of access tokens. */
  issuer: { issuerUrl: string; clientId: string };
  /** The Lambda data sources by function name (sendQuery, messageControl), as graphql/api.ts binds them. */
  lambdaDataSources: Record<string, (payload: unknown) => Promise<unknown>>;
  /** Optional folder served at GET / (the web console). */
  staticDir?: string;
  /** How often `ka` is sent on real-time connections (default 60 s, as AppSync). */
  keepAliveIntervalMs?: number;
  /** connection_ack's connectionTimeoutMs (default 300000, as AppSync). */
  connectionTimeoutMs?: number;
  /** A real-time connection that sends neither connection_init nor a start within this is closed (default 15000). */
  connectionInitTimeoutMs?: number;
  /** Where errors no client may see are logged (default: console.error); clients get AppSync's generic InternalFailure. */
  onInternalError?: InternalErrorLog;
  /** ctx.identity.accountId for IAM callers (default 000000000000). */
  accountId?: string;
  /** PEM key and certificate: serve https and wss instead of http and ws. */
  tls?: { key: string; cert: string };
  /** The API's resolver count and query depth limits (default graphql/api.ts API_LIMITS, as deployed). */
  limits?: ApiLimits;
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
  const server = createServer(opts.tls, (req, res) => void routeRequest(req, res, ctx));
  server.on("upgrade", (req, socket, head) => ctx.realtime.handleUpgrade(req, socket, head));
  bound.port = await listen(server, opts.port ?? 0);
  const secure = opts.tls ? "s" : "";
  return {
    graphqlUrl: `http${secure}://127.0.0.1:${bound.port}${GRAPHQL_PATH}`,
    realtimeUrl: `ws${secure}://127.0.0.1:${bound.port}${GRAPHQL_PATH}`,
    faults: ctx.faults,
    stats: ctx.stats,
    close: () => close(server, ctx.realtime),
  };
}

/** The engine (resolvers per graphql/api.ts), the identity verifier and the real-time server, sharing one set of stats. */
function gatewayContext(opts: GatewayOptions, isAllowedHost: GatewayContext["isAllowedHost"]): GatewayContext {
  const stats = emptyStats();
  const onInternalError = opts.onInternalError ?? logInternalError;
  const engine = new GraphQLEngine({
    schemaFile: SCHEMA_FILE,
    resolversDir: RESOLVERS_DIR,
    resolvers: RESOLVERS,
    lambdaDataSources: opts.lambdaDataSources,
    onUnauthorized: () => {
      stats.rejectedAuth += 1;
    },
    onInternalError,
    limits: opts.limits,
  });
  const verifier = new IdentityVerifier({ region: opts.region, credentials: opts.credentials, issuer: opts.issuer, accountId: opts.accountId });
  const realtime = new RealtimeServer({
    engine,
    verifier,
    stats,
    graphqlPath: GRAPHQL_PATH,
    keepAliveIntervalMs: opts.keepAliveIntervalMs ?? 60_000,
    connectionTimeoutMs: opts.connectionTimeoutMs ?? 300_000,
    connectionInitTimeoutMs: opts.connectionInitTimeoutMs ?? DEFAULT_CONNECTION_INIT_TIMEOUT_MS,
    isAllowedHost,
    onInternalError,
  });
  return { engine, verifier, realtime, stats, faults: new GatewayFaults(), staticDir: opts.staticDir, isAllowedHost, onInternalError };
}

/** The published clients give up on connection_ack after 15 s (Amplify's and the Apollo link's CONNECTION_INIT_TIMEOUT). */
const DEFAULT_CONNECTION_INIT_TIMEOUT_MS = 15_000;

/** The default log of errors no client may see: one line on stderr, with the stack. */
function logInternalError(err: unknown, context: string): void {
  console.error(`[gateway] internal error ${context}:`, err);
}

/** An https server when given a key and certificate (the WebSocket upgrade then arrives over TLS too), else http. */
function createServer(tls: GatewayOptions["tls"], listener: http.RequestListener): http.Server | https.Server {
  return tls ? https.createServer({ key: tls.key, cert: tls.cert }, listener) : http.createServer(listener);
}

function listen(server: http.Server | https.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
  });
}

/** Terminates the real-time connections and every open HTTP connection, so close does not wait on keep-alive. */
function close(server: http.Server | https.Server, realtime: RealtimeServer): Promise<void> {
  return new Promise<void>((resolve) => {
    realtime.close();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
