import { Construct } from "constructs";
import { SnsTopic } from "@cdktf/provider-aws/lib/sns-topic";
import { SnsTopicPolicy } from "@cdktf/provider-aws/lib/sns-topic-policy";
import { SnsTopicSubscription } from "@cdktf/provider-aws/lib/sns-topic-subscription";
import { SqsQueue } from "@cdktf/provider-aws/lib/sqs-queue";
import { SqsQueuePolicy } from "@cdktf/provider-aws/lib/sqs-queue-policy";
import { SqsQueueRedriveAllowPolicy } from "@cdktf/provider-aws/lib/sqs-queue-redrive-allow-policy";
import { denyInsecureTransport, policyDocument, Statement } from "./policy";
import { CONTENT_BASED_DEDUPLICATION, DLQ_RETENTION_SECONDS, FIFO_QUEUE_SETTINGS, RAW_MESSAGE_DELIVERY, redrivePolicy } from "../config/messaging";
import { enforce, rangeProblem, SQS_MAX_RECEIVE_COUNT, visibilityTimeoutProblem } from "../config/rules";

/** Every SNS topic action, named, so the TLS deny covers them without a wildcard. */
export const SNS_TOPIC_ACTIONS = [
  "sns:AddPermission", "sns:DeleteTopic", "sns:GetDataProtectionPolicy", "sns:GetTopicAttributes",
  "sns:ListSubscriptionsByTopic", "sns:ListTagsForResource", "sns:Publish", "sns:PutDataProtectionPolicy",
  "sns:RemovePermission", "sns:SetTopicAttributes", "sns:Subscribe", "sns:TagResource", "sns:UntagResource",
];

/** Every SQS queue action, named, so the TLS deny covers them without a wildcard. */
export const SQS_QUEUE_ACTIONS = [
  "sqs:AddPermission", "sqs:CancelMessageMoveTask", "sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:DeleteQueue",
  "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ListDeadLetterSourceQueues", "sqs:ListMessageMoveTasks",
  "sqs:ListQueueTags", "sqs:PurgeQueue", "sqs:ReceiveMessage", "sqs:RemovePermission", "sqs:SendMessage",
  "sqs:SetQueueAttributes", "sqs:StartMessageMoveTask", "sqs:TagQueue", "sqs:UntagQueue",
];

export interface SecureTopicProps {
  /** Topic name; must end in .fifo when fifo is set. */
  readonly name: string;
  /** FIFO topic: ordered per MessageGroupId, delivers only to FIFO queues. */
  readonly fifo: boolean;
  /** KMS key for server-side encryption. */
  readonly kmsKeyArn: string;
  /** Extra policy statements for this topic's ARN (e.g. a service allowed to publish). */
  readonly extraStatements?: (topicArn: string) => Statement[];
}

/** An SNS topic encrypted with the environment key, reachable over TLS only. */
export class SecureTopic extends Construct {
  public readonly topicArn: string;
  public readonly topicName: string;

  constructor(scope: Construct, id: string, props: SecureTopicProps) {
    super(scope, id);
    if (props.fifo !== props.name.endsWith(".fifo")) throw new Error(`${id}: a FIFO topic name must end in .fifo (and only a FIFO one), got ${props.name}`);
    const topic = new SnsTopic(this, "topic", {
      name: props.name,
      kmsMasterKeyId: props.kmsKeyArn,
      fifoTopic: props.fifo || undefined,
      contentBasedDeduplication: props.fifo ? CONTENT_BASED_DEDUPLICATION : undefined,
    });
    const policy = policyDocument(this, "policy", [denyInsecureTransport(SNS_TOPIC_ACTIONS, [topic.arn]), ...(props.extraStatements?.(topic.arn) ?? [])]);
    new SnsTopicPolicy(this, "topic-policy", { arn: topic.arn, policy: policy.json });
    this.topicArn = topic.arn;
    this.topicName = topic.name;
  }
}

export interface QueueWithDeadLetterProps {
  /** Queue name; `.fifo` when fifo. */
  readonly name: string;
  /** Dead-letter queue name; `.fifo` when fifo. */
  readonly deadLetterName: string;
  /** FIFO queue (and DLQ), high-throughput mode: ordering and dedup per MessageGroupId. */
  readonly fifo: boolean;
  /** KMS key for server-side encryption of the queue and its DLQ. */
  readonly kmsKeyArn: string;
  /** Receives before a message moves to the DLQ (1-20). */
  readonly maxReceiveCount: number;
  /** Must be at least 6x the consumer's timeout, so a batch is not redelivered while still being processed. */
  readonly visibilityTimeoutSeconds: number;
  /** Timeout of the Lambda that consumes this queue. */
  readonly consumerTimeoutSeconds: number;
  /** Topic that delivers into this queue (raw message delivery). */
  readonly sourceTopicArn: string;
}

/** An encrypted SQS queue fed by one SNS topic, with its dead-letter queue and redrive, TLS only. */
export class QueueWithDeadLetter extends Construct {
  public readonly queueArn: string;
  public readonly queueUrl: string;
  public readonly queueName: string;
  public readonly deadLetterQueueArn: string;
  public readonly deadLetterQueueName: string;

  constructor(scope: Construct, id: string, props: QueueWithDeadLetterProps) {
    super(scope, id);
    const { fifo } = props;
    for (const n of [props.name, props.deadLetterName]) {
      if (fifo !== n.endsWith(".fifo")) throw new Error(`${id}: a FIFO queue name must end in .fifo (and only a FIFO one), got ${n}`);
    }
    enforce(id, rangeProblem(props.maxReceiveCount, SQS_MAX_RECEIVE_COUNT), "maxReceiveCount");
    enforce(id, visibilityTimeoutProblem(props.visibilityTimeoutSeconds, props.consumerTimeoutSeconds, "consumerTimeoutSeconds"), "visibilityTimeoutSeconds");
    const fifoSettings = fifo ? { fifoQueue: true, contentBasedDeduplication: CONTENT_BASED_DEDUPLICATION, ...FIFO_QUEUE_SETTINGS } : {};
    const encryption = { kmsMasterKeyId: props.kmsKeyArn, kmsDataKeyReusePeriodSeconds: 300 };

    const dlq = new SqsQueue(this, "dlq", { name: props.deadLetterName, messageRetentionSeconds: DLQ_RETENTION_SECONDS, ...encryption, ...fifoSettings });
    const queue = new SqsQueue(this, "queue", {
      name: props.name,
      visibilityTimeoutSeconds: props.visibilityTimeoutSeconds,
      receiveWaitTimeSeconds: 20,
      redrivePolicy: redrivePolicy(dlq.arn, props.maxReceiveCount),
      ...encryption,
      ...fifoSettings,
    });
    // Only this queue may use the DLQ as its dead-letter target.
    new SqsQueueRedriveAllowPolicy(this, "dlq-redrive-allow", { queueUrl: dlq.url, redriveAllowPolicy: JSON.stringify({ redrivePermission: "byQueue", sourceQueueArns: [queue.arn] }) });

    const queuePolicy = policyDocument(this, "queue-policy-document", [
      denyInsecureTransport(SQS_QUEUE_ACTIONS, [queue.arn]),
      {
        sid: "TopicDeliversToQueue",
        principals: [{ type: "Service", identifiers: ["sns.amazonaws.com"] }],
        actions: ["sqs:SendMessage"],
        resources: [queue.arn],
        condition: [{ test: "ArnEquals", variable: "aws:SourceArn", values: [props.sourceTopicArn] }],
      },
    ]);
    new SqsQueuePolicy(this, "queue-policy", { queueUrl: queue.url, policy: queuePolicy.json });
    const dlqPolicy = policyDocument(this, "dlq-policy-document", [denyInsecureTransport(SQS_QUEUE_ACTIONS, [dlq.arn])]);
    new SqsQueuePolicy(this, "dlq-policy", { queueUrl: dlq.url, policy: dlqPolicy.json });

    new SnsTopicSubscription(this, "subscription", { topicArn: props.sourceTopicArn, protocol: "sqs", endpoint: queue.arn, rawMessageDelivery: RAW_MESSAGE_DELIVERY });

    this.queueArn = queue.arn;
    this.queueUrl = queue.url;
    this.queueName = queue.name;
    this.deadLetterQueueArn = dlq.arn;
    this.deadLetterQueueName = dlq.name;
  }
}

export interface FailureQueueProps {
  /** Queue name (a standard queue: Lambda's destinations cannot be FIFO queues). */
  readonly name: string;
  /** KMS key for server-side encryption; whoever sends to it needs kms:GenerateDataKey on the key. */
  readonly kmsKeyArn: string;
}

/**
 * A dead-letter queue fed by Lambda itself rather than by a redrive policy: the worker's on-failure destination on the
 * async ingress. Encrypted with the environment key, kept as long as the other DLQs, reachable over TLS only.
 */
export class FailureQueue extends Construct {
  public readonly queueArn: string;
  public readonly queueUrl: string;
  public readonly queueName: string;

  constructor(scope: Construct, id: string, props: FailureQueueProps) {
    super(scope, id);
    if (props.name.endsWith(".fifo")) throw new Error(`${id}: a Lambda on-failure destination must be a standard queue, got ${props.name}`);
    const queue = new SqsQueue(this, "queue", { name: props.name, messageRetentionSeconds: DLQ_RETENTION_SECONDS, kmsMasterKeyId: props.kmsKeyArn, kmsDataKeyReusePeriodSeconds: 300 });
    // Lambda sends with the function's own execution role (its sqs:SendMessage grant), so no service principal is allowed here.
    const policy = policyDocument(this, "policy-document", [denyInsecureTransport(SQS_QUEUE_ACTIONS, [queue.arn])]);
    new SqsQueuePolicy(this, "policy", { queueUrl: queue.url, policy: policy.json });
    this.queueArn = queue.arn;
    this.queueUrl = queue.url;
    this.queueName = queue.name;
  }
}

export interface MessagingProps {
  /** Topic and queue names from config/names.ts (`.fifo` when FIFO). */
  readonly names: { inboundTopic: string; outboundTopic: string; workQueue: string; workDeadLetterQueue: string; outboundQueue: string; outboundDeadLetterQueue: string; asyncFailureQueue: string };
  /** The async ingress: also create the worker's on-failure destination (names.asyncFailureQueue). */
  readonly asyncIngress?: boolean;
  /** FIFO topics and queues (ordered per MessageGroupId = sessionId). */
  readonly fifo: boolean;
  /** KMS key for every topic and queue. */
  readonly kmsKeyArn: string;
  /** Receives before a work request moves to its DLQ (1-20). */
  readonly maxReceiveCount: number;
  /** Receives before an outbound event moves to its DLQ: a backstop, the relay dead-letters by time (config/messaging.ts). */
  readonly outboundMaxReceiveCount: number;
  /** Visibility timeout of both queues; at least 6x consumerTimeoutSeconds. */
  readonly visibilityTimeoutSeconds: number;
  /** Timeout of the consuming Lambdas (stream-worker, outbound-relay). */
  readonly consumerTimeoutSeconds: number;
}

/**
 * The two pipelines: inbound topic -> work queue (worker) and outbound topic -> outbound queue (relay); on the async
 * ingress also the worker's on-failure destination. The work queue stays on the async ingress (nothing consumes it
 * then, nothing publishes to its topic): switching an environment back to "queue" needs no new resources.
 */
export class Messaging extends Construct {
  public readonly inboundTopic: SecureTopic;
  public readonly outboundTopic: SecureTopic;
  public readonly workQueue: QueueWithDeadLetter;
  public readonly outboundQueue: QueueWithDeadLetter;
  /** The worker's on-failure destination; only on the async ingress. */
  public readonly asyncFailureQueue?: FailureQueue;

  constructor(scope: Construct, id: string, props: MessagingProps) {
    super(scope, id);
    const n = props.names;
    const common = { fifo: props.fifo, kmsKeyArn: props.kmsKeyArn };
    const queueCommon = { ...common, visibilityTimeoutSeconds: props.visibilityTimeoutSeconds, consumerTimeoutSeconds: props.consumerTimeoutSeconds };
    this.inboundTopic = new SecureTopic(this, "inbound", { name: n.inboundTopic, ...common });
    this.outboundTopic = new SecureTopic(this, "outbound", { name: n.outboundTopic, ...common });
    this.workQueue = new QueueWithDeadLetter(this, "work", { name: n.workQueue, deadLetterName: n.workDeadLetterQueue, sourceTopicArn: this.inboundTopic.topicArn, maxReceiveCount: props.maxReceiveCount, ...queueCommon });
    this.outboundQueue = new QueueWithDeadLetter(this, "outbound-queue", { name: n.outboundQueue, deadLetterName: n.outboundDeadLetterQueue, sourceTopicArn: this.outboundTopic.topicArn, maxReceiveCount: props.outboundMaxReceiveCount, ...queueCommon });
    if (props.asyncIngress) this.asyncFailureQueue = new FailureQueue(this, "async-failures", { name: n.asyncFailureQueue, kmsKeyArn: props.kmsKeyArn });
  }
}
