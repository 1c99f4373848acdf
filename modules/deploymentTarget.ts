import { Construct } from "constructs";
import { LocalBackend, S3Backend, TerraformStack } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { EnvironmentConfig, stateKey } from "../config/schema";

export interface DeploymentTargetProps {
  /** The validated environment config: region, account, role, tags and state backend come from it. */
  readonly config: EnvironmentConfig;
}

/** Where one environment deploys: the AWS provider pinned to its account and region, tagged, and the state backend with its own key. */
export class DeploymentTarget extends Construct {
  public readonly provider: AwsProvider;
  /** Tags every resource gets through the provider's default_tags. */
  public readonly defaultTags: Record<string, string>;

  constructor(scope: Construct, id: string, props: DeploymentTargetProps) {
    super(scope, id);
    const c = props.config;
    this.defaultTags = { ...c.tags, Project: c.project, Environment: c.name, ManagedBy: "cdktf" };
    this.provider = new AwsProvider(this, "aws", {
      region: c.region,
      // A wrong profile or role cannot deploy this environment into another account.
      allowedAccountIds: [c.account_id],
      assumeRole: c.assume_role_arn ? [{ roleArn: c.assume_role_arn, sessionName: `${c.project}-${c.name}-deploy` }] : undefined,
      defaultTags: [{ tags: this.defaultTags }],
    });

    const stack = TerraformStack.of(this);
    if (c.state.backend === "s3") {
      const backend = new S3Backend(stack, {
        bucket: c.state.bucket,
        key: stateKey(c),
        region: c.state.region,
        encrypt: true,
      });
      // S3-native state locking (terraform >= 1.10); cdktf 0.21's S3BackendConfig has no field for it.
      backend.addOverride("use_lockfile", true);
    } else {
      new LocalBackend(stack, { path: `terraform.${c.project}-${c.name}.tfstate` });
    }
  }
}
