/** Renders bench results (bench/results.json's shape) as BENCHMARKS.md. */
import type { BundleFigures, TimedCommand } from "./artifacts";
import type { DeliveryResults } from "./delivery";
import type { IngressResults } from "./ingress";
import type { TransportResults } from "./transports";
import type { LifecycleResults } from "./lifecycle";
import { limitChecksSection, type LimitChecksResults } from "./limits";
import { round } from "./stats";
import type { DefaultChoice, ModelledTarget, TargetResult } from "./targets";
import { worstOf } from "./reader";

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGb: number;
  node: string;
  platform: string;
  loadAverageStart: number[];
  loadAverageEnd: number[];
}

export interface BenchResults {
  schemaVersion: 2;
  generatedAt: string;
  quick: boolean;
  command: string;
  durationMs: number;
  machine: MachineInfo;
  prices: { file: string; region: string; dateRead: string; sources: string[] };
  delivery: DeliveryResults;
  /** Stop latency and the durable message record's cost (bench/lifecycle.ts). */
  lifecycle: LifecycleResults;
  /** The latency the per-user limit checks add to sendQuery (bench/limits.ts); absent from runs before them. */
  limits?: LimitChecksResults;
  /** The two ingresses side by side, with their modelled-on-AWS rows (bench/ingress.ts); absent from runs before them. */
  ingress?: IngressResults;
  /** The four delivery paths side by side: AppSync direct and queued, Function URL, WebSocket (bench/transports.ts); absent from runs before them. */
  transports?: TransportResults;
  targets: TargetResult[];
  /** Targets the local stand-ins cannot measure, modelled on published AWS figures (bench/published-latency.json). */
  modelledOnAws: { source: string; dateRead: string; file: string; targets: ModelledTarget[] };
  /** The batching mode this run's targets pick for the shipped default. */
  defaultChoice: DefaultChoice;
  bundles: BundleFigures[];
  synth: TimedCommand & { environments: string[] };
  plans: (TimedCommand & { environment: string })[] | { skipped: string };
}

const n = (v: number, d = 1) => (Number.isFinite(v) ? round(v, d).toLocaleString("en-US") : "n/a");
const usd = (v: number) => (Number.isFinite(v) ? `$${v < 0.01 ? v.toFixed(4) : v.toFixed(2)}` : "n/a");
const table = (head: string[], rows: (string | number)[][]) =>
  [`| ${head.join(" | ")} |`, `| ${head.map(() => "---").join(" | ")} |`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");


type Mode = DeliveryResults["modes"][number];
type ModeId = Mode["id"];

function byId(r: BenchResults): Partial<Record<ModeId, Mode>> {
  return Object.fromEntries(r.delivery.modes.map((x) => [x.id, x]));
}

/** A mode's batching in words: one per token, the fixed window, or the reading-pace windows. */
function batchingOf(x: Mode): string {
  if (x.batching === "per-token") return "one per token (max_delay_ms 0)";
  if (x.mode === "fixed") return `fixed ${x.maxDelayMs} ms`;
  return `reading pace ${x.maxDelayMs}-${x.maxWindowMs} ms, reader ${x.readingTokensPerSecond} tok/s`;
}

/** The few numbers worth quoting (README "Measured"), each with the mode it belongs to. */
export function headlines(r: BenchResults): string[] {
  const by = byId(r);
  const lines: string[] = [];
  const seeds = by["queued-per-token"];
  const all = r.delivery.modes;
  if (seeds) {
    lines.push(
      `- AppSync mutations per 1,000 output tokens, ${r.delivery.plan.mainTokens}-token answers at ${r.delivery.plan.tokensPerSecond} tokens/s: ${all.map((x) => `${x.id} ${n(x.per1kTokens.appsyncMutations, 1)}`).join(", ")}.`,
      `- ${r.delivery.plan.longTokens}-token answers: ${all.filter((x) => x.long).map((x) => `${x.id} ${n(x.long!.mutationsPer1kTokens, 1)}`).join(", ")} per 1,000 tokens.`,
      `- Delivery cost per 1M output tokens (us-east-1, Bedrock and worker duration excluded): ${all.map((x) => `${x.id} ${usd(x.costPerMillionTokens.deliveryTotal)}`).join(", ")}.`,
      `- A reader at ${seeds.readingTokensPerSecond} tokens/s from the first token, starved (ms, all streams): ${all.map((x) => `${x.id} ${n(worstOf([x.main.reader, ...(x.long ? [x.long.reader] : [])]).starvedMs, 0)}`).join(", ")}.`,
      `- Token delivery latency p50 / p99 (local, single streams): ${all.map((x) => `${x.id} ${n(x.main.latencyMs.p50)} / ${n(x.main.latencyMs.p99)} ms`).join("; ")}.`,
      `- Time to first token at the client (p50, stand-in's own ${r.delivery.plan.firstTokenMs} ms included): ${all.map((x) => `${x.id} ${n(x.main.ttftMs.p50, 0)} ms`).join("; ")}.`,
      `- CPU per 1,000 output tokens, worker / relay (ms): ${all.map((x) => `${x.id} ${n(x.cpu.msPer1kTokens.streamWorker, 0)} / ${n(x.cpu.msPer1kTokens.outboundRelay, 0)}`).join("; ")}.`,
    );
  }
  if (r.ingress) lines.push(`- Ingress, added time to first token p50 / p99 (local): ${r.ingress.ingresses.map((i) => `${i.ingress} ${pct(i.addedTtftMs)} ms`).join("; ")}; SNS + SQS + Lambda requests per 1,000 output tokens: ${r.ingress.ingresses.map((i) => `${i.ingress} ${n(i.per1kTokens.ingressRequests)}`).join(", ")}.`);
  if (r.transports) lines.push(`- Transports, TTFT p50 and delivery cost per 1M output tokens: ${r.transports.paths.map((t) => `${TRANSPORT_LABELS[t.path]} ${n(t.ttftMs.p50, 0)} ms, ${usd(t.costPerMillionTokensUsd)}`).join("; ")}.`);
  if (r.bundles.length) lines.push(`- Lambda bundles zipped: ${r.bundles.map((b) => `${b.name} ${n(b.zippedBytes / 1024, 0)} KB (init ${n(b.initMs.median, 0)} ms)`).join(", ")}.`);
  const plans = "skipped" in r.plans ? "plans skipped" : `offline plan ${r.plans.map((p) => `${p.environment} ${n(p.ms / 1000)} s`).join(", ")}`;
  lines.push(`- Synth of ${r.synth.environments.length} environments ${n(r.synth.ms / 1000)} s; ${plans}.`);
  const missed = r.targets.filter((t) => t.status === "MISS").length;
  lines.push(`- Targets: ${r.targets.length - missed} PASS, ${missed} MISS (see Targets, with reasons). Default batching mode by this run: **${r.defaultChoice.mode}** (${r.defaultChoice.reason}).`);
  return lines;
}

function introSection(r: BenchResults): string[] {
  const d = r.delivery;
  const p = d.plan;
  const m = r.machine;
  return [
    "# Benchmarks",
    "",
    `Generated by \`${r.command}\` on ${r.generatedAt} in ${n(r.durationMs / 1000)} s${r.quick ? " (**quick mode**: fewer and shorter streams, no plans; not for quoting)" : ""}. Raw figures: \`bench/results.json\`.`,
    "",
    "## Machine",
    "",
    `- CPU: ${m.cpuModel}, ${m.cores} cores; memory ${n(m.memoryGb)} GB; Node ${m.node} (${m.platform}).`,
    `- **A shared 2-core machine**: other work ran beside the bench (load average ${m.loadAverageStart.map((x) => n(x, 2)).join(" / ")} at start, ${m.loadAverageEnd.map((x) => n(x, 2)).join(" / ")} at the end). Latencies are local-stack figures: the gateway, handlers, fauxqs, dynalite and the Bedrock stand-in share one Node process and one event loop; there is no network. Compare modes within this run, not with AWS.`,
    "- Reproduce: `npm run bench` (about 11 minutes on this machine; `npm run bench -- --quick` in about a minute and a half; `--out <dir>` writes elsewhere).",
    "",
    "## Setup",
    "",
    `- Bedrock stand-in pace: ${p.firstTokenMs} ms to the first token, ${p.tokensPerSecond} tokens/s. Same prompts shape for every mode (\`[[length:N]]\`).`,
    `- One local stack per batching setting (one message per token, the fixed window, the reading-pace window), delivery (DIRECT/QUEUED) chosen per request (local.tfvars sets \`client_delivery_choice\`); standard (non-FIFO) queues; Lambda memory ${d.memoryMb} MB. Every final carries the answer's last chunk when one was buffered (envelope version 2).`,
    `- Per-mode figures: ${p.mainStreams} streams of ${p.mainTokens} tokens, one after another (so they measure the path, not this machine's saturation), after an unmeasured warm-up. Long answers: one of ${p.longTokens} tokens for the reading-pace modes and, as references, one-per-token and the fixed window on the direct path (a mode's mutation count does not depend on its path). CPU: one more ${p.cpuTokens}-token answer per mode with the meter on (bench/cpu.ts).`,
    `- Sweep: ${p.sweepLevels.join(" / ")} concurrent streams of ${p.sweepTokens} tokens; ${p.requiredSweepLevels.join(" / ")} always run, the levels between them only until one passes 2x the single-stream p99. Stream-worker pollers: ${p.workerConcurrency} (more than about 45 starve the relay, whose receives share the pollers' one SQS client and its 50 sockets); relay pollers: ${p.relayConcurrency}. Every batch gives up after ${n(p.batchDeadlineMs / 1000)} s (long answers ${n(p.longDeadlineMs / 1000)} s); between batches the queues must drain within ${n(p.drainTimeoutMs / 1000)} s or are purged.`,
    "- Token delivery latency: from the stand-in writing a token's frame to the subscriber receiving the chunk that carries the token's last character (chunks' concatenated text offsets mapped to the emitted tokens' offsets; one process, one clock). The opening: tokens written in the first 2 s after the answer's first token.",
    "- Time to first token: from the client sending `sendQuery` to its first chunk (includes the stand-in's own first-token delay).",
    "- The reader (bench/reader.ts): starts on the first token when it reaches the subscriber and reads in order at `batching.reading_tokens_per_second`; it is starved while it has read everything delivered and the model has already written the next token. The lead: how many tokens the model had written that the subscriber did not have yet, and the longest a token took from the model to the subscriber.",
    "",
  ];
}

function latencySection(d: DeliveryResults): string[] {
  const rows = d.modes.map((x) => [
    x.label,
    batchingOf(x),
    `${x.main.completed}/${x.main.streams}`,
    x.main.outputTokens,
    x.main.chunks,
    n(x.main.latencyMs.p50),
    n(x.main.latencyMs.p95),
    n(x.main.latencyMs.p99),
    n(x.main.openingLatencyMs.p99),
    n(x.main.ttftMs.p50),
    n(x.main.ttftMs.p95),
    n(x.main.measuredTokensPerSecond),
    x.loadAverage ? `${n(x.loadAverage.before, 2)} / ${n(x.loadAverage.after, 2)}` : "n/a",
  ]);
  const head = ["mode", "batching", "streams ok", "tokens", "chunks", "p50 ms", "p95 ms", "p99 ms", "first 2 s p99 ms", "TTFT p50 ms", "TTFT p95 ms", "stand-in pace tok/s", "load avg before/after"];
  const out = ["## Delivery latency", "", table(head, rows), ""];
  const errs = d.modes.flatMap((x) => [...x.main.errors, ...(x.long?.errors ?? [])].map((e) => `${x.id}: ${e}`));
  if (errs.length) out.push("Errors or incomplete streams:", "", ...errs.slice(0, 10).map((e) => `- ${e}`), "");
  if (d.modes.some((x) => !x.main.textMatches || (x.long && !x.long.textMatches))) out.push("**Warning**: some subscriber text did not equal the stand-in's text.", "");
  return out;
}

function longSection(d: DeliveryResults): string[] {
  const ref = d.modes.find((x) => x.id === "direct-per-token")?.long;
  const rows = d.modes
    .filter((x) => x.long)
    .map((x) => {
      const l = x.long!;
      return [x.label, batchingOf(x), l.tokens, l.appsyncMutations, n(l.mutationsPer1kTokens), ref ? `1/${n(ref.mutationsPer1kTokens / l.mutationsPer1kTokens)}` : "n/a", n(l.openingLatencyMs.p99), l.completed && l.textMatches ? "exact" : "**not whole**"];
    });
  return [
    `## Long answers (${d.plan.longTokens} tokens)`,
    "",
    table(["mode", "batching", "tokens", "AppSync mutations", "per 1,000 tokens", "vs one per token", "first 2 s p99 ms", "text"], rows),
    "",
    "Mutations are `publishResponse` + `sendQuery` as the local gateway counted them around the answer. After the 2 s opening the reading-pace window grows with the reader's lead to `max_window_ms`; `max_chars` still cuts a chunk that fills up first.",
    "",
  ];
}

function readerSection(d: DeliveryResults): string[] {
  const cell = (f: Mode["main"]["reader"]) => `${n(f.starvedMs, 0)} / ${n(f.worstWaitMs, 0)} / ${f.worstLeadTokens} / ${n(f.worstLeadMs, 0)}`;
  const rows = d.modes.map((x) => [x.label, batchingOf(x), cell(x.main.reader), x.long ? cell(x.long.reader) : "-"]);
  return [
    "## The reader",
    "",
    table(["mode", "batching", `${d.plan.mainTokens}-token answers: starved ms / longest wait ms / lead tokens / lead ms`, `${d.plan.longTokens}-token answer: the same`], rows),
    "",
    "Starved: summed over the streams. With the fixed window the reader finishes the one-token first chunk long before the next window ends; the reading-pace window sends the next chunks once half of what the reader has left is read (keeping at least 100 ms of it in hand), and the lead grows from there.",
    "",
  ];
}

function requestsSection(d: DeliveryResults): string[] {
  const rows = d.modes.map((x) => [
    x.label,
    n(x.per1kTokens.appsyncMutations),
    n(x.per1kTokens.appsyncRealtimeUpdates),
    n(x.per1kTokens.snsPublishes),
    n(x.per1kTokens.sqsRequests),
    n(x.per1kTokens.lambdaInvocations),
    x.requests.sqsEmptyReceives,
  ]);
  return [
    "## AWS requests per 1,000 output tokens",
    "",
    table(["mode", "AppSync mutations", "AppSync real-time updates", "SNS publishes", "SQS requests", "Lambda invocations", "(idle SQS empty receives in the window)"], rows),
    "",
    "How counted: AppSync mutations (`publishResponse` + `sendQuery`) and real-time updates (one per `data` message per 5 KB) from the local gateway's stats and the subscribers; Lambda invocations from the event-source pollers' stats plus one `sendQuery` per request; SQS receive/delete/change-visibility calls by a counting middleware on the pollers' SQS client; SNS publishes as the messages that landed in the work and outbound queues (raw delivery, one subscription per topic, no retries in the window), each also an SQS send made by SNS. Empty receives are the local pollers' idle long polls (1 s) and are left out of the per-token figures and the cost: on AWS the Lambda service's pollers make them whatever the traffic.",
    "",
  ];
}

function costSection(r: BenchResults): string[] {
  const d = r.delivery;
  const rows = d.modes.map((x) => {
    const c = x.costPerMillionTokens;
    return [x.label, usd(c.appsyncOperations), usd(c.appsyncRealtimeUpdates), usd(c.sns), usd(c.sqs), usd(c.lambdaRequests), usd(c.lambdaDurationRelay), `**${usd(c.deliveryTotal)}**`, usd(c.lambdaDurationWorker), usd(c.total)];
  });
  return [
    "## Cost per 1 million output tokens (us-east-1)",
    "",
    table(["mode", "AppSync operations", "AppSync real-time", "SNS", "SQS", "Lambda requests", "relay GB-s", "delivery total", "worker GB-s", "total"], rows),
    "",
    `From the ${d.plan.mainTokens}-token answers. Prices from \`${r.prices.file}\` (read ${r.prices.dateRead}; sources: ${r.prices.sources.join(", ")}). Free tiers ignored. "worker GB-s" is the stream-worker's duration at ${d.memoryMb} MB, mostly waiting on the model at the stand-in's pace, so it is alike across modes and scales with the model, not with the delivery design; Bedrock itself is not included.`,
    "",
  ];
}

function cpuSection(d: DeliveryResults): string[] {
  const rows = d.modes.map((x) => [x.label, x.cpu.tokens, n(x.cpu.msPer1kTokens.streamWorker), n(x.cpu.msPer1kTokens.outboundRelay), n(x.cpu.msPer1kTokens.streamWorker + x.cpu.msPer1kTokens.outboundRelay)]);
  return [
    "## CPU per 1,000 output tokens",
    "",
    table(["mode", "tokens metered", "stream-worker ms", "outbound-relay ms", "both ms"], rows),
    "",
    "process.cpuUsage (user + system) around each handler call and every callback running in the handler's async context (AsyncLocalStorage with async_hooks' before/after), so the gateway, the queues and the stand-in in the same process are not counted; HTTP response parsing on a pooled socket lands on whoever opened it. Local figures on a shared machine: a number to track from run to run, not Lambda's billed duration.",
    "",
  ];
}

function sweepSection(d: DeliveryResults): string[] {
  const levels = d.plan.sweepLevels;
  const rows = d.modes.map((x) => [
    x.label,
    ...levels.map((l) => {
      const s = x.sweep.find((q) => q.streams === l);
      if (!s || s.skipped) return s?.skipped?.includes("budget") ? "not run (time)" : "-";
      return `${n(s.p99Ms!)} (${s.completed}/${s.streams})${s.withinTwiceSingle === false ? " ✗" : ""}`;
    }),
    x.sustainedNote,
  ]);
  const out = [
    "## Concurrency sweep",
    "",
    table(["mode", ...levels.map((l) => `${l} concurrent: p99 ms (ok)`), "most streams within 2x single-stream p99"], rows),
    "",
    "\"-\": not run, because a smaller level already passed 2x (or the mode is not swept). ✗: past 2x or incomplete. Sustained: the largest level that, with every level before it, completed every stream within twice the single-stream p99 (the per-mode run above: streams one after another). On this machine the limit is the one shared event loop and its share of 2 busy cores: every event costs, in the same process, the worker's publish (SigV4 + HTTP), on the queued path also an SNS publish, an SQS receive and delete and a relay invocation, then GraphQL parsing and validation in the gateway and a WebSocket send. So the sweep ranks the modes by CPU per token; it says nothing about AWS's own limits (see capacity on paper).",
    "",
  ];
  const purges = d.modes.flatMap((x) => x.purges.map((q) => `${x.id} ${q}`));
  if (purges.length) out.push("Backlogs purged so the next batch started clean (the batch before them could not keep up):", "", ...purges.map((q) => `- ${q}`), "");
  return out;
}

function capacitySection(d: DeliveryResults): string[] {
  return [
    "## Capacity on paper",
    "",
    table(
      ["mode", "publishResponse per stream-second", "concurrent streams per API at 10,000 inbound messages/s"],
      d.modes.map((x) => [x.label, n(x.publishesPerStreamSecond), `**${x.capacityStreamsPerApi.toLocaleString("en-US")}**`]),
    ),
    "",
    `AppSync's default quota is 10,000 inbound messages per second per API, one per mutation per subscription field. Measured mutation rate per streaming second of the ${d.plan.mainTokens}-token answers at ${d.plan.tokensPerSecond} tokens/s; streams per API = 10,000 / that rate.`,
    "",
  ];
}

function buildSections(r: BenchResults): string[] {
  const rows: (string | number)[][] = [[r.synth.command, r.synth.environments.join(", "), n(r.synth.ms / 1000), r.synth.ok ? "ok" : `failed: ${r.synth.detail ?? ""}`]];
  if ("skipped" in r.plans) rows.push(["npm run plan -- <env> --offline", "-", "-", `skipped: ${r.plans.skipped}`]);
  else for (const pl of r.plans) rows.push([pl.command, pl.environment, n(pl.ms / 1000), pl.ok ? "ok" : `failed: ${(pl.detail ?? "").replace(/\s+/g, " ").slice(0, 200)}`]);
  return [
    "## Lambda bundles",
    "",
    table(
      ["function", "bundle KB", "zipped KB", "module init median ms", "samples ms"],
      r.bundles.map((b) => [b.name, n(b.bytes / 1024), n(b.zippedBytes / 1024), n(b.initMs.median), b.initMs.samples.map((s) => n(s, 0)).join(", ")]),
    ),
    "",
    "Built with `bundleHandler` from `modules/bundle.ts` (the infra's own esbuild options), zipped with archiver at zlib level 9 as TerraformAsset does. Init: a fresh `node` process per sample `require`s the bundle with Lambda's and our stacks' environment variables set (fake ARNs and credentials), timing module scope only (Node start-up excluded).",
    "",
    "## Synth and plan",
    "",
    table(["command", "environments", "seconds", "result"], rows),
    "",
    "Synth writes to a temporary CDKTF_OUTDIR. Each offline plan synthesizes its environment, then runs terraform init, plan and show with a local backend and fake credentials.",
    "",
  ];
}

function targetSections(r: BenchResults): string[] {
  const m = r.modelledOnAws;
  return [
    "## Targets",
    "",
    table(
      ["target", "measured", "result", "why missed / note"],
      r.targets.map((t) => [t.target, t.measured, `**${t.status}**`, [t.reason, t.note].filter(Boolean).join("; ")]),
    ),
    "",
    "Ratios are taken within this run. Latency figures come from one shared 2-core machine: p99 moved by up to about 15 ms between identical runs while writing this bench, so a result within that distance of its limit is not a firm PASS or MISS.",
    "",
    `**Default batching mode by this run: ${r.defaultChoice.mode}.** ${r.defaultChoice.reason}.`,
    "",
    "## Modelled on AWS (not measured here)",
    "",
    table(
      ["target", "measured locally", "published AWS figure", "modelled on AWS", "result"],
      m.targets.map((t) => [t.target, t.measuredLocally, t.published, t.modelled, t.status]),
    ),
    "",
    `Retired from the measured targets: locally the queue hop is fauxqs and a poller in the same process, a few ms, where AWS's SNS -> SQS -> Lambda hop is tens to hundreds. Modelled queued p50 = the local direct p50 (the worker's work and the AppSync leg, which both paths share) + the published hop's p50, for FIFO topics and queues as staging and prod use. AppSync's own publish-to-subscriber latency is not published and is taken as the local figure, so the ratio is optimistic where AppSync is slow. Source: ${m.source} (read ${m.dateRead}; \`${m.file}\`), a third-party measurement in eu-west-1, not an AWS commitment.`,
    "",
  ];
}

export function renderMarkdown(r: BenchResults): string {
  const d = r.delivery;
  const out = [
    ...introSection(r),
    "## Headlines",
    "",
    ...headlines(r),
    "",
    ...latencySection(d),
    ...longSection(d),
    ...readerSection(d),
    ...requestsSection(d),
    ...costSection(r),
    ...cpuSection(d),
    ...sweepSection(d),
    ...capacitySection(d),
    ...lifecycleSection(r.lifecycle),
    ...(r.limits ? limitChecksSection(r.limits) : []),
    ...(r.ingress ? ingressSection(r.ingress, r.prices.file) : []),
    ...(r.transports ? transportsSection(r.transports, r.prices.file) : []),
    ...buildSections(r),
    ...targetSections(r),
  ];
  return `${out.join("\n")}\n`;
}

/** Stop latency and what the durable message record costs (bench/lifecycle.ts). */
function lifecycleSection(l: LifecycleResults): string[] {
  const { stop, replay } = l;
  return [
    "## Stop and replay",
    "",
    table(
      ["figure", "value"],
      [
        [`stopGeneration -> model stream cancelled (${stop.samples} stops)`, `p50 ${n(stop.p50Ms, 0)} ms, p99 ${n(stop.p99Ms, 0)} ms, max ${n(stop.maxMs, 0)} ms`],
        [`message record writes (${replay.messages} messages, ${n(replay.outputTokens, 0)} output tokens)`, `${n(replay.writeUnits, 0)} write units, ${n(replay.writeUnitsPer1kTokens)} per 1,000 output tokens`],
        ["record cost per 1,000 output tokens", usd(replay.costPer1kTokensUsd)],
        ["record cost per 1 million output tokens", usd(replay.costPer1kTokensUsd * 1000)],
        ["one whole-message replay (Query.message)", `${n(replay.readUnitsPerReplay, 0)} read units`],
        ["stop flag polling while streaming", `${n(replay.readUnitsPerStreamSecond, 0)} read units per stream-second, ${usd(replay.stopPollCostPerStreamHourUsd)} per stream-hour`],
      ],
    ),
    "",
    "Stop latency: from the client's stopGeneration to the Bedrock stand-in seeing its stream reset (the worker polls the message's stop flag every 500 ms, then aborts ConverseStream). Write units are read back from the messages table: each token event item is written once (one unit per KB), the state item three times (created by sendQuery, started by the worker, ended with the final event); DynamoDB on-demand prices from bench/prices.json. The records are written beside the publish, never before it, so the delivery latency above includes them.",
    "",
  ];
}

const pct = (p: { p50: number; p99: number }) => `${n(p.p50)} / ${n(p.p99)}`;

/** The ingresses' measured figures: time to first token, requests and cost (bench/ingress.ts). */
function ingressMeasuredTables(g: IngressResults): string[] {
  const label = (i: IngressResults["ingresses"][number]) => (i.ingress === "queue" ? "queue (SNS -> SQS -> poller)" : "async (Lambda Event invocation)");
  const timing = g.ingresses.map((i) => [label(i), `${i.completed}/${i.streams}`, i.outputTokens, pct(i.ttftMs), `**${pct(i.addedTtftMs)}**`, pct(i.handOffMs), `${i.burst.completed}/${i.burst.streams}: ${pct(i.burst.addedTtftMs)}`, `${n(i.loadAverage.before, 2)} / ${n(i.loadAverage.after, 2)}`]);
  const requests = g.ingresses.map((i) => {
    const k = i.per1kTokens;
    const m = i.perMessage;
    const h = i.handOffPerMessage;
    return [
      label(i),
      n(k.snsPublishes),
      n(k.sqsRequests),
      `${n(k.lambdaInvocations)} (${n(k.lambdaAsyncInvocations)})`,
      `**${n(k.ingressRequests)}**`,
      n(k.appsyncMutations),
      `${n(m.snsPublishes, 2)} / ${n(m.sqsRequests, 2)} / ${n(m.lambdaInvocations, 2)}`,
      `${n(h.snsPublishes, 2)} / ${n(h.sqsRequests, 2)} / ${n(h.lambdaInvocations, 2)}: ${usd(h.costPerMillionMessages)}`,
    ];
  });
  const cost = g.ingresses.map((i) => {
    const c = i.costPerMillionTokens;
    return [label(i), usd(c.sns), usd(c.sqs), usd(c.lambdaRequests), usd(c.lambdaDurationWorker + c.lambdaDurationRelay), usd(c.appsyncOperations + c.appsyncRealtimeUpdates), `**${usd(c.total)}**`];
  });
  return [
    table(["ingress", "streams ok", "tokens", "client TTFT p50 / p99 ms", "added TTFT p50 / p99 ms", "hand-off p50 / p99 ms", `burst: ok, added TTFT p50 / p99 ms`, "load avg before/after"], timing),
    "",
    table(["per 1,000 output tokens", "SNS publishes", "SQS requests", "Lambda invocations (of them Event invocations)", "SNS + SQS + Lambda", "AppSync mutations", "per message: SNS / SQS / Lambda", "the hand-off alone per message: SNS / SQS / Lambda: cost per 1M messages"], requests),
    "",
    table(["cost per 1M output tokens (us-east-1)", "SNS", "SQS", "Lambda requests", "Lambda GB-s (worker + relay)", "AppSync", "total"], cost),
    "",
  ];
}

/** The modelled-on-AWS rows of the ingress comparison, in a table of their own. */
function ingressModelledTable(g: IngressResults): string[] {
  const m = g.modelledOnAws;
  if (!m) return [];
  return [
    "### Ingress modelled on AWS (not measured here)",
    "",
    table(["target", "measured locally", "published AWS figures", "modelled on AWS", "result"], m.targets.map((t) => [t.target, t.measuredLocally, t.published, t.modelled, t.status])),
    "",
    `Modelled added TTFT = the local async ingress's added TTFT (sendQuery, the worker's start and the first chunk's delivery, which both ingresses share; its local hop is one in-process HTTP call) + each ingress's published hop: SNS FIFO -> SQS FIFO -> Lambda for the queue (staging and prod are FIFO). ${m.notFound ?? ""} p99 sums are an upper bound (percentiles do not add). Source: ${m.source} (read ${m.dateRead}; \`bench/published-latency.json\`), a third-party measurement in eu-west-1, not an AWS commitment.`,
    "",
  ];
}

/** "Ingress: queue vs async" (bench/ingress.ts). */
function ingressSection(g: IngressResults, pricesFile: string): string[] {
  const p = g.plan;
  const s = g.shared;
  return [
    "## Ingress: queue vs async",
    "",
    `One local stack per \`ingress\` (queue first), each with the shipped batching (${s.batching}), the environment's own delivery (${s.delivery}, no DIRECT/QUEUED in the requests), ${s.fifo ? "FIFO" : "standard"} queues and ${p.workerConcurrency} worker invocations at once. The same answers on both: ${p.staggeredStreams} streams of ${p.tokens} tokens sent one every ${n(p.staggerMs / 1000)} s (the figures below), then a burst of ${p.burstStreams} at once, after an unmeasured warm-up. Added TTFT = client TTFT (sendQuery sent -> first chunk) minus the stand-in's own first-token delay (${p.firstTokenMs} ms); the hand-off = sendQuery sent -> the model request at the stand-in.`,
    "",
    ...ingressMeasuredTables(g),
    `Requests from the stacks' counters over the staggered streams (bench/counters.ts): SNS publishes as the messages that landed in the work and outbound queues, SQS sends (one per publish) plus the pollers' receives with messages, deletes and visibility changes (idle empty receives left out), Lambda invocations of sendQuery, the worker (from the work queue, or Event invocations counted by the local async invoker, each attempt) and the relay. The hand-off alone: the inbound topic's publishes, the work queue's SQS requests (SNS's send, the poller's receives with messages and deletes) and the worker's invocations, or one Event invocation; the rest (sendQuery, the queued delivery of the chunks) is alike on both ingresses. Prices from \`${pricesFile}\`: a Lambda Event invocation is priced as any Lambda request (the Invoke call sendQuery makes is the worker's invocation request, not billed apart). The worker's GB-s are mostly waiting on the model, alike on both ingresses.`,
    "",
    ...ingressModelledTable(g),
  ];
}

const TRANSPORT_LABELS = { DIRECT: "AppSync direct", QUEUED: "AppSync queued", FUNCTION_URL: "Function URL", WEBSOCKET: "WebSocket" } as const;

/** "Transports side by side" (bench/transports.ts): latency, requests, cost and capacity per path. */
function transportsSection(t: TransportResults, pricesFile: string): string[] {
  const p = t.plan;
  const rows = t.paths.map((x) => [
    TRANSPORT_LABELS[x.path],
    `${x.completed}/${x.streams}${x.textMatches ? "" : " (text differs)"}`,
    pct(x.ttftMs),
    pct(x.latencyMs),
    n(x.eventsPerAnswer),
    `**${n(x.requestsPer1kTokens)}**`,
    `**${usd(x.costPerMillionTokensUsd)}**`,
    `${x.capacity.streams.toLocaleString("en-US")} (${x.capacity.quota})`,
  ]);
  return [
    "## Transports side by side",
    "",
    `One local stack with every transport (${t.batching}); per path, after an unmeasured warm-up, ${p.streams} streams of ${p.tokens} tokens at once at the stand-in's ${p.tokensPerSecond} tokens/s (first token after ${p.firstTokenMs} ms). TTFT = the question sent -> its first chunk at the client; delivery latency = a token's emission at the stand-in -> the arrival of the chunk carrying it (one clock). Requests and cost: the delivery leg only (web/src/requestEstimate.ts, the page's own estimate), from the events each answer produced, at \`${pricesFile}\`'s prices: AppSync a mutation and a real-time update per event (queued adds SNS, SQS and the relay), the WebSocket a message per event plus connection minutes, the Function URL nothing but bytes past 6 MB per response. Concurrent streams: on paper, the default quota that binds first at the measured events per stream-second.`,
    "",
    table(["path", "streams ok", "TTFT p50 / p99 ms", "delivery latency p50 / p99 ms", "events per answer", "delivery requests per 1k tokens", "delivery cost per 1M tokens", "concurrent streams at the default quota"], rows),
    "",
  ];
}
