import { Construct } from "constructs";
import { KmsKey } from "@cdktf/provider-aws/lib/kms-key";
import { KmsAlias } from "@cdktf/provider-aws/lib/kms-alias";
import { enforce, rangeProblem } from "../config/rules";
import { partitionOf } from "./arns";
import { policyDocument } from "./policy";

export interface EncryptionKeyProps {
  /** Alias without the `alias/` prefix. */
  readonly alias: string;
  /** The environment's account: its IAM principals administer and use the key. */
  readonly accountId: string;
  /** Region of the key (sets the partition of the account root ARN). */
  readonly region: string;
  /** Days a deleted key can still be restored (7-30). */
  readonly deletionWindowDays?: number;
}

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

/** One customer managed key per environment for topics, queues and tables, rotated yearly. */
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
    ]);
    const key = new KmsKey(this, "key", {
      description: `Encrypts the ${props.alias} topics, queues and tables`,
      enableKeyRotation: true,
      deletionWindowInDays: window,
      policy: policy.json,
    });
    new KmsAlias(this, "alias", { name: `alias/${props.alias}`, targetKeyId: key.keyId });
    this.keyArn = key.arn;
    this.keyId = key.keyId;
  }
}
