/**
 * The GraphQL side of the gateway: the schema with every field wrapped in AppSync's per-field auth check, the
 * APPSYNC_JS unit resolvers bound per graphql/api.ts, and subscription registration/delivery semantics.
 */
import * as path from "node:path";
import {
  defaultFieldResolver,
  execute,
  getArgumentValues,
  getOperationAST,
  getVariableValues,
  GraphQLError,
  GraphQLObjectType,
  Kind,
  parse,
  print,
  validate,
  type DocumentNode,
  type ExecutionResult,
  type FieldNode,
  type GraphQLFieldResolver,
  type GraphQLResolveInfo,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from "graphql";
import { API_LIMITS, type ApiLimits, type DataSourceKind, type ResolverBinding } from "../../graphql/api";
import {
  AppSyncResolverError,
  loadResolverModule,
  runUnitResolver,
  type DataSourceCall,
  type ResolverContext,
  type ResolverModule,
} from "./appsyncJsRuntime";
import { modeAllowed, notAuthorizedMessage, type Caller } from "./identity";
import { buildAppSyncSchema, fieldAuth, subscriptionBindings, type AuthMode } from "./schema";
import type { SubscriptionFilter } from "./subscriptionFilter";

export interface EngineOptions {
  schemaFile: string;
  resolversDir: string;
  resolvers: readonly ResolverBinding[];
  /** The Lambda data sources by function name (`lambda:<name>` in graphql/api.ts): each takes the resolver's payload. */
  lambdaDataSources: Record<string, (payload: unknown) => Promise<unknown>>;
  defaultMode?: AuthMode;
  /** Called for every field-level authorization failure (for stats). */
  onUnauthorized?: () => void;
  /** Where an unexpected error is logged; the client only sees INTERNAL_FAILURE_MESSAGE (default: console.error). */
  onInternalError?: InternalErrorLog;
  /** The API's resolver count and query depth limits (default API_LIMITS, as deployed). */
  limits?: ApiLimits;
}

/** Logs an error no client may see, with where it happened. */
export type InternalErrorLog = (err: unknown, context: string) => void;

/** AppSync's message for an InternalFailure: what went wrong stays in the server's log. */
export const INTERNAL_FAILURE_MESSAGE = "An internal error occurred.";

/** One error as AppSync renders it in `errors`. */
export interface AppSyncErrorEntry {
  path: Array<string | number> | null;
  data: unknown;
  errorType: string | null;
  errorInfo: unknown;
  locations: Array<{ line: number; column: number; sourceName: null }>;
  message: string;
}

export interface AppSyncResponse {
  data?: Record<string, unknown> | null;
  errors?: AppSyncErrorEntry[];
}

interface ExecContext {
  caller: Caller;
  headers: Record<string, string>;
  appended: AppSyncErrorEntry[];
  delivering: boolean;
  /** Unit resolvers run so far in this request (the resolver count limit). */
  resolversRun: number;
}

/** The errorTypes of a field refused by the API's limits (the gateway's own words: AWS does not document AppSync's). */
export const LIMIT_ERROR_TYPES = { resolverCount: "ResolverCountLimitExceeded", queryDepth: "QueryDepthLimitExceeded" } as const;

/** A field's depth in the operation: its path without list indices (a root field is 1). */
function depthOf(info: GraphQLResolveInfo): number {
  let depth = 0;
  for (let p: GraphQLResolveInfo["path"] | undefined = info.path; p; p = p.prev) if (typeof p.key === "string") depth++;
  return depth;
}

export interface RootField {
  name: string;
  responseKey: string;
  args: Record<string, unknown>;
  node: FieldNode;
}

export interface PreparedOperation {
  document: DocumentNode;
  operation: OperationDefinitionNode;
  operationName?: string;
  variables: Record<string, unknown>;
  rootFields: RootField[];
}

export interface RegisteredSubscription {
  fieldName: string;
  args: Record<string, unknown>;
  filter?: SubscriptionFilter;
  prepared: PreparedOperation;
  caller: Caller;
}

export function appSyncError(message: string, errorType: string | null, pathValue: Array<string | number> | null = null): AppSyncErrorEntry {
  return { path: pathValue, data: null, errorType, errorInfo: null, locations: [], message };
}

/** AppSync's InternalFailure entry, with its generic message. */
export function internalFailure(pathValue: Array<string | number> | null = null): AppSyncErrorEntry {
  return appSyncError(INTERNAL_FAILURE_MESSAGE, "InternalFailure", pathValue);
}

function errorBase(err: GraphQLError): Pick<AppSyncErrorEntry, "path" | "locations"> {
  return {
    path: err.path ? [...err.path] : null,
    locations: (err.locations ?? []).map((l) => ({ line: l.line, column: l.column, sourceName: null as null })),
  };
}

/**
 * A document that does not parse or validate, or variables that do not coerce: AppSync (graphql-java) classifies all
 * of them as validation errors and answers them in `errors` with `data: null`.
 */
function documentError(err: GraphQLError): AppSyncErrorEntry {
  return { ...errorBase(err), data: null, errorType: "ValidationError", errorInfo: null, message: err.message };
}

/** An execution error: a resolver's own error as it raised it; anything unexpected is logged and sent generic. */
function executionError(err: GraphQLError, log: InternalErrorLog): AppSyncErrorEntry {
  const original = err.originalError;
  const base = errorBase(err);
  if (original instanceof AppSyncResolverError) {
    return { ...base, data: original.data, errorType: original.errorType, errorInfo: original.errorInfo, message: original.message };
  }
  // graphql-js's own errors (a null for a non-null field, a value that does not serialize) are safe to show.
  if (!original) return { ...base, data: null, errorType: "ValidationError", errorInfo: null, message: err.message };
  if (original instanceof GraphQLError) return { ...base, data: null, errorType: "InternalFailure", errorInfo: null, message: original.message };
  log(original, `resolving ${base.path?.join(".") ?? "a field"}`);
  return { ...base, data: null, errorType: "InternalFailure", errorInfo: null, message: INTERNAL_FAILURE_MESSAGE };
}

function selectionSetList(set: SelectionSetNode | undefined, prefix = ""): string[] {
  if (!set) return [];
  const out: string[] = [];
  for (const sel of set.selections) {
    if (sel.kind === Kind.FIELD) {
      const name = prefix + sel.name.value;
      out.push(name);
      out.push(...selectionSetList(sel.selectionSet, `${name}/`));
    } else if (sel.kind === Kind.INLINE_FRAGMENT) {
      out.push(...selectionSetList(sel.selectionSet, prefix));
    }
  }
  return out;
}

export class GraphQLEngine {
  readonly schema: GraphQLSchema;
  /** Mutation field -> subscription fields that list it in @aws_subscribe. */
  readonly triggers = new Map<string, string[]>();
  private readonly modules = new Map<string, { mod: ResolverModule; dataSource: DataSourceKind }>();
  private readonly log: InternalErrorLog;

  constructor(private readonly opts: EngineOptions) {
    this.log = opts.onInternalError ?? ((err, context) => console.error(`[gateway] ${context}:`, err));
    this.schema = buildAppSyncSchema(opts.schemaFile);
    for (const b of opts.resolvers) {
      this.modules.set(`${b.typeName}.${b.fieldName}`, {
        mod: loadResolverModule(path.join(opts.resolversDir, b.file)),
        dataSource: b.dataSource,
      });
    }
    for (const [sub, mutations] of subscriptionBindings(this.schema)) {
      for (const m of mutations) this.triggers.set(m, [...(this.triggers.get(m) ?? []), sub]);
    }
    this.wrapFields();
  }

  private dataSource(kind: DataSourceKind): DataSourceCall {
    if (kind === "none") return async (request) => ({ result: request.payload ?? null });
    const invoke = this.opts.lambdaDataSources[kind.slice("lambda:".length)];
    return async (request) => {
      try {
        if (!invoke) throw new Error(`no local function for the data source ${kind}`);
        const result = await invoke(JSON.parse(JSON.stringify(request.payload ?? null)));
        return { result: result === undefined ? null : JSON.parse(JSON.stringify(result)) };
      } catch (err) {
        return { result: null, error: { message: err instanceof Error ? err.message : String(err), type: "Lambda:Unhandled" } };
      }
    };
  }


  private wrapFields(): void {
    const defaultMode = this.opts.defaultMode ?? "AMAZON_COGNITO_USER_POOLS";
    for (const type of Object.values(this.schema.getTypeMap())) {
      if (!(type instanceof GraphQLObjectType) || type.name.startsWith("__")) continue;
      const isSubscriptionRoot = type === this.schema.getSubscriptionType();
      for (const field of Object.values(type.getFields())) {
        const auth = fieldAuth(type, field, defaultMode);
        const bound = this.modules.get(`${type.name}.${field.name}`);
        const inner: GraphQLFieldResolver<unknown, ExecContext> = bound
          ? (source, args, ctx, info) => this.runBound(bound.mod, bound.dataSource, source, args, ctx, info)
          : (field.resolve ?? defaultFieldResolver);
        field.resolve = (source, args, ctx: ExecContext, info) => {
          this.checkDepth(info);
          if (!modeAllowed(ctx.caller, auth.modes, auth.cognitoGroups)) {
            this.opts.onUnauthorized?.();
            throw new AppSyncResolverError(notAuthorizedMessage(field.name, type.name), "Unauthorized");
          }
          // Delivery: the subscription field resolves to the published mutation result (its resolver ran at start).
          if (isSubscriptionRoot && ctx.delivering) return (source as Record<string, unknown>)[field.name];
          return inner(source, args, ctx, info);
        };
      }
    }
  }

  private get limits(): ApiLimits {
    return this.opts.limits ?? API_LIMITS;
  }

  /** query_depth_limit: a field deeper than the limit errors (null, or its parent's null for a non-null field). */
  private checkDepth(info: GraphQLResolveInfo): void {
    const { queryDepthLimit } = this.limits;
    if (depthOf(info) > queryDepthLimit) throw new AppSyncResolverError(`${info.fieldName} is deeper than the API's query depth limit of ${queryDepthLimit}.`, LIMIT_ERROR_TYPES.queryDepth);
  }

  /** resolver_count_limit: past the limit, a field with a resolver errors without running it. */
  private countResolver(ctx: ExecContext, info: GraphQLResolveInfo): void {
    const { resolverCountLimit } = this.limits;
    if (++ctx.resolversRun > resolverCountLimit) {
      throw new AppSyncResolverError(`${info.fieldName} was not run: the request reached the API's resolver count limit of ${resolverCountLimit}.`, LIMIT_ERROR_TYPES.resolverCount);
    }
  }

  private resolverContext(source: unknown, args: Record<string, unknown>, ctx: ExecContext, info: Pick<GraphQLResolveInfo, "fieldName" | "parentType" | "variableValues" | "fieldNodes">): ResolverContext {
    const plainArgs = JSON.parse(JSON.stringify(args)) as Record<string, unknown>;
    const set = info.fieldNodes[0]?.selectionSet;
    return {
      arguments: plainArgs,
      args: plainArgs,
      identity: ctx.caller.identity,
      source: source ?? null,
      stash: {},
      prev: { result: null },
      request: { headers: ctx.headers, domainName: null },
      info: {
        fieldName: info.fieldName,
        parentTypeName: info.parentType.name,
        variables: info.variableValues,
        selectionSetList: selectionSetList(set),
        selectionSetGraphQL: set ? print(set) : "",
      },
    };
  }

  private async runBound(
    mod: ResolverModule,
    kind: DataSourceKind,
    source: unknown,
    args: Record<string, unknown>,
    ctx: ExecContext,
    info: GraphQLResolveInfo,
  ): Promise<unknown> {
    this.countResolver(ctx, info);
    const { result, effects } = await runUnitResolver(mod, this.resolverContext(source, args, ctx, info), this.dataSource(kind));
    const at = [...pathOf(info)];
    for (const e of effects.appendedErrors) ctx.appended.push({ ...appSyncError(e.message, e.errorType, at), data: e.data, errorInfo: e.errorInfo });
    return result;
  }

  /** Whether the caller's auth mode may access a root field (per its directives, else its type's, else the default). */
  allows(operation: "query" | "mutation" | "subscription", fieldName: string, caller: Caller): boolean {
    const type = operation === "query" ? this.schema.getQueryType() : operation === "mutation" ? this.schema.getMutationType() : this.schema.getSubscriptionType();
    const field = type?.getFields()[fieldName];
    if (!type || !field) return false;
    const auth = fieldAuth(type, field, this.opts.defaultMode ?? "AMAZON_COGNITO_USER_POOLS");
    return modeAllowed(caller, auth.modes, auth.cognitoGroups);
  }

  /** Parses, validates and coerces variables; returns AppSync-shaped errors instead of throwing. */
  prepare(query: unknown, variables: unknown, operationName?: unknown): PreparedOperation | { errors: AppSyncErrorEntry[] } {
    if (typeof query !== "string") return { errors: [appSyncError("A query must be provided.", "BadRequestException")] };
    let document: DocumentNode;
    try {
      document = parse(query);
    } catch (err) {
      return { errors: [documentError(err as GraphQLError)] };
    }
    const validation = validate(this.schema, document);
    if (validation.length > 0) return { errors: validation.map(documentError) };
    const name = typeof operationName === "string" ? operationName : undefined;
    const operation = getOperationAST(document, name);
    if (!operation) return { errors: [appSyncError("Unknown or ambiguous operation name.", "ValidationError")] };
    const rawVars = variables && typeof variables === "object" ? (variables as Record<string, unknown>) : {};
    const coerced = getVariableValues(this.schema, operation.variableDefinitions ?? [], rawVars);
    if (coerced.errors) return { errors: coerced.errors.map(documentError) };
    const rootType = this.schema.getRootType(operation.operation);
    const rootFields: RootField[] = [];
    for (const sel of operation.selectionSet.selections) {
      if (sel.kind !== Kind.FIELD || !rootType) continue;
      const def = rootType.getFields()[sel.name.value];
      if (!def) continue;
      let args: Record<string, unknown>;
      try {
        args = getArgumentValues(def, sel, coerced.coerced);
      } catch (err) {
        if (err instanceof GraphQLError) return { errors: [documentError(err)] };
        throw err;
      }
      rootFields.push({ name: sel.name.value, responseKey: sel.alias?.value ?? sel.name.value, args, node: sel });
    }
    return { document, operation, operationName: name, variables: rawVars, rootFields };
  }

  /** Runs a query or mutation for an authenticated caller. */
  async run(prepared: PreparedOperation, caller: Caller, headers: Record<string, string>): Promise<AppSyncResponse> {
    const ctx: ExecContext = { caller, headers, appended: [], delivering: false, resolversRun: 0 };
    const result = await execute({
      schema: this.schema,
      document: prepared.document,
      operationName: prepared.operationName,
      variableValues: prepared.variables,
      contextValue: ctx,
    });
    return toResponse(result, ctx.appended, this.log);
  }

  /**
   * Registers a subscription as AppSync does on `start`: auth per the field's directives, then the field's
   * resolver (request + response) whose response may set the enhanced filter. Errors come back AppSync-shaped.
   */
  async subscribe(prepared: PreparedOperation, caller: Caller, headers: Record<string, string>): Promise<RegisteredSubscription | { errors: AppSyncErrorEntry[] }> {
    const subType = this.schema.getSubscriptionType();
    const root = prepared.rootFields[0];
    if (!subType || !root || prepared.rootFields.length !== 1) {
      return { errors: [appSyncError("A subscription must select exactly one field.", "ValidationError")] };
    }
    const field = subType.getFields()[root.name];
    const auth = fieldAuth(subType, field, this.opts.defaultMode ?? "AMAZON_COGNITO_USER_POOLS");
    if (!modeAllowed(caller, auth.modes, auth.cognitoGroups)) {
      this.opts.onUnauthorized?.();
      return { errors: [appSyncError(notAuthorizedMessage(root.name, subType.name), "Unauthorized", [root.responseKey])] };
    }
    const bound = this.modules.get(`${subType.name}.${root.name}`);
    let filter: SubscriptionFilter | undefined;
    if (bound) {
      const ctx: ExecContext = { caller, headers, appended: [], delivering: false, resolversRun: 0 };
      const rctx = this.resolverContext(null, root.args, ctx, {
        fieldName: root.name,
        parentType: subType,
        variableValues: prepared.variables,
        fieldNodes: [root.node],
      });
      try {
        const outcome = await runUnitResolver(bound.mod, rctx, this.dataSource(bound.dataSource));
        filter = outcome.effects.subscriptionFilter;
        if (outcome.effects.appendedErrors.length > 0) {
          return { errors: outcome.effects.appendedErrors.map((e) => appSyncError(e.message, e.errorType, [root.responseKey])) };
        }
      } catch (err) {
        if (err instanceof AppSyncResolverError) return { errors: [{ ...appSyncError(err.message, err.errorType, [root.responseKey]), data: err.data, errorInfo: err.errorInfo }] };
        this.log(err, `subscribing to ${root.name}`);
        return { errors: [internalFailure([root.responseKey])] };
      }
    }
    return { fieldName: root.name, args: root.args, filter, prepared, caller };
  }

  /** Shapes a published mutation result for one subscriber: its own selection set, its own field-level auth. */
  async render(sub: RegisteredSubscription, payload: unknown): Promise<AppSyncResponse> {
    const ctx: ExecContext = { caller: sub.caller, headers: {}, appended: [], delivering: true, resolversRun: 0 };
    const result = await execute({
      schema: this.schema,
      document: sub.prepared.document,
      operationName: sub.prepared.operationName,
      variableValues: sub.prepared.variables,
      rootValue: { [sub.fieldName]: payload },
      contextValue: ctx,
    });
    return toResponse(result, ctx.appended, this.log);
  }
}

function pathOf(info: GraphQLResolveInfo): Array<string | number> {
  const out: Array<string | number> = [];
  for (let p: GraphQLResolveInfo["path"] | undefined = info.path; p; p = p.prev) out.unshift(p.key);
  return out;
}

function toResponse(result: ExecutionResult, appended: AppSyncErrorEntry[], log: InternalErrorLog): AppSyncResponse {
  const errors = [...(result.errors ?? []).map((e) => executionError(e, log)), ...appended];
  const out: AppSyncResponse = { data: (result.data as Record<string, unknown> | null | undefined) ?? null };
  if (errors.length > 0) out.errors = errors;
  return out;
}
