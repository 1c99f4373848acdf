import { Construct } from "constructs";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { CloudwatchLogResourcePolicy } from "@cdktf/provider-aws/lib/cloudwatch-log-resource-policy";
import { Wafv2WebAcl } from "@cdktf/provider-aws/lib/wafv2-web-acl";
import { Wafv2WebAclAssociation } from "@cdktf/provider-aws/lib/wafv2-web-acl-association";
import { Wafv2WebAclLoggingConfiguration } from "@cdktf/provider-aws/lib/wafv2-web-acl-logging-configuration";
import { enforce, exactlyOneProblem, logRetentionProblem, rangeProblem, WAF_RATE_LIMIT } from "../config/rules";
import { partitionOf } from "./arns";
import { policyDocument } from "./policy";

export interface ApiFirewallProps {
  /** Name of the web ACL created (also its metric names); unused with `existingWebAclArn`. */
  readonly name: string;
  /** The regional resource to protect: the AppSync API's ARN. */
  readonly resourceArn: string;
  /** Account and region of the API and the web ACL (the log delivery policy's conditions). */
  readonly accountId: string;
  readonly region: string;
  /** Create a web ACL whose IP rate-based rule blocks an address past this many requests in 5 minutes. */
  readonly rateLimitPer5Minutes?: number;
  /** Or associate this existing regional web ACL instead (created and logged by its owner). */
  readonly existingWebAclArn?: string;
  /** The created web ACL's log group; AWS WAF requires the `aws-waf-logs-` prefix. */
  readonly logGroupName: string;
  /** Retention of that log group: one of CloudWatch's periods. */
  readonly logRetentionDays: number;
  /** KMS key that encrypts the log group; its key policy must let CloudWatch Logs use it for that group. */
  readonly logsKmsKeyArn: string;
  /** Request headers kept out of the logs (default: authorization, which carries the caller's token). */
  readonly redactedHeaders?: string[];
}

/**
 * The rate rule counts only requests that are not SigV4-signed: signed ones are the worker's and relay's
 * publishResponse calls (about 4 a second per stream, from a few Lambda addresses), and a forged signature fails
 * AppSync's IAM check before any resolver runs.
 */
export const NOT_SIGV4_SIGNED = {
  not_statement: {
    statement: {
      byte_match_statement: {
        field_to_match: { single_header: { name: "authorization" } },
        positional_constraint: "STARTS_WITH",
        search_string: "AWS4-HMAC-SHA256",
        text_transformation: [{ priority: 0, type: "NONE" }],
      },
    },
  },
};

/** AWS WAF requires CloudWatch log groups it logs to to be named so. */
export const WAF_LOG_GROUP_PREFIX = "aws-waf-logs-";

/**
 * AWS WAF in front of a regional resource (here the AppSync API): either a web ACL created with one IP rate-based rule
 * (blocks, default allow), logged to an encrypted log group with retention, or the team's own web ACL; associated
 * with the resource either way.
 */
export class ApiFirewall extends Construct {
  /** The web ACL associated with the resource. */
  public readonly webAclArn: string;
  /** The log group of the created web ACL; undefined for an existing one. */
  public readonly logGroupName?: string;

  constructor(scope: Construct, id: string, props: ApiFirewallProps) {
    super(scope, id);
    enforce(id, exactlyOneProblem(props.rateLimitPer5Minutes, props.existingWebAclArn, ["rateLimitPer5Minutes", "existingWebAclArn"]));
    if (props.rateLimitPer5Minutes !== undefined) {
      enforce(id, rangeProblem(props.rateLimitPer5Minutes, WAF_RATE_LIMIT), "rateLimitPer5Minutes");
      enforce(id, logRetentionProblem(props.logRetentionDays), "logRetentionDays");
      enforce(id, props.logGroupName.startsWith(WAF_LOG_GROUP_PREFIX) ? undefined : `must start with ${WAF_LOG_GROUP_PREFIX}, got ${props.logGroupName}`, "logGroupName");
      const acl = this.rateLimitedAcl(props, props.rateLimitPer5Minutes);
      this.webAclArn = acl.arn;
      this.logGroupName = this.logging(props, acl);
    } else {
      this.webAclArn = props.existingWebAclArn!;
    }
    new Wafv2WebAclAssociation(this, "association", { resourceArn: props.resourceArn, webAclArn: this.webAclArn });
  }

  /** Default allow; one rule blocks an IP address over the rate in any 5-minute window. */
  private rateLimitedAcl(props: ApiFirewallProps, limit: number): Wafv2WebAcl {
    const visibility = (metricName: string) => ({ cloudwatchMetricsEnabled: true, metricName, sampledRequestsEnabled: true });
    return new Wafv2WebAcl(this, "acl", {
      name: props.name,
      description: `Rate limit per IP address in front of ${props.name}`,
      scope: "REGIONAL",
      defaultAction: { allow: {} },
      rule: [
        {
          name: "rate-limit-per-ip",
          priority: 0,
          action: { block: {} },
          // The provider types `statement` loosely (it nests arbitrarily), so it is written in Terraform's own keys.
          statement: { rate_based_statement: { limit, aggregate_key_type: "IP", scope_down_statement: NOT_SIGV4_SIGNED } },
          visibilityConfig: visibility(`${props.name}-rate-limit-per-ip`),
        },
      ],
      visibilityConfig: visibility(props.name),
    });
  }

  /**
   * Logs every request the web ACL sees, headers in `redactedHeaders` excepted, to its own encrypted group. CloudWatch
   * Logs takes WAF's deliveries only under a resource policy for the log delivery service, scoped here to this group,
   * this account and this web ACL.
   */
  private logging(props: ApiFirewallProps, acl: Wafv2WebAcl): string {
    const group = new CloudwatchLogGroup(this, "logs", { name: props.logGroupName, retentionInDays: props.logRetentionDays, kmsKeyId: props.logsKmsKeyArn });
    const p = partitionOf(props.region);
    const delivery = policyDocument(this, "log-delivery", [
      {
        sid: "WafDeliversToOwnLogGroup",
        principals: [{ type: "Service", identifiers: ["delivery.logs.amazonaws.com"] }],
        actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
        resources: [`${group.arn}:log-stream:*`],
        condition: [
          { test: "StringEquals", variable: "aws:SourceAccount", values: [props.accountId] },
          { test: "ArnLike", variable: "aws:SourceArn", values: [`arn:${p}:logs:${props.region}:${props.accountId}:*`] },
        ],
      },
    ]);
    const policy = new CloudwatchLogResourcePolicy(this, "log-delivery-policy", { policyName: `${props.name}-waf-logs`, policyDocument: delivery.json });
    new Wafv2WebAclLoggingConfiguration(this, "logging", {
      resourceArn: acl.arn,
      logDestinationConfigs: [group.arn],
      redactedFields: (props.redactedHeaders ?? ["authorization"]).map((name) => ({ singleHeader: { name } })),
      dependsOn: [policy],
    });
    return group.name;
  }
}
