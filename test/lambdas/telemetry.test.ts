import { Metrics } from "@aws-lambda-powertools/metrics";
import { powertoolsMetrics } from "../../lambdas/shared/telemetry";

describe("powertoolsMetrics", () => {
  it("emits Errors as an EMF single metric with a code dimension, and batches plain metrics until published", () => {
    const lines: string[] = [];
    const spy = jest.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    const logSpy = jest.spyOn(console, "log").mockImplementation((line: unknown) => void lines.push(String(line)));
    try {
      const metrics = new Metrics({ namespace: "TestNs", serviceName: "stream-worker" });
      const m = powertoolsMetrics(metrics);
      m.countError("THROTTLED");
      const emf = lines.map((l) => JSON.parse(l)).find((o) => o.Errors !== undefined);
      expect(emf).toMatchObject({ Errors: 1, code: "THROTTLED", service: "stream-worker" });
      expect(emf._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: "TestNs", Metrics: [{ Name: "Errors", Unit: "Count" }] });
      expect(emf._aws.CloudWatchMetrics[0].Dimensions[0]).toEqual(expect.arrayContaining(["code"]));

      lines.length = 0;
      m.addMetric("TimeToFirstToken", "Milliseconds", 120);
      expect(lines).toHaveLength(0);
      metrics.publishStoredMetrics();
      expect(lines.map((l) => JSON.parse(l)).find((o) => o.TimeToFirstToken !== undefined)).toMatchObject({ TimeToFirstToken: 120 });
    } finally {
      spy.mockRestore();
      logSpy.mockRestore();
    }
  });
});
