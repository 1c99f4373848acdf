/**
 * The websocket transport's infrastructure on its fixture (test/fixtures/environments/websocket.tfvars): the WebSocket
 * API and its routes, the $connect authorizer, the stage's throttling and access logs, the connections table, each new
 * role naming its resources, the worker's execute-api:ManageConnections on that stage's @connections only, the
 * functions' variables, the `websocket_url` output; a stack without the transport has none of it; the 4 KB budget with
 * it; and Terraform's offline plan of the fixture.
 */
import { mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { App } from "cdktf";
import { loadEnvironment } from "../../config/load";
import { resourceNames } from "../../config/names";
import { EnvironmentConfig, stackName, SYSTEM_PROMPT_MAX_BYTES } from "../../config/schema";
import { OUTPUTS, PlatformStack } from "../../modules/platformStack";
import { terraformEnvironment, writeOfflineOverride } from "../../scripts/terraform";
import { FIXTURES_DIR } from "../fixtures/environments";
import { expectOfflinePlan, expectStackInvariants, expectSynthesizedCounts } from "./invariants";
import { StackView, Synthesized, synthesizeToTemp } from "./stackView";

let synth: Synthesized;
let c: EnvironmentConfig;
let v: StackView;
let queued: StackView;
beforeAll(async () => {
  c = await loadEnvironment("websocket", FIXTURES_DIR);
  synth = await synthesizeToTemp(["websocket", "queued"], FIXTURES_DIR);
  v = synth.stack(stackName(c));
  queued = synth.stack(stackName(await loadEnvironment("queued", FIXTURES_DIR)));
}, 60_000);
afterAll(() => synth?.cleanup());

const names = () => resourceNames(c);
const apiRef = () => v.ref("aws_apigatewayv2_api", Object.keys(v.resources("aws_apigatewayv2_api"))[0], "id");
const fnByName = (name: string) => v.one("aws_lambda_function", (f) => f.function_name === name);

test("the fixture asks for all three transports, and the stack holds every invariant (IAM naming its resources, no wildcard action, retention, tags) with the resources they add", () => {
  expect(c.transports).toEqual(["appsync", "function_url", "websocket"]);
  expect(synth.result.failed).toEqual({});
  expectStackInvariants(v, c);
  expectSynthesizedCounts(v, c);
});

test("a WebSocket API routed by the body's action: $connect behind the REQUEST authorizer, every route on the route function", () => {
  const api = v.one("aws_apigatewayv2_api", () => true);
  expect(api).toMatchObject({ name: names().websocketApi, protocol_type: "WEBSOCKET", route_selection_expression: "$request.body.action" });
  const authorizer = v.one("aws_apigatewayv2_authorizer", () => true);
  expect(authorizer).toMatchObject({ authorizer_type: "REQUEST", api_id: apiRef() });
  expect(authorizer.authorizer_uri).toBe(v.ref("aws_lambda_function", v.idOf("aws_lambda_function", fnByName(names().websocketFunctions.authorizer)), "invoke_arn"));
  const integration = v.one("aws_apigatewayv2_integration", () => true);
  expect(integration).toMatchObject({ integration_type: "AWS_PROXY", integration_method: "POST" });
  expect(integration.integration_uri).toBe(v.ref("aws_lambda_function", v.idOf("aws_lambda_function", fnByName(names().websocketFunctions.routes)), "invoke_arn"));
  const routes: Record<string, Record<string, any>> = Object.fromEntries(v.list("aws_apigatewayv2_route").map((r) => [r.route_key, r]));
  expect(Object.keys(routes).sort()).toEqual(["$connect", "$default", "$disconnect", "ping", "sendQuery", "stopGeneration"]);
  const target = `integrations/${v.ref("aws_apigatewayv2_integration", v.idOf("aws_apigatewayv2_integration", integration), "id")}`;
  for (const r of Object.values(routes)) expect([r.route_key, r.target]).toEqual([r.route_key, target]);
  expect(routes.$connect).toMatchObject({ authorization_type: "CUSTOM", authorizer_id: v.ref("aws_apigatewayv2_authorizer", v.idOf("aws_apigatewayv2_authorizer", authorizer), "id") });
  // The message routes answer the client (ack, error, pong); $connect and $disconnect do not.
  const answered = v.list("aws_apigatewayv2_route_response").map((rr) => Object.values(routes).find((r) => rr.route_id === v.ref("aws_apigatewayv2_route", v.idOf("aws_apigatewayv2_route", r), "id"))!.route_key);
  expect(answered.sort()).toEqual(["$default", "ping", "sendQuery", "stopGeneration"]);
});

test("the stage: throttling from tfvars, access logs to an encrypted group with retention, no execution logs", () => {
  const stage = v.one("aws_apigatewayv2_stage", () => true);
  expect(stage).toMatchObject({ name: c.name, auto_deploy: true, default_route_settings: { throttling_rate_limit: 20, throttling_burst_limit: 40, logging_level: "OFF", data_trace_enabled: false } });
  const group = v.one("aws_cloudwatch_log_group", (g) => g.name === names().websocketAccessLogGroup);
  expect(stage.access_log_settings.destination_arn).toBe(v.ref("aws_cloudwatch_log_group", v.idOf("aws_cloudwatch_log_group", group), "arn"));
  expect(group.retention_in_days).toBe(30);
  // The access log never carries the query string or headers, where the token travels.
  expect(stage.access_log_settings.format).not.toMatch(/querystring|header|\$input/i);
  const keyPolicy = v.allStatements().find((s) => s.sid === "CloudWatchLogsEncryptsOwnLogGroups")!;
  expect(keyPolicy.condition![0].values).toContain(`arn:aws:logs:${c.region}:${c.account_id}:log-group:${names().websocketAccessLogGroup}`);
});

test("the connections table: userId and connectionId, TTL, point-in-time recovery, the environment's key", () => {
  const table = v.one("aws_dynamodb_table", (t) => t.name === names().connectionsTable);
  expect(table).toMatchObject({ hash_key: "userId", range_key: "connectionId", billing_mode: "PAY_PER_REQUEST", ttl: { enabled: true, attribute_name: "expiresAt" }, point_in_time_recovery: { enabled: true } });
});

test("IAM: the worker may POST to this stage's @connections only; every new role names its resources; API Gateway may invoke exactly the two functions", () => {
  const worker = v.functionPermissions(names().functions.streamWorker);
  const manage = worker.filter((s) => s.actions!.includes("execute-api:ManageConnections"));
  expect(manage).toEqual([{ sid: "PostToOwnConnections", actions: ["execute-api:ManageConnections"], resources: [`arn:aws:execute-api:${c.region}:${c.account_id}:${apiRef()}/${c.name}/POST/@connections/*`] }]);
  const tableArn = v.ref("aws_dynamodb_table", v.idOf("aws_dynamodb_table", v.one("aws_dynamodb_table", (t) => t.name === names().connectionsTable)), "arn");
  expect(worker.find((s) => s.sid === "FindAndForgetConnections")).toMatchObject({ actions: ["dynamodb:Query", "dynamodb:DeleteItem"], resources: [tableArn] });
  // No other function manages connections: the route function answers through the route response.
  for (const f of v.list("aws_lambda_function").filter((f) => f.function_name !== names().functions.streamWorker)) {
    expect([f.function_name, v.functionPermissions(f.function_name).flatMap((s) => s.actions!).filter((a) => a.startsWith("execute-api:"))]).toEqual([f.function_name, []]);
  }
  const routes = v.functionPermissions(names().websocketFunctions.routes);
  expect(routes.find((s) => s.sid === "RecordConnections")).toMatchObject({ actions: ["dynamodb:PutItem", "dynamodb:DeleteItem"], resources: [tableArn] });
  expect(routes.map((s) => s.sid)).toEqual(expect.arrayContaining(["PublishToTopic", "AdmitGenerations", "CreateMessageRecords", "StopOwnMessages", "UseEnvironmentKey"]));
  // Only X-Ray's trace calls take "*" (they have no resource-level permissions); every other grant names its resources.
  expect(routes.filter((s) => s.resources!.includes("*")).map((s) => s.sid)).toEqual(["WriteTraces"]);
  // The authorizer writes its logs and traces and does nothing else.
  expect(v.functionPermissions(names().websocketFunctions.authorizer).map((s) => s.sid)).toEqual(["WriteOwnLogs", "WriteTraces"]);
  const executionArn = "${aws_apigatewayv2_api." + Object.keys(v.resources("aws_apigatewayv2_api"))[0] + ".execution_arn}";
  const sources = v.list("aws_lambda_permission").map((p) => [p.principal, p.action, p.source_arn]);
  expect(sources).toEqual([
    ["apigateway.amazonaws.com", "lambda:InvokeFunction", `${executionArn}/authorizers/${v.ref("aws_apigatewayv2_authorizer", Object.keys(v.resources("aws_apigatewayv2_authorizer"))[0], "id")}`],
    ["apigateway.amazonaws.com", "lambda:InvokeFunction", `${executionArn}/${c.name}/*`],
  ]);
});

test("variables: the @connections endpoint and the table for the worker and the route function only; the issuer and app client for the authorizer only", () => {
  const endpoint = `https://${apiRef()}.execute-api.${c.region}.amazonaws.com/${c.name}`;
  for (const name of [names().functions.streamWorker, names().websocketFunctions.routes]) {
    expect(fnByName(name).environment.variables).toMatchObject({ WS_ENDPOINT: endpoint, WS_TABLE: names().connectionsTable });
  }
  for (const name of [names().functions.sendQuery, names().functions.messageControl, names().functions.outboundRelay]) {
    expect(Object.keys(fnByName(name).environment.variables).filter((k) => k.startsWith("WS_") || k.startsWith("JWT_"))).toEqual([]);
  }
  const authorizer = fnByName(names().websocketFunctions.authorizer).environment.variables;
  const pool = v.ref("aws_cognito_user_pool", Object.keys(v.resources("aws_cognito_user_pool"))[0], "id");
  expect(authorizer).toEqual({
    JWT_ISSUER: `https://cognito-idp.${c.region}.amazonaws.com/${pool}`,
    JWT_CLIENT_ID: v.ref("aws_cognito_user_pool_client", Object.keys(v.resources("aws_cognito_user_pool_client"))[0], "id"),
    POWERTOOLS_SERVICE_NAME: "websocket-authorizer",
    POWERTOOLS_METRICS_NAMESPACE: c.project,
    ENVIRONMENT: c.name,
  });
});

test("outputs websocket_url (the stage's wss URL); alarms cover the two new functions", () => {
  const stage = v.idOf("aws_apigatewayv2_stage", v.one("aws_apigatewayv2_stage", () => true));
  expect(v.json.output[OUTPUTS.websocketUrl].value).toBe(`${v.ref("aws_apigatewayv2_api", Object.keys(v.resources("aws_apigatewayv2_api"))[0], "api_endpoint")}/${v.ref("aws_apigatewayv2_stage", stage, "name")}`);
  const alarmed = v.list("aws_cloudwatch_metric_alarm").flatMap((a) => Object.values<string>(a.dimensions ?? {}));
  expect(alarmed).toEqual(expect.arrayContaining([names().websocketFunctions.authorizer, names().websocketFunctions.routes]));
});

test("a stack without the transport creates none of it", () => {
  for (const type of ["aws_apigatewayv2_api", "aws_apigatewayv2_route", "aws_lambda_permission"]) expect([type, queued.list(type)]).toEqual([type, []]);
  expect(queued.json.output[OUTPUTS.websocketUrl]).toBeUndefined();
  expect(queued.list("aws_dynamodb_table").map((t) => t.name)).not.toContain(expect.stringContaining("connections"));
  for (const f of queued.list("aws_lambda_function")) expect(Object.keys(f.environment.variables).filter((k) => k.startsWith("WS_"))).toEqual([]);
});

describe("the Lambda environment's 4 KB with the transport", () => {
  /** The worst case of synth.test.ts with the transport on: its 2 variables cost the worker and the route function about 190 bytes. */
  const worstCase = (modelIds: number): EnvironmentConfig => {
    const ids = Array.from({ length: modelIds }, (_, i) => `us-gov.anthropic.claude-model-${String(i).padStart(2, "0")}-2025-v1:0`.padEnd(50, "x"));
    return {
      ...c,
      region: "us-gov-west-1",
      project: "z".repeat(20),
      name: "z".repeat(20),
      models: { default_model_id: ids[0], allowed_model_ids: ids },
      batching: { mode: "reading_pace", max_delay_ms: 1000, max_chars: 8000, reading_tokens_per_second: 100, max_window_ms: 5000 },
      queue: { ...c.queue, relay_retry_seconds: 3600 },
      history: { enabled: true, ttl_days: 3650 },
      generation: { max_prompt_chars: 100000, max_tokens: 64000, temperature: 1.2345678901234566e-7, system_prompt: "é".repeat(SYSTEM_PROMPT_MAX_BYTES / 2) },
      limits: { max_concurrent_generations_per_user: 1000, daily_output_tokens_per_user: 1_000_000_000 },
      guardrail: { id: "g".repeat(32), version: "99999999", stream_processing_mode: "async" },
      ingress: "async",
    };
  };
  const synthOf = (config: EnvironmentConfig) => {
    const app = new App({ outdir: mkdtempSync(path.join(os.tmpdir(), "infra-ws-env-")) });
    try {
      new PlatformStack(app, { config });
    } finally {
      rmSync(app.outdir, { recursive: true, force: true });
    }
  };

  test("10 model ids of 50 characters still fit every function; 11 fail the synth, naming the worker and its largest variables", () => {
    expect(() => synthOf(worstCase(10))).not.toThrow();
    expect(() => synthOf(worstCase(11))).toThrow(/^stream-worker: environment variables take about \d+ bytes, over Lambda's 4 KB limit \(largest: SYSTEM_PROMPT 2013 bytes, ALLOWED_MODEL_IDS \d+ bytes\)$/);
  });
});

test("Terraform: init from the lock file, validate and an offline plan with exactly the resources the config asks for", async () => {
  const cliDir = mkdtempSync(path.join(os.tmpdir(), "infra-ws-tf-cli-"));
  try {
    const dir = path.join(synth.outdir, "stacks", stackName(c));
    writeOfflineOverride(dir);
    await expectOfflinePlan(dir, c, terraformEnvironment(cliDir));
  } finally {
    rmSync(cliDir, { recursive: true, force: true });
  }
}, 120_000);
