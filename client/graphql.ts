/**
 * Minimal GraphQL-over-HTTP call with fetch (browser and Node 20). Values always travel as variables. A non-2xx
 * answer or a 200 with `errors` is returned, never thrown, so callers decide; `status` tells them which it was.
 */

export interface GraphQLErrorEntry {
  message: string;
  errorType?: string | null;
  path?: Array<string | number> | null;
  data?: unknown;
  errorInfo?: unknown;
}

export interface GraphQLResponse<T = Record<string, unknown>> {
  data?: T | null;
  errors?: GraphQLErrorEntry[];
  /** HTTP status of the answer. */
  status: number;
}

export interface GraphQLRequestOptions {
  /** Abort after this many milliseconds (default 30000, AppSync's own limit). */
  timeoutMs?: number;
  fetchImpl?: typeof fetch;
}

export async function graphqlRequest<T = Record<string, unknown>>(
  url: string,
  document: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
  options: GraphQLRequestOptions = {},
): Promise<GraphQLResponse<T>> {
  const doFetch = options.fetchImpl ?? fetch;
  const res = await doFetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ query: document, variables }),
    signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
  });
  const text = await res.text();
  let body: { data?: T | null; errors?: GraphQLErrorEntry[] } = {};
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = {};
  }
  const out: GraphQLResponse<T> = { status: res.status };
  if (body.data !== undefined) out.data = body.data;
  if (Array.isArray(body.errors) && body.errors.length > 0) out.errors = body.errors;
  else if (!res.ok) out.errors = [{ message: `HTTP ${res.status}`, errorType: "HttpError" }];
  return out;
}

/** True when the call did what was asked: 2xx and no `errors` (a 200 carrying errors is a failure). */
export function succeeded(response: GraphQLResponse<unknown>): boolean {
  return response.status >= 200 && response.status < 300 && !response.errors;
}
