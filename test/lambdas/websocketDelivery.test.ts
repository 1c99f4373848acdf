/**
 * The worker's third delivery mode: a work request the WebSocket route sent (transport websocket) goes to the
 * connection publisher, whatever the environment's direct_send or the request's delivery say, and never falls back to
 * the AppSync queue (no socket is behind it); events it cannot deliver are counted lost and the message still ends.
 */
import { BedrockRuntimeClient, ConverseStreamCommand } from "@aws-sdk/client-bedrock-runtime";
import { mockClient } from "aws-sdk-client-mock";
import { runGeneration, type GenerationDeps } from "../../lambdas/stream-worker/generation";
import { chunkTexts, converseStream, recordingPublisher, recordingTelemetry, request, settings, textStream } from "./support/workerFixtures";

const bedrockMock = mockClient(BedrockRuntimeClient);
const bedrock = new BedrockRuntimeClient({ region: "us-east-1" });
const DELTAS = ['She said "hi" ', "\\path\\ ", "\nnext line ", "✨🚀"];
beforeEach(() => {
  bedrockMock.reset();
  bedrockMock.on(ConverseStreamCommand).callsFake(async () => ({ stream: converseStream(textStream(DELTAS)) }));
});

function deps(websocket: GenerationDeps["websocket"]) {
  const telemetry = recordingTelemetry();
  const direct = recordingPublisher();
  const queue = recordingPublisher();
  const d: GenerationDeps = { bedrock, settings: { ...settings, directSend: true, fallbackToQueue: true }, direct, queue, websocket, logger: telemetry.logger, metrics: telemetry.metrics };
  return { d, direct, queue, telemetry };
}

const wsRequest = { ...request, transport: "websocket" as const, delivery: "direct" as const };

describe("websocket delivery", () => {
  it("sends every event of a websocket request to the connection publisher only, whatever direct_send and delivery say", async () => {
    const websocket = recordingPublisher();
    const { d, direct, queue } = deps(websocket);
    const summary = await runGeneration(wsRequest, d);
    expect([direct.events.length, queue.events.length]).toEqual([0, 0]);
    expect(chunkTexts(websocket.events).join("")).toBe(DELTAS.join(""));
    expect(websocket.events.at(-1)).toMatchObject({ action: "final_response", userId: request.userId, data: { content: DELTAS.join("") } });
    expect(summary).toMatchObject({ outcome: "completed", delivery: "websocket", fellBackToQueue: false, eventsLost: 0 });
  });

  it("a failing connection publisher loses the events, with no fallback to the queue; the message still completes", async () => {
    const websocket = recordingPublisher(() => new Error("PostToConnection failed"));
    const { d, queue, telemetry } = deps(websocket);
    const summary = await runGeneration(wsRequest, d);
    expect(queue.events).toEqual([]);
    expect(summary).toMatchObject({ outcome: "completed", delivery: "websocket", fellBackToQueue: false });
    expect(summary.eventsLost).toBe(websocket.attempts);
    expect(telemetry.errorCodes.every((c) => c === "PUBLISH_FAILED")).toBe(true);
  });

  it("where the transport is off (no publisher), a websocket request's events are lost, not sent to AppSync", async () => {
    const { d, direct, queue } = deps(undefined);
    const summary = await runGeneration(wsRequest, d);
    expect([direct.events.length, queue.events.length]).toEqual([0, 0]);
    expect(summary.eventsLost).toBeGreaterThan(0);
  });

  it("a request without transport keeps the AppSync paths", async () => {
    const websocket = recordingPublisher();
    const { d, direct } = deps(websocket);
    expect(await runGeneration(request, d)).toMatchObject({ delivery: "direct" });
    expect(websocket.events).toEqual([]);
    expect(direct.events.length).toBeGreaterThan(0);
  });
});
