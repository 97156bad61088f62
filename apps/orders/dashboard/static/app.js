// The Orders dashboard: a hash-routed page per concern, reading only the HTTP API.
"use strict";

const main = document.getElementById("main");
const keyInput = document.getElementById("api-key");
const state = { feed: [], feedSource: null, unseen: 0, timers: [], role: null };

// -- helpers --------------------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, "");
    else if (value !== false && value !== null && value !== undefined) el.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

const money = (value, currency = "EUR") =>
  new Intl.NumberFormat(undefined, { style: "currency", currency }).format(value);
const count = (value) => new Intl.NumberFormat().format(value);
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "—");
const day = (iso) => new Date(iso).toLocaleDateString(undefined, { month: "short", day: "numeric" });
const pill = (text) => h("span", { class: `pill ${text}` }, text.replace("_", " "));

async function api(path, options = {}) {
  const headers = { Accept: "application/json", ...(options.headers || {}) };
  if (keyInput.value) headers["X-API-Key"] = keyInput.value;
  const response = await fetch(path, { ...options, headers });
  const body = response.status === 204 ? null : await response.json();
  if (!response.ok) {
    const message = body && (body.detail || body.title) ? `${body.title}: ${body.detail || ""}` : response.statusText;
    throw new Error(message);
  }
  return body;
}

function toast(message, isError = false) {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.className = isError ? "toast error" : "toast";
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, 4000);
}

function every(ms, fn) {
  state.timers.push(setInterval(fn, ms));
}

function page(title, ...content) {
  main.replaceChildren(h("h1", {}, title), ...content);
}

function failed(error) {
  main.append(h("div", { class: "card" }, h("strong", {}, "Could not load: "), error.message));
}

// -- orders -----------------------------------------------------------------------------------

async function ordersPage(params) {
  const query = {
    q: params.get("q") || "", status: params.get("status") || "",
    page: Number(params.get("page") || 1), page_size: 25,
  };
  const search = h("input", { type: "search", placeholder: "Search customer, product, address…", value: query.q, "aria-label": "search" });
  const status = h("select", { "aria-label": "status" },
    ["", "placed", "paid", "shipped", "cancelled"].map((s) =>
      h("option", { value: s, selected: s === query.status }, s || "any status")));
  const go = (pageNumber = 1) => {
    const next = new URLSearchParams({ q: search.value, status: status.value, page: pageNumber });
    location.hash = `#/orders?${next}`;
  };
  search.addEventListener("keydown", (e) => { if (e.key === "Enter") go(); });
  status.addEventListener("change", () => go());
  const body = h("tbody");
  const info = h("span", { class: "muted" });
  const prev = h("button", { class: "secondary", onclick: () => go(query.page - 1) }, "‹ Previous");
  const next = h("button", { class: "secondary", onclick: () => go(query.page + 1) }, "Next ›");
  page("Orders",
    h("div", { class: "toolbar" }, search, status, h("button", { onclick: () => go() }, "Search")),
    h("div", { class: "card" },
      h("table", { id: "orders-table" },
        h("thead", {}, h("tr", {}, ["Order", "Customer", "Status", "Items", "Total", "Placed", "Updated"].map((c, i) =>
          h("th", { class: i === 3 || i === 4 ? "num" : "" }, c)))),
        body),
      h("div", { class: "pager" }, info, prev, next)));
  const url = new URLSearchParams({ page: query.page, page_size: query.page_size });
  if (query.q) url.set("q", query.q);
  if (query.status) url.set("status", query.status);
  try {
    const result = await api(`/api/orders?${url}`);
    body.replaceChildren(...result.items.map((o) =>
      h("tr", { onclick: () => { location.hash = `#/orders/${o.order_id}`; }, "data-order": o.order_id },
        h("td", {}, h("code", {}, o.order_id)),
        h("td", {}, o.customer), h("td", {}, pill(o.status)),
        h("td", { class: "num" }, o.item_count), h("td", { class: "num" }, money(o.total, o.currency)),
        h("td", {}, when(o.placed_at)), h("td", {}, when(o.updated_at)))));
    if (!result.items.length) body.append(h("tr", {}, h("td", { colspan: 7, class: "empty" }, "No orders match")));
    const pages = Math.max(1, Math.ceil(result.total / result.page_size));
    info.textContent = `${count(result.total)} orders · page ${result.page} of ${count(pages)}`;
    prev.disabled = result.page <= 1;
    next.disabled = result.page >= pages;
  } catch (error) { failed(error); }
}

async function orderPage(orderId) {
  page(`Order ${orderId}`, h("div", { class: "muted" }, "Loading…"));
  let history;
  try {
    history = await api(`/api/orders/${orderId}/events`);
  } catch (error) { page("Order"); failed(error); return; }
  const events = history.items;
  const latest = events.length;
  const slider = h("input", { type: "range", min: 1, max: latest, value: latest, id: "version-slider", "aria-label": "version" });
  const label = h("strong", { id: "version-label" });
  const stateView = h("pre", { id: "state-view" });
  const timeline = h("ol", { class: "timeline", id: "timeline" });
  const summary = h("div", { class: "kpis", id: "order-kpis" });

  const show = async (version) => {
    label.textContent = `version ${version} of ${latest}`;
    [...timeline.children].forEach((li, i) => li.classList.toggle("future", i >= version));
    try {
      const view = await api(`/api/orders/${orderId}/state?version=${version}`);
      stateView.textContent = JSON.stringify(view.state, null, 2);
      const s = view.state;
      summary.replaceChildren(
        kpi("Status", pill(s.status || "—")), kpi("Total", money(s.total || 0, s.currency || "EUR")),
        kpi("Items", (s.items || []).length), kpi("Customer", s.customer || "—"));
    } catch (error) { stateView.textContent = error.message; }
  };
  slider.addEventListener("input", () => show(Number(slider.value)));
  timeline.replaceChildren(...events.map((e) =>
    h("li", {},
      h("div", { class: "v" }, `v${e.version}`),
      h("div", {},
        h("div", {}, h("span", { class: "type" }, e.type), " ", h("span", { class: "muted small" }, when(e.recorded_at))),
        h("div", { class: "meta" },
          metaLine("command", e.metadata.command_type || e.metadata.command_id),
          metaLine("actor", e.metadata.actor),
          metaLine("correlation", e.metadata.correlation_id),
          metaLine("causation", e.metadata.causation_id),
          metaLine("position", e.position)),
        h("details", {}, h("summary", { class: "small muted" }, "data"), h("pre", {}, JSON.stringify(e.data, null, 2)))))));
  page(`Order ${orderId}`,
    summary,
    h("div", { class: "grid" },
      h("div", { class: "card" }, h("h2", {}, "State at a version"),
        h("div", { class: "slider" }, slider, label), stateView),
      h("div", { class: "card" }, h("h2", {}, `Timeline (${latest} events)`), timeline)));
  await show(latest);
}

function metaLine(name, value) {
  return value === undefined || value === null ? null : h("span", {}, `${name} `, h("code", {}, String(value)), " · ");
}

function kpi(label, value) {
  return h("div", { class: "kpi" }, h("div", { class: "label" }, label), h("div", { class: "value" }, value));
}

// -- analytics --------------------------------------------------------------------------------

async function analyticsPage() {
  const kpis = h("div", { class: "kpis" });
  const revenue = h("div", { class: "chart", id: "chart-revenue" });
  const orders = h("div", { class: "chart", id: "chart-orders" });
  const products = h("div", { class: "chart", id: "chart-products" });
  page("Analytics", kpis,
    h("div", { class: "grid" },
      h("div", { class: "card" }, h("h2", {}, "Revenue per day"), revenue),
      h("div", { class: "card" }, h("h2", {}, "Orders per day"), orders)),
    h("div", { class: "card" }, h("h2", {}, "Top products by revenue"), products));
  try {
    const [summary, daily, top] = await Promise.all([
      api("/api/analytics/summary"), api("/api/analytics/daily?days=60"), api("/api/analytics/products?limit=10"),
    ]);
    kpis.replaceChildren(
      kpi("Orders", count(summary.orders)), kpi("Revenue", money(summary.revenue)),
      kpi("Average order", money(summary.average_order)), kpi("Shipped", count(summary.shipped)),
      kpi("Cancelled", count(summary.cancelled)));
    const points = daily.items.map((d) => ({ label: day(d.day), value: d.revenue }));
    Charts.line(revenue, points, { format: (v) => money(v).replace(/\.00$/, "") });
    Charts.bars(orders, daily.items.map((d) => ({ label: day(d.day), value: d.orders })), { format: (v) => count(Math.round(v)) });
    Charts.horizontal(products, top.items.map((p) => ({ label: p.product, value: p.revenue })), { format: (v) => money(v) });
  } catch (error) { failed(error); }
}

// -- live feed --------------------------------------------------------------------------------

function startFeed() {
  if (state.feedSource) return;
  const source = new EventSource("/api/feed");
  source.addEventListener("event", (message) => {
    const item = JSON.parse(message.data);
    state.feed.unshift(item);
    state.feed.length = Math.min(state.feed.length, 200);
    const list = document.getElementById("feed-list");
    if (list) list.prepend(feedItem(item));
    else {
      state.unseen += 1;
      const badge = document.getElementById("feed-badge");
      badge.hidden = false;
      badge.textContent = state.unseen;
    }
  });
  state.feedSource = source;
}

function feedItem(item) {
  return h("li", { "data-stream": item.stream },
    h("span", { class: "muted small" }, new Date(item.recorded_at).toLocaleTimeString()),
    h("strong", {}, item.type),
    h("a", { href: `#/orders/${item.stream.replace(/^order-/, "")}` }, item.stream),
    h("span", { class: "muted small" }, `v${item.version} · position ${item.position}`));
}

function feedPage() {
  state.unseen = 0;
  document.getElementById("feed-badge").hidden = true;
  page("Live feed",
    h("p", { class: "muted" }, "Events appear here the moment they are committed."),
    h("div", { class: "card" }, h("ul", { class: "feed", id: "feed-list" }, state.feed.map(feedItem))));
}

// -- event store ------------------------------------------------------------------------------

async function storePage(params) {
  const pageNumber = Number(params.get("page") || 1);
  const kpis = h("div", { class: "kpis" });
  const types = h("div", { class: "chart" });
  const streams = h("tbody");
  const recent = h("tbody");
  const pager = h("div", { class: "pager" });
  page("Event store", kpis,
    h("div", { class: "grid" },
      h("div", { class: "card" }, h("h2", {}, "Events by type"), types),
      h("div", { class: "card" }, h("h2", {}, "Largest streams"),
        h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Stream"), h("th", { class: "num" }, "Events"), h("th", {}, "Last write"))), streams), pager)),
    h("div", { class: "card" }, h("h2", {}, "Recent events"),
      h("table", {}, h("thead", {}, h("tr", {}, ["Position", "Stream", "Version", "Type", "Recorded"].map((c) => h("th", {}, c)))), recent)));
  const load = async () => {
    const [summary, largest, latest] = await Promise.all([
      api("/api/store/summary"), api(`/api/store/streams?page=${pageNumber}&page_size=10`), api("/api/store/events?limit=25"),
    ]);
    kpis.replaceChildren(kpi("Events", count(summary.events)), kpi("Streams", count(summary.streams)),
      kpi("Head position", summary.head || "—"), kpi("Event types", summary.by_type.length));
    Charts.horizontal(types, summary.by_type.map((t) => ({ label: t.type, value: t.count })), { format: count });
    streams.replaceChildren(...largest.items.map((s) => h("tr", { onclick: () => { location.hash = `#/orders/${s.stream.replace(/^order-/, "")}`; } },
      h("td", {}, s.stream), h("td", { class: "num" }, count(s.events)), h("td", {}, when(s.last_recorded_at)))));
    const pages = Math.max(1, Math.ceil(largest.total / largest.page_size));
    pager.replaceChildren(h("span", { class: "muted" }, `page ${largest.page} of ${count(pages)}`),
      h("button", { class: "secondary", disabled: largest.page <= 1, onclick: () => { location.hash = `#/store?page=${largest.page - 1}`; } }, "‹"),
      h("button", { class: "secondary", disabled: largest.page >= pages, onclick: () => { location.hash = `#/store?page=${largest.page + 1}`; } }, "›"));
    recent.replaceChildren(...latest.items.map((e) => h("tr", {},
      h("td", {}, e.position), h("td", {}, e.stream), h("td", {}, e.version), h("td", {}, e.type), h("td", {}, when(e.recorded_at)))));
  };
  try { await load(); every(5000, () => load().catch(() => {})); } catch (error) { failed(error); }
}

// -- projections ------------------------------------------------------------------------------

async function projectionsPage() {
  const body = h("tbody");
  const parked = h("div");
  page("Projections",
    h("div", { class: "card" }, h("table", { id: "projections-table" },
      h("thead", {}, h("tr", {}, ["Projection", "State", "Position", "Lag (events)", "Lag (s)", "Parked", "Last error", ""].map((c) => h("th", {}, c)))), body)),
    parked);
  const load = async () => {
    const result = await api("/api/projections");
    body.replaceChildren(...result.items.map((p) => h("tr", {},
      h("td", {}, h("strong", {}, p.name)), h("td", {}, pill(p.state)), h("td", {}, p.position || "—"),
      h("td", { class: "num" }, count(p.lag_events)), h("td", { class: "num" }, p.lag_seconds.toFixed(2)),
      h("td", { class: "num" }, p.parked), h("td", { class: "wrap small" }, p.last_error || ""),
      h("td", {}, h("button", {
        class: "secondary", "data-rebuild": p.name, disabled: state.role !== "writer",
        title: state.role === "writer" ? "Replay this projection from the start of history" : "Needs a writer API key",
        onclick: (e) => { e.stopPropagation(); rebuild(p.name); },
      }, "Rebuild")))));
    const withParked = result.items.filter((p) => p.parked > 0);
    parked.replaceChildren(...await Promise.all(withParked.map(async (p) => {
      const list = await api(`/api/projections/${p.name}/parked`);
      return h("div", { class: "card" }, h("h2", {}, `Parked events of ${p.name}`),
        h("table", {}, h("tbody", {}, list.items.map((x) => h("tr", {},
          h("td", {}, x.position), h("td", {}, x.event_type), h("td", { class: "wrap small" }, x.error), h("td", {}, x.attempts))))));
    })));
  };
  try { await load(); every(2000, () => load().catch(() => {})); } catch (error) { failed(error); }
}

async function rebuild(name) {
  if (!keyInput.value) { toast("Enter a writer API key to rebuild a projection", true); return; }
  try {
    await api(`/api/projections/${name}/rebuild`, { method: "POST" });
    toast(`Rebuilding ${name} from the start of history`);
  } catch (error) { toast(error.message, true); }
}

// -- routing ----------------------------------------------------------------------------------

async function route() {
  state.timers.forEach(clearInterval);
  state.timers = [];
  const [path, search] = (location.hash.slice(1) || "/orders").split("?");
  const params = new URLSearchParams(search || "");
  const parts = path.split("/").filter(Boolean);
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.dataset.page === parts[0]));
  if (parts[0] === "orders" && parts[1]) return orderPage(decodeURIComponent(parts[1]));
  if (parts[0] === "analytics") return analyticsPage();
  if (parts[0] === "feed") return feedPage();
  if (parts[0] === "store") return storePage(params);
  if (parts[0] === "projections") return projectionsPage();
  return ordersPage(params);
}

async function checkKey() {
  sessionStorage.setItem("eventbook-api-key", keyInput.value);
  const label = document.getElementById("key-role");
  state.role = null;
  try {
    if (keyInput.value) state.role = (await api("/api/whoami")).role;
    label.textContent = state.role ? `role: ${state.role}` : "";
  } catch (error) { label.textContent = "key not recognised"; }
}

keyInput.value = sessionStorage.getItem("eventbook-api-key") || "";
keyInput.addEventListener("change", async () => { await checkKey(); route(); });
if (keyInput.value) checkKey();
window.addEventListener("hashchange", route);
startFeed();
route();
