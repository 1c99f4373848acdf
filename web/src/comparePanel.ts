/**
 * The comparison: the same prompt through each delivery path of the environment, one column each (AppSync direct,
 * AppSync queued, the Function URL stream, the WebSocket API), all charted on one shared time scale so that the
 * differences show at a glance. Each column shows first token, total time, chunks, tokens/s, requests per 1k tokens
 * and delivery cost per 1M tokens (requestEstimate.ts, from bench/prices.json). The paths run one after the other,
 * each on a fresh session: they share the model, so running them at once would make each one's timing depend on the
 * others.
 */
import type { MessageAssembler } from "../../client/assembler";
import type { ClientConfig } from "../../client/config";
import { tokenEventCount } from "../../contracts/streamEvents";
import { fmtMs, h, utf8Length } from "./dom";
import { arrivalTimeline, latencyChart } from "./latencyChart";
import { COMPARED_PATHS, REQUEST_FORMULA, deliveryCostPer1MTokens, deliveryRequests, requestsPer1kTokens, type ComparedPath, type DeliveryPrices } from "./requestEstimate";
import type { RunStatus } from "./streamSession";

/** What a column reads from one run, whichever transport carried it. */
export interface ComparedRun {
  readonly assembler: MessageAssembler;
  /** When the prompt went out; every time of the column counts from here. */
  readonly sentAt: number;
  status: RunStatus;
  failure?: string;
  /** Settles when the run is done or failed; never rejects. */
  readonly settled: Promise<unknown>;
}

/** Starts one run of the prompt on its path, calling `onUpdate` on every change; `close` frees the path's connection. */
export type PathRunner = (prompt: string, onUpdate: () => void) => Promise<{ run: ComparedRun; close(): void }>;

/** The enabled paths' runners; a path without one shows why it is not run. */
export type PathRunners = Partial<Record<ComparedPath, PathRunner>>;

const ROUTES: Record<ComparedPath, string> = {
  DIRECT: "worker → AppSync",
  QUEUED: "worker → SNS → SQS → relay → AppSync",
  FUNCTION_URL: "Function URL → NDJSON response stream",
  WEBSOCKET: "worker → API Gateway @connections",
};

const LABELS: Record<ComparedPath, string> = { DIRECT: "AppSync direct", QUEUED: "AppSync queued", FUNCTION_URL: "Function URL", WEBSOCKET: "WebSocket" };

/** The environment's batching as the panel shows it: the mode, and its windows in the title. */
function batchingText(batching: ClientConfig["batching"]): { text: string; title: string } {
  if (!batching) return { text: "—", title: "This environment's client config does not say (deployed before the batching output)." };
  const title =
    batching.mode === "reading_pace"
      ? `First 2 s: a chunk every ${batching.maxDelayMs} ms; then the window grows while the text is ahead of a reader at ${batching.readingTokensPerSecond} tokens/s, up to ${batching.maxWindowMs} ms.`
      : `A chunk every ${batching.maxDelayMs} ms after the first token.`;
  return { text: batching.mode, title };
}

/** Sets a panel figure, with its number in data-value for tests; "—" while there is none. */
function setFigure(dd: HTMLElement, value: number | undefined, text: string): void {
  dd.textContent = value === undefined ? "—" : text;
  if (value === undefined) delete dd.dataset.value;
  else dd.dataset.value = String(value);
}

type FigureKey = "ttft" | "chunks" | "total" | "tps" | "requests" | "cost";

/** The figures of one path's run, from its assembler. */
function renderFigures(path: ComparedPath, run: ComparedRun, dd: Record<FigureKey, HTMLElement>, prices: DeliveryPrices): void {
  const a = run.assembler;
  const firstAt = a.firstChunkAt;
  const ttft = firstAt === undefined ? undefined : firstAt - run.sentAt;
  setFigure(dd.ttft, ttft, fmtMs(ttft));
  setFigure(dd.chunks, a.chunkCount, String(a.chunkCount));
  const total = a.finishedAt === undefined ? undefined : a.finishedAt - run.sentAt;
  setFigure(dd.total, total, fmtMs(total));
  const tokens = a.final?.usage.outputTokens;
  const streamMs = a.finishedAt !== undefined && firstAt !== undefined ? a.finishedAt - firstAt : undefined;
  const rate = tokens && streamMs ? (tokens * 1000) / streamMs : undefined;
  setFigure(dd.tps, rate, rate === undefined ? "—" : rate.toFixed(0));
  if (!a.final || total === undefined) return;
  // The events the producer sent: every chunk but the tail the final carried, plus the final itself.
  const events = tokenEventCount(a.final);
  const per1k = requestsPer1kTokens(path, events, a.final.usage.outputTokens);
  setFigure(dd.requests, per1k, per1k === undefined ? "—" : per1k.toFixed(0));
  dd.requests.title = `${deliveryRequests(path, events).total} requests for ${a.final.usage.outputTokens} tokens. ${REQUEST_FORMULA}`;
  const answer = { tokenEvents: events, outputTokens: a.final.usage.outputTokens, durationMs: total, responseBytes: utf8Length(a.text) };
  const cost = deliveryCostPer1MTokens(path, answer, prices);
  setFigure(dd.cost, cost, cost === undefined ? "—" : `$${cost.toFixed(2)}`);
}

interface Column {
  el: HTMLElement;
  run?: ComparedRun;
  /** "not enabled", "subscribing…" or a failure: shown while there is no run. */
  note?: string;
  render(scaleMs: number): void;
}

function column(path: ComparedPath, batching: ClientConfig["batching"], prices: DeliveryPrices): Column {
  const stat = (key: string, label: string, title?: string): [HTMLElement, HTMLElement] => [h("dt", { title }, label), h("dd", { "data-testid": key }, "—")];
  const mode = batchingText(batching);
  const modeStat = [h("dt", { title: mode.title }, "Batching"), h("dd", { "data-testid": "batching", "data-value": batching?.mode, title: mode.title }, mode.text)];
  const stats: Record<FigureKey, [HTMLElement, HTMLElement]> = {
    ttft: stat("ttft", "First token"),
    chunks: stat("chunks", "Chunks"),
    total: stat("total", "Total time"),
    tps: stat("tps", "Tokens/s"),
    requests: stat("requests", "Requests/1k tok", `Estimated AWS requests per 1,000 output tokens. ${REQUEST_FORMULA}`),
    cost: stat("cost", "Cost/1M tok", "Delivery cost per million output tokens at the published us-east-1 prices (bench/prices.json); the generation itself is alike on every path."),
  };
  const dd = Object.fromEntries(Object.entries(stats).map(([k, [, value]]) => [k, value])) as Record<FigureKey, HTMLElement>;
  const timeline = h("div", { class: "chart" });
  const gaps = h("div", { class: "chart" });
  const state = h("p", { class: "meta", "data-testid": "path-status" }, "not run yet");
  const el = h(
    "section",
    { class: "path", "data-testid": `compare-${path}`, "data-path": path },
    h("h3", {}, LABELS[path]),
    h("p", { class: "route" }, ROUTES[path]),
    h("dl", {}, ...modeStat, ...Object.values(stats).flat()),
    h("div", { class: "chart-label" }, "Chunk arrivals (shared time scale)"),
    timeline,
    h("div", { class: "chart-label" }, "Inter-chunk latency"),
    gaps,
    state,
  );
  const col: Column = {
    el,
    render(scaleMs) {
      const run = col.run;
      el.dataset.status = run ? run.status : col.note === "not run yet" || col.note === undefined ? "idle" : col.note.startsWith("not enabled") ? "disabled" : "failed";
      if (!run) {
        state.textContent = col.note ?? "not run yet";
        return;
      }
      renderFigures(path, run, dd, prices);
      const since = run.assembler.arrivals.map((x) => x.receivedAt - run.sentAt);
      timeline.replaceChildren(arrivalTimeline(document, since, scaleMs));
      gaps.replaceChildren(latencyChart(document, run.assembler.interArrivalMs()));
      const tokens = run.assembler.final?.usage.outputTokens;
      state.textContent =
        run.status === "failed" ? (run.failure ?? "failed") : run.status === "done" ? `done · ${tokens ?? 0} tokens` : run.status === "streaming" ? "streaming…" : "sending…";
    },
  };
  return col;
}

/** The longest time any run took or has taken so far: the shared scale of every column's timeline. */
function sharedScaleMs(columns: Column[], now: () => number): number {
  const spans = columns.flatMap((c) => (c.run ? [(c.run.assembler.finishedAt ?? now()) - c.run.sentAt] : []));
  return Math.max(1000, ...spans);
}

export interface CompareOptions {
  form: HTMLFormElement;
  input: HTMLInputElement;
  button: HTMLButtonElement;
  container: HTMLElement;
  batching: ClientConfig["batching"];
  runners: PathRunners;
  prices: DeliveryPrices;
  now(): number;
  /** Coalesces renders to one per frame. */
  schedule(render: () => void): () => void;
}

/** Builds the columns and runs the enabled paths one after the other on each submit. */
export function setupCompare(o: CompareOptions): void {
  const columns = new Map(COMPARED_PATHS.map((p) => [p, column(p, o.batching, o.prices)] as const));
  const all = [...columns.values()];
  const renderAll = (): void => {
    const scale = sharedScaleMs(all, o.now);
    for (const c of all) c.render(scale);
  };
  for (const [path, c] of columns) if (!o.runners[path]) c.note = `not enabled in this environment (transports)`;
  o.container.replaceChildren(...all.map((c) => c.el));
  renderAll();
  o.form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = o.input.value.trim();
    if (!text || o.button.disabled) return;
    o.button.disabled = true;
    o.form.dataset.state = "running";
    void runAll(o, columns, text, renderAll).finally(() => {
      o.button.disabled = false;
      o.form.dataset.state = "done";
    });
  });
}

async function runAll(o: CompareOptions, columns: Map<ComparedPath, Column>, prompt: string, renderAll: () => void): Promise<void> {
  // A new round: every enabled column starts over; a disabled one keeps saying why.
  for (const [path, c] of columns) {
    c.run = undefined;
    if (o.runners[path]) c.note = undefined;
  }
  renderAll();
  const schedule = o.schedule(renderAll);
  for (const [path, c] of columns) {
    const runner = o.runners[path];
    if (!runner) continue;
    c.note = "connecting…";
    renderAll();
    let close: (() => void) | undefined;
    try {
      const started = await runner(prompt, schedule);
      close = started.close;
      c.run = started.run;
      await started.run.settled;
    } catch (err) {
      c.note = (err as Error).message;
    } finally {
      close?.();
      renderAll();
    }
  }
}
