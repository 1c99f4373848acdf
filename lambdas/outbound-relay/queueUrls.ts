/** Queue URLs by ARN, asked of SQS once per queue: GetQueueUrl gives the right form on AWS and locally alike. */
import { GetQueueUrlCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { RuntimeLogger } from "../shared/telemetry";

export interface QueueArnParts {
  region: string;
  account: string;
  name: string;
}

/** `arn:<partition>:sqs:<region>:<account>:<name>`, or undefined for anything else. */
export function parseQueueArn(arn: string): QueueArnParts | undefined {
  const match = /^arn:[^:]+:sqs:([^:]+):(\d{12}):([^:]+)$/.exec(arn);
  return match ? { region: match[1]!, account: match[2]!, name: match[3]! } : undefined;
}

/** The public AWS form of a queue's URL; only a fallback (a local stand-in uses another form). */
export function awsQueueUrl({ region, account, name }: QueueArnParts): string {
  return `https://sqs.${region}.amazonaws.com/${account}/${name}`;
}

export interface QueueUrls {
  /** The URL of the queue `arn`; undefined for a string that is no queue ARN. */
  urlOf(arn: string): Promise<string | undefined>;
}

export function createQueueUrls({ sqs, logger, callTimeoutMs }: { sqs: SQSClient; logger: RuntimeLogger; callTimeoutMs: number }): QueueUrls {
  const urls = new Map<string, string>();
  return {
    async urlOf(arn) {
      const known = urls.get(arn);
      if (known) return known;
      const parts = parseQueueArn(arn);
      if (!parts) return undefined;
      try {
        const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: parts.name, QueueOwnerAWSAccountId: parts.account }), { abortSignal: AbortSignal.timeout(callTimeoutMs) });
        if (QueueUrl) {
          urls.set(arn, QueueUrl);
          return QueueUrl;
        }
      } catch (error) {
        logger.warn("GetQueueUrl failed; using the queue's AWS URL form", { queueArn: arn, error });
      }
      // Not cached: the next lookup asks GetQueueUrl again.
      return awsQueueUrl(parts);
    },
  };
}
