/**
 * The checks both client tests make on a report (jest side): the live subscription and the exact streamed answer
 * (through the end-to-end checks), and each error as the library surfaced it.
 */
import type { Subscription } from "../../../client/realtime";
import { answerFor } from "../../../local/bedrock/answer";
import { SessionRecorder, expectExactAnswer, type LocalStackDriver } from "../../support/localStackDriver";
import type { StackProcess } from "../../support/localStackProcess";
import type { ClientReport } from "./childRun";
import { PROMPT, type Observations } from "./scenarios";

/** What the checks read, once the test's beforeAll has run the client. */
export interface ClientRun {
  stack: StackProcess;
  driver: LocalStackDriver;
  report: ClientReport;
}

/**
 * The stream was live before the mutation (start_ack), the mutation answered its ids, nothing went to the
 * subscription's error channel, and the chunks and final event add up exactly to the stand-in's answer.
 */
function expectExactStream(stream: Observations["stream"], driver: LocalStackDriver): void {
  expect(stream.startFrame).toBe("start_ack");
  expect(stream.sent).toEqual({ data: { sendQuery: expect.objectContaining({ sessionId: stream.sessionId, messageId: stream.messageId }) } });
  expect(stream.errors).toEqual([]);
  const recorder = new SessionRecorder(stream.sessionId, { close: () => undefined } as Subscription);
  for (const event of stream.events) recorder.record(event);
  expectExactAnswer(driver.answerOf(recorder, stream.messageId), answerFor(PROMPT, driver.defaultModelId).join(""));
}

/** Declares the scenario tests; `realtimeScheme` is what the library must derive from the GraphQL URL's http(s). */
export function clientScenarioTests(run: () => ClientRun, realtimeScheme: "ws" | "wss"): void {
  it(`connects to ${realtimeScheme}://<host>/graphql/realtime and streams the exact answer on a live subscription`, () => {
    const { stack, driver, report } = run();
    expect(report.socketUrls[0]).toBe(`${stack.ready.endpoints.graphqlUrl.replace(/^https?/, realtimeScheme)}/realtime`);
    expectExactStream(report.observations.stream, driver);
  });

  it("rejects the mutation with a bad sessionId as a GraphQL error naming the rule", () => {
    const { badSessionMutation } = run().report.observations;
    expect(badSessionMutation.data).toBeFalsy();
    expect(badSessionMutation.error).toMatchObject({ message: expect.stringContaining("sessionId must be") });
  });

  it("ends the subscription with a bad sessionId with an error naming the rule", () => {
    const { badSessionSubscription } = run().report.observations;
    expect(badSessionSubscription.startFrame).toBe("error");
    expect(badSessionSubscription.errors[0]).toContain("sessionId must be");
    expect(badSessionSubscription.events).toEqual([]);
  });

  it("with an expired token: the mutation fails, its HTTP 401 answer saying so", () => {
    const { expiredMutation } = run().report.observations;
    expect(expiredMutation.data).toBeFalsy();
    expect(expiredMutation.error).toMatchObject({ status: 401, body: expect.stringContaining("Token has expired.") });
  });

  it("with an expired token: a new subscription on the open connection fails, and so does a new connection", () => {
    const { expiredStart, expiredConnect } = run().report.observations;
    expect(expiredStart.startFrame).toBe("error");
    expect(expiredStart.errors[0]).toContain("Token has expired.");
    expect(expiredConnect.startFrame).toBe("connection_error");
    expect(expiredConnect.errors[0]).toContain("UnauthorizedException");
  });
}
