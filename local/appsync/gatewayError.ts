/** The one error a gateway route throws; the router renders it (see router.ts), nothing else writes an error. */
import { appSyncError, type AppSyncErrorEntry } from "./engine";

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

  /** A document that does not parse, validate or coerce: 400 with every error the engine found. */
  static invalidDocument(entries: AppSyncErrorEntry[]): GatewayError {
    const first = entries[0];
    return new GatewayError(400, first?.errorType ?? "ValidationError", first?.message ?? "Invalid document", "graphql", entries);
  }

  /** Anything a route did not expect: AppSync's InternalFailure with the thrown message. */
  static internalFailure(err: unknown): GatewayError {
    return new GatewayError(500, "InternalFailure", err instanceof Error ? err.message : String(err));
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
