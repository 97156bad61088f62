// The Projections page: each read model's build, its lag and parked events, and blue/green
// rebuilds: the next version is built beside the live one (listed under it, state
// "rebuilding", with events done, rate and ETA) while readers keep the live one, then
// readers switch to it. A partitioned build lists one row per partition under its own
// (position, lag, lease holder), its own lag being the worst partition's.
// Uses app.js's helpers (h, api, page, live, every, table, ...).
"use strict";

const REBUILD_POLL = 700; // ms between status reads while a rebuild runs (2 s otherwise)

async function projectionsPage(token) {
  const columns = ["Projection", "State", { label: "Position", class: "num" }, { label: "Lag (events)", class: "num" },
    { label: "Behind by", class: "num" }, { label: "Parked", class: "num" }, "Last error", ""];
  const body = h("tbody", {}, loadingRow(columns.length));
  const parked = h("div");
  if (state.role !== "operator") {
    page("Projections", h("div", { class: "card empty", id: "needs-operator" },
      "Projections, their parked events and rebuilds are for operators: sign in with an operator API key."));
    return;
  }
  page("Projections",
    h("p", { class: "lead muted" }, "Each read model is a projection of the event store. ",
      "Rebuild builds the next version beside the live one; readers keep the live one until the new one has caught up."),
    h("section", { class: "card flush" }, table(columns, body, { id: "projections-table" })),
    parked);
  let rebuilding = false;
  const load = async () => {
    const result = await api("/api/projections");
    if (!live(token)) return;
    rebuilding = result.items.some((p) => p.state === "rebuilding");
    body.replaceChildren(...result.items.flatMap((p) => (p.state === "rebuilding"
      ? [buildRow(p, columns.length), ...partitionRows(p)]
      : [projectionRow(p, result.items, load), ...partitionRows(p), outcomeRow(p, columns.length)].filter(Boolean))));
    if (!result.items.length) body.append(emptyRow(columns.length, "No projections"));
    const withParked = result.items.filter((p) => p.parked > 0 && p.active);
    const cards = await Promise.all(withParked.map(async (p) => {
      const list = await api(`/api/projections/${encodeURIComponent(p.name)}/parked`);
      return h("section", { class: "card" }, h("h2", {}, `Parked events of ${p.name}`),
        table([{ label: "Position", class: "num" }, "Event type", "Error", { label: "Attempts", class: "num" }],
          h("tbody", {}, list.items.map((x) => h("tr", {},
            h("td", { class: "num mono" }, x.position), h("td", {}, x.type),
            h("td", { class: "wrap small error-text" }, x.error), h("td", { class: "num" }, x.attempts))))));
    }));
    if (live(token)) parked.replaceChildren(...cards);
  };
  try { await load(); } catch (error) { failed(token, error); return; }
  let last = 0;
  every(token, REBUILD_POLL, () => {
    if (!rebuilding && Date.now() - last < 2000) return;
    last = Date.now();
    load().catch(() => {});
  });
}

// A build readers see (or a retired one), with its Rebuild button.
function projectionRow(p, items, reload) {
  const running = items.some((other) => other.name === p.name && other.state === "rebuilding");
  const parts = (p.partitions || []).length;
  return h("tr", { "data-projection": p.name, "data-partitions": parts || null },
    h("td", {}, h("strong", {}, p.name), " ", h("span", { class: "muted small" }, `v${p.version}`),
      parts ? h("span", { class: "muted small" }, ` · ${parts} partitions`) : null),
    h("td", {}, pill(p.stuck ? "stuck" : p.state)),
    h("td", { class: "num mono", title: parts ? "the slowest partition's" : null }, p.position || "—"),
    h("td", { class: p.lag_events > 0 ? "num warn" : "num", title: parts ? "the worst partition's" : null },
      count(p.lag_events), p.lag_exact === false ? "+" : ""),
    h("td", { class: "num", title: `${p.lag_seconds.toFixed(2)} s` }, duration(p.lag_seconds)),
    h("td", { class: p.parked > 0 ? "num bad" : "num" }, count(p.parked)),
    h("td", { class: "wrap small error-text" }, p.last_error || ""),
    h("td", { class: "actions" }, h("button", {
      class: "secondary small", type: "button", "data-rebuild": p.name, disabled: running,
      title: running ? "A rebuild of this projection is under way" : `Build v${p.version + 1} beside v${p.version}, then switch readers to it`,
      onclick: () => confirmRebuild(p, reload),
    }, running ? "Rebuilding…" : "Rebuild")));
}

// One row per partition of a partitioned build, under the build's row: where it stands,
// how far behind, and which daemon holds its lease (none: the partition is stopped).
function partitionRows(p) {
  const build = `${p.name}@v${p.version}`;
  return (p.partitions || []).map((part) => h("tr", { class: "partition-row", "data-partition": `${build}#${part.partition}` },
    h("td", {}, h("span", { class: "muted" }, "↳ "), `partition ${part.partition}`),
    h("td", {}, pill(part.state)),
    h("td", { class: "num mono" }, part.position || "—"),
    h("td", { class: part.lag_events > 0 ? "num warn" : "num", "data-lag": "" }, count(part.lag_events), part.lag_exact === false ? "+" : ""),
    h("td", { class: "num", title: `${part.lag_seconds.toFixed(2)} s` }, duration(part.lag_seconds)),
    h("td", { class: "small", "data-lease": "", colspan: 2 },
      part.owner ? h("span", { class: "mono" }, `lease: ${part.owner}`) : h("span", { class: "muted" }, "lease: not held"),
      part.last_error ? h("span", { class: "error-text" }, ` · ${part.last_error}`) : null),
    h("td", {})));
}

// The build a rebuild makes: state "rebuilding", its progress, under the live build.
function buildRow(p, columns) {
  const r = p.rebuild || {};
  const done = r.events_done || 0;
  const remaining = r.events_remaining;
  const total = remaining === null || remaining === undefined ? null : done + remaining;
  const bar = h("progress", { max: total || 1, value: total ? done : 0, "aria-label": `Rebuild of ${p.name}` });
  const eta = r.eta_seconds === null || r.eta_seconds === undefined ? "—" : duration(r.eta_seconds);
  const phase = { building: "catching up beside the live build", switching: "switching readers" }[r.phase] || r.phase;
  return h("tr", { class: "rebuild-row", "data-building": p.name },
    h("td", {}, h("span", { class: "muted" }, "↳ "), h("strong", {}, p.name), " ", h("span", { class: "muted small" }, `v${p.version}`)),
    h("td", {}, pill("rebuilding")),
    h("td", { colspan: columns - 2, class: "wrap" },
      h("div", { class: "rebuild-progress" }, bar,
        h("span", { class: "small", "data-progress": "" },
          `${count(done)}${total === null ? "" : ` of ${count(total)}${r.events_remaining_exact === false ? "+" : ""}`} events`,
          ` · ${count(Math.round(r.rate || 0))} events/s · ETA ${eta} · ${phase}`)),
      h("div", { class: "muted small" }, `Readers keep v${r.from_version} until v${r.to_version} has caught up.`)));
}

// How the latest rebuild of a live build ended, while it is recent (or if it failed).
function outcomeRow(p, columns) {
  const r = p.rebuild;
  if (!p.active || !r || r.phase === "building" || r.phase === "switching") return null;
  const recent = r.finished_at && Date.now() / 1000 - r.finished_at < 120;
  if (r.phase !== "failed" && r.phase !== "retiring" && !recent) return null;
  const text = {
    failed: `Rebuild of v${r.to_version} failed: ${r.error}. Readers stayed on v${r.from_version}.`,
    retiring: `Readers switched to v${r.to_version}; dropping v${r.from_version}…`,
    done: `Rebuilt: readers switched from v${r.from_version} to v${r.to_version} after ${count(r.events_done)} events.`,
  }[r.phase];
  return h("tr", { class: "rebuild-outcome", "data-outcome": p.name, "data-phase": r.phase },
    h("td", { colspan: columns, class: `wrap small ${r.phase === "failed" ? "error-text" : "muted"}` }, text));
}

// Asks before rebuilding: it replays the whole history into a new build.
function confirmRebuild(p, reload) {
  const dialog = h("dialog", { class: "confirm", id: "rebuild-dialog", "aria-labelledby": "rebuild-title" });
  const close = () => { dialog.close(); dialog.remove(); };
  dialog.append(
    h("h2", { id: "rebuild-title" }, `Rebuild ${p.name}?`),
    h("p", {}, `Version ${p.version + 1} is built from the start of history beside version ${p.version}. `,
      `Readers keep version ${p.version} until the new one has caught up, then switch to it; version ${p.version} is dropped.`),
    h("div", { class: "dialog-actions" },
      h("button", { type: "button", class: "secondary", onclick: close }, "Cancel"),
      h("button", { type: "button", onclick: async () => { close(); await rebuild(p.name); await reload().catch(() => {}); } },
        `Rebuild ${p.name}`)));
  document.body.append(dialog);
  dialog.showModal();
}

async function rebuild(name) {
  if (!keyInput.value) { toast("Sign in with an operator API key to rebuild a projection", true); return; }
  try {
    const started = await api(`/api/projections/${encodeURIComponent(name)}/rebuild`, { method: "POST" });
    toast(`Rebuilding ${name}: v${started.to_version} beside v${started.from_version}`);
  } catch (error) { toast(error.message, true); }
}
