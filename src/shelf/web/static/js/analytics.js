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

function xAxis(chart, width) {
  if (chart.time) return { ...AXIS };
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
  const x = chart.time
    ? { time: true }
    : { time: false, range: (u, min, max) => [min - (bars ? 0.5 : 0), max + (bars ? 0.5 : 0)] };
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
      chart.time ? {} : { value: (u, v) => (v == null ? "–" : (chart.labels || [])[v] ?? "") },
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
