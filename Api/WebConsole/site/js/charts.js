// Small inline SVG charts drawn with DOM calls (no library, nothing from a CDN). Colours and fonts
// come from the style sheet through classes; labels are text nodes, so a job id or a silo name in a
// label is shown as text.
import { el, svg } from "./dom.js";

const WIDTH = 560, HEIGHT = 180, LEFT = 48, RIGHT = 8, TOP = 10, BOTTOM = 28;

/**
 * A bar chart of points [{label, value, title?}] under a heading; the y axis from 0 to the largest
 * value, in unit. Each bar has a tooltip (its title).
 */
export function barChart(heading, points, { unit = "", testId, format = v => formatNumber(v) } = {}) {
  const figure = el("figure", { class: "chart", "data-testid": testId }, el("figcaption", {}, heading));
  if (!points.length) {
    figure.append(el("p", { class: "muted" }, "No data yet."));
    return figure;
  }
  const max = Math.max(...points.map(p => p.value), 0) || 1;
  const plotWidth = WIDTH - LEFT - RIGHT, plotHeight = HEIGHT - TOP - BOTTOM;
  const step = plotWidth / points.length;
  const barWidth = Math.max(1, step * 0.8);
  const chart = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": heading, class: "chart-svg" });

  // Axis and three grid lines with their values.
  for (const fraction of [0, 0.5, 1]) {
    const y = TOP + plotHeight * (1 - fraction);
    chart.append(
      svg("line", { x1: LEFT, x2: WIDTH - RIGHT, y1: y, y2: y, class: fraction === 0 ? "axis" : "grid" }),
      svg("text", { x: LEFT - 4, y: y + 4, "text-anchor": "end", class: "tick" }, `${format(max * fraction)}${unit}`));
  }
  points.forEach((point, i) => {
    const h = plotHeight * (point.value / max);
    const x = LEFT + i * step + (step - barWidth) / 2;
    chart.append(svg("rect", { x, y: TOP + plotHeight - h, width: barWidth, height: Math.max(h, 0.5), class: point.class ?? "bar" },
      svg("title", {}, point.title ?? `${point.label}: ${format(point.value)}${unit}`)));
  });
  // At most about eight x labels, so they never overlap.
  const every = Math.max(1, Math.ceil(points.length / 8));
  points.forEach((point, i) => {
    if (i % every !== 0) return;
    chart.append(svg("text", { x: LEFT + i * step + step / 2, y: HEIGHT - 10, "text-anchor": "middle", class: "tick" }, point.label));
  });
  figure.append(chart);
  return figure;
}

function formatNumber(value) {
  if (value >= 100 || Number.isInteger(value)) return String(Math.round(value));
  return value.toFixed(1);
}

/**
 * The rate at which a job's tasks finished, in tasks per second, from their finish times: about
 * forty buckets from the first start to the last finish (10 ms buckets for a run under half a
 * second, wider ones for a longer run), each bucket's count divided by its width.
 */
export function tasksPerSecond(tasks) {
  const finished = tasks.filter(t => t.finishedAt).map(t => Date.parse(t.finishedAt));
  const started = tasks.filter(t => t.startedAt).map(t => Date.parse(t.startedAt));
  if (!finished.length) return [];
  const from = Math.min(...started, ...finished);
  const span = Math.max(...finished) - from;
  const bucketMs = Math.max(10, Math.ceil(span / 40 / 10) * 10);
  const counts = new Array(Math.floor(span / bucketMs) + 1).fill(0);
  for (const t of finished) counts[Math.floor((t - from) / bucketMs)]++;
  return counts.map((count, i) => {
    const at = ((i * bucketMs) / 1000).toFixed(bucketMs < 100 ? 2 : 1);
    const value = count / (bucketMs / 1000);
    return { label: `${at}s`, value, title: `${at} s: ${count} task(s) finished, ${value.toFixed(1)}/s` };
  });
}

/** Ended jobs' durations, creation to finish, oldest on the left. */
export function jobDurations(jobs) {
  return jobs
    .filter(j => j.finishedAt)
    .map(j => ({ job: j, ms: Date.parse(j.finishedAt) - Date.parse(j.createdAt) }))
    .reverse()
    .map(({ job, ms }) => ({
      label: job.id.slice(-6), // ids begin with their creation time: the end tells them apart
      value: ms / 1000,
      class: job.status === "succeeded" ? "bar" : "bar bar-bad",
      title: `${job.kind} ${job.id}: ${job.status} in ${(ms / 1000).toFixed(2)} s`,
    }));
}
