/**
 * Watches a streaming message for stopGeneration: reads its stop flag every `intervalMs` (one strongly consistent
 * GetItem of a small item, 1 read unit) and fires `signal` when it is set, which aborts the Bedrock call. Polling
 * costs 1,000 / intervalMs read units per stream-second and needs no other service.
 */
import type { MessageRef, MessageStore } from "../shared/messageStore";
import type { RuntimeLogger } from "../shared/telemetry";

/** Default poll interval: a stop reaches the model within about half a second plus one read. */
export const STOP_POLL_INTERVAL_MS = 500;

export interface StopWatch {
  /** Fires once a stop was requested. */
  readonly signal: AbortSignal;
  /** True once the stop was seen. */
  readonly stopped: boolean;
  /** Ends the polling (the stream is over). */
  dispose(): void;
}

export function watchForStop(store: MessageStore, ref: MessageRef, logger: RuntimeLogger, intervalMs = STOP_POLL_INTERVAL_MS): StopWatch {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let disposed = false;
  let warned = false;
  const poll = async () => {
    try {
      if (await store.stopRequested(ref)) return controller.abort(new StopRequested());
    } catch (error) {
      // A failed read only delays the stop to the next poll.
      if (!warned) logger.warn("stop flag could not be read; will retry", { ...ref, error });
      warned = true;
    }
    schedule();
  };
  const schedule = () => {
    if (!disposed) timer = setTimeout(() => void poll(), intervalMs);
  };
  schedule();
  return {
    signal: controller.signal,
    get stopped() {
      return controller.signal.aborted;
    },
    dispose() {
      disposed = true;
      clearTimeout(timer);
    },
  };
}

/** The abort reason when a user stopped the generation. */
export class StopRequested extends Error {
  override readonly name = "StopRequested";
  constructor() {
    super("the user stopped the generation");
  }
}
