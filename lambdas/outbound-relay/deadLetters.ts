/**
 * Moves records whose retry window has passed to their queue's DLQ. The relay's retry budget is measured in time, so
 * dead-lettering is its decision, not SQS's receive count (which records held back without an attempt would spend):
 * the outbound queue's own maxReceiveCount is only a high backstop. The DLQ is the one the queue's RedrivePolicy
 * names, read once per queue; FIFO records keep their group and deduplication ids.
 */
import { GetQueueAttributesCommand, SendMessageBatchCommand, type SendMessageBatchRequestEntry, type SQSClient } from "@aws-sdk/client-sqs";
import type { SQSRecord } from "aws-lambda";
import type { RuntimeLogger } from "../shared/telemetry";
import type { QueueUrls } from "./queueUrls";

/** Moves the records to their DLQ; resolves to the ones that could NOT be moved (report those back as failed). */
export type DeadLetterMover = (records: SQSRecord[]) => Promise<SQSRecord[]>;

export interface DeadLetterOptions {
  sqs: SQSClient;
  queueUrls: QueueUrls;
  logger: RuntimeLogger;
  /** Bound on each SQS call (default 2000 ms). */
  callTimeoutMs?: number;
}

/** SendMessageBatch takes at most this many entries. */
const MAX_BATCH_ENTRIES = 10;

export function createDeadLetterMover({ sqs, queueUrls, logger, callTimeoutMs = 2000 }: DeadLetterOptions): DeadLetterMover {
  const dlqArns = new Map<string, string>();
  const timeout = () => ({ abortSignal: AbortSignal.timeout(callTimeoutMs) });

  /** The DLQ ARN of the queue `arn`, from its RedrivePolicy. */
  async function deadLetterArnOf(arn: string): Promise<string | undefined> {
    if (dlqArns.has(arn)) return dlqArns.get(arn);
    const url = await queueUrls.urlOf(arn);
    if (!url) return undefined;
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["RedrivePolicy"] }), timeout());
    const target = Attributes?.RedrivePolicy ? (JSON.parse(Attributes.RedrivePolicy) as { deadLetterTargetArn?: string }).deadLetterTargetArn : undefined;
    if (target) dlqArns.set(arn, target);
    return target;
  }

  /** Sends one queue's records to its DLQ; returns those that did not go. */
  async function moveFrom(arn: string, records: SQSRecord[]): Promise<SQSRecord[]> {
    const dlqArn = await deadLetterArnOf(arn);
    const dlqUrl = dlqArn ? await queueUrls.urlOf(dlqArn) : undefined;
    if (!dlqUrl || !dlqArn) {
      logger.error("the queue names no DLQ (RedrivePolicy); expired records come back for another try", { queueArn: arn });
      return records;
    }
    const left: SQSRecord[] = [];
    for (let i = 0; i < records.length; i += MAX_BATCH_ENTRIES) {
      const chunk = records.slice(i, i + MAX_BATCH_ENTRIES);
      const entries = chunk.map((record, n) => deadLetterEntry(record, String(n), dlqArn.endsWith(".fifo")));
      const result = await sqs.send(new SendMessageBatchCommand({ QueueUrl: dlqUrl, Entries: entries }), timeout());
      for (const failed of result.Failed ?? []) left.push(chunk[Number(failed.Id)]!);
      if (result.Failed?.length) logger.warn("the DLQ refused some expired records; they come back for another try", { queueArn: arn, failed: result.Failed });
    }
    return left;
  }

  return async (records) => {
    const byQueue = new Map<string, SQSRecord[]>();
    for (const r of records) byQueue.set(r.eventSourceARN, [...(byQueue.get(r.eventSourceARN) ?? []), r]);
    const left: SQSRecord[] = [];
    for (const [arn, items] of byQueue) {
      try {
        left.push(...(await moveFrom(arn, items)));
      } catch (error) {
        logger.error("could not move expired records to the DLQ; they come back for another try", { queueArn: arn, error });
        left.push(...items);
      }
    }
    return left;
  };
}

/**
 * The record's event JSON with every character beyond the Basic Multilingual Plane (emoji) written as a \u escape
 * pair: the same JSON value. fauxqs, the local SQS, refuses those characters in SendMessage (AWS accepts them), and
 * the relay only moves records it parsed, so every such character sits inside a JSON string.
 */
export function bmpOnlyJson(json: string): string {
  return json.replace(/[\u{10000}-\u{10FFFF}]/gu, (c) => c.split("").map((unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, "0")}`).join(""));
}

/** The DLQ message for a record: its event as queued (see bmpOnlyJson), and on FIFO its group and deduplication ids. */
function deadLetterEntry(record: SQSRecord, id: string, fifo: boolean): SendMessageBatchRequestEntry {
  const entry: SendMessageBatchRequestEntry = { Id: id, MessageBody: bmpOnlyJson(record.body) };
  if (fifo) {
    entry.MessageGroupId = record.attributes?.MessageGroupId;
    entry.MessageDeduplicationId = record.attributes?.MessageDeduplicationId ?? record.messageId;
  }
  return entry;
}
