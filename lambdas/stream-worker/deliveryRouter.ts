/**
 * Routes one message's events: websocket -> the user's WebSocket connections (a message the WebSocket route sent; no
 * fallback, the AppSync queue reaches no socket); queued -> outbound topic; direct -> AppSync, and when a direct
 * publish finally fails and fallback is on, that event and every later event of the message go to the topic, so the
 * relay keeps their order.
 * With fallback off, once a direct publish of the message failed for good, later token events get one attempt each
 * (until one succeeds again), so an AppSync outage costs one retry budget per message, not one per chunk; the final
 * or error event keeps the full budget.
 */
import type { EventPublisher, PublishOptions } from "../shared/eventPublisher";
import { EVENT_ACTIONS, type StreamEvent } from "../../contracts/streamEvents";
import type { RuntimeLogger, RuntimeMetrics } from "../shared/telemetry";

export type DeliveryMode = "direct" | "queued" | "websocket";

export interface DeliveryRouterOptions {
  mode: DeliveryMode;
  direct: EventPublisher;
  queue: EventPublisher;
  /** PostToConnection to the user's connections; present where the websocket transport is enabled. */
  websocket?: EventPublisher;
  fallbackToQueue: boolean;
  logger: RuntimeLogger;
  metrics: RuntimeMetrics;
}

export interface DeliveryRouter extends EventPublisher {
  /** True once this message switched to the queue after a direct failure. */
  readonly fellBack: boolean;
}

export function createDeliveryRouter(options: DeliveryRouterOptions): DeliveryRouter {
  let fellBack = false;
  /** A direct publish of this message failed for good (fallback off) and none has succeeded since. */
  let directFailing = false;
  return {
    get fellBack() {
      return fellBack;
    },
    async publish(event: StreamEvent, publishOptions: PublishOptions = {}): Promise<void> {
      const { signal } = publishOptions;
      if (options.mode === "websocket") return websocketOf(options).publish(event, { signal });
      if (options.mode === "queued" || fellBack) return options.queue.publish(event, { signal });
      const oneAttempt = directFailing && event.action === EVENT_ACTIONS.token;
      try {
        await options.direct.publish(event, oneAttempt ? { signal, maxAttempts: 1 } : { signal });
        directFailing = false;
      } catch (error) {
        // Past the deadline there is no time for the queue either.
        if (!options.fallbackToQueue || signal?.aborted) {
          directFailing = true;
          throw error;
        }
        fellBack = true;
        options.metrics.addMetric("Fallbacks", "Count", 1);
        options.logger.warn("direct publish failed; this message continues through the outbound queue", { error, messageId: event.data.messageId });
        await options.queue.publish(event, { signal });
      }
    },
  };
}

/** The websocket sink; a message that asks for it where the transport is off fails each event (counted lost). */
function websocketOf(options: DeliveryRouterOptions): EventPublisher {
  if (!options.websocket) throw new Error("websocket delivery is not configured (WS_ENDPOINT, WS_TABLE)");
  return options.websocket;
}
