/** Shared fixtures for the worker tests: a scripted Bedrock stream, recording publishers and telemetry. */
import type { ConverseStreamOutput } from "@aws-sdk/client-bedrock-runtime";
import type { StreamEvent } from "../../../contracts/streamEvents";
import type { WorkRequest } from "../../../contracts/workRequest";
import type { EventPublisher } from "../../../lambdas/shared/eventPublisher";
import type { RuntimeLogger, RuntimeMetrics } from "../../../lambdas/shared/telemetry";
import type { GenerationSettings } from "../../../lambdas/stream-worker/generation";

export const request: WorkRequest = {
  sessionId: "session-0001",
  messageId: "message-0001",
  userId: "user-sub-1",
  prompt: "Tell me something",
  modelId: "anthropic.claude-3-5-haiku-20241022-v1:0",
  requestedAt: "2026-11-23T12:00:00.000Z",
};

export const settings: GenerationSettings = {
  directSend: false,
  fallbackToQueue: true,
  batchMode: "fixed",
  batchMaxDelayMs: 0,
  batchMaxChars: 400,
  batchReadingTokensPerSecond: 15,
  batchMaxWindowMs: 1000,
  maxTokens: 512,
  temperature: 0.2,
  systemPrompt: "You are terse.",
  guardrailId: "",
  guardrailVersion: "",
  guardrailStreamMode: "",
  generationSlotSeconds: 90,
};

export type StreamStep = ConverseStreamOutput | { throw: Error };

/** A Bedrock ConverseStream body: text deltas (and optional reasoning), stop reason and usage; `throw` ends it with an error. */
export function converseStream(steps: StreamStep[]): AsyncIterable<ConverseStreamOutput> {
  return (async function* () {
    for (const step of steps) {
      await Promise.resolve();
      if ("throw" in step) throw step.throw;
      yield step;
    }
  })();
}

export function textStream(deltas: string[], options: { reasoning?: string[]; usage?: { inputTokens: number; outputTokens: number }; stopReason?: string } = {}): StreamStep[] {
  return [
    { messageStart: { role: "assistant" } },
    ...(options.reasoning ?? []).map((text) => ({ contentBlockDelta: { contentBlockIndex: 0, delta: { reasoningContent: { text } } } }) as ConverseStreamOutput),
    ...deltas.map((text) => ({ contentBlockDelta: { contentBlockIndex: 1, delta: { text } } }) as ConverseStreamOutput),
    { contentBlockStop: { contentBlockIndex: 1 } },
    { messageStop: { stopReason: (options.stopReason ?? "end_turn") as "end_turn" } },
    { metadata: { usage: { inputTokens: 11, outputTokens: 22, totalTokens: 33, ...options.usage }, metrics: { latencyMs: 5 } } },
  ];
}

export function namedError(name: string, message = `${name}: internal detail do-not-leak`): Error {
  const e = new Error(message);
  e.name = name;
  return e;
}

export function recordingPublisher(failWith?: (event: StreamEvent, index: number) => Error | undefined): EventPublisher & { events: StreamEvent[]; attempts: number } {
  const sink = {
    events: [] as StreamEvent[],
    attempts: 0,
    async publish(event: StreamEvent) {
      const error = failWith?.(event, sink.attempts++);
      if (error) throw error;
      sink.events.push(event);
    },
  };
  return sink;
}

export function recordingTelemetry() {
  const metrics: { name: string; unit: string; value: number }[] = [];
  const errors: string[] = [];
  const modelTokens: { modelId: string; inputTokens: number; outputTokens: number }[] = [];
  const logs: { level: string; message: string; extra: unknown[] }[] = [];
  const log = (level: string) => (message: string, ...extra: unknown[]) => void logs.push({ level, message, extra });
  const logger: RuntimeLogger = { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
  const recorder: RuntimeMetrics = {
    addMetric: (name, unit, value) => void metrics.push({ name, unit, value }),
    countError: (code) => void errors.push(code),
    countModelTokens: (modelId, usage) => void modelTokens.push({ modelId, ...usage }),
  };
  return { logger, metrics: recorder, recordedMetrics: metrics, errorCodes: errors, modelTokens, logs };
}

export function tokens(events: StreamEvent[]) {
  return events.flatMap((e) => (e.action === "on_new_llm_token" ? [e.data.token] : []));
}

/** Every chunk as a client assembles it: the token events' values, then the tail a final carried (envelope version 2). */
export function chunkTexts(events: StreamEvent[]): string[] {
  return events.flatMap((e) => (e.action === "on_new_llm_token" ? [e.data.token.value] : e.action === "final_response" && e.data.tail !== undefined ? [e.data.tail] : []));
}

/** One model round that asks for tools: optional reasoning (with a signature), a text, then each toolUse block with its JSON input in two pieces. */
export function toolRoundStream(options: { text?: string[]; reasoning?: string[]; signature?: string; tools: { id: string; name: string; input: string }[]; usage?: { inputTokens: number; outputTokens: number } }): StreamStep[] {
  const reasoning = options.reasoning ?? [];
  const textIndex = reasoning.length ? 1 : 0;
  return [
    { messageStart: { role: "assistant" } },
    ...reasoning.map((text) => ({ contentBlockDelta: { contentBlockIndex: 0, delta: { reasoningContent: { text } } } }) as ConverseStreamOutput),
    ...(options.signature ? [{ contentBlockDelta: { contentBlockIndex: 0, delta: { reasoningContent: { signature: options.signature } } } } as ConverseStreamOutput] : []),
    ...(options.text ?? []).map((text) => ({ contentBlockDelta: { contentBlockIndex: textIndex, delta: { text } } }) as ConverseStreamOutput),
    ...options.tools.flatMap((t, i): ConverseStreamOutput[] => [
      { contentBlockStart: { contentBlockIndex: textIndex + 1 + i, start: { toolUse: { toolUseId: t.id, name: t.name } } } },
      { contentBlockDelta: { contentBlockIndex: textIndex + 1 + i, delta: { toolUse: { input: t.input.slice(0, 3) } } } },
      { contentBlockDelta: { contentBlockIndex: textIndex + 1 + i, delta: { toolUse: { input: t.input.slice(3) } } } },
      { contentBlockStop: { contentBlockIndex: textIndex + 1 + i } },
    ]),
    { messageStop: { stopReason: "tool_use" } },
    { metadata: { usage: { inputTokens: 5, outputTokens: 6, totalTokens: 11, ...options.usage }, metrics: { latencyMs: 5 } } },
  ];
}

/** The message-wide numbers of the events, the tail a final carried counted as its own (envelope version 3). */
export function eventSequences(events: StreamEvent[]): number[] {
  return events.flatMap((e) => {
    const n = e.data.eventSequence;
    if (n === undefined) return [];
    return e.action === "final_response" && e.data.tail !== undefined ? [n - 1, n] : [n];
  });
}
