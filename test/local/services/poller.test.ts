/** The event-source poller against fauxqs: real SQS event records, partial batch responses, retries, redrive, FIFO. */
import { createHash } from "node:crypto";
import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageBatchCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";
import { LocalMessaging, startMessaging } from "../../../local/messaging";
import { BatchOutcome, EventSourcePoller, EventSourcePollerOptions, startEventSourcePoller } from "../../../local/poller";
import { localConfig } from "./localConfig";

let messaging: LocalMessaging;
let poller: EventSourcePoller | undefined;
let errors: unknown[] = [];
beforeEach(() => (errors = []));

afterEach(async () => {
  await poller?.stop();
  poller = undefined;
  await messaging?.close();
});

function start(opts: Partial<EventSourcePollerOptions> & Pick<EventSourcePollerOptions, "handler">, queue = messaging.queues.work): EventSourcePoller {
  poller = startEventSourcePoller({
    sqs: messaging.clients.sqs,
    queueUrl: queue.url,
    queueArn: queue.arn,
    region: messaging.region,
    batchSize: 1,
    functionName: "llm-stream-local-stream-worker",
    retryDelaySeconds: 0,
    onError: (e) => errors.push(e),
    ...opts,
  });
  return poller;
}

/** Resolves with the first value `probe` returns that is not undefined, polling until the deadline. */
async function eventually<T>(probe: () => T | undefined | Promise<T | undefined>, what: string, timeoutMs = 10000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function outcomes(p: EventSourcePoller): BatchOutcome[] {
  const seen: BatchOutcome[] = [];
  p.onBatch((o) => seen.push(o));
  return seen;
}

async function queueCounts(url: string) {
  const { Attributes } = await messaging.clients.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"] }),
  );
  return { visible: Number(Attributes?.ApproximateNumberOfMessages), inFlight: Number(Attributes?.ApproximateNumberOfMessagesNotVisible) };
}

async function sendBatch(bodies: string[], extra: (i: number) => object = () => ({})) {
  const res = await messaging.clients.sqs.send(
    new SendMessageBatchCommand({ QueueUrl: messaging.queues.work.url, Entries: bodies.map((b, i) => ({ Id: String(i), MessageBody: b, ...extra(i) })) }),
  );
  return res.Successful!.map((s) => s.MessageId!);
}

describe("standard queue", () => {
  beforeEach(async () => {
    messaging = await startMessaging(await localConfig({ queue: { max_receive_count: 2 } }));
  });

  test("invokes the handler with a real SQS event record and a Lambda-like context, then deletes the message", async () => {
    const calls: { event: SQSEvent; context: Context; remaining: number }[] = [];
    const body = 'a "body"\nwith ✨ and \\';
    const sentAt = Date.now();
    const { MessageId } = await messaging.clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: messaging.queues.work.url,
        MessageBody: body,
        MessageAttributes: { kind: { DataType: "String", StringValue: "work" } },
      }),
    );
    const p = start({ timeoutMs: 30000, handler: async (event, context) => void calls.push({ event, context, remaining: context.getRemainingTimeInMillis() }) });
    const seen = outcomes(p);
    await eventually(() => (seen.length ? true : undefined), "one invocation");

    const { event, context, remaining } = calls[0];
    expect(event.Records).toHaveLength(1);
    const r: SQSRecord = event.Records[0];
    expect(r).toMatchObject({
      messageId: MessageId,
      body,
      md5OfBody: createHash("md5").update(body, "utf8").digest("hex"),
      eventSource: "aws:sqs",
      eventSourceARN: messaging.queues.work.arn,
      awsRegion: "us-east-1",
      messageAttributes: { kind: { dataType: "String", stringValue: "work", stringListValues: [], binaryListValues: [] } },
    });
    expect(typeof r.receiptHandle).toBe("string");
    expect(r.attributes.ApproximateReceiveCount).toBe("1");
    expect(Number(r.attributes.SentTimestamp)).toBeGreaterThanOrEqual(sentAt - 1000);
    expect(Number(r.attributes.ApproximateFirstReceiveTimestamp)).toBeGreaterThanOrEqual(Number(r.attributes.SentTimestamp));
    expect(r.attributes.SenderId).toBeTruthy();
    expect(r.attributes.MessageGroupId).toBeUndefined();
    expect(context.functionName).toBe("llm-stream-local-stream-worker");
    expect(context.invokedFunctionArn).toBe("arn:aws:lambda:us-east-1:000000000000:function:llm-stream-local-stream-worker");
    expect(context.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(remaining).toBeGreaterThan(25000);
    expect(remaining).toBeLessThanOrEqual(30000);
    expect(seen[0].succeeded).toEqual([MessageId]);
    await eventually(async () => ((await queueCounts(messaging.queues.work.url)).visible + (await queueCounts(messaging.queues.work.url)).inFlight === 0 ? true : undefined), "an empty queue");
  });

  test("batchItemFailures: only the failed record comes back; the others are deleted", async () => {
    const ids = await sendBatch(["ok-1", "fails-once", "ok-2"]);
    const invocations: { bodies: string[]; counts: string[] }[] = [];
    let failedOnce = false;
    const p = start({
      batchSize: 10,
      maxBatchingWindowMs: 200,
      handler: async (event) => {
        invocations.push({ bodies: event.Records.map((r) => r.body), counts: event.Records.map((r) => r.attributes.ApproximateReceiveCount) });
        const bad = event.Records.find((r) => r.body === "fails-once");
        if (bad && !failedOnce) {
          failedOnce = true;
          return { batchItemFailures: [{ itemIdentifier: bad.messageId }] };
        }
        return { batchItemFailures: [] };
      },
    });
    const seen = outcomes(p);
    await eventually(() => (seen.length >= 2 ? true : undefined), "the retry");
    expect(invocations[0].bodies.sort()).toEqual(["fails-once", "ok-1", "ok-2"]);
    expect(seen[0].failed).toEqual([ids[1]]);
    expect(invocations[1]).toEqual({ bodies: ["fails-once"], counts: ["2"] });
    await eventually(async () => ((await queueCounts(messaging.queues.work.url)).visible === 0 && p.stats.deleted === 3 ? true : undefined), "all deleted");
    expect(p.stats.invocations).toBe(2);
  });

  test("a handler that throws: every record of the batch comes back", async () => {
    const ids = await sendBatch(["a", "b", "c"]);
    const batches: SQSRecord[][] = [];
    const p = start({
      batchSize: 10,
      maxBatchingWindowMs: 200,
      handler: async (event) => {
        batches.push(event.Records);
        if (batches.length === 1) throw new Error("boom");
      },
    });
    const seen = outcomes(p);
    await eventually(() => (seen.flatMap((o) => o.succeeded).length === 3 ? true : undefined), "all records to succeed on retry");
    expect(seen[0].error).toBeInstanceOf(Error);
    expect(errors).toEqual([seen[0].error]);
    expect(seen[0].failed.sort()).toEqual([...ids].sort());
    const retried = batches.slice(1).flat();
    expect(retried.map((r) => r.messageId).sort()).toEqual([...ids].sort());
    expect(retried.every((r) => r.attributes.ApproximateReceiveCount === "2")).toBe(true);
  });

  test("an unknown itemIdentifier fails the whole batch, as Lambda does", async () => {
    await sendBatch(["x", "y"]);
    let first = true;
    const p = start({
      batchSize: 10,
      maxBatchingWindowMs: 200,
      handler: async () => {
        if (!first) return undefined;
        first = false;
        return { batchItemFailures: [{ itemIdentifier: "not-in-this-batch" }] };
      },
    });
    const seen = outcomes(p);
    await eventually(() => (seen.flatMap((o) => o.succeeded).length === 2 ? true : undefined), "the retry");
    expect(seen[0].failed).toHaveLength(2);
  });

  test("a poison record is redriven to the DLQ after max_receive_count receives", async () => {
    const [poisonId] = await sendBatch(["poison"]);
    let attempts = 0;
    const p = start({
      handler: async (event) => {
        attempts++;
        return { batchItemFailures: event.Records.map((r) => ({ itemIdentifier: r.messageId })) };
      },
    });
    const dlq = await eventually(async () => {
      const res = await messaging.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: messaging.queues.work.dlqUrl, WaitTimeSeconds: 1 }));
      return res.Messages?.[0];
    }, "the DLQ message");
    expect(dlq.MessageId).toBe(poisonId);
    expect(dlq.Body).toBe("poison");
    expect(attempts).toBe(2);
    expect(p.stats.deleted).toBe(0);
  });

  test("without retryDelaySeconds a failed record stays invisible for the queue's visibility timeout", async () => {
    await sendBatch(["fails"]);
    const p = start({ retryDelaySeconds: undefined, handler: async () => Promise.reject(new Error("no")) });
    const seen = outcomes(p);
    await eventually(() => (seen.length ? true : undefined), "the failed invocation");
    expect(await queueCounts(messaging.queues.work.url)).toEqual({ visible: 0, inFlight: 1 });
    expect(p.stats.invocations).toBe(1);
  });

  test("standard queues are processed by concurrent invocations", async () => {
    await sendBatch(["1", "2", "3", "4", "5", "6"]);
    let inFlight = 0;
    let peak = 0;
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const p = start({
      concurrency: 3,
      handler: async () => {
        peak = Math.max(peak, ++inFlight);
        if (peak >= 3) release();
        await released;
        inFlight--;
      },
    });
    await eventually(() => (p.stats.deleted === 6 ? true : undefined), "all six processed");
    expect(peak).toBe(3);
  });

  test("stop() waits for in-flight invocations, and the finished record is deleted", async () => {
    await sendBatch(["slow"]);
    let finish!: () => void;
    let started = false;
    const p = start({
      concurrency: 1,
      handler: async () => {
        started = true;
        await new Promise<void>((r) => (finish = r));
      },
    });
    await eventually(() => (started ? true : undefined), "the invocation to start");
    // What stop() has seen when it resolves: the invocation released later must be complete and its record deleted.
    const atStop = p.stop().then(() => ({ deleted: p.stats.deleted, inFlight: p.stats.inFlight }));
    setTimeout(() => finish(), 100);
    expect(await atStop).toEqual({ deleted: 1, inFlight: 0 });
    expect(await queueCounts(messaging.queues.work.url)).toEqual({ visible: 0, inFlight: 0 });
  });

  test("a run past the function timeout fails the batch, as Lambda's timeout does; the record comes back", async () => {
    const [id] = await sendBatch(["hangs once"]);
    let calls = 0;
    const p = start({
      timeoutMs: 300,
      handler: async () => {
        calls++;
        if (calls === 1) await new Promise(() => undefined); // never settles
      },
    });
    const seen = outcomes(p);
    await eventually(() => (seen.length >= 2 ? true : undefined), "the retry after the timeout");
    expect(seen[0].failed).toEqual([id]);
    expect(String(seen[0].error)).toContain("Task timed out after 0.3 seconds");
    expect(seen[1].succeeded).toEqual([id]);
  });

  test("an idle poller stops within about a second", async () => {
    const p = start({ handler: async () => undefined });
    await new Promise((r) => setImmediate(r));
    const t0 = Date.now();
    await p.stop();
    expect(Date.now() - t0).toBeLessThan(1800);
  });
});

describe("FIFO queue", () => {
  beforeEach(async () => {
    messaging = await startMessaging(await localConfig({ queue: { fifo: true } }));
  });

  test("records carry the FIFO attributes; a group is never processed concurrently and keeps its order", async () => {
    const groups = ["session-a", "session-b", "session-c"];
    for (let i = 0; i < 4; i++) {
      for (const g of groups) {
        await messaging.clients.sqs.send(
          new SendMessageCommand({ QueueUrl: messaging.queues.work.url, MessageBody: `${g}:${i}`, MessageGroupId: g, MessageDeduplicationId: `${g}-${i}` }),
        );
      }
    }
    const busy = new Set<string>();
    const order: Record<string, string[]> = {};
    const records: SQSRecord[] = [];
    let overlap = false;
    const p = start({
      concurrency: 5,
      handler: async (event) => {
        const r = event.Records[0];
        records.push(r);
        const g = r.attributes.MessageGroupId!;
        if (busy.has(g)) overlap = true;
        busy.add(g);
        await new Promise((res) => setTimeout(res, 15)); // simulated work, so overlaps would show
        (order[g] ??= []).push(r.body);
        busy.delete(g);
      },
    });
    await eventually(() => (p.stats.deleted === 12 ? true : undefined), "all twelve processed");
    expect(overlap).toBe(false);
    for (const g of groups) expect(order[g]).toEqual([0, 1, 2, 3].map((i) => `${g}:${i}`));
    expect(records[0].attributes.MessageDeduplicationId).toMatch(/^session-[abc]-0$/);
    expect(records[0].attributes.SequenceNumber).toMatch(/^\d+$/);
  });
});
