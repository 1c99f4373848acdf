import { deliveryRequests, requestsPer1kTokens } from "../../web/src/requestEstimate";

describe("delivery request estimate", () => {
  it("counts one AppSync mutation per chunk plus the final event on the direct path", () => {
    expect(deliveryRequests("DIRECT", 9)).toEqual({ appsyncMutations: 10, snsPublishes: 0, sqsRequests: 0, relayInvocations: 0, total: 10 });
  });

  it("adds SNS publishes, SQS receive+delete and relay invocations on the queued path (one event per batch)", () => {
    expect(deliveryRequests("QUEUED", 9)).toEqual({ appsyncMutations: 10, snsPublishes: 10, sqsRequests: 20, relayInvocations: 10, total: 50 });
  });

  it("lowers the queued SQS and relay counts when relay batches are larger", () => {
    expect(deliveryRequests("QUEUED", 9, 5)).toMatchObject({ sqsRequests: 4, relayInvocations: 2, total: 26 });
  });

  it("scales to 1,000 output tokens and reports nothing without tokens", () => {
    expect(requestsPer1kTokens("DIRECT", 19, 200)).toBe(100);
    expect(requestsPer1kTokens("QUEUED", 19, 200)).toBe(500);
    expect(requestsPer1kTokens("DIRECT", 3, 0)).toBeUndefined();
  });

  it("rejects impossible inputs", () => {
    expect(() => deliveryRequests("DIRECT", -1)).toThrow(RangeError);
    expect(() => deliveryRequests("QUEUED", 1, 0)).toThrow(RangeError);
  });
});
