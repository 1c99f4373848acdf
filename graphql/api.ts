/** Which resolver file serves which field, and through which data source: read by the AppSync construct and the local gateway alike. */
import * as path from "node:path";

export const SCHEMA_FILE = path.resolve(__dirname, "schema.graphql");
export const RESOLVERS_DIR = path.resolve(__dirname, "resolvers");

/** `lambda:<function>` is one of our Lambdas (send-query, message-control); `none` is AppSync's NONE data source. */
export type DataSourceKind = "none" | "lambda:sendQuery" | "lambda:messageControl";

export interface ResolverBinding {
  typeName: "Query" | "Mutation" | "Subscription";
  fieldName: string;
  /** File in graphql/resolvers/ (APPSYNC_JS). */
  file: string;
  dataSource: DataSourceKind;
}

export const RESOLVERS: ResolverBinding[] = [
  { typeName: "Query", fieldName: "whoami", file: "whoami.js", dataSource: "none" },
  { typeName: "Mutation", fieldName: "sendQuery", file: "sendQuery.js", dataSource: "lambda:sendQuery" },
  { typeName: "Mutation", fieldName: "publishResponse", file: "publishResponse.js", dataSource: "none" },
  { typeName: "Mutation", fieldName: "stopGeneration", file: "messageControl.js", dataSource: "lambda:messageControl" },
  { typeName: "Query", fieldName: "message", file: "messageControl.js", dataSource: "lambda:messageControl" },
  { typeName: "Query", fieldName: "myUsage", file: "messageControl.js", dataSource: "lambda:messageControl" },
  { typeName: "Subscription", fieldName: "receiveMessages", file: "receiveMessages.js", dataSource: "none" },
];

/**
 * AppSync's own execution limits for the API (resolver_count_limit, query_depth_limit), set by modules/streamingApi.ts
 * and enforced the same way by the local gateway (local/appsync/engine.ts).
 * - One resolver per request: every operation our clients send is one root field with one unit resolver, and no
 *   nested field has a resolver, so a request with a second root field (aliases of sendQuery, say) gets an error
 *   there instead of a second generation; send-query checks the same by AppSync's request id.
 * - Depth 15: the depth of the standard introspection query (graphql-js getIntrospectionQuery), so schema tools keep
 *   working where introspection is on; our own documents are 2 deep and the schema has no nested types, so nothing a
 *   client sends comes near it, and it bounds what a future nested type could cost.
 */
export const API_LIMITS = { resolverCountLimit: 1, queryDepthLimit: 15 } as const;

export type ApiLimits = { resolverCountLimit: number; queryDepthLimit: number };
