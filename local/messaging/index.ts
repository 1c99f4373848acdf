/** SNS + SQS for the local stack: fauxqs on 127.0.0.1 with the deployed topology (see topology.ts). */
import { SNSClient } from "@aws-sdk/client-sns";
import { SQSClient } from "@aws-sdk/client-sqs";
import type { EnvironmentConfig } from "../../config/schema";
import { LOCAL_CREDENTIALS } from "../credentials";
import { QueueDepth, queueDepths } from "./depths";
import { FauxqsOptions, startFauxqs } from "./fauxqs";
import { MessagingTopology, provisionTopology } from "./topology";

export { startFauxqs } from "./fauxqs";
export type { FauxqsHandle, FauxqsOptions } from "./fauxqs";
export { provisionTopology } from "./topology";
export { queueDepths } from "./depths";
export type { QueueDepth } from "./depths";
export type { MessagingTopology, QueuePair } from "./topology";

export interface LocalMessaging extends MessagingTopology {
  endpoint: string;
  region: string;
  /** Where fauxqs runs (child-process under jest). */
  mode: "in-process" | "child-process";
  /** Clients bound to the endpoint, for the local stack and tests; closed by close(). */
  clients: { sns: SNSClient; sqs: SQSClient };
  /** Visible, in-flight and dead-lettered counts of the work and outbound queues. */
  depths(): Promise<Record<"work" | "outbound", QueueDepth>>;
  close(): Promise<void>;
}

export interface MessagingOptions extends FauxqsOptions {
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export async function startMessaging(config: EnvironmentConfig, opts: MessagingOptions = {}): Promise<LocalMessaging> {
  const fauxqs = await startFauxqs(opts);
  const common = { region: config.region, endpoint: fauxqs.endpoint, credentials: opts.credentials ?? LOCAL_CREDENTIALS };
  // Queue URLs name sqs.<region>.localhost: the explicit endpoint keeps every call on 127.0.0.1.
  const clients = { sns: new SNSClient(common), sqs: new SQSClient(common) };
  try {
    const topology = await provisionTopology(config, clients);
    return {
      endpoint: fauxqs.endpoint,
      region: config.region,
      mode: fauxqs.mode,
      ...topology,
      clients,
      depths: () => queueDepths(clients.sqs, topology.queues),
      close: async () => {
        clients.sns.destroy();
        clients.sqs.destroy();
        await fauxqs.close();
      },
    };
  } catch (e) {
    clients.sns.destroy();
    clients.sqs.destroy();
    await fauxqs.close();
    throw e;
  }
}
