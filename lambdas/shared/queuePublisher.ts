/**
 * Publishes stream events to the outbound topic (queued delivery, the direct path's fallback). FIFO topics (ARN ending
 * in `.fifo`) get the group and deduplication ids of fifoIds.ts.
 */
import { PublishCommand, type SNSClient } from "@aws-sdk/client-sns";
import { serializeEvent, type StreamEvent } from "../../contracts/streamEvents";
import type { EventPublisher, PublishOptions } from "./eventPublisher";
import { eventDeduplicationId, sessionGroupId, topicPublishInput } from "./fifoIds";

export interface QueuePublisherOptions {
  sns: SNSClient;
  /** The outbound topic. */
  topicArn: string;
}

export function createQueuePublisher({ sns, topicArn }: QueuePublisherOptions): EventPublisher {
  return {
    async publish(event: StreamEvent, options: PublishOptions = {}): Promise<void> {
      options.signal?.throwIfAborted();
      const input = topicPublishInput(topicArn, serializeEvent(event), sessionGroupId(event.userId, event.data.sessionId), eventDeduplicationId(event));
      await sns.send(new PublishCommand(input), options.signal ? { abortSignal: options.signal } : {});
    },
  };
}
