/**
 * Runs `npm run bench -- --quick` as a child, as a reader would (no --out: it must write into a new temporary folder,
 * never the repo's BENCHMARKS.md), and checks it produced every section with numbers, and that the numbers make sense
 * relative to each other. Not a speed test.
 */
import { spawn } from "node:child_process";
import { readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { BenchResults } from "../../bench/report";
import { outputPaths } from "../../bench/run";

jest.setTimeout(250_000);

const ROOT = path.resolve(__dirname, "..", "..");
const COMMITTED = [path.join(ROOT, "BENCHMARKS.md"), path.join(ROOT, "bench", "results.json")];
const committedBefore = COMMITTED.map((f) => [f, statSync(f).mtimeMs]);
let outDir: string | undefined;
let written: string[];
let results: BenchResults;
let markdown: string;

beforeAll(async () => {
  const child = spawn(path.join(ROOT, "node_modules", ".bin", "tsx"), ["bench/run.ts", "--quick"], { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => void (stderr += c.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 240_000);
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`bench --quick exited with ${code}:\n${stderr.slice(-3000)}`);
  written = /bench: wrote (\S+) and (\S+) in /.exec(stderr)!.slice(1);
  outDir = path.dirname(written[0]);
  results = JSON.parse(readFileSync(path.join(outDir, "results.json"), "utf8"));
  markdown = readFileSync(path.join(outDir, "BENCHMARKS.md"), "utf8");
});
afterAll(() => outDir && rmSync(outDir, { recursive: true, force: true }));

test("--quick writes into a new temporary folder and leaves the committed figures alone; a full run writes them", () => {
  expect(written).toEqual([path.join(outDir!, "BENCHMARKS.md"), path.join(outDir!, "results.json")]);
  expect(path.basename(outDir!)).toMatch(/^bench-quick-/);
  expect(path.dirname(outDir!)).toBe(tmpdir());
  expect(COMMITTED.map((f) => [f, statSync(f).mtimeMs])).toEqual(committedBefore);
  expect(outputPaths({ quick: false })).toEqual({ markdownPath: COMMITTED[0], jsonPath: COMMITTED[1] });
  const chosen = path.join(outDir!, "chosen");
  expect(outputPaths({ quick: true, outDir: chosen })).toEqual({ markdownPath: path.join(chosen, "BENCHMARKS.md"), jsonPath: path.join(chosen, "results.json") });
});

const positive = (n: number) => expect(Number.isFinite(n) && n > 0).toBe(true);

test("every mode streamed the stand-in's text and has latency, reader, request, cost, CPU, sweep and capacity figures", () => {
  expect(results.quick).toBe(true);
  expect(results.delivery.modes.map((m) => m.id)).toEqual(["queued-per-token", "direct-per-token", "queued-fixed", "direct-fixed", "queued-reading-pace", "direct-reading-pace"]);
  for (const m of results.delivery.modes) {
    expect(m.main.errors).toEqual([]);
    expect(m.main.textMatches).toBe(true);
    expect(m.main.completed).toBe(m.main.streams);
    expect(m.main.latencyMs.count).toBe(m.main.outputTokens);
    for (const v of [m.main.latencyMs.p50, m.main.latencyMs.p95, m.main.latencyMs.p99, m.main.openingLatencyMs.p99, m.main.ttftMs.p50, m.main.firstTokenLatencyMs.p50]) positive(v);
    expect(m.main.latencyMs.p50).toBeLessThanOrEqual(m.main.latencyMs.p99);
    // Time to first token includes the stand-in's own first-token delay.
    expect(m.main.ttftMs.p50).toBeGreaterThanOrEqual(results.delivery.plan.firstTokenMs);
    expect(m.main.reader.worstLeadTokens).toBeGreaterThan(0);
    for (const v of Object.values(m.per1kTokens)) expect(Number.isFinite(v)).toBe(true);
    positive(m.per1kTokens.appsyncMutations);
    positive(m.per1kTokens.lambdaInvocations);
    positive(m.costPerMillionTokens.total);
    positive(m.capacityStreamsPerApi);
    positive(m.cpu.msPer1kTokens.streamWorker);
    if (m.delivery === "QUEUED") positive(m.cpu.msPer1kTokens.outboundRelay);
    const swept = m.id.includes("reading-pace") ? 0 : results.delivery.plan.sweepLevels.length;
    expect(m.sweep.length).toBe(swept);
    if (swept) positive(m.sweep[0]!.p99Ms!);
  }
});

test("the long answers arrive whole; reading pace cuts mutations below one per token; the reader is measured", () => {
  const by = Object.fromEntries(results.delivery.modes.map((m) => [m.id, m]));
  for (const id of ["direct-per-token", "direct-fixed", "queued-reading-pace", "direct-reading-pace"]) {
    const long = by[id]!.long!;
    expect([id, long.completed, long.textMatches, long.tokens]).toEqual([id, true, true, results.delivery.plan.longTokens]);
    positive(long.mutationsPer1kTokens);
  }
  expect(by["direct-reading-pace"]!.long!.mutationsPer1kTokens).toBeLessThan(by["direct-per-token"]!.long!.mutationsPer1kTokens);
  // Measured, not judged: "never starved" depends on this machine's load and is judged in a full run's Targets table.
  for (const id of ["queued-reading-pace", "direct-reading-pace"]) {
    const { reader } = by[id]!.long!;
    expect(reader.starvedMs).toBeGreaterThanOrEqual(0);
    positive(reader.worstLeadTokens);
  }
});

test("coalescing cuts mutations, and only the queued modes touch the outbound queue", () => {
  const by = Object.fromEntries(results.delivery.modes.map((m) => [m.id, m]));
  for (const p of ["queued", "direct"]) {
    const perToken = by[`${p}-per-token`]!;
    // One message per token: at least one publishResponse per stand-in token.
    expect(perToken.counters.publishResponse).toBeGreaterThanOrEqual(perToken.main.outputTokens);
    for (const kind of ["fixed", "reading-pace"]) {
      const coalesced = by[`${p}-${kind}`]!;
      expect(coalesced.per1kTokens.appsyncMutations).toBeLessThan(perToken.per1kTokens.appsyncMutations);
      expect(coalesced.capacityStreamsPerApi).toBeGreaterThan(perToken.capacityStreamsPerApi);
      expect(coalesced.costPerMillionTokens.deliveryTotal).toBeLessThan(perToken.costPerMillionTokens.deliveryTotal);
    }
  }
  for (const m of results.delivery.modes) expect([m.id, m.counters.outboundRecords > 0]).toEqual([m.id, m.delivery === "QUEUED"]);
});

test("stop latency and the message record's cost are measured: each stop reaches the model", () => {
  const { stop, replay } = results.lifecycle;
  expect(stop.samples).toBe(2);
  // Measured, not judged: the 1 s p99 target is judged in a full run's Targets table.
  positive(stop.maxMs);
  expect(replay.messages).toBe(1);
  positive(replay.outputTokens);
  // One write per token event, plus the state item's three: more than the chunks, far fewer than the tokens.
  expect(replay.writeUnits).toBeGreaterThan(3);
  expect(replay.writeUnitsPer1kTokens).toBeLessThan(1000);
  positive(replay.costPer1kTokensUsd);
  expect(replay.readUnitsPerStreamSecond).toBe(2);
});

test("the latency the limit checks add to sendQuery is measured (p50 and p99, local)", () => {
  const l = results.limits!;
  expect(l.samples).toBe(40);
  for (const p of [l.sendQueryMs.withLimits, l.sendQueryMs.withoutLimits, l.admissionMs]) {
    positive(p.p50);
    expect(p.p50).toBeLessThanOrEqual(p.p99);
  }
  expect(l.addedMs.p50).toBeCloseTo(l.sendQueryMs.withLimits.p50 - l.sendQueryMs.withoutLimits.p50, 1);
  expect(markdown).toContain("## Limit checks on sendQuery");
});

test("the two ingresses run side by side: added time to first token, requests per message and token, cost, the target and its modelled rows", () => {
  const g = results.ingress!;
  expect(g.ingresses.map((i) => i.ingress)).toEqual(["queue", "async"]);
  for (const i of g.ingresses) {
    expect([i.ingress, i.errors]).toEqual([i.ingress, []]);
    expect(i.streams).toBeGreaterThanOrEqual(2);
    expect(i.completed).toBe(i.streams);
    expect(i.burst.completed).toBe(i.burst.streams);
    // The same answers on both: every stream the plan's length.
    expect(i.outputTokens).toBe(i.streams * g.plan.tokens);
    for (const p of [i.ttftMs, i.handOffMs, i.burst.addedTtftMs]) {
      positive(p.p50);
      expect(p.p50).toBeLessThanOrEqual(p.p99);
    }
    // Added = client TTFT less the stand-in's own first-token delay; the hand-off comes before the first token.
    expect(i.ttftMs.p50).toBeGreaterThanOrEqual(g.plan.firstTokenMs);
    expect(i.addedTtftMs.p50).toBeCloseTo(i.ttftMs.p50 - g.plan.firstTokenMs, 0);
    expect(i.handOffMs.p50).toBeLessThan(i.ttftMs.p50);
    positive(i.per1kTokens.ingressRequests);
    positive(i.per1kTokens.lambdaInvocations);
    positive(i.costPerMillionTokens.total);
  }
  const queue = g.ingresses[0]!;
  const async = g.ingresses[1]!;
  // Queue: one publish to the inbound topic, SNS's send, the poller's receive and delete, one worker invocation per message.
  expect(queue.handOffPerMessage.snsPublishes).toBe(1);
  expect(queue.handOffPerMessage.sqsRequests).toBeGreaterThanOrEqual(3);
  expect(queue.handOffPerMessage.lambdaInvocations).toBe(1);
  expect(queue.counters.asyncInvocations).toBe(0);
  // Async: one Event invocation per message, counted as a Lambda invocation, and nothing on SNS or SQS for the hand-off.
  expect(async.handOffPerMessage).toMatchObject({ snsPublishes: 0, sqsRequests: 0, lambdaInvocations: 1 });
  expect(async.requests.lambdaAsyncInvocations).toBe(async.streams);
  expect(async.counters.workInvocations).toBe(0);
  expect(async.handOffPerMessage.costPerMillionMessages).toBeLessThan(queue.handOffPerMessage.costPerMillionMessages);
  // SNS publishes: the inbound topic's and the outbound queue's on the queue ingress, only the outbound's on the async one.
  expect(queue.requests.snsPublishes).toBe(queue.counters.workRecords + queue.counters.outboundRecords);
  expect(async.requests.snsPublishes).toBe(async.counters.outboundRecords);
  // The measured target (judged, not asserted: the quick run's few streams are noise) and the modelled rows with their source.
  expect(results.targets.filter((t) => t.target.startsWith("async ingress adds <= 1/2"))).toHaveLength(1);
  const m = g.modelledOnAws!;
  expect(m.source).toMatch(/^https:\/\//);
  expect(m.targets).toHaveLength(2);
  for (const t of m.targets) expect(["PASS (modelled)", "MISS (modelled)"]).toContain(t.status);
  expect(markdown).toContain("## Ingress: queue vs async");
  expect(markdown).toContain("### Ingress modelled on AWS (not measured here)");
});

test("bundles, synth and targets are reported; the markdown has every section", () => {
  expect(results.bundles.map((b) => b.name).sort()).toEqual(["message-control", "outbound-relay", "send-query", "stream-worker", "url-stream", "websocket-authorizer", "websocket-routes"]);
  for (const b of results.bundles) {
    positive(b.zippedBytes);
    expect(b.zippedBytes).toBeLessThan(b.bytes);
    positive(b.initMs.median);
  }
  expect(results.synth.ok).toBe(true);
  positive(results.synth.ms);
  expect(results.plans).toEqual({ skipped: "quick mode" });
  expect(results.targets.length).toBeGreaterThanOrEqual(22);
  for (const t of results.targets) {
    expect(["PASS", "MISS"]).toContain(t.status);
    if (t.status === "MISS") expect(t.reason).toBeTruthy();
  }
  // The retired target lives apart, modelled on published figures with their source; the run names a default.
  expect(results.modelledOnAws.targets.map((t) => t.target)).toEqual(expect.arrayContaining([expect.stringContaining("directSend p50 <= 1/3 of queued p50")]));
  expect(results.modelledOnAws.source).toMatch(/^https:\/\//);
  expect(results.targets.some((t) => t.target.includes("1/3 of queued"))).toBe(false);
  expect(["fixed", "reading_pace"]).toContain(results.defaultChoice.mode);
  expect(results.defaultChoice.reason).toBeTruthy();
  for (const heading of [
    "## Machine", "## Headlines", "## Delivery latency", "## Long answers", "## The reader", "## AWS requests per 1,000 output tokens", "## Cost per 1 million output tokens",
    "## CPU per 1,000 output tokens", "## Concurrency sweep", "## Capacity on paper", "## Stop and replay", "## Lambda bundles", "## Synth and plan", "## Targets", "## Modelled on AWS (not measured here)",
  ]) {
    expect(markdown).toContain(heading);
  }
  expect(markdown).toContain("shared 2-core machine");
  expect(markdown).not.toMatch(/\| n\/a \|/);
});
