/**
 * The account bootstrap stack, applied once per account with the account's admin credentials before any platform
 * stack: the Terraform state bucket(s), GitHub's OIDC provider, the deploy role(s) the deploy jobs assume and their
 * read-only plan roles for pull requests and drift checks.
 */
import { Construct } from "constructs";
import { LocalBackend, S3Backend, TerraformOutput, TerraformStack } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3BucketVersioningA } from "@cdktf/provider-aws/lib/s3-bucket-versioning";
import { S3BucketServerSideEncryptionConfigurationA } from "@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block";
import { S3BucketOwnershipControls } from "@cdktf/provider-aws/lib/s3-bucket-ownership-controls";
import { S3BucketLifecycleConfiguration } from "@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration";
import { S3BucketPolicy } from "@cdktf/provider-aws/lib/s3-bucket-policy";
import { IamOpenidConnectProvider } from "@cdktf/provider-aws/lib/iam-openid-connect-provider";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamPolicy } from "@cdktf/provider-aws/lib/iam-policy";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { AccountBootstrap, bootstrapStackName, DeployRole } from "./config";
import { DeployPolicy, GITHUB_OIDC_AUDIENCE, GITHUB_OIDC_HOST, boundaryPolicy, deployPolicies, oidcProviderArn, planPolicies, planTrustPolicy, stateBucketPolicy, trustPolicy } from "./policies";

/**
 * GitHub's published intermediate-CA thumbprints. AWS validates GitHub's tokens against its own trusted CAs and
 * ignores these, but provider 5.100 would otherwise fill the list in at apply and show it as a change later.
 */
export const GITHUB_THUMBPRINTS = ["6938fd4d98bab03faadb97b34396831e3780aea1", "1c58a3a8518e8759bf075b76b750d4f2df264fcd"];

export interface BootstrapStackProps {
  /** The account and what its environments need (bootstrap/config.ts). */
  readonly account: AccountBootstrap;
  /** Keep this stack's own state in the first state bucket (after the first apply created it); local file otherwise. */
  readonly stateInBucket?: boolean;
  /** The account already has GitHub's OIDC provider (one per account is allowed): reference it instead of creating it. */
  readonly existingOidcProvider?: boolean;
  /** Days a superseded state version is kept (1-3650). */
  readonly noncurrentVersionDays?: number;
}

export class BootstrapStack extends TerraformStack {
  public readonly stateBucketArns: string[] = [];
  public readonly oidcProviderArn: string;
  /** Role ARN per role name; equal to the environments' assume_role_arn by construction. */
  public readonly deployRoleArns: Record<string, string> = {};
  /** Read-only plan role ARN per role name (`<deploy role>-plan`). */
  public readonly planRoleArns: Record<string, string> = {};
  private readonly account: AccountBootstrap;
  /** The OIDC provider this stack creates, which the roles' trust policies name; absent when it already exists. */
  private readonly oidc?: IamOpenidConnectProvider;

  constructor(scope: Construct, props: BootstrapStackProps) {
    const a = props.account;
    const name = bootstrapStackName(a);
    super(scope, name);
    this.account = a;
    const keepDays = props.noncurrentVersionDays ?? 90;
    if (!Number.isInteger(keepDays) || keepDays < 1 || keepDays > 3650) throw new Error(`${name}: noncurrentVersionDays must be between 1 and 3650, got ${keepDays}`);

    new AwsProvider(this, "aws", {
      region: a.region,
      allowedAccountIds: [a.accountId],
      defaultTags: [{ tags: { Project: a.project, ManagedBy: "cdktf", Component: "bootstrap" } }],
    });
    if (props.stateInBucket) {
      const backend = new S3Backend(this, { bucket: a.stateBuckets[0], key: `${a.project}/bootstrap/${a.accountId}.tfstate`, region: a.region, encrypt: true });
      backend.addOverride("use_lockfile", true);
    } else {
      new LocalBackend(this, { path: `terraform.${name}.tfstate` });
    }

    a.stateBuckets.forEach((bucketName, i) => this.stateBucketArns.push(this.stateBucket(`state-${i}`, bucketName, keepDays)));
    if (props.existingOidcProvider) {
      this.oidcProviderArn = oidcProviderArn(a);
    } else {
      this.oidc = new IamOpenidConnectProvider(this, "github-oidc", { url: `https://${GITHUB_OIDC_HOST}`, clientIdList: [GITHUB_OIDC_AUDIENCE], thumbprintList: GITHUB_THUMBPRINTS });
      this.oidcProviderArn = this.oidc.arn;
    }
    for (const role of a.roles) this.rolesOf(role);

    new TerraformOutput(this, "state_buckets", { value: a.stateBuckets });
    new TerraformOutput(this, "oidc_provider_arn", { value: this.oidcProviderArn });
    new TerraformOutput(this, "deploy_role_arns", { value: a.roles.map((r) => r.arn) });
    new TerraformOutput(this, "plan_role_arns", { value: a.roles.map((r) => r.planRoleArn) });
  }

  /** A versioned, encrypted, private, TLS-only state bucket that Terraform refuses to destroy; returns its ARN. */
  private stateBucket(id: string, bucketName: string, keepDays: number): string {
    // Losing the state bucket orphans every environment's resources: terraform refuses to destroy it.
    const bucket = new S3Bucket(this, id, { bucket: bucketName, forceDestroy: false, lifecycle: { preventDestroy: true } });
    new S3BucketOwnershipControls(this, `${id}-ownership`, { bucket: bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } });
    const publicBlock = new S3BucketPublicAccessBlock(this, `${id}-public-access`, {
      bucket: bucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    new S3BucketVersioningA(this, `${id}-versioning`, { bucket: bucket.id, versioningConfiguration: { status: "Enabled" } });
    // SSE-S3: the state needs no key policy of its own, and the deploy role needs no KMS grant to read it.
    new S3BucketServerSideEncryptionConfigurationA(this, `${id}-encryption`, {
      bucket: bucket.id,
      rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }],
    });
    new S3BucketLifecycleConfiguration(this, `${id}-lifecycle`, {
      bucket: bucket.id,
      rule: [
        {
          id: "expire-old-state-versions",
          status: "Enabled",
          filter: [{ prefix: "" }],
          noncurrentVersionExpiration: [{ noncurrentDays: keepDays, newerNoncurrentVersions: 10 }],
          abortIncompleteMultipartUpload: [{ daysAfterInitiation: 7 }],
        },
      ],
    });
    // After the public access block: S3 rejects some policies while the block is being applied.
    new S3BucketPolicy(this, `${id}-policy`, { bucket: bucket.id, policy: JSON.stringify(stateBucketPolicy(`arn:${this.account.partition}:s3:::${bucketName}`)), dependsOn: [publicBlock] });
    return bucket.arn;
  }

  /** One deploy role: its environments' boundaries, the role and its read-only plan twin, each with its policies. */
  private rolesOf(role: DeployRole): void {
    const a = this.account;
    for (const e of role.environments) {
      // Path "/" so the platform stack can compute the ARN from config; only this stack writes it (the deploy role is denied).
      const boundary = boundaryPolicy(a, e);
      new IamPolicy(this, `boundary-${e.name}`, { name: boundary.name, path: "/", description: `Permissions boundary of every ${e.prefix} role`, policy: JSON.stringify(boundary.document) });
    }
    const prefixes = role.environments.map((e) => e.prefix).join(", ");
    const repo = `${a.github.owner}/${a.github.repo}`;
    this.roleWithPolicies(`role-${role.name}`, role.name, role.path, `Deploys ${prefixes} from GitHub Actions of ${repo}`, trustPolicy(a, role), deployPolicies(a, role));
    this.roleWithPolicies(`role-${role.planRoleName}`, role.planRoleName, role.path, `Plans ${prefixes} (read-only) from pull requests and drift checks of ${repo}`, planTrustPolicy(a), planPolicies(a, role));
    this.deployRoleArns[role.name] = role.arn;
    this.planRoleArns[role.planRoleName] = role.planRoleArn;
  }

  /** A role assumed through GitHub's OIDC provider, with one managed policy per concern attached. */
  private roleWithPolicies(id: string, name: string, path: string, description: string, trust: object, policies: DeployPolicy[]): void {
    const iamRole = new IamRole(this, id, {
      name,
      path,
      description,
      assumeRolePolicy: JSON.stringify(trust),
      maxSessionDuration: 3600,
      // The trust policy names the OIDC provider by its deterministic ARN: create the provider first.
      dependsOn: this.oidc ? [this.oidc] : [],
    });
    for (const p of policies) {
      const policy = new IamPolicy(this, `${id}-${p.concern}`, { name: `${name}-${p.concern}`, path, description: p.description, policy: JSON.stringify(p.document) });
      new IamRolePolicyAttachment(this, `${id}-${p.concern}-attachment`, { role: iamRole.name, policyArn: policy.arn });
    }
  }
}
