import { Construct } from "constructs";
import { Apigatewayv2Api } from "@cdktf/provider-aws/lib/apigatewayv2-api";
import { Apigatewayv2Authorizer } from "@cdktf/provider-aws/lib/apigatewayv2-authorizer";
import { Apigatewayv2Integration } from "@cdktf/provider-aws/lib/apigatewayv2-integration";
import { Apigatewayv2Route } from "@cdktf/provider-aws/lib/apigatewayv2-route";
import { Apigatewayv2RouteResponse } from "@cdktf/provider-aws/lib/apigatewayv2-route-response";
import { Apigatewayv2Stage } from "@cdktf/provider-aws/lib/apigatewayv2-stage";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { LambdaPermission } from "@cdktf/provider-aws/lib/lambda-permission";
import { enforce, logRetentionProblem, rangeProblem, WEBSOCKET_BURST_LIMIT, WEBSOCKET_RATE_LIMIT } from "../config/rules";
import { CONNECTIONS_TABLE } from "../contracts/tables";
import { ROUTE_SELECTION_EXPRESSION, TWO_WAY_ROUTES, WEBSOCKET_ROUTES } from "../contracts/websocketFrames";
import { partitionOf } from "./arns";
import { EncryptedTable } from "./conversationTables";

export interface WebsocketTransportProps {
  /** API name. */
  readonly name: string;
  /** Stage name: the last segment of the client URL and of the @connections endpoint. */
  readonly stageName: string;
  /** Account of the API (the @connections ARN the worker is granted). */
  readonly accountId: string;
  /** Region of the API. */
  readonly region: string;
  /** Steady requests per second across the stage's routes (websocket.throttling_rate_limit). */
  readonly throttlingRateLimit: number;
  /** Burst above the rate (websocket.throttling_burst_limit). */
  readonly throttlingBurstLimit: number;
  /** The stage's access log group name. */
  readonly accessLogGroupName: string;
  /** Retention of the access logs: one of CloudWatch's periods. */
  readonly logRetentionDays: number;
  /** The environment's key: it encrypts the access logs and the connections table; its policy must let Logs use it for that group. */
  readonly kmsKeyArn: string;
  /** The open connections' table name (key schema contracts/tables.ts CONNECTIONS_TABLE). */
  readonly connectionsTableName: string;
  /** Refuse DeleteTable on the connections table (production). */
  readonly deletionProtection: boolean;
}

/** A function API Gateway invokes: its name (for the permission) and invoke ARN (for the integration). */
export interface InvokedFunction {
  readonly functionName: string;
  readonly invokeArn: string;
}

/** What API Gateway invokes: the $connect authorizer and the one route function behind every route. */
export interface WebsocketFunctions {
  readonly authorizer: InvokedFunction;
  readonly routes: InvokedFunction;
}

/**
 * Access log line: who, which route, what came of it. No query string or headers: the token may travel there.
 * The authorizer's and the integration's errors say why a connect or a message failed.
 */
const ACCESS_LOG_FORMAT = JSON.stringify({
  requestId: "$context.requestId",
  ip: "$context.identity.sourceIp",
  requestTime: "$context.requestTime",
  eventType: "$context.eventType",
  routeKey: "$context.routeKey",
  status: "$context.status",
  connectionId: "$context.connectionId",
  principalId: "$context.authorizer.principalId",
  authorizerError: "$context.authorizer.error",
  integrationError: "$context.integration.error",
});

/**
 * The API Gateway WebSocket API of the websocket transport: the API (route selection `$request.body.action`), its
 * stage (default route throttling, access logs to an encrypted, retention-bound group, no execution logs, which would
 * go to a group of API Gateway's own without our key or retention) and the connections table. `attachFunctions` adds
 * the REQUEST authorizer on $connect, one AWS_PROXY integration for every route, the route responses of the message
 * routes, and the invoke permissions, each scoped to this API's execution ARN. Tags come from the provider's defaults.
 */
export class WebsocketTransport extends Construct {
  public readonly apiId: string;
  /** wss://<api id>.execute-api.<region>.amazonaws.com/<stage>: what clients connect to. */
  public readonly websocketUrl: string;
  /** https://<api id>.execute-api.<region>.amazonaws.com/<stage>: the @connections management endpoint. */
  public readonly managementEndpoint: string;
  /** The one resource execute-api:ManageConnections is granted on: POST to this stage's @connections. */
  public readonly postToConnectionsArn: string;
  public readonly connectionsTableArn: string;
  public readonly connectionsTableName: string;
  private readonly api: Apigatewayv2Api;
  private readonly props: WebsocketTransportProps;

  constructor(scope: Construct, id: string, props: WebsocketTransportProps) {
    super(scope, id);
    enforce(id, logRetentionProblem(props.logRetentionDays), "logRetentionDays");
    enforce(id, rangeProblem(props.throttlingRateLimit, WEBSOCKET_RATE_LIMIT), "throttlingRateLimit");
    enforce(id, rangeProblem(props.throttlingBurstLimit, WEBSOCKET_BURST_LIMIT), "throttlingBurstLimit");
    this.props = props;
    this.api = new Apigatewayv2Api(this, "api", { name: props.name, protocolType: "WEBSOCKET", routeSelectionExpression: ROUTE_SELECTION_EXPRESSION });
    const logGroup = new CloudwatchLogGroup(this, "access-logs", { name: props.accessLogGroupName, retentionInDays: props.logRetentionDays, kmsKeyId: props.kmsKeyArn });
    const stage = new Apigatewayv2Stage(this, "stage", {
      apiId: this.api.id,
      name: props.stageName,
      autoDeploy: true,
      defaultRouteSettings: { throttlingRateLimit: props.throttlingRateLimit, throttlingBurstLimit: props.throttlingBurstLimit, loggingLevel: "OFF", dataTraceEnabled: false },
      accessLogSettings: { destinationArn: logGroup.arn, format: ACCESS_LOG_FORMAT },
    });
    const table = new EncryptedTable(this, "connections", {
      name: props.connectionsTableName,
      partitionKey: CONNECTIONS_TABLE.partitionKey,
      sortKey: CONNECTIONS_TABLE.sortKey,
      ttlAttribute: CONNECTIONS_TABLE.ttlAttribute,
      kmsKeyArn: props.kmsKeyArn,
      deletionProtection: props.deletionProtection,
    });
    const host = `${this.api.id}.execute-api.${props.region}.amazonaws.com`;
    this.apiId = this.api.id;
    this.websocketUrl = `${this.api.apiEndpoint}/${stage.name}`;
    this.managementEndpoint = `https://${host}/${props.stageName}`;
    this.postToConnectionsArn = `arn:${partitionOf(props.region)}:execute-api:${props.region}:${props.accountId}:${this.api.id}/${props.stageName}/POST/@connections/*`;
    this.connectionsTableArn = table.tableArn;
    this.connectionsTableName = table.tableName;
  }

  /** The authorizer on $connect, the route function behind every route, and API Gateway's permission to invoke each. */
  attachFunctions(functions: WebsocketFunctions): void {
    const apiId = this.api.id;
    // No identity source: the token comes from the query or the subprotocol, and API Gateway would require every one listed.
    const authorizer = new Apigatewayv2Authorizer(this, "authorizer", { apiId, name: `${this.props.name}-connect`, authorizerType: "REQUEST", authorizerUri: functions.authorizer.invokeArn });
    const integration = new Apigatewayv2Integration(this, "routes", { apiId, integrationType: "AWS_PROXY", integrationUri: functions.routes.invokeArn, integrationMethod: "POST", contentHandlingStrategy: "CONVERT_TO_TEXT" });
    for (const [id, routeKey] of Object.entries(WEBSOCKET_ROUTES)) {
      const twoWay = TWO_WAY_ROUTES.includes(routeKey);
      const route = new Apigatewayv2Route(this, `route-${id}`, {
        apiId,
        routeKey,
        target: `integrations/${integration.id}`,
        ...(routeKey === WEBSOCKET_ROUTES.connect ? { authorizationType: "CUSTOM", authorizerId: authorizer.id } : {}),
        // The route function's answer (an ack, error or pong frame) goes back to the client.
        ...(twoWay ? { routeResponseSelectionExpression: "$default" } : {}),
      });
      if (twoWay) new Apigatewayv2RouteResponse(this, `route-${id}-response`, { apiId, routeId: route.id, routeResponseKey: "$default" });
    }
    const executionArn = this.api.executionArn;
    const invoke = (id: string, fn: InvokedFunction, sourceArn: string) =>
      new LambdaPermission(this, id, { statementId: "InvokedByWebsocketApi", action: "lambda:InvokeFunction", functionName: fn.functionName, principal: "apigateway.amazonaws.com", sourceArn });
    invoke("authorizer-permission", functions.authorizer, `${executionArn}/authorizers/${authorizer.id}`);
    invoke("routes-permission", functions.routes, `${executionArn}/${this.props.stageName}/*`);
  }
}
