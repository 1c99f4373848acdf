import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { mockClient } from "aws-sdk-client-mock";
import { workRequestSchema } from "../../contracts/workRequest";
import { MAX_WORK_REQUEST_BYTES, sendQuery, type SendQuerySettings } from "../../lambdas/send-query/sendQuery";
import { createHash } from "node:crypto";

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

const snsMock = mockClient(SNSClient);
const sns = new SNSClient({ region: "us-east-1" });
beforeEach(() => {
  snsMock.reset();
  snsMock.on(PublishCommand).resolves({ MessageId: "m" });
});

const settings: SendQuerySettings = {
  inboundTopicArn: "arn:aws:sns:us-east-1:000000000000:inbound.fifo",
  maxPromptChars: 20,
  defaultModelId: "anthropic.claude-3-5-haiku-20241022-v1:0",
  allowedModelIds: ["anthropic.claude-3-5-haiku-20241022-v1:0", "us.anthropic.claude-3-7-sonnet-20250219-v1:0"],
  clientDeliveryChoice: false,
};
const identity = { sub: "sub-from-cognito", username: "alice" };
const deps = { sns, settings, newMessageId: () => "generated-msg-0001", now: () => new Date("2026-11-23T12:00:00.000Z") };

function published() {
  return snsMock.commandCalls(PublishCommand).map((c) => c.args[0].input);
}

describe("sendQuery", () => {
  it("publishes exactly one work request with userId from identity.sub, default model and a generated messageId", async () => {
    const result = await sendQuery({ arguments: { input: { sessionId: "session-0001", prompt: 'Say "hi"\nplease', userId: "mallory" } }, identity }, deps);
    expect(result).toEqual({ sessionId: "session-0001", messageId: "generated-msg-0001" });
    const inputs = published();
    expect(inputs).toHaveLength(1);
    const request = workRequestSchema.parse(JSON.parse(inputs[0]!.Message!));
    expect(request).toEqual({
      sessionId: "session-0001",
      messageId: "generated-msg-0001",
      userId: "sub-from-cognito",
      prompt: 'Say "hi"\nplease',
      modelId: settings.defaultModelId,
      requestedAt: "2026-11-23T12:00:00.000Z",
    });
    expect(inputs[0]).toMatchObject({
      TopicArn: settings.inboundTopicArn,
      MessageGroupId: sha256("sub-from-cognito|session-0001"),
      MessageDeduplicationId: sha256("sub-from-cognito|session-0001|generated-msg-0001"),
    });
  });

  it("on FIFO, two users with the same session and message ids get distinct groups and dedup ids (neither suppresses the other)", async () => {
    const input = { sessionId: "session-0001", messageId: "client-msg-0001", prompt: "hi" };
    await sendQuery({ arguments: { input }, identity: { sub: "user-a" } }, deps);
    await sendQuery({ arguments: { input }, identity: { sub: "user-b" } }, deps);
    await sendQuery({ arguments: { input: { ...input, messageId: "client-msg-0002" } }, identity: { sub: "user-a" } }, deps);
    const [a1, b1, a2] = published();
    expect(a1!.MessageDeduplicationId).not.toBe(b1!.MessageDeduplicationId);
    expect(a1!.MessageGroupId).not.toBe(b1!.MessageGroupId);
    // Still one group per session of a user, so the session's messages stay in order.
    expect(a2!.MessageGroupId).toBe(a1!.MessageGroupId);
    expect(a2!.MessageDeduplicationId).not.toBe(a1!.MessageDeduplicationId);
    for (const i of [a1, b1, a2]) {
      expect(i!.MessageGroupId).toMatch(/^[0-9a-f]{64}$/);
      expect(i!.MessageDeduplicationId).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it("keeps a client messageId and an allowed modelId; without FIFO no group/dedup fields", async () => {
    const result = await sendQuery(
      { arguments: { input: { sessionId: "session-0001", messageId: "client-msg-0001", prompt: "hi", modelId: settings.allowedModelIds[1] } }, identity },
      { ...deps, settings: { ...settings, inboundTopicArn: "arn:aws:sns:us-east-1:000000000000:inbound" } },
    );
    expect(result).toEqual({ sessionId: "session-0001", messageId: "client-msg-0001" });
    const [input] = published();
    expect(input!.MessageGroupId).toBeUndefined();
    expect(JSON.parse(input!.Message!)).toMatchObject({ messageId: "client-msg-0001", modelId: settings.allowedModelIds[1] });
  });

  it("rejects a prompt within the character limit whose work request exceeds SNS's 256 KiB, naming the limit, and publishes nothing", async () => {
    const wide = { ...settings, maxPromptChars: 100_000 };
    const cjk = "漢".repeat(100_000); // 3 bytes each in UTF-8: ~300 KB
    const result = await sendQuery({ arguments: { input: { sessionId: "session-0001", prompt: cjk } }, identity }, { ...deps, settings: wide });
    expect(result).toMatchObject({ error: { type: "ValidationError" } });
    expect("error" in result && result.error.message).toMatch(/256 KiB/);
    expect(published()).toHaveLength(0);
    // The same number of ASCII characters fits and is published.
    const ascii = await sendQuery({ arguments: { input: { sessionId: "session-0001", prompt: "a".repeat(100_000) } }, identity }, { ...deps, settings: wide });
    expect(ascii).toEqual({ sessionId: "session-0001", messageId: "generated-msg-0001" });
    expect(published()).toHaveLength(1);
    expect(Buffer.byteLength(published()[0]!.Message!, "utf8")).toBeLessThanOrEqual(MAX_WORK_REQUEST_BYTES);
  });

  it("uses crypto.randomUUID when no messageId generator is injected", async () => {
    const result = await sendQuery({ arguments: { input: { sessionId: "session-0001", prompt: "hi" } }, identity }, { sns, settings });
    expect("messageId" in result && result.messageId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it.each([
    ["a prompt over the limit", { sessionId: "session-0001", prompt: "x".repeat(21) }, /at most 20 characters/],
    ["an empty prompt", { sessionId: "session-0001", prompt: "   " }, /prompt must not be empty/],
    ["a missing prompt", { sessionId: "session-0001" }, /prompt is required/],
    ["a short sessionId", { sessionId: "short", prompt: "hi" }, /sessionId must be 8-64/],
    ["a sessionId with bad characters", { sessionId: "session/../0001", prompt: "hi" }, /sessionId must be 8-64/],
    ["a bad messageId", { sessionId: "session-0001", messageId: "x y z w v u t s", prompt: "hi" }, /messageId must be 8-64/],
    ["a model outside the list", { sessionId: "session-0001", prompt: "hi", modelId: "meta.llama3-70b-instruct-v1:0" }, /modelId must be one of/],
    ["a delivery choice where it is not enabled", { sessionId: "session-0001", prompt: "hi", delivery: "DIRECT" }, /delivery cannot be chosen/],
  ])("rejects %s with a clear error and publishes nothing", async (_name, input, message) => {
    const result = await sendQuery({ arguments: { input }, identity }, deps);
    expect(result).toEqual({ error: { message: expect.stringMatching(message), type: "ValidationError" } });
    expect(published()).toHaveLength(0);
  });

  it("rejects a caller without identity and publishes nothing", async () => {
    const result = await sendQuery({ arguments: { input: { sessionId: "session-0001", prompt: "hi" } }, identity: null }, deps);
    expect(result).toEqual({ error: { message: expect.any(String), type: "Unauthorized" } });
    expect(published()).toHaveLength(0);
  });

  it("passes the delivery choice on where the environment allows it; rejects unknown values", async () => {
    const allowing = { ...deps, settings: { ...settings, clientDeliveryChoice: true } };
    await sendQuery({ arguments: { input: { sessionId: "session-0001", prompt: "hi", delivery: "QUEUED" } }, identity }, allowing);
    expect(JSON.parse(published()[0]!.Message!).delivery).toBe("queued");
    const bad = await sendQuery({ arguments: { input: { sessionId: "session-0001", prompt: "hi", delivery: "CARRIER_PIGEON" } }, identity }, allowing);
    expect(bad).toEqual({ error: { message: expect.stringMatching(/delivery must be DIRECT or QUEUED/), type: "ValidationError" } });
    expect(published()).toHaveLength(1);
  });

  it("lets a publish failure surface (the resolver reports an internal failure)", async () => {
    snsMock.on(PublishCommand).rejects(new Error("sns down"));
    await expect(sendQuery({ arguments: { input: { sessionId: "session-0001", prompt: "hi" } }, identity }, deps)).rejects.toThrow("sns down");
  });
});
