/** Queue depths for tests and the bench: what is waiting, in flight and dead-lettered on each queue. */
import { GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";

export interface QueueDepth {
  /** Ready to be received. */
  visible: number;
  /** Received and not yet deleted (or waiting out a visibility timeout). */
  inFlight: number;
  /** Messages in the queue's DLQ. */
  dead: number;
}

async function count(sqs: SQSClient, url: string): Promise<{ visible: number; inFlight: number }> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"] }),
  );
  return { visible: Number(Attributes?.ApproximateNumberOfMessages ?? 0), inFlight: Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0) };
}

/** Works with any SQS client pointed at the local stack's endpoint (e.g. from the --ready-json line). */
export async function queueDepths<K extends string>(sqs: SQSClient, queues: Record<K, { url: string; dlqUrl: string }>): Promise<Record<K, QueueDepth>> {
  const out = {} as Record<K, QueueDepth>;
  for (const [name, q] of Object.entries(queues) as [K, { url: string; dlqUrl: string }][]) {
    const [main, dlq] = await Promise.all([count(sqs, q.url), count(sqs, q.dlqUrl)]);
    out[name] = { ...main, dead: dlq.visible + dlq.inFlight };
  }
  return out;
}
