/** The one error a gateway route throws; the router renders it (see router.ts), nothing else writes an error. */
import { appSyncError, INTERNAL_FAILURE_MESSAGE, type AppSyncErrorEntry } from "./engine";

/**
 * How the body of an error reads, each the shape its clients already parse:
 * - `graphql`: `{errors: [AppSync error entry]}`, a GraphQL request AppSync refuses (bad body, wrong operation);
 * - `request`: `{errors: [{errorType, message}]}`, AppSync's answer before any GraphQL runs (auth, publish faults);
 * - `local`: `{error: message}`, the router itself, the /_local/ hooks and the static files.
 */
export type ErrorBodyShape = "graphql" | "request" | "local";

/** An HTTP error answer: its status, AppSync's errorType, a message safe to show, and the shape of its body. */
export class GatewayError extends Error {
  constructor(
    readonly status: number,
    readonly errorType: string,
    message: string,
    readonly shape: ErrorBodyShape = "graphql",
    /** Errors found in the document itself; rendered all of them, with `data: null`, as AppSync does. */
    readonly entries?: AppSyncErrorEntry[],
  ) {
    super(message);
    this.name = "GatewayError";
  }

  /**
   * A document the engine refused, with every error it found. AppSync answers a document that does not validate and
   * variables that do not coerce (ValidationError) with HTTP 200 and `data: null`; a request without a query is a 400.
   */
  static invalidDocument(entries: AppSyncErrorEntry[]): GatewayError {
    const first = entries[0];
    const status = entries.every((e) => e.errorType === "ValidationError") ? 200 : 400;
    return new GatewayError(status, first?.errorType ?? "ValidationError", first?.message ?? "Invalid document", "graphql", entries);
  }

  /** Anything a route did not expect: AppSync's InternalFailure, whose message says nothing of the cause. */
  static internalFailure(): GatewayError {
    return new GatewayError(500, "InternalFailure", INTERNAL_FAILURE_MESSAGE);
  }

  /** The JSON body, in this error's shape. */
  body(): unknown {
    switch (this.shape) {
      case "local":
        return { error: this.message };
      case "request":
        return { errors: [{ errorType: this.errorType, message: this.message }] };
      case "graphql":
        return this.entries ? { data: null, errors: this.entries } : { errors: [appSyncError(this.message, this.errorType)] };
    }
  }
}
