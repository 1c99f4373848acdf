/**
 * The one place the functions get Powertools from (the shape of Powertools' examples/app/functions/commons/powertools):
 * `createPowertools` builds the logger, metrics and tracer of a service, `withPowertools` wraps its handler. Each
 * handler.ts calls both at module scope; the modules behind it take the narrow surfaces of telemetry.ts instead.
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { Tracer } from "@aws-lambda-powertools/tracer";
import type { Context } from "aws-lambda";
import { metricsNamespace } from "../../contracts/runtimeSettings";

/** The Powertools singletons of one function. */
export interface Powertools {
  logger: Logger;
  /** EMF metrics in the namespace of `metricsNamespace()`, dimension `service`. */
  metrics: Metrics;
  tracer: Tracer;
}

/** A Lambda handler as the runtime and the local stack call it. */
export type LambdaHandler<E, R> = (event: E, context: Context) => Promise<R>;

/** Logger, metrics and tracer for `serviceName`; their other settings come from the POWERTOOLS_* variables. */
export function createPowertools(serviceName: string): Powertools {
  return {
    logger: new Logger({ serviceName }),
    metrics: new Metrics({ serviceName, namespace: metricsNamespace() }),
    tracer: new Tracer({ serviceName }),
  };
}

/**
 * Wraps a handler: adds the invocation's context to the logger, records the cold start (a `ColdStart` single metric,
 * once per instance) and, however the handler ends, publishes the metrics it stored.
 */
export function withPowertools<E, R>({ logger, metrics }: Powertools, handler: LambdaHandler<E, R>): LambdaHandler<E, R> {
  return async (event, context) => {
    logger.addContext(context);
    metrics.captureColdStartMetric(context.functionName);
    try {
      return await handler(event, context);
    } finally {
      // Nothing to publish is normal (e.g. a batch with no events); Powertools would warn on every such invocation.
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };
}
