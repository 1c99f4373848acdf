import { Construct } from "constructs";
import { KmsKey } from "@cdktf/provider-aws/lib/kms-key";
import { KmsAlias } from "@cdktf/provider-aws/lib/kms-alias";
import { enforce, rangeProblem } from "../config/rules";
import { partitionOf } from "./arns";
import { policyDocument, Statement } from "./policy";

export interface EncryptionKeyProps {
  /** Alias without the `alias/` prefix. */
  readonly alias: string;
  /** The environment's account: its IAM principals administer and use the key. */
  readonly accountId: string;
  /** Region of the key (sets the partition of the account root ARN). */
  readonly region: string;
  /** Days a deleted key can still be restored (7-30). */
  readonly deletionWindowDays?: number;
  /**
   * CloudWatch log groups this key encrypts, as names or name patterns (`/aws/lambda/<prefix>-*`). The key policy lets
   * the region's CloudWatch Logs use the key for these groups only; none (the default) keeps Logs from using it at all.
   */
  readonly logGroupNames?: string[];
}

/** What CloudWatch Logs does with a log group's key (AWS's documented key policy for encrypted log groups, without wildcards). */
const LOGS_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey"];

/** Administration and use by the account's own IAM principals; the key policy delegates to IAM. */
const ACCOUNT_ACTIONS = [
  "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:CreateGrant", "kms:Decrypt", "kms:DeleteAlias", "kms:DescribeKey",
  "kms:DisableKey", "kms:DisableKeyRotation", "kms:EnableKey", "kms:EnableKeyRotation", "kms:Encrypt",
  "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus",
  "kms:ListAliases", "kms:ListGrants", "kms:ListKeyPolicies", "kms:ListKeyRotations", "kms:ListResourceTags",
  "kms:PutKeyPolicy", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:RetireGrant", "kms:RevokeGrant",
  "kms:RotateKeyOnDemand", "kms:ScheduleKeyDeletion", "kms:TagResource", "kms:UntagResource", "kms:UpdateAlias",
  "kms:UpdateKeyDescription",
];

/**
 * CloudWatch Logs calls KMS as `logs.<region>.amazonaws.com`, passing the log group's ARN as encryption context
 * (`aws:logs:arn`): matching it keeps every other log group of the account, and every other account, off the key.
 */
function logsStatement(props: EncryptionKeyProps, names: string[]): Statement {
  const groupArn = (name: string) => `arn:${partitionOf(props.region)}:logs:${props.region}:${props.accountId}:log-group:${name}`;
  return {
    sid: "CloudWatchLogsEncryptsOwnLogGroups",
    principals: [{ type: "Service", identifiers: [`logs.${props.region}.amazonaws.com`] }],
    actions: LOGS_ACTIONS,
    resources: ["*"],
    condition: [{ test: "ArnLike", variable: "kms:EncryptionContext:aws:logs:arn", values: names.map(groupArn) }],
  };
}

/** One customer managed key per environment for topics, queues, tables and log groups, rotated yearly. */
export class EncryptionKey extends Construct {
  public readonly keyArn: string;
  public readonly keyId: string;

  constructor(scope: Construct, id: string, props: EncryptionKeyProps) {
    super(scope, id);
    const window = props.deletionWindowDays ?? 30;
    enforce(id, rangeProblem(window, { min: 7, max: 30 }), "deletionWindowDays");
    const p = partitionOf(props.region);
    const sameAccount = [{ test: "StringEquals", variable: "aws:SourceAccount", values: [props.accountId] }];
    // In a key policy, Resource "*" means "this key": a key policy cannot name its own ARN.
    const policy = policyDocument(this, "policy", [
      { sid: "AccountAdministersAndUsesKey", principals: [{ type: "AWS", identifiers: [`arn:${p}:iam::${props.accountId}:root`] }], actions: ACCOUNT_ACTIONS, resources: ["*"] },
      // SNS encrypts what it delivers into the encrypted queues and reads its own encrypted topics.
      { sid: "SnsDeliversToEncryptedQueues", principals: [{ type: "Service", identifiers: ["sns.amazonaws.com"] }], actions: ["kms:Decrypt", "kms:GenerateDataKey"], resources: ["*"], condition: sameAccount },
      // CloudWatch alarms publish to the encrypted alarm topic.
      { sid: "CloudWatchPublishesAlarms", principals: [{ type: "Service", identifiers: ["cloudwatch.amazonaws.com"] }], actions: ["kms:Decrypt", "kms:GenerateDataKey"], resources: ["*"], condition: sameAccount },
      ...(props.logGroupNames?.length ? [logsStatement(props, props.logGroupNames)] : []),
    ]);
    const key = new KmsKey(this, "key", {
      description: `Encrypts the ${props.alias} topics, queues, tables and logs`,
      enableKeyRotation: true,
      deletionWindowInDays: window,
      policy: policy.json,
    });
    new KmsAlias(this, "alias", { name: `alias/${props.alias}`, targetKeyId: key.keyId });
    this.keyArn = key.arn;
    this.keyId = key.keyId;
  }
}
