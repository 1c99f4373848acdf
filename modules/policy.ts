import { Construct } from "constructs";
import { DataAwsIamPolicyDocument, DataAwsIamPolicyDocumentStatement } from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";

export type Statement = DataAwsIamPolicyDocumentStatement;

/** aws_iam_policy_document renders locally (no AWS call), so policies plan offline and stay readable as HCL. */
export function policyDocument(scope: Construct, id: string, statements: Statement[]): DataAwsIamPolicyDocument {
  for (const s of statements) {
    const bad = (s.actions ?? []).filter((a) => a.includes("*"));
    // Secure by default: every grant names its actions.
    if (bad.length) throw new Error(`${id}: wildcard actions are not allowed: ${bad.join(", ")}`);
  }
  return new DataAwsIamPolicyDocument(scope, id, { statement: statements });
}

/** Denies any request that does not use TLS (aws:SecureTransport = false). */
export function denyInsecureTransport(actions: string[], resources: string[]): Statement {
  return {
    sid: "DenyInsecureTransport",
    effect: "Deny",
    principals: [{ type: "*", identifiers: ["*"] }],
    actions,
    resources,
    condition: [{ test: "Bool", variable: "aws:SecureTransport", values: ["false"] }],
  };
}
