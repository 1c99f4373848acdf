/**
 * The Function URL's event sink: each event as one NDJSON line (contracts/functionUrl.ts) on the response stream, and
 * the client's disconnect seen on that stream: it closes or errors before the answer ended.
 */
import type { Writable } from "node:stream";
import { ndjsonLine } from "../../contracts/functionUrl";
import type { StreamEvent } from "../../contracts/streamEvents";
import type { EventPublisher } from "../shared/eventPublisher";

export interface NdjsonSink extends EventPublisher {
  /** True once the stream closed or failed before `end`: the client went away. */
  readonly disconnected: boolean;
  /** Ends the response (after the last line); resolves once it is flushed, or at once when the client is gone. */
  end(): Promise<void>;
}

/** A sink over `stream`; `onDisconnect` runs once when the stream closes or fails before `end`. */
export function createNdjsonSink(stream: Writable, onDisconnect: () => void): NdjsonSink {
  let ended = false;
  let disconnected = false;
  const gone = () => {
    if (ended || disconnected) return;
    disconnected = true;
    onDisconnect();
  };
  // An 'error' without a listener would crash the process: it is the disconnect, seen once.
  stream.on("error", gone);
  stream.on("close", gone);
  const writable = () => !disconnected && !stream.destroyed && !stream.writableEnded;
  return {
    get disconnected() {
      return disconnected;
    },
    publish(event: StreamEvent): Promise<void> {
      // Nobody is left to read it (the record has every event, for message(...)): dropped, not a delivery failure.
      if (disconnected) return Promise.resolve();
      if (!writable()) return Promise.reject(new Error("the Function URL response has already ended"));
      return new Promise<void>((resolve, reject) => stream.write(ndjsonLine(event), (error) => (error && !disconnected ? reject(error) : resolve())));
    },
    end(): Promise<void> {
      if (!writable()) {
        ended = true;
        return Promise.resolve();
      }
      ended = true;
      return new Promise<void>((resolve) => stream.end(() => resolve()));
    },
  };
}
