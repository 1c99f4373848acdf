/**
 * The client config file (`client-config.json`): what a client needs to reach one environment. Written by
 * `npm run client-config` from a deployed stack's outputs and by `npm start` for the local stack; read by the CLI,
 * the web page and the bench. One format for both, so a client works unchanged against either.
 */
import { z } from "zod";
import { BATCHING_MODES } from "../contracts/runtimeSettings";

/** How the environment times its chunks (its batching config), for the clients to show; absent from older files. */
export const clientBatchingSchema = z.object({
  mode: z.enum(BATCHING_MODES),
  maxDelayMs: z.number(),
  maxWindowMs: z.number(),
  readingTokensPerSecond: z.number(),
});

export const clientConfigSchema = z.object({
  environment: z.string(),
  region: z.string(),
  /** https://<id>.appsync-api.<region>.amazonaws.com/graphql, or the local gateway's /graphql. */
  graphqlUrl: z.string().url(),
  /** wss://<id>.appsync-realtime-api.<region>.amazonaws.com/graphql, or the local gateway's ws:// URL. */
  realtimeUrl: z.string().url(),
  auth: z.discriminatedUnion("type", [
    z.object({ type: z.literal("cognito"), userPoolId: z.string(), userPoolClientId: z.string() }),
    /** The local issuer mints Cognito-shaped ID tokens for named test users. */
    z.object({ type: z.literal("local"), issuerUrl: z.string().url() }),
  ]),
  models: z.object({ defaultModelId: z.string(), allowedModelIds: z.array(z.string()) }),
  batching: clientBatchingSchema.optional(),
  /** The websocket transport's URL (wss://<api id>.execute-api.<region>.amazonaws.com/<stage>, or the local stand-in's); absent when it is off. */
  websocketUrl: z.string().url().optional(),
  /** The Function URL transport's endpoint (POST a question, read NDJSON back), when the environment lists "function_url". */
  functionUrl: z.string().url().optional(),
  /** `npm start -- --tls` only: the self-signed certificate the https/wss URLs present (for NODE_EXTRA_CA_CERTS). */
  caCertificateFile: z.string().optional(),
});

export type ClientConfig = z.infer<typeof clientConfigSchema>;
export type ClientBatching = z.infer<typeof clientBatchingSchema>;

/** Parses and validates the text of a client config file; throws (zod) naming what is wrong. */
export function parseClientConfig(json: string): ClientConfig {
  return clientConfigSchema.parse(JSON.parse(json));
}
