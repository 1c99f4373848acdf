import { loadPrices } from "../../bench/cost";
import { deliveryCostPer1MTokens, deliveryRequests, requestsPer1kTokens } from "../../web/src/requestEstimate";

describe("delivery request estimate", () => {
  it("counts one AppSync mutation per chunk plus the final event on the direct path", () => {
    expect(deliveryRequests("DIRECT", 9)).toEqual({ appsyncMutations: 10, snsPublishes: 0, sqsRequests: 0, relayInvocations: 0, apiGatewayMessages: 0, total: 10 });
  });

  it("adds SNS publishes, SQS receive+delete and relay invocations on the queued path (one event per batch)", () => {
    expect(deliveryRequests("QUEUED", 9)).toEqual({ appsyncMutations: 10, snsPublishes: 10, sqsRequests: 20, relayInvocations: 10, apiGatewayMessages: 0, total: 50 });
  });

  it("lowers the queued SQS and relay counts when relay batches are larger", () => {
    expect(deliveryRequests("QUEUED", 9, 5)).toMatchObject({ sqsRequests: 4, relayInvocations: 2, total: 26 });
  });

  it("scales to 1,000 output tokens and reports nothing without tokens", () => {
    expect(requestsPer1kTokens("DIRECT", 19, 200)).toBe(100);
    expect(requestsPer1kTokens("QUEUED", 19, 200)).toBe(500);
    expect(requestsPer1kTokens("DIRECT", 3, 0)).toBeUndefined();
  });

  it("counts one WebSocket message per event, and nothing for the Function URL's lines of its own response", () => {
    expect(deliveryRequests("WEBSOCKET", 9)).toMatchObject({ apiGatewayMessages: 10, appsyncMutations: 0, total: 10 });
    expect(deliveryRequests("FUNCTION_URL", 9).total).toBe(0);
  });

  it("prices an answer per 1M tokens from the published prices: AppSync direct 6x the WebSocket's per-event price", () => {
    const prices = loadPrices();
    // 40 events for 400 tokens, 5 s: 2,500 such answers make 1M tokens.
    const answer = { tokenEvents: 39, outputTokens: 400, durationMs: 5000, responseBytes: 40_000 };
    expect(deliveryCostPer1MTokens("DIRECT", answer, prices)).toBeCloseTo(2500 * 40 * 6e-6, 6);
    expect(deliveryCostPer1MTokens("WEBSOCKET", answer, prices)).toBeCloseTo(2500 * (40 * 1e-6 + (5 / 60) * 0.25e-6), 6);
    expect(deliveryCostPer1MTokens("QUEUED", answer, prices)).toBeGreaterThan(deliveryCostPer1MTokens("DIRECT", answer, prices)!);
    expect(deliveryCostPer1MTokens("FUNCTION_URL", answer, prices)).toBe(0);
    // Only the bytes past the first 6 MB of a response are billed.
    expect(deliveryCostPer1MTokens("FUNCTION_URL", { ...answer, responseBytes: 6 * 2 ** 20 + 2 ** 30 }, prices)).toBeCloseTo(2500 * 0.008, 6);
    expect(deliveryCostPer1MTokens("DIRECT", { ...answer, outputTokens: 0 }, prices)).toBeUndefined();
  });

  it("rejects impossible inputs", () => {
    expect(() => deliveryRequests("DIRECT", -1)).toThrow(RangeError);
    expect(() => deliveryRequests("QUEUED", 1, 0)).toThrow(RangeError);
  });
});
