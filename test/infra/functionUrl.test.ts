/**
 * The Function URL transport in the synthesized stack: created only with "function_url" in transports (the full
 * fixture), a RESPONSE_STREAM URL with no IAM auth, POST-only CORS, the function reserved at
 * function_url.reserved_concurrency, its environment (the user pool it trusts, the cap, no hand-off or delivery
 * variables), IAM naming exactly its resources with no wildcard action, the InvokeFunction-via-URL permission, the output.
 */
import { resourceNames } from "../../config/names";
import { EnvironmentConfig, stackName } from "../../config/schema";
import { bedrockModelArns, guardrailArn } from "../../modules/arns";
import { INVOKE_VIA_URL_STATEMENT } from "../../modules/functionUrlTransport";
import { FIXTURES_DIR, loadFixture } from "../fixtures/environments";
import { StackView, Synthesized, synthesizeToTemp } from "./stackView";

let synth: Synthesized;
let c: EnvironmentConfig;
let v: StackView;
let names: ReturnType<typeof resourceNames>;
beforeAll(async () => {
  c = await loadFixture("full");
  names = resourceNames(c);
  synth = await synthesizeToTemp(["full", "queued"], FIXTURES_DIR);
  v = synth.stack(stackName(c));
}, 60_000);
afterAll(() => synth?.cleanup());

const urlFunction = () => v.one("aws_lambda_function", (f) => f.function_name === names.urlStreamFunction);
const ref = (type: string, body: Record<string, unknown>, attr: string) => v.ref(type, v.idOf(type, body), attr);

test("only the environments listing function_url get it", async () => {
  expect(c.transports).toEqual(["appsync", "function_url"]);
  const queued = synth.stack(stackName(await loadFixture("queued")));
  for (const type of ["aws_lambda_function_url", "terraform_data"]) expect([type, queued.list(type)]).toEqual([type, []]);
  expect(queued.json.output.function_url).toBeUndefined();
});

test("the URL: response streaming, no IAM auth (the function verifies the token), CORS for POST with a bearer token", () => {
  const url = v.one("aws_lambda_function_url", () => true);
  expect(url).toMatchObject({
    function_name: ref("aws_lambda_function", urlFunction(), "function_name"),
    authorization_type: "NONE",
    invoke_mode: "RESPONSE_STREAM",
    cors: { allow_origins: ["*"], allow_methods: ["POST"], allow_headers: ["authorization", "content-type"], allow_credentials: false, max_age: 3600 },
  });
  expect(v.json.output.function_url.value).toBe(ref("aws_lambda_function_url", url, "function_url"));
});

test("the function: reserved at function_url.reserved_concurrency, its own log group (retention, the key), X-Ray, its handler bundled", () => {
  const fn = urlFunction();
  expect(fn).toMatchObject({ runtime: "nodejs22.x", architectures: ["arm64"], tracing_config: { mode: "Active" }, timeout: c.lambda.timeout_seconds, memory_size: c.lambda.memory_mb });
  expect(fn.reserved_concurrent_executions).toBe(c.function_url.reserved_concurrency);
  const group = v.resources("aws_cloudwatch_log_group")[StackView.refId(fn.logging_config.log_group)];
  const key = v.ref("aws_kms_key", Object.keys(v.resources("aws_kms_key"))[0], "arn");
  expect(group).toMatchObject({ name: `/aws/lambda/${names.urlStreamFunction}`, retention_in_days: c.lambda.log_retention_days, kms_key_id: key });
  expect(fn.filename).toContain(fn.source_code_hash);
});

test("its environment: the user pool it trusts and the cap; none of the hand-off, delivery, relay or idempotency variables", () => {
  const vars = urlFunction().environment.variables;
  const client = v.one("aws_cognito_user_pool_client", () => true);
  expect(vars).toMatchObject({
    JWT_ISSUER: `https://cognito-idp.${c.region}.amazonaws.com/${c.cognito.existing_user_pool_id}`,
    JWT_CLIENT_ID: ref("aws_cognito_user_pool_client", client, "id"),
    MAX_ANSWER_BYTES: String(c.function_url.max_answer_bytes),
    MESSAGES_TABLE_NAME: names.messagesTable,
    USAGE_TABLE_NAME: names.usageTable,
    HISTORY_TABLE_NAME: "",
    ALLOWED_MODEL_IDS: c.models.allowed_model_ids.join(","),
    GUARDRAIL_ID: c.guardrail!.id,
    POWERTOOLS_SERVICE_NAME: "url-stream",
  });
  for (const name of ["APPSYNC_ENDPOINT", "INBOUND_TOPIC_ARN", "WORKER_FUNCTION_NAME", "OUTBOUND_TOPIC_ARN", "IDEMPOTENCY_TABLE_NAME", "DIRECT_SEND", "FALLBACK_TO_QUEUE", "CLIENT_DELIVERY_CHOICE", "RELAY_RETRY_SECONDS"]) {
    expect([name, vars[name]]).toEqual([name, undefined]);
  }
});

test("IAM: the worker's models and guardrail, the message and usage tables, the key; nothing of SNS, SQS, AppSync or Lambda", () => {
  const table = (name: string) => ref("aws_dynamodb_table", v.one("aws_dynamodb_table", (t) => t.name === name), "arn");
  const statements = v.functionPermissions(names.urlStreamFunction).map((s) => [s.sid, s.actions, s.resources]);
  expect(statements).toEqual([
    ["WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], [expect.stringMatching(/^\$\{aws_cloudwatch_log_group\..+\.arn\}:\*$/)]],
    ["WriteTraces", ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"]],
    ["StreamAllowedModels", ["bedrock:InvokeModelWithResponseStream"], bedrockModelArns(c.models.allowed_model_ids, c.region, c.account_id)],
    ["ApplyOwnGuardrail", ["bedrock:ApplyGuardrail"], [guardrailArn(c.region, c.account_id, c.guardrail!.id)]],
    ["KeepMessageRecords", ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"], [table(names.messagesTable)]],
    ["AdmitAndRecordUsage", ["dynamodb:Query", "dynamodb:UpdateItem"], [table(names.usageTable)]],
    ["UseEnvironmentKey", ["kms:Decrypt", "kms:GenerateDataKey"], [v.ref("aws_kms_key", Object.keys(v.resources("aws_kms_key"))[0], "arn")]],
  ]);
  // The same model ARNs as the worker: one list of what may be called.
  const worker = v.functionPermissions(names.functions.streamWorker).find((s) => s.sid === "StreamAllowedModels");
  expect(worker?.resources).toEqual(statements[2][2]);
  const role = v.one("aws_iam_role", (r) => r.name === names.urlStreamFunction);
  expect(role.permissions_boundary).toBe(`arn:aws:iam::${c.account_id}:policy/${c.project}-${c.name}-boundary`);
});

test("URLs created since October 2025 also need InvokeFunction via the URL: added idempotently after the URL, for this function only", () => {
  const data = v.one("terraform_data", () => true);
  const url = v.one("aws_lambda_function_url", () => true);
  expect(data.depends_on).toEqual([`aws_lambda_function_url.${v.idOf("aws_lambda_function_url", url)}`]);
  const exec = data.provisioner[0]["local-exec"];
  expect(exec.environment).toEqual({ REGION: c.region, FUNCTION: ref("aws_lambda_function", urlFunction(), "function_name") });
  expect(exec.command).toContain(`add-permission --function-name "$FUNCTION" --statement-id ${INVOKE_VIA_URL_STATEMENT} --action lambda:InvokeFunction --principal '*' --invoked-via-function-url`);
  expect(exec.command.indexOf("remove-permission")).toBeLessThan(exec.command.indexOf("add-permission"));
});
