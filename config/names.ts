/** Resource names derived from the environment config: used by the stacks and the local stack, so both build the same topology. */
import { EnvironmentConfig, stackName } from "./schema";

export interface ResourceNames {
  inboundTopic: string;
  outboundTopic: string;
  workQueue: string;
  workDeadLetterQueue: string;
  outboundQueue: string;
  outboundDeadLetterQueue: string;
  /** The worker's on-failure destination on the async ingress: always a standard queue (Lambda destinations cannot be FIFO). */
  asyncFailureQueue: string;
  historyTable: string;
  idempotencyTable: string;
  messagesTable: string;
  usageTable: string;
  api: string;
  /** The websocket transport: its API, the stage's access log group and the open connections' table. */
  websocketApi: string;
  websocketAccessLogGroup: string;
  connectionsTable: string;
  /** The web ACL created for the API (waf.rate_limit_per_5_minutes) and its log group, whose name AWS WAF requires to start aws-waf-logs-. */
  webAcl: string;
  webAclLogGroup: string;
  functions: { sendQuery: string; streamWorker: string; outboundRelay: string; messageControl: string };
  /** The websocket transport's functions, created only with "websocket" in transports. */
  websocketFunctions: { authorizer: string; routes: string };
  /** The Function URL's streaming function, created only with "function_url" in transports. */
  urlStreamFunction: string;
}

export function resourceNames(c: EnvironmentConfig): ResourceNames {
  const p = stackName(c);
  // SNS and SQS FIFO resources must end in .fifo; FIFO topics deliver only to FIFO queues.
  const q = (n: string) => (c.queue.fifo ? `${p}-${n}.fifo` : `${p}-${n}`);
  return {
    inboundTopic: q("inbound"),
    outboundTopic: q("outbound"),
    workQueue: q("work"),
    workDeadLetterQueue: q("work-dlq"),
    outboundQueue: q("outbound"),
    outboundDeadLetterQueue: q("outbound-dlq"),
    asyncFailureQueue: `${p}-worker-async-dlq`,
    historyTable: `${p}-history`,
    idempotencyTable: `${p}-idempotency`,
    messagesTable: `${p}-messages`,
    usageTable: `${p}-usage`,
    api: `${p}-api`,
    websocketApi: `${p}-websocket`,
    websocketAccessLogGroup: `/aws/apigateway/${p}-websocket`,
    connectionsTable: `${p}-connections`,
    webAcl: `${p}-api`,
    webAclLogGroup: `aws-waf-logs-${p}`,
    functions: { sendQuery: `${p}-send-query`, streamWorker: `${p}-stream-worker`, outboundRelay: `${p}-outbound-relay`, messageControl: `${p}-message-control` },
    websocketFunctions: { authorizer: `${p}-websocket-authorizer`, routes: `${p}-websocket-routes` },
    urlStreamFunction: `${p}-url-stream`,
  };
}
