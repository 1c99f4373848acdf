/**
 * A light stand-in for the full local stack, for looking at the page without SNS/SQS/DynamoDB: the real local issuer
 * and gateway (static serving, JWT and SigV4 checks, subscription filters) plus a scripted "worker" that publishes the
 * Bedrock stand-in's deterministic answer through the signed publishResponse mutation. The queued path is imitated by
 * slower, slightly shuffled delivery so the page's reorder buffer shows. Used by `npx tsx test/web/support/preview.ts`.
 */
import { writeFile } from "node:fs/promises";
import * as path from "node:path";
import { createAppSyncPublisher } from "../../../lambdas/shared/appsyncPublisher";
import type { StreamEvent } from "../../../contracts/streamEvents";
import { startGateway } from "../../../local/appsync";
import { answerFor } from "../../../local/bedrock/answer";
import { LOCAL_CREDENTIALS } from "../../../local/credentials";
import { startIssuer } from "../../../local/issuer";
import type { ClientConfig } from "../../../client/config";

const REGION = "us-east-1";
const MODELS = ["anthropic.claude-3-5-haiku-20241022-v1:0", "us.anthropic.claude-3-7-sonnet-20250219-v1:0"];

export interface PreviewStack {
  url: string;
  config: ClientConfig;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startPreviewStack(staticDir: string): Promise<PreviewStack> {
  const issuer = await startIssuer();
  let publish: (e: StreamEvent) => Promise<void> = async () => undefined;
  const generate = async (args: { sessionId: string; messageId: string; prompt: string; modelId?: string; delivery?: string }, userId: string) => {
    const modelId = args.modelId ?? MODELS[0];
    const tokens = answerFor(args.prompt, modelId);
    const chunks: string[] = [];
    for (let i = 0; i < tokens.length; i += 4) chunks.push(tokens.slice(i, i + 4).join(""));
    const queued = args.delivery === "QUEUED";
    const base = { userId, timestamp: new Date().toISOString() };
    const events: StreamEvent[] = chunks.map((value, sequenceNumber) => ({
      action: "on_new_llm_token",
      ...base,
      data: { sessionId: args.sessionId, messageId: args.messageId, token: { runId: "preview", sequenceNumber, value } },
    }));
    if (queued) for (let i = 2; i + 1 < events.length; i += 5) [events[i], events[i + 1]] = [events[i + 1], events[i]];
    await sleep(queued ? 220 : 120);
    for (const e of events) {
      await publish(e);
      await sleep(queued ? 25 + Math.random() * 40 : 10 + Math.random() * 20);
    }
    await publish({
      action: "final_response",
      ...base,
      data: {
        sessionId: args.sessionId,
        messageId: args.messageId,
        content: tokens.join(""),
        usage: { inputTokens: 12, outputTokens: tokens.length },
        stopReason: "end_turn",
        lastSequenceNumber: chunks.length - 1,
      },
    });
  };
  const gateway = await startGateway({
    region: REGION,
    credentials: { ...LOCAL_CREDENTIALS },
    issuer: { issuerUrl: issuer.issuerUrl, clientId: issuer.clientId },
    staticDir,
    lambdaDataSources: {
      sendQuery: async (payload) => {
        const { arguments: a, identity } = payload as { arguments: { input: Parameters<typeof generate>[0] }; identity: { sub: string } };
        void generate(a.input, identity.sub).catch((err) => console.error("preview worker:", err));
        return { sessionId: a.input.sessionId, messageId: a.input.messageId };
      },
    },
  });
  const publisher = createAppSyncPublisher({ endpoint: gateway.graphqlUrl, region: REGION, credentials: LOCAL_CREDENTIALS });
  publish = (e) => publisher.publish(e);
  const config: ClientConfig = {
    environment: "preview",
    region: REGION,
    graphqlUrl: gateway.graphqlUrl,
    realtimeUrl: gateway.realtimeUrl,
    auth: { type: "local", issuerUrl: issuer.issuerUrl },
    models: { defaultModelId: MODELS[0], allowedModelIds: MODELS },
  };
  await writeFile(path.join(staticDir, "client-config.json"), JSON.stringify(config, null, 2));
  return {
    url: gateway.graphqlUrl.replace(/\/graphql$/, "/"),
    config,
    close: async () => {
      await gateway.close();
      await issuer.close();
    },
  };
}
