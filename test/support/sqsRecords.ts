/** SQS records and events as Lambda's event source mapping (or the local poller) hands them to a handler. */
import type { SQSEvent, SQSRecord } from "aws-lambda";
import { serializeEvent, type StreamEvent } from "../../contracts/streamEvents";

export interface SqsRecordOptions {
  /** The message body: a string as is, a stream event serialized (default `"{}"`). */
  body?: string | StreamEvent;
  /** Default `sqs-<n>`, unique within the test file. */
  messageId?: string;
  /** Default `rh-<messageId>`. */
  receiptHandle?: string;
  /** Default `arn:aws:sqs:us-east-1:000000000000:queue`. */
  eventSourceARN?: string;
  /** Default the region of `eventSourceARN`. */
  region?: string;
  /** Makes it a FIFO record: the MessageGroupId attribute, with a SequenceNumber. */
  messageGroupId?: string;
  /** ApproximateReceiveCount (default 1). */
  receiveCount?: number;
  /** SentTimestamp, epoch ms (default 0: unknown). */
  sentAt?: number;
}

let count = 0;

/** One SQS record; every field has a plausible default. */
export function sqsRecord(options: SqsRecordOptions = {}): SQSRecord {
  const n = ++count;
  const messageId = options.messageId ?? `sqs-${n}`;
  const eventSourceARN = options.eventSourceARN ?? "arn:aws:sqs:us-east-1:000000000000:queue";
  const body = options.body ?? "{}";
  return {
    messageId,
    receiptHandle: options.receiptHandle ?? `rh-${messageId}`,
    body: typeof body === "string" ? body : serializeEvent(body),
    attributes: {
      ApproximateReceiveCount: String(options.receiveCount ?? 1),
      SentTimestamp: String(options.sentAt ?? 0),
      SenderId: "x",
      ApproximateFirstReceiveTimestamp: "0",
      ...(options.messageGroupId !== undefined ? { MessageGroupId: options.messageGroupId, SequenceNumber: String(n) } : {}),
    },
    messageAttributes: {},
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN,
    awsRegion: options.region ?? eventSourceARN.split(":")[3]!,
  };
}

/** The event of one invocation: these records, in this order. */
export function sqsEvent(...records: SQSRecord[]): SQSEvent {
  return { Records: records };
}
