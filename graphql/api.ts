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
