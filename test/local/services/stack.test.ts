/**
 * The local stack's wiring, in process under jest (fauxqs in a child process, everything else here): the real
 * handlers answer a prompt end to end on both delivery paths, and stop() leaves nothing behind.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import WebSocket from "ws";
import { parseClientConfig } from "../../../client/config";
import { graphqlRequest } from "../../../client/graphql";
import { subscribe, type WebSocketConstructor } from "../../../client/realtime";
import { finalTail, parseEvent, type FinalEvent } from "../../../contracts/streamEvents";
import { RECEIVE_MESSAGES_SUBSCRIPTION, SEND_QUERY_MUTATION } from "../../../contracts/graphqlOperations";
import { answerFor } from "../../../local/bedrock";
import { LocalStack, startLocalStack } from "../../../local/stack";

jest.setTimeout(60000);

let stack: LocalStack;
const envBefore = { ...process.env };
const clientConfigFile = path.join(mkdtempSync(path.join(tmpdir(), "local-stack-")), "client-config.json");

beforeAll(async () => {
  stack = await startLocalStack({ bedrock: { firstTokenMs: 0, tokensPerSecond: 0 }, retryDelaySeconds: 0, writeClientConfig: clientConfigFile, isolateModules: jest.isolateModules });
});
afterAll(async () => {
  await stack?.stop();
});

/** Subscribes, sends, and resolves once final_response and every chunk up to its lastSequenceNumber have arrived (queued delivery may reorder). */
async function ask(sessionId: string, prompt: string, delivery: "DIRECT" | "QUEUED"): Promise<{ tokens: string; final: FinalEvent }> {
  const token = await stack.issuer.mintIdToken("alice");
  const chunks = new Map<number, string>();
  let finalEvent: FinalEvent | undefined;
  let settle!: (e?: Error) => void;
  const complete = new Promise<void>((resolve, reject) => (settle = (e) => (e ? reject(e) : resolve())));
  const check = () => finalEvent && chunks.size === finalEvent.data.lastSequenceNumber + 1 && settle();
  const sub = await subscribe({
    realtimeUrl: stack.endpoints.realtimeUrl,
    graphqlUrl: stack.endpoints.graphqlUrl,
    authorization: token,
    query: RECEIVE_MESSAGES_SUBSCRIPTION,
    variables: { sessionId },
    WebSocketImpl: WebSocket as unknown as WebSocketConstructor,
    onData: (data) => {
      const event = parseEvent((data.receiveMessages as { data: string }).data);
      if (event.action === "on_new_llm_token") chunks.set(event.data.token.sequenceNumber, event.data.token.value);
      else if (event.action === "final_response") {
        finalEvent = event;
        const tail = finalTail(event.data);
        if (tail) chunks.set(tail.sequenceNumber, tail.value);
      }
      else if (event.action === "error") settle(new Error(`error event: ${event.data.message}`));
      check();
    },
  });
  try {
    const sent = await graphqlRequest(stack.endpoints.graphqlUrl, SEND_QUERY_MUTATION, { input: { sessionId, prompt, delivery } }, { authorization: token });
    expect(sent.errors).toBeUndefined();
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error("the answer did not complete within 20 s")), 20000).unref());
    await Promise.race([complete, timeout]);
    const tokens = [...chunks.entries()].sort(([a], [b]) => a - b).map(([, v]) => v).join("");
    return { tokens, final: finalEvent! };
  } finally {
    sub.close();
  }
}

test("the real handlers stream the stand-in's answer to a subscriber, directly and through the outbound queue", async () => {
  for (const delivery of ["DIRECT", "QUEUED"] as const) {
    const prompt = `Explain the ${delivery} path`;
    const { tokens, final } = await ask(`session-${delivery.toLowerCase()}-0001`, prompt, delivery);
    const expected = answerFor(prompt, stack.config.models.default_model_id).join("");
    expect(final.data.content).toBe(expected);
    expect(tokens).toBe(expected);
  }
  expect(stack.pollers.outbound.stats.invocations).toBeGreaterThan(0);
  expect(stack.bedrock.log.requests.map((r) => r.prompt)).toEqual(["Explain the DIRECT path", "Explain the QUEUED path"]);
});

test("the handlers' environment points at the local services; the client config file is written", () => {
  expect(process.env.AWS_ENDPOINT_URL_SQS).toBe(stack.endpoints.sqs);
  expect(process.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME).toBe(stack.endpoints.bedrock);
  expect(process.env.APPSYNC_ENDPOINT).toBe(stack.endpoints.graphqlUrl);
  expect(process.env.INBOUND_TOPIC_ARN).toBe(stack.messaging.topics.inboundArn);
  const written = parseClientConfig(readFileSync(clientConfigFile, "utf8"));
  expect(written).toEqual(stack.clientConfig);
  expect(written.auth).toEqual({ type: "local", issuerUrl: stack.endpoints.issuerUrl });
  for (const url of Object.values(stack.endpoints)) expect(url).toMatch(/^(http|ws):\/\/127\.0\.0\.1:\d+/);
});

test("stop() closes every server and restores process.env", async () => {
  await stack.stop();
  for (const url of [stack.endpoints.graphqlUrl, stack.endpoints.issuerUrl + "/.well-known/jwks.json", stack.endpoints.sqs, stack.endpoints.dynamodb]) {
    await expect(fetch(url)).rejects.toThrow();
  }
  expect(process.env.AWS_ENDPOINT_URL_SQS).toBe(envBefore.AWS_ENDPOINT_URL_SQS);
  expect(process.env.APPSYNC_ENDPOINT).toBe(envBefore.APPSYNC_ENDPOINT);
  await stack.stop(); // idempotent
});
