import { Construct } from "constructs";
import { CloudwatchMetricAlarm } from "@cdktf/provider-aws/lib/cloudwatch-metric-alarm";
import { SnsTopicSubscription } from "@cdktf/provider-aws/lib/sns-topic-subscription";
import { SecureTopic } from "./messaging";

export interface PlatformAlarmsProps {
  /** Prefix of the alarm topic and API alarm names. */
  readonly prefix: string;
  /** Account whose CloudWatch may publish to the created topic. */
  readonly accountId: string;
  /** Email that receives the alarms (a topic is created for it). */
  readonly email?: string;
  /** Existing topic that receives the alarms. */
  readonly snsTopicArn?: string;
  /** KMS key of the created topic. */
  readonly kmsKeyArn: string;
  /** Any visible message in these queues alarms (plain names, they name the alarms). */
  readonly deadLetterQueueNames: string[];
  /** Errors and throttles of these functions alarm (plain names, they name the alarms). */
  readonly functionNames: string[];
  /** AppSync API whose 5xx errors alarm. */
  readonly apiId: string;
}

/** Alarms on what users notice: lost work (DLQ), failing or throttled functions, AppSync server errors. */
export class PlatformAlarms extends Construct {
  /** Where alarms go. */
  public readonly topicArn: string;
  public readonly alarmCount: number;

  constructor(scope: Construct, id: string, props: PlatformAlarmsProps) {
    super(scope, id);
    if (!!props.email === !!props.snsTopicArn) throw new Error(`${id}: set exactly one of email and snsTopicArn`);
    if (props.email) {
      const topic = new SecureTopic(this, "topic", {
        name: `${props.prefix}-alarms`,
        fifo: false,
        kmsKeyArn: props.kmsKeyArn,
        extraStatements: (topicArn) => [
          {
            sid: "CloudWatchPublishesAlarms",
            principals: [{ type: "Service", identifiers: ["cloudwatch.amazonaws.com"] }],
            actions: ["sns:Publish"],
            resources: [topicArn],
            condition: [{ test: "StringEquals", variable: "aws:SourceAccount", values: [props.accountId] }],
          },
        ],
      });
      new SnsTopicSubscription(this, "email", { topicArn: topic.topicArn, protocol: "email", endpoint: props.email });
      this.topicArn = topic.topicArn;
    } else {
      this.topicArn = props.snsTopicArn!;
    }
    const common = {
      alarmActions: [this.topicArn],
      okActions: [this.topicArn],
      comparisonOperator: "GreaterThanThreshold",
      threshold: 0,
      evaluationPeriods: 1,
      period: 60,
      statistic: "Sum",
      treatMissingData: "notBreaching",
    };
    let count = 0;
    props.deadLetterQueueNames.forEach((queueName, i) => {
      count++;
      new CloudwatchMetricAlarm(this, `dlq-${i}`, {
        ...common,
        alarmName: `${queueName}-visible-messages`,
        alarmDescription: `Messages in dead-letter queue ${queueName}: work failed after all retries`,
        namespace: "AWS/SQS",
        metricName: "ApproximateNumberOfMessagesVisible",
        statistic: "Maximum",
        dimensions: { QueueName: queueName },
      });
    });
    props.functionNames.forEach((functionName, i) => {
      for (const metric of ["Errors", "Throttles"]) {
        count++;
        new CloudwatchMetricAlarm(this, `fn-${i}-${metric.toLowerCase()}`, {
          ...common,
          alarmName: `${functionName}-${metric.toLowerCase()}`,
          alarmDescription: `${metric} of Lambda ${functionName}`,
          namespace: "AWS/Lambda",
          metricName: metric,
          dimensions: { FunctionName: functionName },
        });
      }
    });
    count++;
    new CloudwatchMetricAlarm(this, "api-5xx", {
      ...common,
      alarmName: `${props.prefix}-api-5xx`,
      alarmDescription: "AppSync server errors",
      namespace: "AWS/AppSync",
      metricName: "5XXError",
      dimensions: { GraphQLAPIId: props.apiId },
    });
    this.alarmCount = count;
  }
}
