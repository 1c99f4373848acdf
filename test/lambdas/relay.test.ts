import { AppSyncPublishError, createAppSyncPublisher } from "../../lambdas/shared/appsyncPublisher";
import { parseEvent, type StreamEvent } from "../../contracts/streamEvents";
import { relayBatch } from "../../lambdas/outbound-relay/relay";
import { sqsEvent, sqsRecord } from "../support/sqsRecords";
import { startFakeAppSync, type FakeAppSync } from "./support/fakeAppSync";
import { recordingPublisher, recordingTelemetry } from "./support/workerFixtures";

const base = { userId: "user-1", timestamp: "2026-01-01T00:00:00.000Z" };
const token = (sessionId: string, messageId: string, sequenceNumber: number, value = `v${sequenceNumber}`): StreamEvent => ({
  action: "on_new_llm_token",
  ...base,
  data: { sessionId, messageId, token: { runId: messageId, sequenceNumber, value } },
});
const final = (sessionId: string, messageId: string, content: string, lastSequenceNumber: number): StreamEvent => ({
  action: "final_response",
  ...base,
  data: { sessionId, messageId, content, usage: { inputTokens: 1, outputTokens: 2 }, stopReason: "end_turn", lastSequenceNumber },
});

const record = (body: StreamEvent | string, group?: string) => sqsRecord({ body, messageGroupId: group, eventSourceARN: `arn:aws:sqs:us-east-1:000000000000:outbound${group ? ".fifo" : ""}` });
const label = (e: StreamEvent) => `${e.data.sessionId}/${e.data.messageId}/${e.action === "on_new_llm_token" ? e.data.token.sequenceNumber : e.action}`;

describe("outbound-relay", () => {
  let server: FakeAppSync;
  beforeEach(async () => {
    server = await startFakeAppSync();
  });
  afterEach(() => server.close());
  const publisher = () => createAppSyncPublisher({ endpoint: server.endpoint, region: "us-east-1", credentials: { accessKeyId: "a", secretAccessKey: "b" }, baseDelayMs: 1, maxDelayMs: 2, maxAttempts: 2 });

  it("publishes a shuffled standard-queue batch in order per session and message, final last, byte for byte", async () => {
    const tricky = ['"q"\n', "\\", "🚀é\u2028"];
    const events = [
      token("session-bbbb", "message-b1", 1),
      final("session-aaaa", "message-a1", tricky.join(""), 2),
      token("session-aaaa", "message-a1", 2, tricky[2]),
      token("session-bbbb", "message-b1", 0),
      token("session-aaaa", "message-a1", 0, tricky[0]),
      final("session-bbbb", "message-b1", "v0v1", 1),
      token("session-aaaa", "message-a1", 1, tricky[1]),
    ];
    const { logger, metrics } = recordingTelemetry();
    const result = await relayBatch(sqsEvent(...events.map((e) => record(e))), { publisher: publisher(), logger, metrics });
    expect(result).toEqual({ batchItemFailures: [] });
    const received = server.requests.map((r) => parseEvent(JSON.parse(r.body.toString("utf8")).variables.data));
    expect(received.map(label)).toEqual([
      "session-aaaa/message-a1/0",
      "session-aaaa/message-a1/1",
      "session-aaaa/message-a1/2",
      "session-aaaa/message-a1/final_response",
      "session-bbbb/message-b1/0",
      "session-bbbb/message-b1/1",
      "session-bbbb/message-b1/final_response",
    ]);
    const a = received.filter((e) => e.data.sessionId === "session-aaaa");
    expect(a.flatMap((e) => (e.action === "on_new_llm_token" ? [e.data.token.value] : [])).join("")).toBe(tricky.join(""));
  });

  it("reports only the failed records on a standard queue: a malformed body and a rejected publish", async () => {
    const bad = record("{ not an event");
    const wrongShape = record(JSON.stringify({ action: "on_new_llm_token", data: {} }));
    const rejected = record(token("session-aaaa", "message-a1", 1));
    const fine = [record(token("session-aaaa", "message-a1", 0)), record(token("session-aaaa", "message-a1", 2)), record(final("session-aaaa", "message-a1", "x", 2))];
    server.reply = (req) => {
      const event = parseEvent(JSON.parse(req.body.toString()).variables.data);
      return label(event).endsWith("/1") ? { status: 200, body: { errors: [{ errorType: "BadRequest", message: "rejected" }] } } : { status: 200, body: { data: {} } };
    };
    const { logger, metrics, errorCodes } = recordingTelemetry();
    const result = await relayBatch(sqsEvent(bad, fine[0]!, rejected, wrongShape, fine[1]!, fine[2]!), { publisher: publisher(), logger, metrics });
    expect(result.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual([bad.messageId, rejected.messageId, wrongShape.messageId].sort());
    expect(server.requests).toHaveLength(4);
    expect(errorCodes.sort()).toEqual(["MALFORMED_EVENT", "MALFORMED_EVENT", "RELAY_PUBLISH_FAILED"]);
  });

  it("on FIFO, a failed record blocks the later records of its group only (order holds across batches)", async () => {
    const a = [0, 1, 2].map((n) => record(token("session-aaaa", "message-a1", n), "session-aaaa"));
    const aFinal = record(final("session-aaaa", "message-a1", "v0v1v2", 2), "session-aaaa");
    const b = [0, 1].map((n) => record(token("session-bbbb", "message-b1", n), "session-bbbb"));
    const sink = recordingPublisher((e) => (label(e) === "session-aaaa/message-a1/1" ? new Error("rejected") : undefined));
    const { logger, metrics } = recordingTelemetry();
    const result = await relayBatch(sqsEvent(a[0]!, b[0]!, a[1]!, a[2]!, b[1]!, aFinal), { publisher: sink, logger, metrics });
    expect(result.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([a[1]!.messageId, a[2]!.messageId, aFinal.messageId]);
    expect(sink.events.map(label)).toEqual(["session-aaaa/message-a1/0", "session-bbbb/message-b1/0", "session-bbbb/message-b1/1"]);
  });

  it("on FIFO, a malformed record blocks the later records of its group, not the earlier ones", async () => {
    const before = record(token("session-aaaa", "message-a1", 0), "session-aaaa");
    const poison = record("garbage", "session-aaaa");
    const after = record(token("session-aaaa", "message-a1", 1), "session-aaaa");
    const other = record(token("session-bbbb", "message-b1", 0), "session-bbbb");
    const sink = recordingPublisher();
    const { logger, metrics } = recordingTelemetry();
    const result = await relayBatch(sqsEvent(before, poison, other, after), { publisher: sink, logger, metrics });
    expect(result.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual([poison.messageId, after.messageId].sort());
    expect(sink.events.map(label)).toEqual(["session-aaaa/message-a1/0", "session-bbbb/message-b1/0"]);
  });

  it("a session whose publish fails holds back only its own later events; other sessions are still published", async () => {
    const a = [0, 1, 2].map((n) => record(token("session-aaaa", "message-a1", n)));
    const b = [0, 1].map((n) => record(token("session-bbbb", "message-b1", n)));
    const sink = recordingPublisher((e) => (label(e) === "session-aaaa/message-a1/1" ? new AppSyncPublishError("HTTP 503", 4, true, 503) : undefined));
    const { logger, metrics } = recordingTelemetry();
    const result = await relayBatch(sqsEvent(a[0]!, b[0]!, a[1]!, a[2]!, b[1]!), { publisher: sink, logger, metrics });
    expect(result.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([a[1]!.messageId, a[2]!.messageId]);
    expect(sink.events.map(label)).toEqual(["session-aaaa/message-a1/0", "session-bbbb/message-b1/0", "session-bbbb/message-b1/1"]);
  });

  it("an event failing past the retry window goes to the DLQ with its message's held-back events as old; a later message, younger events and other users stay", async () => {
    const now = 1_000_000;
    const aged = (e: StreamEvent, ageSeconds: number) => sqsRecord({ body: e, sentAt: now - ageSeconds * 1000, eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:outbound" });
    const a = [aged(token("session-aaaa", "message-a1", 0), 40), aged(token("session-aaaa", "message-a1", 1), 35), aged(token("session-aaaa", "message-a1", 2), 10)];
    const later = aged(token("session-aaaa", "message-a2", 0), 35);
    // Another user who chose the same session id: held back by nobody's failure but their own.
    const otherUser = aged({ ...token("session-aaaa", "message-x1", 0), userId: "user-2" }, 40);
    const b = aged(token("session-bbbb", "message-b1", 0), 40);
    const sink = recordingPublisher((e) => (e.userId === "user-1" && e.data.sessionId === "session-aaaa" ? new AppSyncPublishError("HTTP 503", 4, true, 503) : undefined));
    const moved: string[] = [];
    const deadLetters = async (records: { messageId: string }[]) => (moved.push(...records.map((r) => r.messageId)), []);
    const { logger, metrics } = recordingTelemetry();
    const result = await relayBatch(sqsEvent(a[2]!, later, b, otherUser, a[1]!, a[0]!), { publisher: sink, logger, metrics, retryWindowSeconds: 30, deadLetters, now: () => now });
    expect(moved).toEqual([a[0]!.messageId, a[1]!.messageId]);
    expect(result.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual([a[2]!.messageId, later.messageId].sort());
    expect(sink.events.map((e) => `${e.userId}/${label(e)}`).sort()).toEqual(["user-1/session-bbbb/message-b1/0", "user-2/session-aaaa/message-x1/0"]);
    expect(sink.attempts).toBe(3); // one try for the failing stream, one for each other session
  });

  it("when the invocation runs short of time, leaves the remaining records for SQS instead of being cut off", async () => {
    const records = [0, 1, 2, 3].map((n) => record(token("session-aaaa", `message-a${n}`, 0), undefined));
    let remaining = 60_000;
    const sink = recordingPublisher(() => {
      remaining -= 30_000; // each publish takes a long outage-sized retry budget
      return undefined;
    });
    const { logger, metrics } = recordingTelemetry();
    const result = await relayBatch(sqsEvent(...records), { publisher: sink, logger, metrics, remainingTimeMs: () => remaining });
    expect(sink.events).toHaveLength(2);
    expect(result.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(records.slice(2).map((r) => r.messageId));
  });
});
