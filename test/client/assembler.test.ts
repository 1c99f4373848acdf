import { MessageAssembler } from "../../client/assembler";
import { parseEvent, serializeEvent, type StreamEvent } from "../../contracts/streamEvents";

const SESSION = "session-0001";
const MESSAGE = "message-0001";
const base = { userId: "user-1", timestamp: "2026-01-01T00:00:00.000Z" };

function token(sequenceNumber: number, value: string, runId = "run-1", messageId = MESSAGE): StreamEvent {
  // Round-trip through the wire format so the test feeds exactly what a subscriber parses.
  return parseEvent(
    serializeEvent({ action: "on_new_llm_token", ...base, data: { sessionId: SESSION, messageId, token: { runId, sequenceNumber, value } } }),
  );
}

function final(content: string, lastSequenceNumber: number, reasoningContent?: string): StreamEvent {
  return parseEvent(
    serializeEvent({
      action: "final_response",
      ...base,
      data: { sessionId: SESSION, messageId: MESSAGE, content, reasoningContent, usage: { inputTokens: 3, outputTokens: 9 }, stopReason: "end_turn", lastSequenceNumber },
    }),
  );
}

/** A version-2 final carrying chunk `lastSequenceNumber` as its tail; `asVersion1` parses it as an old client does (no `tail` in its schema). */
function finalWithTail(content: string, lastSequenceNumber: number, tail: string, asVersion1 = false): StreamEvent {
  const event = parseEvent(
    serializeEvent({
      action: "final_response",
      ...base,
      data: { sessionId: SESSION, messageId: MESSAGE, content, usage: { inputTokens: 3, outputTokens: 9 }, stopReason: "end_turn", lastSequenceNumber, tail, runId: "run-1" },
    }),
  );
  if (asVersion1 && event.action === "final_response") delete event.data.tail;
  return event;
}

const ANSWER = ["## Title\n", "\n- one\n", "- two\n\n", "```ts\nconst a = \"x\";\n```", "\n> bye 🚀"];

describe("MessageAssembler and a final that carries the tail (envelope version 2)", () => {
  const whole = ANSWER.join("");
  const last = ANSWER.length - 1;

  it("takes the tail as the last chunk: exact text, no chunk missing, the tail's arrival logged as inside the final", () => {
    const a = new MessageAssembler(MESSAGE);
    ANSWER.slice(0, -1).forEach((v, i) => a.accept(token(i, v), i * 10));
    expect(a.accept(finalWithTail(whole, last, ANSWER[last]!), 90)).toBe("final");
    expect(a.text).toBe(whole);
    expect(a.missingSequenceNumbers).toEqual([]);
    expect(a.chunkCount).toBe(ANSWER.length);
    expect(a.arrivals.at(-1)).toEqual({ sequenceNumber: last, receivedAt: 90, chars: ANSWER[last]!.length, inFinal: true });
  });

  it("a version-1 client, which never sees the tail, shows the exact text from the final's content", () => {
    const a = new MessageAssembler(MESSAGE);
    ANSWER.slice(0, -1).forEach((v, i) => a.accept(token(i, v)));
    a.accept(finalWithTail(whole, last, ANSWER[last]!, true));
    expect(a.missingSequenceNumbers).toEqual([last]);
    expect(a.text).toBe(whole);
  });

  it("fills a gap before the tail from the content; later copies (a replay of the record) change nothing", () => {
    const a = new MessageAssembler(MESSAGE);
    [0, 2, 3].forEach((i) => a.accept(token(i, ANSWER[i]!)));
    a.accept(finalWithTail(whole, last, ANSWER[last]!));
    expect(a.missingSequenceNumbers).toEqual([1]);
    expect(a.text).toBe(whole);
    // A replay of the record has chunk 1, and the tail as a token event too.
    expect(a.accept(token(1, ANSWER[1]!))).toBe("stale");
    expect(a.accept(token(last, ANSWER[last]!))).toBe("stale");
    expect(a.text).toBe(whole);
  });

  it("keeps a tail that a replay delivered first as a token event", () => {
    const a = new MessageAssembler(MESSAGE);
    ANSWER.forEach((v, i) => a.accept(token(i, v)));
    a.accept(finalWithTail(whole, last, ANSWER[last]!));
    expect(a.chunkCount).toBe(ANSWER.length);
    expect(a.duplicateCount).toBe(0);
    expect(a.text).toBe(whole);
  });
});

describe("MessageAssembler", () => {
  it("a final a guardrail ended replaces the streamed text with its content, the guardrail's safe text", () => {
    const a = new MessageAssembler(MESSAGE);
    ["Here is how ", "to do the forbidden thing. "].forEach((v, i) => a.accept(token(i, v)));
    const intervened = parseEvent(
      serializeEvent({
        action: "final_response",
        ...base,
        data: { sessionId: SESSION, messageId: MESSAGE, content: "Sorry, I can't help with that.", usage: { inputTokens: 3, outputTokens: 2 }, stopReason: "guardrail_intervened", lastSequenceNumber: 1 },
      }),
    );
    expect(a.accept(intervened)).toBe("final");
    expect(a.text).toBe("Sorry, I can't help with that.");
  });

  it("renders chunks in order and the final text is the content", () => {
    const a = new MessageAssembler(MESSAGE);
    ANSWER.forEach((v, i) => expect(a.accept(token(i, v), i * 10)).toBe("appended"));
    expect(a.text).toBe(ANSWER.join(""));
    expect(a.done).toBe(false);
    expect(a.finishedAt).toBeUndefined();
    expect(a.accept(final(ANSWER.join(""), ANSWER.length - 1, "thinking"), 55)).toBe("final");
    expect(a.done).toBe(true);
    expect(a.finishedAt).toBe(55);
    expect(a.text).toBe(ANSWER.join(""));
    expect(a.reasoning).toBe("thinking");
    expect(a.chunkCount).toBe(ANSWER.length);
    expect(a.missingSequenceNumbers).toEqual([]);
    expect(a.interArrivalMs()).toEqual([10, 10, 10, 10]);
  });

  it("shows only the contiguous prefix while chunks arrive out of order", () => {
    const a = new MessageAssembler(MESSAGE);
    expect(a.accept(token(2, ANSWER[2]))).toBe("buffered");
    expect(a.text).toBe("");
    expect(a.accept(token(0, ANSWER[0]))).toBe("appended");
    expect(a.text).toBe(ANSWER[0]);
    expect(a.bufferedCount).toBe(1);
    expect(a.accept(token(1, ANSWER[1]))).toBe("appended");
    // 1 fills the gap and releases the buffered 2.
    expect(a.text).toBe(ANSWER.slice(0, 3).join(""));
    expect(a.bufferedCount).toBe(0);
    expect(a.accept(token(4, ANSWER[4]))).toBe("buffered");
    expect(a.accept(token(3, ANSWER[3]))).toBe("appended");
    expect(a.text).toBe(ANSWER.join(""));
    expect(a.arrivals.map((c) => c.sequenceNumber)).toEqual([2, 0, 1, 4, 3]);
  });

  it("drops duplicates, in and ahead of the prefix", () => {
    const a = new MessageAssembler(MESSAGE);
    a.accept(token(0, ANSWER[0]));
    expect(a.accept(token(0, ANSWER[0]))).toBe("duplicate");
    a.accept(token(2, ANSWER[2]));
    expect(a.accept(token(2, ANSWER[2]))).toBe("duplicate");
    a.accept(token(1, ANSWER[1]));
    expect(a.text).toBe(ANSWER.slice(0, 3).join(""));
    expect(a.chunkCount).toBe(3);
    expect(a.duplicateCount).toBe(2);
    a.accept(final(ANSWER.join(""), 4));
    expect(a.accept(final(ANSWER.join(""), 4))).toBe("duplicate");
    expect(a.text).toBe(ANSWER.join(""));
  });

  it("reconciles a gap with the final content so the text is exact", () => {
    const a = new MessageAssembler(MESSAGE);
    a.accept(token(0, ANSWER[0]));
    a.accept(token(2, ANSWER[2])); // 1 is lost for good
    a.accept(token(4, ANSWER[4])); // 3 too
    expect(a.text).toBe(ANSWER[0]);
    a.accept(final(ANSWER.join(""), 4));
    expect(a.text).toBe(ANSWER.join(""));
    expect(a.missingSequenceNumbers).toEqual([1, 3]);
    expect(a.bufferedCount).toBe(0);
    // A straggler after the final changes nothing.
    expect(a.accept(token(1, "WRONG"))).toBe("stale");
    expect(a.text).toBe(ANSWER.join(""));
  });

  it("takes the final content even when no token arrived at all", () => {
    const a = new MessageAssembler(MESSAGE);
    a.accept(final("short answer\nwith a newline", 0));
    expect(a.text).toBe("short answer\nwith a newline");
    expect(a.missingSequenceNumbers).toEqual([0]);
    expect(a.firstChunkAt).toBeUndefined();
  });

  it("records an error event as a terminal, user-safe failure", () => {
    const a = new MessageAssembler(MESSAGE);
    a.accept(token(0, "partial "));
    const err = parseEvent(
      serializeEvent({
        action: "error",
        ...base,
        data: { sessionId: SESSION, messageId: MESSAGE, message: "The model is busy. Try again.", code: "ThrottlingException", retryable: true },
      }),
    );
    expect(a.accept(err)).toBe("error");
    expect(a.done).toBe(true);
    expect(a.error).toEqual({ message: "The model is busy. Try again.", code: "ThrottlingException", retryable: true });
    expect(a.text).toBe("partial ");
    expect(a.accept(token(1, "more"))).toBe("stale");
    expect(a.text).toBe("partial ");
  });

  it("ignores events of another message", () => {
    const a = new MessageAssembler(MESSAGE);
    expect(a.accept(token(0, "x", "run-1", "message-0002"))).toBe("other-message");
    expect(a.text).toBe("");
    expect(a.chunkCount).toBe(0);
  });

  it("restarts cleanly when a new run of the message begins, ignoring the old run", () => {
    const a = new MessageAssembler(MESSAGE);
    a.accept(token(0, "old "));
    a.accept(token(1, "run"));
    expect(a.accept(token(0, "new ", "run-2"))).toBe("appended");
    expect(a.text).toBe("new ");
    expect(a.accept(token(2, "late old", "run-1"))).toBe("stale");
    a.accept(token(1, "run", "run-2"));
    expect(a.text).toBe("new run");
    expect(a.chunkCount).toBe(2);
  });

  it("ignores a final of a superseded run, and a newer run's final drops the older run's chunks", () => {
    const finalOf = (runId: string, content: string, lastSequenceNumber: number) =>
      parseEvent(
        serializeEvent({
          action: "final_response",
          ...base,
          data: { sessionId: SESSION, messageId: MESSAGE, content, usage: { inputTokens: 1, outputTokens: 1 }, stopReason: "end_turn", lastSequenceNumber, runId },
        }),
      );
    const a = new MessageAssembler(MESSAGE);
    a.accept(token(0, "old ", "run-1"));
    a.accept(token(0, "new ", "run-2"));
    expect(a.accept(finalOf("run-1", "old answer", 0))).toBe("stale");
    expect(a.accept(finalOf("run-2", "new answer", 1))).toBe("final");
    expect(a.text).toBe("new answer");

    const b = new MessageAssembler(MESSAGE);
    b.accept(token(0, "old ", "run-1"));
    expect(b.accept(finalOf("run-3", "rerun answer", 0))).toBe("final");
    expect(b.missingSequenceNumbers).toEqual([0]);
    expect(b.text).toBe("rerun answer");
  });

  it("uses the given clock for arrival times", () => {
    let t = 1000;
    const a = new MessageAssembler(MESSAGE, { now: () => t });
    a.accept(token(0, "a"));
    t = 1040;
    a.accept(token(1, "bc"));
    expect(a.firstChunkAt).toBe(1000);
    expect(a.arrivals).toEqual([
      { sequenceNumber: 0, receivedAt: 1000, chars: 1 },
      { sequenceNumber: 1, receivedAt: 1040, chars: 2 },
    ]);
  });
});

describe("MessageAssembler with a truncated final event", () => {
  const LONG = Array.from({ length: 6 }, (_, i) => `chunk ${i} ${"é".repeat(20)}\n`);
  const cut = (n: number) => LONG.join("").slice(0, n) + "\n\n[truncated]";
  function truncatedFinal(content: string, lastSequenceNumber: number): StreamEvent {
    return parseEvent(
      serializeEvent({
        action: "final_response",
        ...base,
        data: { sessionId: SESSION, messageId: MESSAGE, content, usage: { inputTokens: 3, outputTokens: 9 }, stopReason: "end_turn", lastSequenceNumber, truncated: true },
      }),
    );
  }

  it("keeps the complete streamed answer instead of the truncated content", () => {
    const a = new MessageAssembler(MESSAGE);
    LONG.forEach((v, i) => a.accept(token(i, v)));
    expect(a.accept(truncatedFinal(cut(40), LONG.length - 1))).toBe("final");
    expect(a.text).toBe(LONG.join(""));
    expect(a.incomplete).toBe(false);
    expect(a.missingSequenceNumbers).toEqual([]);
  });

  it("keeps the streamed answer when chunks arrived out of order but all of them did", () => {
    const a = new MessageAssembler(MESSAGE);
    [5, 3, 4, 0, 2, 1].forEach((i) => a.accept(token(i, LONG[i])));
    a.accept(truncatedFinal(cut(40), LONG.length - 1));
    expect(a.text).toBe(LONG.join(""));
  });

  it("with a gap, shows whichever of the truncated content and the streamed prefix is longer, and says it is incomplete", () => {
    const early = new MessageAssembler(MESSAGE);
    early.accept(token(0, LONG[0]));
    early.accept(token(2, LONG[2])); // 1 missing: the prefix is short, the truncated content covers more
    early.accept(truncatedFinal(cut(80), LONG.length - 1));
    expect(early.text).toBe(cut(80));
    expect(early.incomplete).toBe(true);

    const late = new MessageAssembler(MESSAGE);
    [0, 1, 2, 3, 4].forEach((i) => late.accept(token(i, LONG[i]))); // only the last is missing
    late.accept(truncatedFinal(cut(40), LONG.length - 1));
    expect(late.text).toBe(LONG.slice(0, 5).join(""));
    expect(late.incomplete).toBe(true);
  });

  it("still takes chunks that arrive after a truncated final and completes the text", () => {
    const a = new MessageAssembler(MESSAGE);
    [0, 2, 3, 5].forEach((i) => a.accept(token(i, LONG[i])));
    a.accept(truncatedFinal(cut(40), LONG.length - 1));
    expect(a.missingSequenceNumbers).toEqual([1, 4]);
    expect(a.accept(token(1, LONG[1]))).toBe("appended");
    expect(a.accept(token(1, LONG[1]))).toBe("stale");
    expect(a.accept(token(4, LONG[4]))).toBe("appended");
    expect(a.text).toBe(LONG.join(""));
    expect(a.incomplete).toBe(false);
    expect(a.done).toBe(true);
    // Nothing beyond what the final announced is taken.
    expect(a.accept(token(6, "extra"))).toBe("stale");
    expect(a.text).toBe(LONG.join(""));
  });

  it("a complete (not truncated) final content still fills gaps exactly", () => {
    const a = new MessageAssembler(MESSAGE);
    [0, 2].forEach((i) => a.accept(token(i, LONG[i])));
    a.accept(final(LONG.slice(0, 3).join(""), 2));
    expect(a.text).toBe(LONG.slice(0, 3).join(""));
    expect(a.accept(token(1, LONG[1]))).toBe("stale");
    expect(a.incomplete).toBe(false);
  });
});
