/**
 * CPU time of the stream-worker and the outbound-relay handlers on the local stack, where the gateway, the queues and
 * the Bedrock stand-in share their process: process.cpuUsage (user + system) around each handler call and around
 * every callback that runs in the handler's async context (AsyncLocalStorage plus async_hooks' before/after), so
 * the other parts of the process are not counted. What runs in a pooled socket's own callbacks (HTTP response
 * parsing) lands on whoever opened the socket. Hooks cost time, so the meter is on only while it measures.
 */
import { AsyncLocalStorage, createHook } from "node:async_hooks";
import type { Handler, HandlerName } from "../local/stack";

/** The functions the bench meters: the two whose work grows with the tokens. */
export const METERED = ["streamWorker", "outboundRelay"] as const;
export type Metered = (typeof METERED)[number];

export interface CpuMeter {
  /** For LocalStackOptions.instrument. */
  instrument(name: HandlerName, handler: Handler): Handler;
  /** Starts counting from zero. */
  start(): void;
  /** Stops counting; CPU ms per metered function since start(). */
  stop(): Record<Metered, number>;
}

interface Account {
  micros: number;
}

export function createCpuMeter(): CpuMeter {
  const storage = new AsyncLocalStorage<Account>();
  const accounts: Record<Metered, Account> = { streamWorker: { micros: 0 }, outboundRelay: { micros: 0 } };
  // Nested callbacks are counted once, by the outermost one that belongs to a handler.
  let depth = 0;
  let open: { account: Account; since: NodeJS.CpuUsage } | undefined;
  const hook = createHook({
    before() {
      const account = storage.getStore();
      if (depth > 0) depth++;
      else if (account) {
        depth = 1;
        open = { account, since: process.cpuUsage() };
      }
    },
    after() {
      if (depth === 0 || --depth > 0 || !open) return;
      const used = process.cpuUsage(open.since);
      open.account.micros += used.user + used.system;
      open = undefined;
    },
  });
  let on = false;
  return {
    instrument(name, handler) {
      if (!(METERED as readonly string[]).includes(name)) return handler;
      const account = accounts[name as Metered];
      return (event, context) =>
        storage.run(account, () => {
          // The call's synchronous part runs in the poller's callback, outside the hooks' reach.
          const since = on ? process.cpuUsage() : undefined;
          const result = handler(event, context);
          if (since) {
            const used = process.cpuUsage(since);
            account.micros += used.user + used.system;
          }
          return result;
        });
    },
    start() {
      for (const a of Object.values(accounts)) a.micros = 0;
      on = true;
      hook.enable();
    },
    stop() {
      hook.disable();
      on = false;
      return { streamWorker: accounts.streamWorker.micros / 1000, outboundRelay: accounts.outboundRelay.micros / 1000 };
    },
  };
}
