/**
 * The narrow logging and metrics surfaces the runtime modules take as parameters: a Powertools Logger fits
 * RuntimeLogger as is, `powertoolsMetrics` adapts a Powertools Metrics (errors and tokens per model as single metrics
 * with their own dimension); tests pass small recorders.
 */
import type { Metrics } from "@aws-lambda-powertools/metrics";

export interface RuntimeLogger {
  debug(message: string, ...extra: unknown[]): void;
  info(message: string, ...extra: unknown[]): void;
  warn(message: string, ...extra: unknown[]): void;
  error(message: string, ...extra: unknown[]): void;
}

/** Discards everything: the default where a caller passes no logger. */
export const silentLogger: RuntimeLogger = { debug() {}, info() {}, warn() {}, error() {} };

export type MetricUnitName = "Count" | "Milliseconds";

export interface RuntimeMetrics {
  addMetric(name: string, unit: MetricUnitName, value: number): void;
  /** One `Errors` count with a `code` dimension. */
  countError(code: string): void;
  /** A finished message's `InputTokens` and `OutputTokens`, with a `model` dimension (the tokens per model). */
  countModelTokens(modelId: string, usage: { inputTokens: number; outputTokens: number }): void;
}

/** EMF through Powertools: plain metrics go to the invocation's batch, errors as single metrics with their code dimension. */
export function powertoolsMetrics(metrics: Metrics): RuntimeMetrics {
  return {
    addMetric: (name, unit, value) => metrics.addMetric(name, unit, value),
    countError(code) {
      const single = metrics.singleMetric();
      single.addDimension("code", code);
      single.addMetric("Errors", "Count", 1);
    },
    countModelTokens(modelId, usage) {
      // A single metric is published (and its dimensions cleared) by its addMetric: one per metric.
      for (const [name, value] of [["InputTokens", usage.inputTokens], ["OutputTokens", usage.outputTokens]] as const) {
        const single = metrics.singleMetric();
        single.addDimension("model", modelId);
        single.addMetric(name, "Count", value);
      }
    },
  };
}
