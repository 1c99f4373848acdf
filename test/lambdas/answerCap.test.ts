/** An answer's byte cap (the Function URL's max_answer_bytes): the answer ends at the cap, cut at a code point, and the model call is aborted. */
import type { BedrockRuntimeClient, ConverseStreamOutput } from "@aws-sdk/client-bedrock-runtime";
import { MAX_BYTES_REASON } from "../../contracts/messageState";
import { byteLength } from "../../contracts/utf8";
import { AnswerCap } from "../../lambdas/stream-worker/answerCap";
import { runGeneration } from "../../lambdas/stream-worker/generation";
import { chunkTexts, recordingPublisher, recordingTelemetry, request, settings, textStream } from "./support/workerFixtures";

/** A Bedrock client whose one stream yields `steps`, recording the abort signal of the call and how far it was read. */
function scriptedBedrock(steps: ConverseStreamOutput[]) {
  const seen = { signal: undefined as AbortSignal | undefined, itemsRead: 0 };
  const client = {
    send: async (_command: unknown, options?: { abortSignal?: AbortSignal }) => {
      seen.signal = options?.abortSignal;
      return {
        stream: (async function* () {
          for (const step of steps) {
            seen.itemsRead++;
            yield step;
          }
        })(),
      };
    },
  } as unknown as BedrockRuntimeClient;
  return { client, seen };
}

describe("AnswerCap", () => {
  it("passes text while it fits, then cuts at a code point and reports the cap reached", () => {
    const cap = new AnswerCap(byteLength("ab🚀"));
    expect(cap.take("ab")).toBe("ab");
    expect(cap.reached).toBe(false);
    expect(cap.take("🚀🚀")).toBe("🚀");
    expect(cap.reached).toBe(true);
    expect(cap.signal.aborted).toBe(true);
    expect(cap.take("more")).toBe("");
  });

  it("an answer that ends exactly at the cap is not cut", () => {
    const cap = new AnswerCap(4);
    expect(cap.take("abcd")).toBe("abcd");
    expect(cap.reached).toBe(false);
  });
});

describe("runGeneration with maxAnswerBytes", () => {
  it("ends the answer at the cap with stopReason max_bytes, the streamed text as content, and aborts the model call", async () => {
    const deltas = ['He said "hi" ', "C:\\temp\\new\n", "naïve 🚀🚀🚀", " never sent"];
    const cap = byteLength(deltas[0] + deltas[1]) + byteLength("naïve 🚀");
    const { client, seen } = scriptedBedrock(textStream(deltas) as ConverseStreamOutput[]);
    const direct = recordingPublisher();
    const telemetry = recordingTelemetry();
    const summary = await runGeneration(
      { ...request, delivery: "direct" },
      { bedrock: client, settings, direct, queue: recordingPublisher(), logger: telemetry.logger, metrics: telemetry.metrics, maxAnswerBytes: cap },
    );
    const final = direct.events.at(-1)!;
    expect(final).toMatchObject({ action: "final_response", data: { stopReason: MAX_BYTES_REASON, content: deltas[0] + deltas[1] + "naïve 🚀" } });
    expect(final.action === "final_response" && byteLength(final.data.content)).toBeLessThanOrEqual(cap);
    expect(chunkTexts(direct.events).join("")).toBe(final.action === "final_response" ? final.data.content : "");
    expect(seen.signal?.aborted).toBe(true);
    // The stream is not read past the delta that reached the cap.
    expect(seen.itemsRead).toBe(1 + 3);
    expect(summary.outcome).toBe("completed");
    // Bedrock sends no usage for a cancelled stream: the text deltas received stand in.
    expect(final.action === "final_response" && final.data.usage).toEqual({ inputTokens: 0, outputTokens: 3 });
    expect(telemetry.recordedMetrics.find((m) => m.name === "AnswersCapped")?.value).toBe(1);
  });

  it("an answer under the cap is untouched", async () => {
    const { client, seen } = scriptedBedrock(textStream(["short ", "answer"]) as ConverseStreamOutput[]);
    const direct = recordingPublisher();
    const telemetry = recordingTelemetry();
    await runGeneration({ ...request, delivery: "direct" }, { bedrock: client, settings, direct, queue: recordingPublisher(), logger: telemetry.logger, metrics: telemetry.metrics, maxAnswerBytes: 16 * 1024 });
    expect(direct.events.at(-1)).toMatchObject({ action: "final_response", data: { stopReason: "end_turn", content: "short answer", usage: { inputTokens: 11, outputTokens: 22 } } });
    expect(seen.signal?.aborted).toBe(false);
  });
});
