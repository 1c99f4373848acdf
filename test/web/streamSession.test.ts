import type { ClientConfig } from "../../client/config";
import type { GraphQLResponse } from "../../client/graphql";
import type { SubscribeOptions } from "../../client/realtime";
import { SEND_QUERY_MUTATION } from "../../contracts/graphqlOperations";
import { serializeEvent, type StreamEvent } from "../../contracts/streamEvents";
import { StreamSession, describeSendFailure, type StreamDeps } from "../../web/src/streamSession";

const config: ClientConfig = {
  environment: "test",
  region: "us-east-1",
  graphqlUrl: "http://127.0.0.1:1/graphql",
  realtimeUrl: "ws://127.0.0.1:1/graphql",
  auth: { type: "local", issuerUrl: "http://127.0.0.1:2" },
  models: { defaultModelId: "model-a", allowedModelIds: ["model-a"] },
};

/** A scripted API: records calls, lets the test push subscription data and decide sendQuery's answer. */
function fakeApi(answer: (vars: Record<string, unknown>) => Promise<GraphQLResponse> | GraphQLResponse = () => ({ status: 200, data: { sendQuery: {} } })) {
  const calls: string[] = [];
  let onData: SubscribeOptions["onData"] | undefined;
  let onError: SubscribeOptions["onError"] | undefined;
  const sent: Record<string, unknown>[] = [];
  const deps: StreamDeps = {
    config,
    idToken: async () => "jwt",
    subscribe: async (opts) => {
      calls.push(`subscribe ${JSON.stringify(opts.variables)}`);
      onData = opts.onData;
      onError = opts.onError;
      return { close: () => calls.push("close") };
    },
    graphqlRequest: async (_url, doc, vars, headers) => {
      calls.push(`send ${doc === SEND_QUERY_MUTATION} ${headers.Authorization}`);
      sent.push(vars.input as Record<string, unknown>);
      return answer(vars);
    },
    WebSocketImpl: class {} as unknown as SubscribeOptions["WebSocketImpl"],
    now: () => 0,
  };
  const push = (event: StreamEvent) => onData!({ receiveMessages: { sessionId: event.data.sessionId, userId: "u", data: serializeEvent(event) } });
  return { deps, calls, sent, push, lose: () => onError!(new Error("socket closed")) };
}

const base = { userId: "u", timestamp: "2026-01-01T00:00:00Z" };

// Every session a test opens is closed after it, so no resume timer outlives the test.
const opened: StreamSession[] = [];
const realOpen = StreamSession.open.bind(StreamSession);
beforeAll(() => {
  jest.spyOn(StreamSession, "open").mockImplementation(async (...args) => {
    const session = await realOpen(...args);
    opened.push(session);
    return session;
  });
});
afterEach(() => opened.splice(0).forEach((s) => s.close()));

describe("StreamSession", () => {
  it("subscribes before sending, routes events by the client-chosen messageId, and settles on final", async () => {
    const api = fakeApi();
    const session = await StreamSession.open(api.deps, "session-0001");
    const run = session.send("hi", { delivery: "QUEUED" });
    const { messageId } = run;
    // Events may arrive before sendQuery even answers; the run already knows its messageId.
    api.push({ action: "on_new_llm_token", ...base, data: { sessionId: "session-0001", messageId, token: { runId: "r", sequenceNumber: 1, value: "world" } } });
    api.push({ action: "on_new_llm_token", ...base, data: { sessionId: "session-0001", messageId, token: { runId: "r", sequenceNumber: 0, value: "hello " } } });
    expect(run.status).toBe("streaming");
    expect(run.assembler.text).toBe("hello world");
    api.push({
      action: "final_response",
      ...base,
      data: { sessionId: "session-0001", messageId, content: "hello world", usage: { inputTokens: 1, outputTokens: 2 }, stopReason: "end_turn", lastSequenceNumber: 1 },
    });
    await expect(run.settled).resolves.toMatchObject({ status: "done" });
    expect(api.calls).toEqual(['subscribe {"sessionId":"session-0001"}', "send true jwt"]);
    expect(api.sent[0]).toEqual({ sessionId: "session-0001", messageId, prompt: "hi", modelId: "model-a", delivery: "QUEUED" });
  });

  it("fails the run with the producer's safe message on an error event", async () => {
    const api = fakeApi();
    const session = await StreamSession.open(api.deps, "session-0002");
    const run = session.send("hi");
    api.push({ action: "error", ...base, data: { sessionId: "session-0002", messageId: run.messageId, message: "The model is busy.", code: "THROTTLED", retryable: true } });
    await expect(run.settled).resolves.toMatchObject({ status: "failed", failure: "The model is busy.", retryable: true });
  });

  it("fails the run when sendQuery is rejected, without waiting for events", async () => {
    const api = fakeApi(() => ({ status: 200, data: null, errors: [{ message: "prompt is too long", errorType: "ValidationError" }] }));
    const session = await StreamSession.open(api.deps, "session-0003");
    const run = session.send("x".repeat(10));
    await expect(run.settled).resolves.toMatchObject({ status: "failed", failure: "The request was rejected: prompt is too long", retryable: false });
  });

  it("on a lost subscription, reconnects and resumes the run from the durable record: the page sees the reconnect", async () => {
    const messageIds: string[] = [];
    const api = fakeApi((vars) => {
      if (vars.input) return { status: 200, data: { sendQuery: {} } };
      // Query.message: the record holds the whole answer.
      const messageId = vars.messageId as string;
      messageIds.push(messageId);
      const events = [
        { action: "on_new_llm_token", ...base, data: { sessionId: "session-0004", messageId, token: { runId: "r", sequenceNumber: 0, value: "hi " } } },
        { action: "final_response", ...base, data: { sessionId: "session-0004", messageId, content: "hi there", usage: { inputTokens: 1, outputTokens: 2 }, stopReason: "end_turn", lastSequenceNumber: 1, runId: "r" } },
        { action: "on_new_llm_token", ...base, data: { sessionId: "session-0004", messageId, token: { runId: "r", sequenceNumber: 1, value: "there" } } },
      ] as StreamEvent[];
      return { status: 200, data: { message: { sessionId: "session-0004", messageId, status: "COMPLETE", events: events.map(serializeEvent) } } };
    });
    const states: string[] = [];
    const session = await StreamSession.open(api.deps, "session-0004", { onConnection: (s) => states.push(s) });
    const run = session.send("hi");
    api.lose();
    await expect(run.settled).resolves.toMatchObject({ status: "done" });
    expect(run.assembler.text).toBe("hi there");
    expect(states).toEqual(["reconnecting", "live"]);
    expect(messageIds).toEqual([run.messageId]);
    expect(session.closed).toBe(false);
    session.close();
  });

  it("fails a run that cannot be reached (no event, no record) within giveUpAfterMs, with a friendly message", async () => {
    const api = fakeApi((vars) => (vars.input ? { status: 200, data: { sendQuery: {} } } : { status: 503, errors: [{ message: "HTTP 503", errorType: "HttpError" }] }));
    jest.useFakeTimers();
    try {
      const session = await StreamSession.open(api.deps, "session-0005", { giveUpAfterMs: 15_000 });
      const run = session.send("hi");
      await jest.advanceTimersByTimeAsync(21_000);
      await expect(run.settled).resolves.toMatchObject({ status: "failed", failure: "The answer could not be reached. Check your connection and try again.", retryable: true });
      session.close();
    } finally {
      jest.useRealTimers();
    }
  });

  it("Stop calls stopGeneration for the run; the stopped final ends it as done", async () => {
    const calls: Record<string, unknown>[] = [];
    const api = fakeApi((vars) => {
      calls.push(vars);
      return vars.input ? { status: 200, data: { sendQuery: {} } } : { status: 200, data: { stopGeneration: { stopped: true } } };
    });
    const session = await StreamSession.open(api.deps, "session-0006");
    const run = session.send("hi");
    await session.stop(run);
    expect(run.stopping).toBe(true);
    expect(calls.at(-1)).toEqual({ sessionId: "session-0006", messageId: run.messageId });
    api.push({ action: "final_response", ...base, data: { sessionId: "session-0006", messageId: run.messageId, content: "", usage: { inputTokens: 0, outputTokens: 0 }, stopReason: "stopped", lastSequenceNumber: -1 } });
    await expect(run.settled).resolves.toMatchObject({ status: "done" });
    expect(run.assembler.final?.stopReason).toBe("stopped");
    session.close();
  });
});

describe("describeSendFailure", () => {
  it("asks to sign in again on an authorization failure and to retry on server trouble", () => {
    expect(describeSendFailure({ status: 401, errors: [{ message: "x", errorType: "UnauthorizedException" }] })).toEqual({
      message: "Your sign-in was not accepted (it may have expired). Sign in again.",
      retryable: false,
    });
    expect(describeSendFailure({ status: 503, errors: [{ message: "HTTP 503", errorType: "HttpError" }] }).retryable).toBe(true);
  });
});
