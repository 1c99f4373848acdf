/**
 * The worker's generation against the real Bedrock Runtime client, talking HTTP/2 cleartext to a small event-stream
 * server on 127.0.0.1 (as the local stand-in does): checks the SDK's default handler, frame parsing, reasoning deltas
 * and how mid-stream and pre-stream exceptions surface.
 */
import { BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";
import { EventStreamCodec } from "@smithy/eventstream-codec";
import type { MessageHeaders } from "@smithy/types";
import { fromUtf8, toUtf8 } from "@smithy/util-utf8";
import { createServer, type Http2Server, type ServerHttp2Stream } from "node:http2";
import type { AddressInfo } from "node:net";
import { runGeneration } from "../../lambdas/stream-worker/generation";
import { recordingPublisher, recordingTelemetry, request, settings, tokens } from "./support/workerFixtures";

const codec = new EventStreamCodec(toUtf8, fromUtf8);
type Frame = { event: string; body: unknown } | { exception: string; body: unknown };

function encode(frame: Frame): Uint8Array {
  const str = (value: string) => ({ type: "string" as const, value });
  const headers: MessageHeaders =
    "event" in frame
      ? { ":message-type": str("event"), ":event-type": str(frame.event), ":content-type": str("application/json") }
      : { ":message-type": str("exception"), ":exception-type": str(frame.exception), ":content-type": str("application/json") };
  return codec.encode({ headers, body: fromUtf8(JSON.stringify(frame.body)) });
}

let server: Http2Server;
let endpoint: string;
let respond: (stream: ServerHttp2Stream, path: string) => void;
const paths: string[] = [];

beforeAll(async () => {
  server = createServer();
  server.on("stream", (stream, headers) => {
    const path = String(headers[":path"]);
    paths.push(path);
    stream.on("data", () => {});
    stream.on("end", () => respond(stream, path));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function streamFrames(frames: Frame[]) {
  respond = (stream) => {
    stream.respond({ ":status": 200, "content-type": "application/vnd.amazon.eventstream" });
    for (const f of frames) stream.write(encode(f));
    stream.end();
  };
}

async function generate(abortSignal?: AbortSignal) {
  const bedrock = new BedrockRuntimeClient({ region: "us-east-1", endpoint, credentials: { accessKeyId: "a", secretAccessKey: "b" } });
  const queue = recordingPublisher();
  const telemetry = recordingTelemetry();
  try {
    const summary = await runGeneration(request, { bedrock, settings, direct: recordingPublisher(), queue, logger: telemetry.logger, metrics: telemetry.metrics }, { abortSignal });
    return { summary, events: queue.events };
  } finally {
    bedrock.destroy();
  }
}

const delta = (text: string) => ({ event: "contentBlockDelta", body: { contentBlockIndex: 1, delta: { text } } });

describe("generation over HTTP/2 event streams", () => {
  it("parses text and reasoning deltas, stop reason and usage", async () => {
    streamFrames([
      { event: "messageStart", body: { role: "assistant" } },
      { event: "contentBlockDelta", body: { contentBlockIndex: 0, delta: { reasoningContent: { text: "pondering" } } } },
      { event: "contentBlockStop", body: { contentBlockIndex: 0 } },
      delta('Quote " and \\ and\n'),
      delta("🚀 done"),
      { event: "contentBlockStop", body: { contentBlockIndex: 1 } },
      { event: "messageStop", body: { stopReason: "end_turn" } },
      { event: "metadata", body: { usage: { inputTokens: 3, outputTokens: 4, totalTokens: 7 }, metrics: { latencyMs: 1 } } },
    ]);
    const { summary, events } = await generate();
    expect(paths.at(-1)).toBe(`/model/${encodeURIComponent(request.modelId)}/converse-stream`);
    expect(tokens(events).map((t) => t.value)).toEqual(['Quote " and \\ and\n', "🚀 done"]);
    expect(events.at(-1)).toMatchObject({
      action: "final_response",
      data: { content: 'Quote " and \\ and\n🚀 done', reasoningContent: "pondering", usage: { inputTokens: 3, outputTokens: 4 }, stopReason: "end_turn", lastSequenceNumber: 1 },
    });
    expect(summary.outcome).toBe("completed");
  });

  it("a mid-stream exception frame ends the message with the tokens so far and a friendly error", async () => {
    streamFrames([{ event: "messageStart", body: { role: "assistant" } }, delta("partial "), { exception: "throttlingException", body: { message: "Too many tokens, internal id 42" } }]);
    const { summary, events } = await generate();
    expect(tokens(events).map((t) => t.value)).toEqual(["partial "]);
    expect(events.at(-1)).toMatchObject({ action: "error", data: { code: "THROTTLED", retryable: true } });
    expect(JSON.stringify(events)).not.toContain("internal id 42");
    expect(summary).toMatchObject({ outcome: "failed", errorCode: "THROTTLED" });
  });

  it("a stream that stalls is cut off at the deadline and ends with a MODEL_TIMEOUT error after the tokens so far", async () => {
    let stalled: ServerHttp2Stream | undefined;
    respond = (stream) => {
      stream.respond({ ":status": 200, "content-type": "application/vnd.amazon.eventstream" });
      stream.write(encode({ event: "messageStart", body: { role: "assistant" } }));
      stream.write(encode(delta("before the stall")));
      stalled = stream; // never ends
    };
    const started = Date.now();
    const { summary, events } = await generate(AbortSignal.timeout(300));
    expect(Date.now() - started).toBeLessThan(5000);
    expect(tokens(events).map((t) => t.value)).toEqual(["before the stall"]);
    expect(events.at(-1)).toMatchObject({ action: "error", data: { code: "MODEL_TIMEOUT", retryable: true } });
    expect(summary.outcome).toBe("failed");
    stalled?.close();
  });

  it("a pre-stream HTTP 400 ValidationException becomes INVALID_REQUEST", async () => {
    respond = (stream) => {
      stream.respond({ ":status": 400, "content-type": "application/json", "x-amzn-errortype": "ValidationException" });
      stream.end(JSON.stringify({ message: "The model returned the following errors: prompt is too long" }));
    };
    const { events } = await generate();
    expect(events).toEqual([expect.objectContaining({ action: "error", data: expect.objectContaining({ code: "INVALID_REQUEST", retryable: false }) })]);
  });
});
