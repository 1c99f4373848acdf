/**
 * Envelope version 3 on the client side (client/assembler.ts, client/sessionStream.ts) and on the relay: every kind
 * numbered by eventSequence (gaps and replay cover tool notices and reasoning), tool calls by invocation number
 * whatever the arrival order, reasoning assembled live, and a client that knows only on_new_llm_token still exact.
 */
import { MessageAssembler } from "../../client/assembler";
import { SessionStream } from "../../client/sessionStream";
import type { Subscription } from "../../client/realtime";
import { EVENT_ACTIONS, parseEvent, parseKnownEvent, serializeEvent, type StreamEvent } from "../../contracts/streamEvents";
import { eventDeduplicationId } from "../../lambdas/shared/fifoIds";
import { orderForPublishing } from "../../lambdas/outbound-relay/relay";

const SESSION = "session-0001";
const MESSAGE = "message-0001";
const base = { userId: "user-1", timestamp: "2026-01-01T00:00:00.000Z" };
const ids = { sessionId: SESSION, messageId: MESSAGE };
const wire = (e: unknown): StreamEvent => parseEvent(serializeEvent(e as StreamEvent));

/** One answer of a version-3 producer: reasoning, a tool call, text around it, the final carrying the tail. */
function agentAnswer(runId = "run-1"): StreamEvent[] {
  let n = 0;
  const reasoning = (index: number, value: string) => wire({ action: "on_new_reasoning_token", ...base, data: { ...ids, runId, eventSequence: n++, index, value } });
  const token = (sequenceNumber: number, value: string) => wire({ action: "on_new_llm_token", ...base, data: { ...ids, token: { runId, sequenceNumber, value }, eventSequence: n++ } });
  const tool = (status: string) => wire({ action: "tool_action", ...base, data: { ...ids, runId, eventSequence: n++, toolName: "current_time", invocationNumber: 1, toolAction: "Checking the current time...", status } });
  const events = [reasoning(0, "Think "), reasoning(1, "first."), token(0, "Let me check."), tool("started"), tool("completed"), token(1, "\n\nIt is "), token(2, "noon.")];
  n++; // the tail's number, which the final stands for
  const final = wire({
    action: "final_response",
    ...base,
    data: { ...ids, content: "Let me check.\n\nIt is noon. Bye.", reasoningContent: "Think first.", usage: { inputTokens: 1, outputTokens: 2 }, stopReason: "end_turn", lastSequenceNumber: 3, tail: " Bye.", runId, eventSequence: n, references: [{ title: "Clock", url: "https://time.example/" }] },
  });
  return [...events, final];
}

describe("MessageAssembler, envelope version 3", () => {
  it("assembles the text, the reasoning live, the tool call and the references; no gap, the replay point past the final", () => {
    const a = new MessageAssembler(MESSAGE);
    const events = agentAnswer();
    events.slice(0, 2).forEach((e) => a.accept(e));
    expect([a.reasoning, a.text, a.eventCount]).toEqual(["Think first.", "", 2]);
    events.slice(2, 4).forEach((e) => a.accept(e));
    expect(a.toolActivities).toEqual([{ invocationNumber: 1, toolName: "current_time", toolAction: "Checking the current time...", status: "started", eventSequence: 3 }]);
    events.slice(4).forEach((e) => a.accept(e));
    expect(a.text).toBe("Let me check.\n\nIt is noon. Bye.");
    expect(a.toolActivities.map((t) => t.status)).toEqual(["completed"]);
    // The call sits after the text streamed before it: a page shows its notice there.
    expect(a.text.slice(0, a.textOffsetAt(a.toolActivities[0]!.eventSequence))).toBe("Let me check.");
    expect(a.references).toEqual([{ title: "Clock", url: "https://time.example/" }]);
    expect([a.hasGap, a.contiguousThrough, a.done]).toEqual([false, 8, true]);
  });

  it("sees a gap in any kind: a lost tool notice holds the replay point before it, and a late started never undoes completed", () => {
    const a = new MessageAssembler(MESSAGE);
    const events = agentAnswer();
    for (const e of events.filter((e) => e.data.eventSequence !== 3).slice(0, 5)) a.accept(e);
    expect([a.hasGap, a.contiguousThrough]).toEqual([true, 2]);
    a.accept(events[3]!);
    expect([a.hasGap, a.contiguousThrough, a.toolActivities[0]!.status]).toEqual([false, 5, "completed"]);
    expect(a.accept(events[3]!)).toBe("duplicate");
  });

  it("drops a superseded run's agent events like its tokens", () => {
    const a = new MessageAssembler(MESSAGE);
    agentAnswer("run-1").slice(0, 4).forEach((e) => a.accept(e));
    agentAnswer("run-2").slice(0, 2).forEach((e) => a.accept(e));
    expect([a.toolActivities, a.reasoning, a.currentRunId]).toEqual([[], "Think first.", "run-2"]);
    expect(a.accept(agentAnswer("run-1")[4]!)).toBe("stale");
  });

  it("a client that knows only on_new_llm_token (it ignores every other action) still shows the exact text", () => {
    const old = new MessageAssembler(MESSAGE);
    for (const e of agentAnswer()) if (e.action === EVENT_ACTIONS.token || e.action === EVENT_ACTIONS.final) old.accept(e);
    expect(old.text).toBe("Let me check.\n\nIt is noon. Bye.");
    expect(old.missingSequenceNumbers).toEqual([]);
    expect(parseKnownEvent(JSON.stringify({ action: "on_new_thing", ...base, data: ids }))).toBeUndefined();
  });
});

describe("SessionStream with version-3 records", () => {
  it("replays after the contiguous eventSequence and skips events of kinds it cannot read", async () => {
    const events = agentAnswer();
    let onData: ((data: Record<string, unknown>) => void) | undefined;
    const asked: unknown[] = [];
    const stream = await SessionStream.open({
      realtimeUrl: "ws://x",
      graphqlUrl: "http://x",
      sessionId: SESSION,
      token: async () => "t",
      WebSocketImpl: class {} as never,
      subscribe: async (o) => ((onData = o.onData), { close() {} }) as unknown as Subscription,
      request: async (_url, _doc, variables) => {
        asked.push(variables.afterSequence);
        const unknown = JSON.stringify({ action: "on_new_thing", ...base, data: ids });
        return { status: 200, data: { message: { sessionId: SESSION, messageId: MESSAGE, status: "COMPLETE", events: [unknown, ...events.slice(4).map((e) => serializeEvent(e))] } } };
      },
    });
    const tracked = stream.track(MESSAGE);
    for (const e of events.slice(0, 4)) onData!({ receiveMessages: { data: serializeEvent(e) } });
    await stream.resume(MESSAGE);
    await tracked.ended;
    expect(asked).toEqual([3]);
    expect(tracked.assembler.text).toBe("Let me check.\n\nIt is noon. Bye.");
    stream.close();
  });
});

describe("the relay and FIFO ids with version-3 events", () => {
  it("orders a batch by eventSequence, every kind, and gives each event its own deduplication id", () => {
    const events = agentAnswer();
    const shuffled = [...events].reverse().map((event, arrival) => ({ event, arrival }));
    expect(orderForPublishing(shuffled).map((i) => i.event)).toEqual(events);
    expect(new Set(events.map(eventDeduplicationId)).size).toBe(events.length);
  });
});
