/** SessionStream resumes from the durable record on a dropped socket, a gap and silence; fake timers, fake transport. */
import { SessionStream, type SessionStreamOptions } from "../../client/sessionStream";
import type { SubscribeOptions } from "../../client/realtime";
import type { MessageState } from "../../contracts/messageState";
import type { StreamEvent } from "../../contracts/streamEvents";

const SESSION = "session-resume-1";
const MESSAGE = "message-resume-1";
const WORDS = ["Once ", "upon ", "a ", "time, ", "the ", "end."];

const token = (sequenceNumber: number, runId = "run-1"): StreamEvent => ({
  action: "on_new_llm_token",
  userId: "u",
  timestamp: "t",
  data: { sessionId: SESSION, messageId: MESSAGE, token: { runId, sequenceNumber, value: WORDS[sequenceNumber]! } },
});
const final = (runId = "run-1"): StreamEvent => ({
  action: "final_response",
  userId: "u",
  timestamp: "t",
  data: { sessionId: SESSION, messageId: MESSAGE, content: WORDS.join(""), usage: { inputTokens: 1, outputTokens: 6 }, stopReason: "end_turn", lastSequenceNumber: WORDS.length - 1, runId },
});

/** A fake real-time endpoint and record: `deliver` pushes to the live subscription, `drop` kills it. */
function harness(record: () => MessageState | null) {
  const live: { onData: SubscribeOptions["onData"]; onError?: SubscribeOptions["onError"] }[] = [];
  const queries: number[] = [];
  let reachable = true;
  const options: SessionStreamOptions = {
    realtimeUrl: "ws://x/graphql",
    graphqlUrl: "http://x/graphql",
    sessionId: SESSION,
    token: async () => "token",
    WebSocketImpl: class {} as never,
    subscribe: async (o) => {
      if (!reachable) throw new Error("offline");
      live.push({ onData: o.onData, onError: o.onError });
      return { close() {} };
    },
    request: async (_url, _doc, variables) => {
      if (!reachable) throw new Error("offline");
      queries.push(variables.afterSequence as number);
      return { status: 200, data: { message: record() } };
    },
    gapTimeoutMs: 1000,
    silenceTimeoutMs: 5000,
    giveUpAfterMs: 30_000,
  };
  return {
    options,
    queries,
    deliver: (e: StreamEvent) => live.at(-1)!.onData({ receiveMessages: { sessionId: SESSION, userId: "u", data: JSON.stringify(e) } }),
    drop: () => live.at(-1)!.onError?.(new Error("closed")),
    setReachable: (v: boolean) => void (reachable = v),
    connections: () => live.length,
  };
}

const recordOf = (events: StreamEvent[], status: MessageState["status"] = "COMPLETE"): MessageState => ({ sessionId: SESSION, messageId: MESSAGE, status, events: events.map((e) => JSON.stringify(e)) });

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

test("a dropped socket reconnects and resumes after the contiguous prefix: exact text, no duplicate", async () => {
  const all = [...WORDS.map((_, i) => token(i)), final()];
  const h = harness(() => recordOf(all));
  const states: string[] = [];
  const stream = await SessionStream.open({ ...h.options, onConnection: (s) => states.push(s) });
  const m = stream.track(MESSAGE);
  h.deliver(token(0));
  h.deliver(token(1));
  h.drop();
  await jest.advanceTimersByTimeAsync(300); // the first reconnect waits at most 250 ms
  expect(h.connections()).toBe(2);
  expect(states).toEqual(["reconnecting", "live"]);
  expect(h.queries).toEqual([1]);
  // Live events that raced the replay are dropped as duplicates.
  h.deliver(token(2));
  await m.ended;
  expect(m.assembler.text).toBe(WORDS.join(""));
  expect(m.assembler.chunkCount).toBe(WORDS.length);
  stream.close();
});

test("a gap that does not fill is fetched from the record after gapTimeoutMs", async () => {
  const h = harness(() => recordOf([token(1), token(2)], "STREAMING"));
  const stream = await SessionStream.open(h.options);
  const m = stream.track(MESSAGE);
  h.deliver(token(0));
  h.deliver(token(2)); // 1 is missing
  await jest.advanceTimersByTimeAsync(999);
  expect(h.queries).toEqual([]);
  await jest.advanceTimersByTimeAsync(2);
  expect(h.queries).toEqual([0]);
  expect(m.assembler.text).toBe(WORDS.slice(0, 3).join(""));
  expect(m.assembler.bufferedCount).toBe(0);
  stream.close();
});

test("silence while unfinished fetches the record; the final found there ends the message", async () => {
  const h = harness(() => recordOf([...WORDS.map((_, i) => token(i)), final()]));
  const stream = await SessionStream.open(h.options);
  const m = stream.track(MESSAGE);
  h.deliver(token(0));
  await jest.advanceTimersByTimeAsync(5001);
  await m.ended;
  expect(h.queries).toEqual([0]);
  expect(m.assembler.final?.stopReason).toBe("end_turn");
  expect(m.assembler.text).toBe(WORDS.join(""));
  stream.close();
});

test("a record of another run is taken from its start, not after the old run's prefix", async () => {
  const rerun = [...WORDS.map((_, i) => token(i, "run-2")), final("run-2")];
  const h = harness(() => recordOf(rerun));
  const stream = await SessionStream.open(h.options);
  const m = stream.track(MESSAGE);
  h.deliver(token(0, "run-1"));
  h.deliver(token(1, "run-1"));
  await jest.advanceTimersByTimeAsync(5001);
  await m.ended;
  expect(h.queries).toEqual([1, -1]);
  expect(m.assembler.text).toBe(WORDS.join(""));
  stream.close();
});

test("unreachable for giveUpAfterMs: a friendly failure, not a hang", async () => {
  const h = harness(() => null);
  const stream = await SessionStream.open(h.options);
  const m = stream.track(MESSAGE);
  h.setReachable(false);
  h.drop();
  await jest.advanceTimersByTimeAsync(31_000);
  await m.ended;
  expect(m.failure).toBe("The answer could not be reached. Check your connection and try again.");
  expect(m.assembler.done).toBe(false);
  stream.close();
});

test("offline() drops the socket at once and makes no attempt; online() reconnects at once and resumes", async () => {
  const all = [...WORDS.map((_, i) => token(i)), final()];
  const h = harness(() => recordOf(all));
  const states: string[] = [];
  const stream = await SessionStream.open({ ...h.options, onConnection: (s) => states.push(s) });
  const m = stream.track(MESSAGE);
  h.deliver(token(0));
  stream.offline();
  expect(states).toEqual(["reconnecting"]);
  await jest.advanceTimersByTimeAsync(4000); // no reconnect attempt while offline
  expect(h.connections()).toBe(1);
  stream.online();
  await m.ended;
  expect(h.connections()).toBe(2);
  expect(states).toEqual(["reconnecting", "live"]);
  expect(m.assembler.text).toBe(WORDS.join(""));
  stream.close();
});
