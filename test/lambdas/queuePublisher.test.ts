import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { mockClient } from "aws-sdk-client-mock";
import type { StreamEvent } from "../../contracts/streamEvents";
import { parseEvent } from "../../contracts/streamEvents";
import { createQueuePublisher } from "../../lambdas/shared/queuePublisher";
import { eventDeduplicationId, topicPublishInput } from "../../lambdas/shared/fifoIds";
import { createHash } from "node:crypto";

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

const snsMock = mockClient(SNSClient);
beforeEach(() => snsMock.reset());

const base = { userId: "user-1", timestamp: "2026-01-01T00:00:00.000Z" };
const ids = { sessionId: "session-0001", messageId: "message-0001" };
const events: StreamEvent[] = [
  { action: "on_new_llm_token", ...base, data: { ...ids, token: { runId: "r", sequenceNumber: 0, value: 'a "quoted"\nline' } } },
  { action: "on_new_llm_token", ...base, data: { ...ids, token: { runId: "r", sequenceNumber: 1, value: "🚀" } } },
  { action: "final_response", ...base, data: { ...ids, content: 'a "quoted"\nline🚀', usage: { inputTokens: 1, outputTokens: 2 }, stopReason: "end_turn", lastSequenceNumber: 1, runId: "r" } },
  { action: "error", ...base, data: { ...ids, message: "m", code: "THROTTLED", retryable: true, runId: "r" } },
];

describe("queuePublisher", () => {
  it("on a FIFO topic: group = hash(user|session), dedup = hash(user|session|message|run|sequence or final/error)", async () => {
    snsMock.on(PublishCommand).resolves({ MessageId: "x" });
    const publisher = createQueuePublisher({ sns: new SNSClient({ region: "us-east-1" }), topicArn: "arn:aws:sns:us-east-1:000000000000:out.fifo" });
    for (const e of events) await publisher.publish(e);
    const inputs = snsMock.commandCalls(PublishCommand).map((c) => c.args[0].input);
    expect(inputs.map((i) => i.MessageGroupId)).toEqual(Array(4).fill(sha256("user-1|session-0001")));
    const key = "user-1|session-0001|message-0001|r|";
    expect(inputs.map((i) => i.MessageDeduplicationId)).toEqual([sha256(`${key}0`), sha256(`${key}1`), sha256(`${key}final`), sha256(`${key}error`)]);
    expect(inputs.map((i) => parseEvent(i.Message!))).toEqual(events);
  });

  it("dedup ids differ across users (same session and message ids) and across runs of one message", () => {
    const ids = (e: StreamEvent[]) => e.map(eventDeduplicationId);
    const otherUser = events.map((e) => ({ ...e, userId: "user-2" }) as StreamEvent);
    const rerun = events.map((e) =>
      e.action === "on_new_llm_token" ? { ...e, data: { ...e.data, token: { ...e.data.token, runId: "r2" } } } : ({ ...e, data: { ...e.data, runId: "r2" } } as StreamEvent),
    );
    const all = [...ids(events), ...ids(otherUser), ...ids(rerun)];
    expect(new Set(all).size).toBe(all.length);
    for (const id of all) expect(id.length).toBeLessThanOrEqual(128);
  });

  it("on a standard topic: no FIFO fields", async () => {
    snsMock.on(PublishCommand).resolves({ MessageId: "x" });
    const publisher = createQueuePublisher({ sns: new SNSClient({ region: "us-east-1" }), topicArn: "arn:aws:sns:us-east-1:000000000000:out" });
    await publisher.publish(events[0]!);
    const input = snsMock.commandCalls(PublishCommand)[0]!.args[0].input;
    expect(input).toEqual({ TopicArn: "arn:aws:sns:us-east-1:000000000000:out", Message: JSON.stringify(events[0]) });
  });

  it("does not publish once the signal has fired, and hands the signal to the SDK call", async () => {
    snsMock.on(PublishCommand).resolves({ MessageId: "x" });
    const publisher = createQueuePublisher({ sns: new SNSClient({ region: "us-east-1" }), topicArn: "arn:aws:sns:us-east-1:000000000000:out" });
    const live = new AbortController();
    await publisher.publish(events[0]!, { signal: live.signal });
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(1);
    const fired = new AbortController();
    fired.abort(new Error("deadline"));
    await expect(publisher.publish(events[1]!, { signal: fired.signal })).rejects.toThrow("deadline");
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(1);
  });

  it("surfaces a publish failure to the caller", async () => {
    snsMock.on(PublishCommand).rejects(new Error("sns down"));
    const publisher = createQueuePublisher({ sns: new SNSClient({ region: "us-east-1" }), topicArn: "arn:aws:sns:us-east-1:000000000000:out" });
    await expect(publisher.publish(events[0]!)).rejects.toThrow("sns down");
  });

  it("topicPublishInput adds FIFO fields only for .fifo ARNs", () => {
    expect(topicPublishInput("arn:x:in.fifo", "m", "g", "d")).toEqual({ TopicArn: "arn:x:in.fifo", Message: "m", MessageGroupId: "g", MessageDeduplicationId: "d" });
    expect(topicPublishInput("arn:x:in", "m", "g", "d")).toEqual({ TopicArn: "arn:x:in", Message: "m" });
  });
});
