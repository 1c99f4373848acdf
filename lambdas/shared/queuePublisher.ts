/**
 * Publishes to SNS topics: stream events to the outbound topic (queued delivery, the direct path's fallback) and the
 * work request to the inbound topic. FIFO topics (ARN ending in `.fifo`) get a message group per session and a
 * deduplication id per event, so order holds per session and a retried publish is not delivered twice.
 */
import { PublishCommand, type PublishCommandInput, type SNSClient } from "@aws-sdk/client-sns";
import { EVENT_ACTIONS, serializeEvent, type StreamEvent } from "./envelope";
import type { EventPublisher } from "./eventPublisher";

export function isFifoTopic(topicArn: string): boolean {
  return topicArn.endsWith(".fifo");
}

/** The PublishCommand input for one message; the FIFO fields only where the topic is FIFO. */
export function topicPublishInput(topicArn: string, message: string, groupId: string, deduplicationId: string): PublishCommandInput {
  const input: PublishCommandInput = { TopicArn: topicArn, Message: message };
  if (isFifoTopic(topicArn)) {
    input.MessageGroupId = groupId;
    input.MessageDeduplicationId = deduplicationId;
  }
  return input;
}

/** messageId + sequence number for tokens; final and error events get their own suffix (they carry no sequence number). */
export function eventDeduplicationId(event: StreamEvent): string {
  switch (event.action) {
    case EVENT_ACTIONS.token:
      return `${event.data.messageId}-${event.data.token.sequenceNumber}`;
    case EVENT_ACTIONS.final:
      return `${event.data.messageId}-final`;
    case EVENT_ACTIONS.error:
      return `${event.data.messageId}-error`;
  }
}

export interface QueuePublisherOptions {
  sns: SNSClient;
  /** The outbound topic. */
  topicArn: string;
}

export function createQueuePublisher({ sns, topicArn }: QueuePublisherOptions): EventPublisher {
  return {
    async publish(event: StreamEvent): Promise<void> {
      await sns.send(new PublishCommand(topicPublishInput(topicArn, serializeEvent(event), event.data.sessionId, eventDeduplicationId(event))));
    },
  };
}
