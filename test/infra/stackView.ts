/** Reads a synthesized cdk.tf.json the way a reviewer does: resources by type, references resolved to what they point at. */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { synthesize, SynthResult } from "../../main";

type Body = Record<string, any>;

export interface PolicyStatement {
  sid?: string;
  effect?: string;
  actions?: string[];
  not_actions?: string[];
  resources?: string[];
  principals?: { type: string; identifiers: string[] }[];
  condition?: { test: string; variable: string; values: string[] }[];
}

export class StackView {
  constructor(
    readonly json: Body,
    readonly dir: string,
  ) {}

  /** All resources of a type, by logical id. */
  resources(type: string): Record<string, Body> {
    return this.json.resource?.[type] ?? {};
  }

  list(type: string): Body[] {
    return Object.values(this.resources(type));
  }

  /** The one resource of `type` matching `pred`; fails when none or several match. */
  one(type: string, pred: (b: Body) => boolean): Body {
    const found = this.list(type).filter(pred);
    if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
    return found[0];
  }

  /** `${aws_x.id.attr}` -> the logical id. */
  static refId(ref: string): string {
    const m = /^\$\{(?:data\.)?[a-z0-9_]+\.([^.}]+)\./.exec(ref);
    if (!m) throw new Error(`not a reference: ${ref}`);
    return m[1];
  }

  /** Terraform reference `${type.id.attr}` to the resource with that logical id. */
  ref(type: string, id: string, attr: string): string {
    return `\${${type}.${id}.${attr}}`;
  }

  idOf(type: string, body: Body): string {
    const entry = Object.entries(this.resources(type)).find(([, b]) => b === body);
    if (!entry) throw new Error(`not a ${type}`);
    return entry[0];
  }

  /** The statements of an aws_iam_policy_document referenced as `${data.aws_iam_policy_document.X.json}`. */
  statementsOf(policyRef: string): PolicyStatement[] {
    const doc = this.json.data.aws_iam_policy_document[StackView.refId(policyRef)];
    if (!doc) throw new Error(`no policy document for ${policyRef}`);
    return doc.statement;
  }

  /** Every policy document statement in the stack (identity, resource and key policies). */
  allStatements(): PolicyStatement[] {
    return Object.values<Body>(this.json.data?.aws_iam_policy_document ?? {}).flatMap((d) => d.statement as PolicyStatement[]);
  }

  /** The permissions of a Lambda function's role (all its inline policies). */
  functionPermissions(functionName: string): PolicyStatement[] {
    const fn = this.one("aws_lambda_function", (f) => f.function_name === functionName);
    const roleId = StackView.refId(fn.role);
    return this.list("aws_iam_role_policy")
      .filter((p) => StackView.refId(p.role) === roleId)
      .flatMap((p) => this.statementsOf(p.policy));
  }

  provider(): Body {
    return this.json.provider.aws[0];
  }
}

export interface Synthesized {
  outdir: string;
  result: SynthResult;
  stack(stackName: string): StackView;
  cleanup(): void;
}

/** Synthesizes in-process (the same code path as `npm run synth`) into a fresh temp dir. */
export async function synthesizeToTemp(environments: string[], environmentsDir?: string): Promise<Synthesized> {
  const outdir = mkdtempSync(path.join(os.tmpdir(), "infra-synth-"));
  const result = await synthesize({ environments, outdir, environmentsDir });
  return {
    outdir,
    result,
    stack(stackName: string) {
      const dir = path.join(outdir, "stacks", stackName);
      return new StackView(JSON.parse(readFileSync(path.join(dir, "cdk.tf.json"), "utf8")), dir);
    },
    cleanup: () => rmSync(outdir, { recursive: true, force: true }),
  };
}
