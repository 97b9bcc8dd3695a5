// The console's analytics charts: each <div data-chart="ID"> is drawn with the vendored uPlot
// from the JSON of <script type="application/json" id="ID"> (web/admin/analytics_charts.py says
// its shape). The table after each chart holds the same numbers: without this script, or for a
// screen reader, the page loses nothing. Times are shown in UTC, as Shelf keeps them.
"use strict";

const COLOURS = [
  "#0b4f8a", "#c2410c", "#15803d", "#7e22ce", "#b91c1c", "#0e7490",
  "#a16207", "#be185d", "#4d7c0f", "#1d4ed8", "#57534e", "#9333ea",
];
const HEIGHT = 280;
const AXIS = { stroke: "#4a5360", grid: { stroke: "#e3e7eb" }, ticks: { stroke: "#c9d1d9" } };

// A bucket's start as the tables write it: "2026-03-02", "03-02 10:00" (hours), "2026-03" (months).
function bucketName(chart, seconds) {
  const iso = new Date(seconds * 1000).toISOString();
  if (chart.interval === "hour") return `${iso.slice(5, 10)} ${iso.slice(11, 16)}`;
  return chart.interval === "month" ? iso.slice(0, 7) : iso.slice(0, 10);
}

function xAxis(chart, width) {
  if (chart.time) {
    // Ticks on bucket starts only (never between two days), as many as fit.
    const every = Math.max(1, Math.ceil(chart.x.length / Math.max(1, Math.floor(width / 100))));
    const ticks = chart.x.filter((_, index) => index % every === 0);
    return { ...AXIS, splits: () => ticks, values: (u, splits) => splits.map((s) => bucketName(chart, s)) };
  }
  const labels = chart.labels || [];
  const short = chart.kind === "bars" && width / Math.max(labels.length, 1) < 110;
  const name = (value) => {
    if (!Number.isInteger(value) || value < 0 || value >= labels.length) return "";
    return short ? String(value + 1) : labels[value];
  };
  const axis = { ...AXIS, values: (u, splits) => splits.map(name) };
  if (chart.kind === "bars") axis.splits = () => chart.x;
  else axis.incrs = [1, 2, 5, 10, 20, 50];
  return axis;
}

function options(chart, width) {
  const unit = chart.unit || "";
  const bars = chart.kind === "bars" ? uPlot.paths.bars({ size: [0.6, 120] }) : null;
  // Half a bucket of room at each end, so the first and last tick labels are not cut off.
  const step = chart.time ? (chart.x.length > 1 ? chart.x[1] - chart.x[0] : 86400) : 1;
  const pad = chart.time || bars ? step / 2 : 0.2;
  const x = { time: chart.time, range: (u, min, max) => [min - pad, max + pad] };
  const label = (value) => (value == null ? "–" : `${value.toLocaleString("en-GB")}${unit}`);
  return {
    width,
    height: HEIGHT,
    tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), "Etc/UTC"),
    scales: { x, y: { range: (u, min, max) => [0, Math.max(max, 1) * 1.05] } },
    axes: [xAxis(chart, width), { ...AXIS, size: 56, values: (u, splits) => splits.map((v) => `${v}${unit}`) }],
    legend: { live: true },
    cursor: { drag: { x: false, y: false } },
    series: [
      chart.time
        ? { label: chart.x_label, value: (u, v) => (v == null ? "–" : bucketName(chart, v)) }
        : { label: chart.x_label, value: (u, v) => (v == null ? "–" : (chart.labels || [])[v] ?? "") },
      ...chart.series.map((series, index) => {
        const colour = COLOURS[index % COLOURS.length];
        return bars
          ? { label: series.label, stroke: colour, fill: colour, paths: bars, points: { show: false }, value: (u, v) => label(v) }
          : { label: series.label, stroke: colour, width: 2, value: (u, v) => label(v) };
      }),
    ],
  };
}

function draw(holder) {
  const source = document.getElementById(holder.dataset.chart);
  if (!source || typeof uPlot === "undefined") return;
  const chart = JSON.parse(source.textContent);
  if (!chart.series.length || !chart.x.length) return;
  const data = [chart.x, ...chart.series.map((series) => series.values)];
  holder.classList.add("chart--drawn");
  let width = holder.clientWidth;
  const plot = new uPlot(options(chart, width), data, holder);
  let pending = 0;
  window.addEventListener("resize", () => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(() => {
      if (holder.clientWidth !== width) {
        width = holder.clientWidth;
        plot.setSize({ width, height: HEIGHT });
      }
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  for (const holder of document.querySelectorAll("div[data-chart]")) draw(holder);
});
