/** Scripted publishResponse failures for tests, and the gateway's counters. */

export interface PublishFaultOptions {
  /** HTTP status of the failed publish (default 500); ignored when graphqlErrors is set. */
  status?: 500 | 401 | 503 | 429;
  /** Answer 200 with an `errors` body (and null data) instead of an HTTP error. */
  graphqlErrors?: boolean;
  /** Only publishes for this sessionId fail (and use up the count). */
  sessionId?: string;
}

export interface PublishFault {
  status: number;
  graphqlErrors: boolean;
}

interface Rule {
  remaining: number;
  status: number;
  graphqlErrors: boolean;
  sessionId?: string;
}

export interface FaultState {
  pendingFailures: number;
  rejecting: boolean;
}

const ALLOWED_STATUS = new Set([401, 429, 500, 503]);

export class GatewayFaults {
  private rules: Rule[] = [];
  private rejecting: PublishFault | null = null;

  /** The next `n` publishResponse mutations (optionally only for one sessionId) fail as described. */
  failPublishes(n: number, opts: PublishFaultOptions = {}): void {
    if (!Number.isInteger(n) || n < 0 || n > 100_000) throw new RangeError("failPublishes: n must be an integer in [0, 100000]");
    const status = opts.status ?? 500;
    if (!ALLOWED_STATUS.has(status)) throw new RangeError(`failPublishes: status must be one of ${[...ALLOWED_STATUS].join(", ")}`);
    if (n > 0) this.rules.push({ remaining: n, status, graphqlErrors: opts.graphqlErrors ?? false, sessionId: opts.sessionId });
  }

  /** While on, every publishResponse fails (HTTP 500 unless told otherwise) until switched off. */
  rejectPublishes(on: boolean, opts: Omit<PublishFaultOptions, "sessionId"> = {}): void {
    const status = opts.status ?? 500;
    if (!ALLOWED_STATUS.has(status)) throw new RangeError(`rejectPublishes: status must be one of ${[...ALLOWED_STATUS].join(", ")}`);
    this.rejecting = on ? { status, graphqlErrors: opts.graphqlErrors ?? false } : null;
  }

  clear(): void {
    this.rules = [];
    this.rejecting = null;
  }

  state(): FaultState {
    return { pendingFailures: this.rules.reduce((n, r) => n + r.remaining, 0), rejecting: this.rejecting !== null };
  }

  /** Consumes one matching failure for a publish to `sessionId`, if any is scheduled. */
  take(sessionId: string | undefined): PublishFault | null {
    if (this.rejecting) return this.rejecting;
    const rule = this.rules.find((r) => r.remaining > 0 && (r.sessionId === undefined || r.sessionId === sessionId));
    if (!rule) return null;
    rule.remaining -= 1;
    this.rules = this.rules.filter((r) => r.remaining > 0);
    return { status: rule.status, graphqlErrors: rule.graphqlErrors };
  }
}

export interface GatewayStats {
  /** Executed mutations by field name (faulted ones excluded). */
  mutationsByField: Record<string, number>;
  /** `data` messages sent to subscribers. */
  deliveries: number;
  /** Requests, connections, starts and fields refused for authentication or authorization. */
  rejectedAuth: number;
  /** Publishes failed on purpose by the fault injector. */
  faultedPublishes: number;
  /** Subscriptions currently registered. */
  activeSubscriptions: number;
  /** Open real-time connections. */
  connections: number;
}

export function emptyStats(): GatewayStats {
  return { mutationsByField: {}, deliveries: 0, rejectedAuth: 0, faultedPublishes: 0, activeSubscriptions: 0, connections: 0 };
}
