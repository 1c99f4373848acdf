/**
 * Every log group of a stack is encrypted with the environment's key, and the key policy lets CloudWatch Logs use the
 * key for exactly those groups (checkov CKV_AWS_158). Terraform orders by references: each group's kms_key_id names
 * the key, and the key policy names no group, so the key (with its policy) exists before any group.
 */
import { StackView, Synthesized, synthesizeToTemp } from "./stackView";

let synth: Synthesized;
let stack: StackView;

beforeAll(async () => {
  synth = await synthesizeToTemp(["dev"]);
  stack = synth.stack("llm-stream-dev");
}, 60_000);
afterAll(() => synth?.cleanup());

const keyRef = () => stack.ref("aws_kms_key", Object.keys(stack.resources("aws_kms_key"))[0], "arn");
const keyPolicyStatements = () => stack.statementsOf(stack.list("aws_kms_key")[0].policy);

test("every Lambda, AppSync and WAF log group carries the environment's key", () => {
  const groups = stack.list("aws_cloudwatch_log_group");
  expect(groups.map((g) => g.name).sort()).toEqual([
    expect.stringMatching(/^\/aws\/appsync\/apis\/\$\{aws_appsync_graphql_api\.[^.]+\.id\}$/),
    "/aws/lambda/llm-stream-dev-message-control",
    "/aws/lambda/llm-stream-dev-outbound-relay",
    "/aws/lambda/llm-stream-dev-send-query",
    "/aws/lambda/llm-stream-dev-stream-worker",
    // dev sets waf.rate_limit_per_5_minutes: the created web ACL logs to its own group.
    "aws-waf-logs-llm-stream-dev",
  ]);
  for (const g of groups) expect([g.name, g.kms_key_id]).toEqual([g.name, keyRef()]);
});

test("the key policy lets this region's CloudWatch Logs use the key for the stack's own log groups only", () => {
  const logs = keyPolicyStatements().filter((s) => s.principals?.some((p) => p.identifiers.some((i) => i.startsWith("logs."))));
  expect(logs).toHaveLength(1);
  expect(logs[0].principals).toEqual([{ type: "Service", identifiers: ["logs.us-east-1.amazonaws.com"] }]);
  expect(logs[0].condition).toEqual([
    {
      test: "ArnLike",
      variable: "kms:EncryptionContext:aws:logs:arn",
      values: [
        "arn:aws:logs:us-east-1:111111111111:log-group:/aws/lambda/llm-stream-dev-*",
        expect.stringMatching(/^arn:aws:logs:us-east-1:111111111111:log-group:\/aws\/appsync\/apis\/\$\{aws_appsync_graphql_api\.[^.]+\.id\}$/),
        "arn:aws:logs:us-east-1:111111111111:log-group:aws-waf-logs-llm-stream-dev",
      ],
    },
  ]);
  // The API's group is named by the API's id, not by the group resource: a reference to a group would be a cycle.
  expect(JSON.stringify(keyPolicyStatements())).not.toContain("aws_cloudwatch_log_group");
});
