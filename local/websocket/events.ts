/**
 * The events API Gateway gives the WebSocket API's functions, as AWS documents and sends them: the REQUEST
 * authorizer's for $connect (methodArn, headers and query in both single and multi-value forms, the request context),
 * and the proxy integration's for every route (requestContext with routeKey, eventType, connectionId and the
 * authorizer's context; headers and query on $connect only; the body on messages).
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";

/** What every event says about the API. */
export interface ApiInfo {
  apiId: string;
  stage: string;
  region: string;
  accountId: string;
  /** host:port the clients connect to. */
  domainName: string;
}

/** What API Gateway knows of one connection. */
export interface ConnectionInfo {
  connectionId: string;
  connectedAt: number;
  sourceIp: string;
  userAgent?: string;
  /** The authorizer's context plus principalId (absent until $connect was authorized). */
  authorizer?: Record<string, unknown>;
}

/** The upgrade request's headers (names in the case the client sent them) and query, as API Gateway passes them. */
export interface HandshakeRequest {
  headers: Record<string, string>;
  multiValueHeaders: Record<string, string[]>;
  queryStringParameters: Record<string, string> | null;
  multiValueQueryStringParameters: Record<string, string[]> | null;
}

/** API Gateway's connection ids: 16 characters; here letters and digits only. */
export function newConnectionId(): string {
  return randomBytes(12).toString("base64").replace(/[^A-Za-z0-9]/g, "A").slice(0, 15) + "A";
}

export function handshakeOf(req: IncomingMessage): HandshakeRequest {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const [name, value] = [req.rawHeaders[i], req.rawHeaders[i + 1]];
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
    (multiValueHeaders[name] ??= []).push(value);
  }
  const query = new URL(req.url ?? "/", "http://localhost").searchParams;
  const single: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  for (const [k, v] of query) {
    single[k] = v;
    (multi[k] ??= []).push(v);
  }
  const any = Object.keys(single).length > 0;
  return { headers, multiValueHeaders, queryStringParameters: any ? single : null, multiValueQueryStringParameters: any ? multi : null };
}

function requestContext(api: ApiInfo, conn: ConnectionInfo, routeKey: string, eventType: "CONNECT" | "MESSAGE" | "DISCONNECT") {
  const now = Date.now();
  return {
    routeKey,
    eventType,
    extendedRequestId: randomUUID(),
    requestTime: new Date(now).toUTCString(),
    messageDirection: "IN",
    stage: api.stage,
    connectedAt: conn.connectedAt,
    requestTimeEpoch: now,
    identity: { sourceIp: conn.sourceIp, ...(conn.userAgent ? { userAgent: conn.userAgent } : {}) },
    requestId: randomUUID(),
    domainName: api.domainName,
    connectionId: conn.connectionId,
    apiId: api.apiId,
  };
}

/** The REQUEST authorizer's event for $connect. */
export function authorizerEvent(api: ApiInfo, conn: ConnectionInfo, handshake: HandshakeRequest) {
  return {
    type: "REQUEST",
    methodArn: `arn:aws:execute-api:${api.region}:${api.accountId}:${api.apiId}/${api.stage}/$connect`,
    ...handshake,
    stageVariables: {},
    requestContext: requestContext(api, conn, "$connect", "CONNECT"),
  };
}

/** The proxy integration's event for $connect (with the handshake), a message (with its body) or $disconnect. */
export function routeEvent(api: ApiInfo, conn: ConnectionInfo, routeKey: string, extra: { handshake?: HandshakeRequest; body?: string; disconnect?: { statusCode: number; reason: string } }) {
  const eventType = routeKey === "$connect" ? "CONNECT" : routeKey === "$disconnect" ? "DISCONNECT" : "MESSAGE";
  const context = { ...requestContext(api, conn, routeKey, eventType), authorizer: conn.authorizer ?? null };
  const disconnect = extra.disconnect ? { disconnectStatusCode: extra.disconnect.statusCode, disconnectReason: extra.disconnect.reason } : {};
  return {
    ...(extra.handshake ?? {}),
    requestContext: { ...context, ...(eventType === "MESSAGE" ? { messageId: randomUUID() } : {}), ...disconnect },
    ...(extra.body !== undefined ? { body: extra.body } : {}),
    isBase64Encoded: false,
  };
}
