/**
 * The real-time endpoint's connect header, in either form AppSync accepts: base64 JSON in the `header` and `payload`
 * query parameters, or base64url JSON in a `header-<...>` WebSocket subprotocol offered beside `graphql-ws` (the form
 * Amplify v6 and the Apollo AppSync link send; its payload is `{}`).
 */

/** The subprotocol AppSync's real-time endpoint speaks; it is the one selected in the handshake. */
export const GRAPHQL_WS = "graphql-ws";
const HEADER_SUBPROTOCOL_PREFIX = "header-";
/** The payload a connect without one is signed with (IAM signs `<graphql path>/connect` with it as the body). */
const EMPTY_PAYLOAD = "{}";

/** The connect header's object and the exact payload text it goes with. */
export interface ConnectHeader {
  header: unknown;
  payloadText: string;
}

/** The connect header, or why it could not be read (sent as the connection_error message). */
export type ConnectHeaderResult = { ok: true; value: ConnectHeader } | { ok: false; message: string };

/** The subprotocols a handshake offers, from its `Sec-WebSocket-Protocol` header. */
export function offeredSubprotocols(headerValue: string | string[] | undefined): string[] {
  const joined = Array.isArray(headerValue) ? headerValue.join(",") : (headerValue ?? "");
  return joined.split(",").map((p) => p.trim()).filter((p) => p.length > 0);
}

/** Reads the connect header from the query parameters when `header` is there, else from a `header-` subprotocol. */
export function readConnectHeader(rawQuery: string, subprotocols: string[]): ConnectHeaderResult {
  const queryHeader = queryParam(rawQuery, "header");
  if (queryHeader !== undefined) return fromQuery(queryHeader, queryParam(rawQuery, "payload"));
  const offered = subprotocols.find((p) => p.startsWith(HEADER_SUBPROTOCOL_PREFIX));
  if (offered !== undefined) return fromSubprotocol(offered.slice(HEADER_SUBPROTOCOL_PREFIX.length));
  return { ok: false, message: "Provide the connect header as a header-<base64url JSON> subprotocol or as header and payload query parameters" };
}

function fromQuery(header: string, payload: string | undefined): ConnectHeaderResult {
  const headerJson = decodeJson(header);
  const payloadJson = payload === undefined ? { text: EMPTY_PAYLOAD } : decodeJson(payload);
  if (!headerJson || !payloadJson) return { ok: false, message: "header and payload query parameters must be base64 JSON" };
  return { ok: true, value: { header: headerJson.json, payloadText: payloadJson.text } };
}

function fromSubprotocol(encoded: string): ConnectHeaderResult {
  const headerJson = decodeJson(encoded);
  if (!headerJson) return { ok: false, message: "The header- subprotocol must be base64url JSON" };
  return { ok: true, value: { header: headerJson.json, payloadText: EMPTY_PAYLOAD } };
}

/** Node's base64 decoder reads both alphabets, with or without padding; only real base64 characters are let in. */
function decodeJson(value: string): { text: string; json: unknown } | null {
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(value)) return null;
  try {
    const text = Buffer.from(value, "base64").toString("utf8");
    return { text, json: JSON.parse(text) };
  } catch {
    return null;
  }
}

/** Query values are decoded without turning '+' into a space: clients often send raw base64. */
function queryParam(rawQuery: string, name: string): string | undefined {
  for (const part of rawQuery.split("&")) {
    const eq = part.indexOf("=");
    const key = eq < 0 ? part : part.slice(0, eq);
    if (key !== name) continue;
    try {
      return decodeURIComponent(eq < 0 ? "" : part.slice(eq + 1));
    } catch {
      return undefined;
    }
  }
  return undefined;
}
