/** A small inline SVG bar chart of inter-chunk latency: one bar per gap between consecutive chunk arrivals. */

const SVG = "http://www.w3.org/2000/svg";

export interface ChartOptions {
  width?: number;
  height?: number;
}

export function latencyChart(doc: Document, gapsMs: readonly number[], options: ChartOptions = {}): SVGSVGElement {
  const width = options.width ?? 280;
  const height = options.height ?? 64;
  const pad = { top: 12, bottom: 4 };
  const svg = doc.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("width", String(width));
  svg.setAttribute("height", String(height));
  svg.setAttribute("class", "latency-chart");
  svg.setAttribute("role", "img");
  svg.dataset.testid = "latency-chart";
  const max = Math.max(1, ...gapsMs);
  const label = doc.createElementNS(SVG, "title");
  label.textContent = gapsMs.length
    ? `Inter-chunk latency: ${gapsMs.length} gaps, max ${Math.round(max)} ms`
    : "Inter-chunk latency: not enough chunks yet";
  svg.append(label);
  const baseline = doc.createElementNS(SVG, "line");
  baseline.setAttribute("x1", "0");
  baseline.setAttribute("x2", String(width));
  baseline.setAttribute("y1", String(height - pad.bottom));
  baseline.setAttribute("y2", String(height - pad.bottom));
  baseline.setAttribute("class", "axis");
  svg.append(baseline);
  const maxLabel = doc.createElementNS(SVG, "text");
  maxLabel.setAttribute("x", "2");
  maxLabel.setAttribute("y", "9");
  maxLabel.setAttribute("class", "axis-label");
  maxLabel.textContent = gapsMs.length ? `${Math.round(max)} ms` : "no data";
  svg.append(maxLabel);
  const slot = width / Math.max(gapsMs.length, 1);
  const usable = height - pad.top - pad.bottom;
  gapsMs.forEach((gap, i) => {
    const h = Math.max(1, (gap / max) * usable);
    const bar = doc.createElementNS(SVG, "rect");
    bar.setAttribute("x", (i * slot + slot * 0.1).toFixed(2));
    bar.setAttribute("width", Math.max(0.5, slot * 0.8).toFixed(2));
    bar.setAttribute("y", (height - pad.bottom - h).toFixed(2));
    bar.setAttribute("height", h.toFixed(2));
    const t = doc.createElementNS(SVG, "title");
    t.textContent = `chunk ${i + 1} → ${i + 2}: ${gap.toFixed(1)} ms`;
    bar.append(t);
    svg.append(bar);
  });
  return svg;
}

/**
 * A strip of chunk arrivals on a time axis from the send (0) to `scaleMs`: one tick per chunk at its arrival. Every
 * column of the comparison is drawn with the same `scaleMs`, so a slower path is visibly longer.
 */
export function arrivalTimeline(doc: Document, arrivalsMs: readonly number[], scaleMs: number, options: ChartOptions = {}): SVGSVGElement {
  const width = options.width ?? 280;
  const height = options.height ?? 28;
  const svg = doc.createElementNS(SVG, "svg");
  for (const [k, v] of Object.entries({ viewBox: `0 0 ${width} ${height}`, width: String(width), height: String(height), class: "arrival-timeline", role: "img" })) svg.setAttribute(k, v);
  svg.dataset.testid = "arrival-timeline";
  svg.dataset.scaleMs = String(Math.round(scaleMs));
  const x = (ms: number) => ((Math.min(ms, scaleMs) / scaleMs) * (width - 2) + 1).toFixed(2);
  const title = doc.createElementNS(SVG, "title");
  title.textContent = arrivalsMs.length ? `${arrivalsMs.length} chunks, the last at ${Math.round(arrivalsMs[arrivalsMs.length - 1])} ms; the scale is ${Math.round(scaleMs)} ms` : "no chunk yet";
  svg.append(title);
  const axis = doc.createElementNS(SVG, "line");
  for (const [k, v] of Object.entries({ x1: "0", x2: String(width), y1: String(height - 8), y2: String(height - 8), class: "axis" })) axis.setAttribute(k, v);
  svg.append(axis);
  const end = doc.createElementNS(SVG, "text");
  for (const [k, v] of Object.entries({ x: String(width - 2), y: String(height - 1), class: "axis-label", "text-anchor": "end" })) end.setAttribute(k, v);
  end.textContent = `${(scaleMs / 1000).toFixed(1)} s`;
  svg.append(end);
  for (const at of arrivalsMs) {
    const tick = doc.createElementNS(SVG, "line");
    for (const [k, v] of Object.entries({ x1: x(at), x2: x(at), y1: "2", y2: String(height - 8), class: "tick" })) tick.setAttribute(k, v);
    svg.append(tick);
  }
  return svg;
}
