/**
 * Routes one message's events: queued -> outbound topic; direct -> AppSync, and when a direct publish finally fails
 * and fallback is on, that event and every later event of the message go to the topic, so the relay keeps their order.
 */
import type { EventPublisher } from "../shared/eventPublisher";
import type { StreamEvent } from "../shared/envelope";
import type { RuntimeLogger, RuntimeMetrics } from "../shared/telemetry";

export type DeliveryMode = "direct" | "queued";

export interface DeliveryRouterOptions {
  mode: DeliveryMode;
  direct: EventPublisher;
  queue: EventPublisher;
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
  return {
    get fellBack() {
      return fellBack;
    },
    async publish(event: StreamEvent): Promise<void> {
      if (options.mode === "queued" || fellBack) return options.queue.publish(event);
      try {
        await options.direct.publish(event);
      } catch (error) {
        if (!options.fallbackToQueue) throw error;
        fellBack = true;
        options.metrics.addMetric("Fallbacks", "Count", 1);
        options.logger.warn("direct publish failed; this message continues through the outbound queue", { error, messageId: event.data.messageId });
        await options.queue.publish(event);
      }
    },
  };
}
