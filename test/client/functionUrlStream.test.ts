/** The Function URL reader: NDJSON however the bytes are chunked, refusals as FunctionUrlError, an early exit closing the body. */
import { FunctionUrlError, ndjsonEvents, streamFromFunctionUrl } from "../../client/functionUrlStream";
import { ndjsonLine } from "../../contracts/functionUrl";
import type { StreamEvent } from "../../contracts/streamEvents";

const token = (n: number, value: string): StreamEvent => ({
  action: "on_new_llm_token",
  userId: "sub-1",
  timestamp: "2026-12-01T00:00:00.000Z",
  data: { sessionId: "session-0001", messageId: "message-0001", token: { runId: "run-1", sequenceNumber: n, value } },
});
const EVENTS = [token(0, 'He said "hi"\n'), token(1, "C:\\temp 👩‍💻"), token(2, "naïve 🚀")];

/** A body delivering `bytes` in pieces of `size` bytes, recording whether the reader cancelled it. */
function body(bytes: Uint8Array, size: number) {
  const seen = { cancelled: false };
  let at = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, (at += size)));
    },
    cancel: () => void (seen.cancelled = true),
  });
  return { stream, seen };
}

const collect = async (events: AsyncIterable<StreamEvent>) => {
  const out: StreamEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
};

describe("ndjsonEvents", () => {
  const bytes = new TextEncoder().encode(EVENTS.map(ndjsonLine).join(""));

  it.each([1, 3, 7, 64, bytes.length])("yields every event, exactly, with chunks of %i bytes (characters and lines cut anywhere)", async (size) => {
    expect(await collect(ndjsonEvents(body(bytes, size).stream))).toEqual(EVENTS);
  });

  it("a cut last line fails loudly instead of yielding half an event", async () => {
    const cut = bytes.slice(0, bytes.length - 10);
    await expect(collect(ndjsonEvents(body(cut, 16).stream))).rejects.toThrow();
  });

  it("leaving early cancels the body, which closes the response", async () => {
    const b = body(bytes, 5);
    for await (const e of ndjsonEvents(b.stream)) if (e) break;
    expect(b.seen.cancelled).toBe(true);
  });
});

describe("streamFromFunctionUrl", () => {
  it("POSTs the question with the bearer token and yields the answer's events", async () => {
    const calls: [string, RequestInit][] = [];
    const fetchImpl = (async (url: string, init: RequestInit) => {
      calls.push([url, init]);
      return new Response(body(new TextEncoder().encode(EVENTS.map(ndjsonLine).join("")), 9).stream, { status: 200, headers: { "content-type": "application/x-ndjson" } });
    }) as unknown as typeof fetch;
    const events = await collect(streamFromFunctionUrl("https://x.lambda-url.us-east-1.on.aws/", "jwt", { sessionId: "session-0001", prompt: "hi" }, { fetchImpl }));
    expect(events).toEqual(EVENTS);
    expect(calls[0][1]).toMatchObject({ method: "POST", headers: { authorization: "Bearer jwt", "content-type": "application/json" }, body: '{"sessionId":"session-0001","prompt":"hi"}' });
  });

  it("a refusal throws the API's status, type, message and limit", async () => {
    const refusal = { error: { message: "2 of your answers are still being generated", type: "LimitExceeded", info: { limit: "concurrency" } } };
    const fetchImpl = (async () => new Response(JSON.stringify(refusal), { status: 429 })) as unknown as typeof fetch;
    const error = await collect(streamFromFunctionUrl("https://x/", "jwt", { sessionId: "session-0001", prompt: "hi" }, { fetchImpl })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FunctionUrlError);
    expect(error).toMatchObject({ status: 429, type: "LimitExceeded", message: refusal.error.message, info: { limit: "concurrency" } });
    const gateway = (async () => new Response("<html>502</html>", { status: 502 })) as unknown as typeof fetch;
    await expect(collect(streamFromFunctionUrl("https://x/", "jwt", { sessionId: "session-0001", prompt: "hi" }, { fetchImpl: gateway }))).rejects.toMatchObject({ status: 502, type: "HttpError" });
  });
});
