import { Construct } from "constructs";
import { CloudwatchMetricAlarm } from "@cdktf/provider-aws/lib/cloudwatch-metric-alarm";
import { SnsTopicSubscription } from "@cdktf/provider-aws/lib/sns-topic-subscription";
import { enforce, exactlyOneProblem } from "../config/rules";
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

/** What every alarm shares: it fires on any non-zero value within a minute and notifies on recovery too. */
function alarmDefaults(topicArn: string) {
  return {
    alarmActions: [topicArn],
    okActions: [topicArn],
    comparisonOperator: "GreaterThanThreshold",
    threshold: 0,
    evaluationPeriods: 1,
    period: 60,
    statistic: "Sum",
    treatMissingData: "notBreaching",
  };
}

type AlarmDefaults = ReturnType<typeof alarmDefaults>;

/** Alarms on what users notice: lost work (DLQ), failing or throttled functions, AppSync server errors. */
export class PlatformAlarms extends Construct {
  /** Where alarms go. */
  public readonly topicArn: string;

  constructor(scope: Construct, id: string, props: PlatformAlarmsProps) {
    super(scope, id);
    enforce(id, exactlyOneProblem(props.email, props.snsTopicArn, ["email", "snsTopicArn"]));
    this.topicArn = props.email ? this.emailTopic(props, props.email) : props.snsTopicArn!;
    const defaults = alarmDefaults(this.topicArn);
    this.deadLetterAlarms(defaults, props.deadLetterQueueNames);
    this.functionAlarms(defaults, props.functionNames);
    this.apiAlarm(defaults, props.prefix, props.apiId);
  }

  /** An encrypted topic CloudWatch of this account may publish to, with the email subscribed. */
  private emailTopic(props: PlatformAlarmsProps, email: string): string {
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
    new SnsTopicSubscription(this, "email", { topicArn: topic.topicArn, protocol: "email", endpoint: email });
    return topic.topicArn;
  }

  /** A message in a DLQ is work that failed after all retries: the highest count in the minute, not the sum. */
  private deadLetterAlarms(defaults: AlarmDefaults, queueNames: string[]): void {
    queueNames.forEach((queueName, i) => {
      new CloudwatchMetricAlarm(this, `dlq-${i}`, {
        ...defaults,
        alarmName: `${queueName}-visible-messages`,
        alarmDescription: `Messages in dead-letter queue ${queueName}: work failed after all retries`,
        namespace: "AWS/SQS",
        metricName: "ApproximateNumberOfMessagesVisible",
        statistic: "Maximum",
        dimensions: { QueueName: queueName },
      });
    });
  }

  private functionAlarms(defaults: AlarmDefaults, functionNames: string[]): void {
    functionNames.forEach((functionName, i) => {
      for (const metric of ["Errors", "Throttles"]) {
        new CloudwatchMetricAlarm(this, `fn-${i}-${metric.toLowerCase()}`, {
          ...defaults,
          alarmName: `${functionName}-${metric.toLowerCase()}`,
          alarmDescription: `${metric} of Lambda ${functionName}`,
          namespace: "AWS/Lambda",
          metricName: metric,
          dimensions: { FunctionName: functionName },
        });
      }
    });
  }

  private apiAlarm(defaults: AlarmDefaults, prefix: string, apiId: string): void {
    new CloudwatchMetricAlarm(this, "api-5xx", {
      ...defaults,
      alarmName: `${prefix}-api-5xx`,
      alarmDescription: "AppSync server errors",
      namespace: "AWS/AppSync",
      metricName: "5XXError",
      dimensions: { GraphQLAPIId: apiId },
    });
  }
}
