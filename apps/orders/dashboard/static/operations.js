// The Operations page: the service's own metrics over the last minutes (sampled from its
// Prometheus registry by /api/operations/history), its readiness checks, and the store's
// largest streams. Uses app.js's helpers (h, api, page, live, every, kpi, table, ...).
"use strict";

const OPS_CHART = { height: 160 };

const clock = (at) => new Date(at * 1000).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const millis = (seconds) => (seconds === null || seconds === undefined ? "—" : `${(seconds * 1000).toFixed(seconds < 0.01 ? 2 : 1)} ms`);
const perSecond = (value) => `${value.toFixed(value < 10 ? 1 : 0)}/s`;
const bytes = (value) => {
  if (value === null || value === undefined) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let n = value;
  let unit = 0;
  while (n >= 1024 && unit < units.length - 1) { n /= 1024; unit += 1; }
  return `${n.toFixed(unit ? 1 : 0)} ${units[unit]}`;
};

function opsChart(id, title) {
  const container = h("div", { class: "chart", id });
  return { card: h("section", { class: "card" }, h("h2", {}, title), container), container };
}

// One line chart of `pick(point)` over the points; a missing value (no samples) counts as 0.
function drawOps(chart, points, pick, format) {
  Charts.line(chart.container, points.map((p) => ({ label: clock(p.at), value: pick(p) ?? 0 })),
    { ...OPS_CHART, format, tooltip: format });
}

function readinessTable(readiness) {
  const rows = readiness.checks.map((check) => h("tr", { "data-check": check.name },
    h("td", {}, h("strong", {}, check.name)),
    h("td", {}, pill(check.ok ? "ok" : "failed")),
    h("td", { class: "wrap small" }, check.detail)));
  return table(["Check", "Result", "Detail"], h("tbody", {}, rows), { id: "readiness-table" });
}

function streamsTable(sizes) {
  if (!sizes.supported) return h("p", { class: "muted" }, `Not available: ${sizes.detail}`);
  const rows = sizes.largest_streams.map((s) => h("tr", { "data-stream": s.stream },
    h("td", {}, streamLink(s.stream)), h("td", { class: "num" }, count(s.events)), h("td", { class: "num" }, bytes(s.bytes))));
  return h("div", {},
    h("p", { class: "muted small" }, `${count(sizes.events)} events in ${count(sizes.streams)} streams, ${bytes(sizes.bytes_on_disk)} on disk`),
    table(["Stream", { label: "Events", class: "num" }, { label: "Size", class: "num" }], h("tbody", {}, rows), { id: "largest-streams" }));
}

// Under a partitioned build's lag chart (which draws the worst partition's lag): each
// partition's events behind in the latest sample.
function showPartitions(chart, lag) {
  const parts = lag && lag.partitions ? Object.entries(lag.partitions) : [];
  let line = chart.card.querySelector(".partition-lags");
  if (!parts.length) { if (line) line.remove(); return; }
  if (!line) { line = h("p", { class: "partition-lags muted small" }); chart.card.append(line); }
  line.replaceChildren(`Worst of ${parts.length} partitions. Now: `,
    ...parts.flatMap(([partition, events], i) => [i ? " · " : "",
      h("span", { "data-partition": partition, class: events > 0 ? "warn" : null }, `#${partition} ${count(events)}`)]));
}

async function operationsPage(token) {
  const kpis = h("div", { class: "kpis", id: "operations-kpis" },
    ["Commands", "Command p50", "Command p99", "Appends", "Append p99", "Held back"].map((k) => kpi(k, "…")));
  const charts = {
    commands: opsChart("chart-commands", "Commands per second"),
    commandP50: opsChart("chart-command-p50", "Command latency p50"),
    commandP99: opsChart("chart-command-p99", "Command latency p99"),
    appends: opsChart("chart-appends", "Appends per second"),
    appendP50: opsChart("chart-append-p50", "Append latency p50"),
    appendP99: opsChart("chart-append-p99", "Append latency p99"),
    heldBack: opsChart("chart-held-back", "Held-back events (PostgreSQL ordering horizon)"),
  };
  const lags = h("div", { class: "grid", id: "projection-lags" });
  const ready = h("section", { class: "card", id: "readiness" }, h("h2", {}, "Readiness"), h("p", { class: "muted" }, "Loading…"));
  const streams = h("section", { class: "card", id: "store-sizes" }, h("h2", {}, "Largest streams"), h("p", { class: "muted" }, "Loading…"));
  page("Operations",
    h("p", { class: "lead muted" }, "The service's own metrics, sampled every few seconds over the last minutes: the same values /metrics serves."),
    kpis,
    h("div", { class: "grid" }, Object.values(charts).map((c) => c.card)),
    h("h2", { class: "section-title" }, "Projection lag"),
    lags,
    h("div", { class: "grid" }, ready, streams));
  const lagCharts = new Map();
  const load = async () => {
    const history = await api("/api/operations/history");
    if (!live(token)) return;
    const points = history.points;
    const last = points[points.length - 1];
    kpis.replaceChildren(
      kpi("Commands", last ? perSecond(last.command.per_second) : "—"),
      kpi("Command p50", millis(last && last.command.p50)), kpi("Command p99", millis(last && last.command.p99)),
      kpi("Appends", last ? perSecond(last.append.per_second) : "—"), kpi("Append p99", millis(last && last.append.p99)),
      kpi("Held back", last && last.held_back !== null ? count(last.held_back) : "—"));
    drawOps(charts.commands, points, (p) => p.command.per_second, perSecond);
    drawOps(charts.commandP50, points, (p) => p.command.p50, millis);
    drawOps(charts.commandP99, points, (p) => p.command.p99, millis);
    drawOps(charts.appends, points, (p) => p.append.per_second, perSecond);
    drawOps(charts.appendP50, points, (p) => p.append.p50, millis);
    drawOps(charts.appendP99, points, (p) => p.append.p99, millis);
    drawOps(charts.heldBack, points, (p) => p.held_back, count);
    const builds = [...new Set(points.flatMap((p) => Object.keys(p.lag)))].sort();
    if (builds.length && !lagCharts.size) lags.replaceChildren();
    for (const build of builds) {
      if (!lagCharts.has(build)) {
        const chart = opsChart(`chart-lag-${build.replace(/[^A-Za-z0-9_-]/g, "-")}`, `${build}: events behind`);
        chart.card.dataset.projection = build;
        lagCharts.set(build, chart);
        lags.append(chart.card);
      }
      const chart = lagCharts.get(build);
      drawOps(chart, points, (p) => (p.lag[build] ? p.lag[build].events : 0), count);
      showPartitions(chart, last && last.lag[build]);
    }
    if (!builds.length) lags.replaceChildren(h("p", { class: "muted" }, "No samples yet."));
    ready.replaceChildren(h("h2", {}, "Readiness ", pill(history.readiness.status === "ready" ? "ready" : "not ready")),
      readinessTable(history.readiness));
  };
  const loadSizes = async () => {
    const sizes = await api("/api/operations/store-sizes?top=10");
    if (live(token)) streams.replaceChildren(h("h2", {}, "Largest streams"), streamsTable(sizes));
  };
  try { await Promise.all([load(), loadSizes()]); } catch (error) { failed(token, error); return; }
  every(token, 5000, () => load().catch(() => {}));
  every(token, 30000, () => loadSizes().catch(() => {}));
}
