/**
 * Runs the APPSYNC_JS resolver files unchanged: each file is bundled by esbuild (with `@aws-appsync/utils` left
 * external) and evaluated in a node:vm context whose `require("@aws-appsync/utils")` returns the local implementation
 * below. Only what our resolvers and the AppSync docs for unit resolvers need is implemented.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import * as vm from "node:vm";
import { buildSync } from "esbuild";
import { toSubscriptionFilter, validateFilter, type SubscriptionFilter } from "./subscriptionFilter";

/** util.error / util.unauthorized abort the field with this; it becomes one AppSync-shaped GraphQL error. */
export class AppSyncResolverError extends Error {
  constructor(
    message: string,
    public readonly errorType: string | null,
    public readonly data: unknown = null,
    public readonly errorInfo: unknown = null,
  ) {
    super(message);
  }
}

class EarlyReturn {
  constructor(public readonly value: unknown) {}
}

/** What a resolver invocation may leave behind besides its result. */
export interface InvocationEffects {
  subscriptionFilter?: SubscriptionFilter;
  appendedErrors: AppSyncResolverError[];
}

export interface ResolverContext {
  arguments: Record<string, unknown>;
  args: Record<string, unknown>;
  identity: unknown;
  source: unknown;
  stash: Record<string, unknown>;
  prev: { result: unknown };
  request: { headers: Record<string, string>; domainName: string | null };
  info: {
    fieldName: string;
    parentTypeName: string;
    variables: Record<string, unknown>;
    selectionSetList: string[];
    selectionSetGraphQL: string;
  };
  result?: unknown;
  error?: { message: string; type: string } | null;
}

export interface ResolverModule {
  request(ctx: ResolverContext): unknown;
  response(ctx: ResolverContext): unknown;
}

let current: InvocationEffects | null = null;

function effects(): InvocationEffects {
  if (!current) throw new Error("@aws-appsync/utils used outside a resolver invocation");
  return current;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, "0");
const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

function ulid(): string {
  let time = Date.now();
  let out = "";
  for (let i = 0; i < 10; i++) {
    out = CROCKFORD[time % 32] + out;
    time = Math.floor(time / 32);
  }
  for (const b of randomBytes(16)) out += CROCKFORD[b % 32];
  return out;
}

/** The subset of `util` that unit resolvers use; names and semantics follow the APPSYNC_JS reference. */
export const localUtil = {
  error(message: string, errorType?: string, data?: unknown, errorInfo?: unknown): never {
    throw new AppSyncResolverError(String(message), errorType ?? null, data ?? null, errorInfo ?? null);
  },
  appendError(message: string, errorType?: string, data?: unknown, errorInfo?: unknown): void {
    effects().appendedErrors.push(new AppSyncResolverError(String(message), errorType ?? null, data ?? null, errorInfo ?? null));
  },
  unauthorized(): never {
    throw new AppSyncResolverError("Unauthorized", "Unauthorized");
  },
  /** Java-style full match, as AppSync's util.matches. */
  matches(pattern: string, value: unknown): boolean {
    if (typeof value !== "string") return false;
    return new RegExp(`^(?:${pattern})$`).test(value);
  },
  autoId: (): string => randomUUID(),
  autoUlid: ulid,
  isNull: (v: unknown): boolean => v === null || v === undefined,
  isNullOrEmpty: (v: unknown): boolean => v === null || v === undefined || v === "",
  isNullOrBlank: (v: unknown): boolean => v === null || v === undefined || (typeof v === "string" && v.trim() === ""),
  defaultIfNull: <T>(v: T | null | undefined, d: T): T => (v === null || v === undefined ? d : v),
  defaultIfNullOrEmpty: (v: string | null | undefined, d: string): string => (v === null || v === undefined || v === "" ? d : v),
  defaultIfNullOrBlank: (v: string | null | undefined, d: string): string =>
    v === null || v === undefined || v.trim() === "" ? d : v,
  base64Encode: (s: string): string => Buffer.from(s, "utf8").toString("base64"),
  base64Decode: (s: string): string => Buffer.from(s, "base64").toString("utf8"),
  urlEncode: (s: string): string => encodeURIComponent(s).replace(/%20/g, "+"),
  urlDecode: (s: string): string => decodeURIComponent(s.replace(/\+/g, "%20")),
  escapeJavaScript: (s: string): string => JSON.stringify(s).slice(1, -1),
  time: {
    nowISO8601: (): string => new Date().toISOString(),
    nowEpochSeconds: (): number => Math.floor(Date.now() / 1000),
    nowEpochMilliSeconds: (): number => Date.now(),
    /** Only the UTC 'yyyy-MM-dd HH:mm:ss' family of patterns is supported locally. */
    nowFormatted(format: string): string {
      const d = new Date();
      return format
        .replace("yyyy", String(d.getUTCFullYear()))
        .replace("MM", pad(d.getUTCMonth() + 1))
        .replace("dd", pad(d.getUTCDate()))
        .replace("HH", pad(d.getUTCHours()))
        .replace("mm", pad(d.getUTCMinutes()))
        .replace("ss", pad(d.getUTCSeconds()));
    },
    epochMilliSecondsToSeconds: (ms: number): number => Math.floor(ms / 1000),
    epochMilliSecondsToISO8601: (ms: number): string => new Date(ms).toISOString(),
    parseISO8601ToEpochMilliSeconds: (s: string): number => Date.parse(s),
  },
  transform: {
    toSubscriptionFilter,
  },
};

export const localExtensions = {
  setSubscriptionFilter(filter: SubscriptionFilter): void {
    validateFilter(filter);
    effects().subscriptionFilter = JSON.parse(JSON.stringify(filter)) as SubscriptionFilter;
  },
  /** Accepted so resolvers that use it load; invalidation itself is not emulated locally. */
  setSubscriptionInvalidationFilter(filter: SubscriptionFilter): void {
    validateFilter(filter);
  },
  invalidateSubscriptions(): void {},
};

export const localRuntime = {
  earlyReturn(value?: unknown): never {
    throw new EarlyReturn(value ?? null);
  },
};

const utilsModule = Object.freeze({ util: localUtil, extensions: localExtensions, runtime: localRuntime });

/** Bundles one resolver file and evaluates it in its own vm context; the file itself is not modified. */
export function loadResolverModule(file: string): ResolverModule {
  const source = readFileSync(file, "utf8");
  const built = buildSync({
    stdin: { contents: source, resolveDir: process.cwd(), sourcefile: file, loader: "js" },
    bundle: true,
    format: "cjs",
    platform: "neutral",
    target: "es2021",
    external: ["@aws-appsync/utils"],
    write: false,
    logLevel: "silent",
  });
  const code = built.outputFiles[0].text;
  const module = { exports: {} as Record<string, unknown> };
  const sandbox = vm.createContext({
    module,
    exports: module.exports,
    require: (name: string) => {
      if (name === "@aws-appsync/utils") return utilsModule;
      throw new Error(`APPSYNC_JS cannot import '${name}'`);
    },
    console,
  });
  new vm.Script(code, { filename: file }).runInContext(sandbox, { timeout: 1000 });
  const exported = module.exports as Partial<ResolverModule>;
  if (typeof exported.request !== "function" || typeof exported.response !== "function") {
    throw new Error(`${file} must export request and response`);
  }
  return exported as ResolverModule;
}

/** AppSync serializes everything that crosses a resolver boundary; so do we (also leaves the vm's realm). */
function plain<T>(value: T): T {
  return value === undefined ? (null as T) : (JSON.parse(JSON.stringify(value)) as T);
}

export type DataSourceCall = (request: Record<string, unknown>) => Promise<{ result: unknown; error?: { message: string; type: string } }>;

export interface ResolverOutcome {
  result: unknown;
  effects: InvocationEffects;
}

function runPhase<T>(fx: InvocationEffects, fn: () => T): T {
  const previous = current;
  current = fx;
  try {
    return fn();
  } finally {
    current = previous;
  }
}

/**
 * One unit resolver: request -> data source -> response, as AppSync runs it. Throws AppSyncResolverError when the
 * resolver calls util.error; other exceptions mean a broken resolver and surface as errors too.
 */
export async function runUnitResolver(
  mod: ResolverModule,
  ctx: ResolverContext,
  callDataSource: DataSourceCall,
): Promise<ResolverOutcome> {
  const fx: InvocationEffects = { appendedErrors: [] };
  let request: unknown;
  try {
    request = plain(runPhase(fx, () => mod.request(ctx)));
  } catch (err) {
    if (err instanceof EarlyReturn) return { result: plain(err.value), effects: fx };
    throw err;
  }
  const ds = await callDataSource((request ?? {}) as Record<string, unknown>);
  ctx.result = ds.result;
  ctx.error = ds.error ?? null;
  const result = plain(runPhase(fx, () => mod.response(ctx)));
  return { result, effects: fx };
}
