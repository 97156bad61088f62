// The Orders dashboard: a hash-routed page per concern, reading only the HTTP API.
// Here: the shared state and helpers, the Analytics and Event store pages, routing and
// sign-in; the other pages have their own modules, loaded before this one (index.html).
"use strict";

const main = document.getElementById("main");
const keyInput = document.getElementById("api-key");
const state = {
  route: 0,           // increases on every navigation; late answers for an older page are dropped
  timers: [],
  onFeed: null,       // the current page's reaction to a live event
  role: null,
  feed: [],           // newest first
  feedIds: new Set(),
  feedHead: null,     // the store's head when the dashboard opened: older items are not "new"
  feedPosition: null, // the newest position the feed delivered
  feedSource: null,
  unseen: 0,
  lastList: "#/orders",
  feedStatus: "connecting",
};
const KEY_STORAGE = "eventbook-api-key";

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
const duration = (seconds) => {
  if (seconds < 10) return `${seconds.toFixed(seconds ? 2 : 0)} s`;
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
};
// A large amount for a KPI tile: "€16.91M", "€706,275"; the exact amount in its tooltip.
const bigMoney = (value, currency = "EUR") => {
  const options = { style: "currency", currency };
  if (Math.abs(value) >= 1e6) Object.assign(options, { notation: "compact", maximumFractionDigits: 2 });
  else if (Math.abs(value) >= 1e5) options.maximumFractionDigits = 0;
  return h("span", { title: money(value, currency) }, new Intl.NumberFormat(undefined, options).format(value));
};
const plural = (n, word, words = `${word}s`) => `${count(n)} ${n === 1 ? word : words}`;
const DATE_TIME = { dateStyle: "medium", timeStyle: "short" };
const when = (iso) => (iso ? new Date(iso).toLocaleString(undefined, DATE_TIME) : "—");
const fullTime = (iso) => (iso ? new Date(iso).toLocaleString(undefined, { dateStyle: "full", timeStyle: "long" }) : "");
const time = (iso, attrs = {}) => h("time", { datetime: iso, title: fullTime(iso), ...attrs }, when(iso));
// Days are calendar dates (YYYY-MM-DD): shown as such, whatever the browser's time zone.
const day = (iso) => new Date(`${iso}T00:00:00Z`).toLocaleDateString(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
const pill = (text) => h("span", { class: `pill ${text}` }, String(text).replace("_", " "));
const orderHref = (orderId) => `#/orders/${encodeURIComponent(orderId)}`;
const orderOfStream = (stream) => (stream.startsWith("order-") ? stream.slice(6) : null);
// A stream, linked to its order's page when it is an order's.
const streamLink = (stream, text = stream) => {
  const orderId = orderOfStream(stream);
  return orderId === null ? h("span", { class: "mono" }, text) : h("a", { href: orderHref(orderId), class: "mono" }, text);
};

function comparePositions(a, b) {
  const parts = (p) => String(p).split(":").map(BigInt);
  const [x, y] = [parts(a), parts(b)];
  const [xMajor, xMinor] = x.length === 2 ? x : [0n, x[0]];
  const [yMajor, yMinor] = y.length === 2 ? y : [0n, y[0]];
  if (xMajor !== yMajor) return xMajor < yMajor ? -1 : 1;
  if (xMinor !== yMinor) return xMinor < yMinor ? -1 : 1;
  return 0;
}

class ApiError extends Error {
  constructor(message, status, problem) {
    super(message);
    this.status = status;
    this.problem = problem;
  }
}

async function api(path, options = {}) {
  const headers = { Accept: "application/json", ...(options.headers || {}) };
  if (keyInput.value) headers["X-API-Key"] = keyInput.value;
  let response;
  try {
    response = await fetch(path, { ...options, headers });
  } catch (error) {
    throw new ApiError("The service cannot be reached", 0, null);
  }
  const text = response.status === 204 ? "" : await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = null; }
  if (!response.ok) {
    const message = body && body.title ? `${body.title}${body.detail ? `: ${body.detail}` : ""}` : `${response.status} ${response.statusText}`;
    throw new ApiError(message, response.status, body);
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

// Each page runs under a token: after an await, `live(token)` says whether it is still shown.
const live = (token) => token === state.route;

function every(token, ms, fn) {
  if (live(token)) state.timers.push(setInterval(fn, ms));
}

// Calls `fn` at once, then at most once per `ms` however often it is asked to.
function throttled(ms, fn) {
  let busy = false;
  let again = false;
  const run = async () => {
    busy = true;
    again = false;
    try { await fn(); } finally {
      setTimeout(() => { busy = false; if (again) run(); }, ms);
    }
  };
  return () => { if (busy) again = true; else run(); };
}

function page(title, ...content) {
  document.title = `${typeof title === "string" ? title : title.textContent} · Orders · eventbook`;
  main.replaceChildren(h("header", { class: "page-head" }, h("h1", {}, title)), ...content.filter((c) => c !== null && c !== undefined));
}

function failed(token, error) {
  if (!live(token)) return;
  main.append(h("div", { class: "card notice error", role: "alert" }, h("strong", {}, "Could not load: "), error.message));
}

function kpi(label, value, attrs = {}) {
  return h("div", { class: "kpi", ...attrs }, h("div", { class: "label" }, label), h("div", { class: "value" }, value));
}

function loadingRow(columns) {
  return emptyRow(columns, "Loading…");
}

function emptyRow(columns, text) {
  return h("tr", { class: "placeholder" }, h("td", { colspan: columns, class: "empty" }, text));
}

function highlight(text, words) {
  if (!words.length) return text;
  const escaped = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  const pieces = String(text).split(new RegExp(`(${escaped.join("|")})`, "gi"));
  return pieces.map((piece, i) => (i % 2 ? h("mark", {}, piece) : piece));
}

function table(columns, body, attrs = {}) {
  return h("div", { class: "table-wrap" },
    h("table", attrs,
      h("thead", {}, h("tr", {}, columns.map((c) => (typeof c === "string" ? h("th", {}, c) : h("th", { class: c.class }, c.label))))),
      body));
}

function eventKind(type) {
  if (/Cancel|Refund/.test(type)) return "bad";
  if (/Payment|Shipped/.test(type)) return "good";
  if (/Placed/.test(type)) return "new";
  return "change";
}

// -- analytics --------------------------------------------------------------------------------

async function analyticsPage(token) {
  const kpis = h("div", { class: "kpis", id: "analytics-kpis" }, ["Orders", "Revenue", "Average order", "Shipped", "Cancelled", "Refunds"].map((k) => kpi(k, "…")));
  const revenue = h("div", { class: "chart", id: "chart-revenue" });
  const orders = h("div", { class: "chart", id: "chart-orders" });
  const products = h("div", { class: "chart", id: "chart-products" });
  page("Analytics",
    h("p", { class: "lead muted" }, "Revenue counts on the day an order is paid and is taken back when it is refunded; amounts in euros at reference rates."),
    kpis,
    h("div", { class: "grid" },
      h("section", { class: "card" }, h("h2", {}, "Revenue per day"), revenue),
      h("section", { class: "card" }, h("h2", {}, "Orders per day"), orders)),
    h("section", { class: "card" }, h("h2", {}, "Top products by revenue"), products));
  const load = async () => {
    const [summary, daily, top] = await Promise.all([
      api("/api/analytics/summary"), api("/api/analytics/daily?days=60"), api("/api/analytics/products?limit=10"),
    ]);
    if (!live(token)) return;
    kpis.replaceChildren(
      kpi("Orders", count(summary.orders)), kpi("Revenue", bigMoney(summary.revenue)),
      kpi("Average order", money(summary.average_order)), kpi("Shipped", count(summary.shipped)),
      kpi("Cancelled", count(summary.cancelled)), kpi("Refunds", bigMoney(summary.refunds || 0)));
    const days = lastDays(daily.items, 60);
    const whole = (v) => money(v).replace(/[.,]00(?=\D*$)/, "");
    Charts.line(revenue, days.map((d) => ({ label: day(d.day), value: Number(d.revenue) })), { format: whole, tooltip: money });
    Charts.bars(orders, days.map((d) => ({ label: day(d.day), value: d.orders })), { format: count, integer: true });
    Charts.horizontal(products, top.items.map((p) => ({ label: p.product, value: Number(p.revenue) })), { format: money });
  };
  try { await load(); } catch (error) { failed(token, error); return; }
  every(token, 10000, () => load().catch(() => {}));
}

// The days with data, with the days between them filled in as zero, up to `limit` days.
function lastDays(items, limit) {
  if (!items.length) return [];
  const byDay = new Map(items.map((d) => [d.day, d]));
  const end = new Date(`${items[items.length - 1].day}T00:00:00Z`);
  const start = new Date(`${items[0].day}T00:00:00Z`);
  const filled = [];
  for (let i = limit - 1; i >= 0; i -= 1) {
    const date = new Date(end.getTime() - i * 86400000);
    if (date < start) continue;
    const key = date.toISOString().slice(0, 10);
    filled.push(byDay.get(key) || { day: key, orders: 0, paid: 0, revenue: 0, shipped: 0, cancelled: 0 });
  }
  return filled;
}

// -- event store ------------------------------------------------------------------------------

async function storePage(token, params) {
  const pageNumber = Math.max(1, Math.floor(Number(params.get("page")) || 1));
  const kpis = h("div", { class: "kpis", id: "store-kpis" }, ["Events", "Streams", "Head position", "Event types"].map((k) => kpi(k, "…")));
  const types = h("div", { class: "chart", id: "chart-types" });
  const streams = h("tbody", {}, loadingRow(3));
  const recent = h("tbody", {}, loadingRow(5));
  const pager = h("div", { class: "pager" });
  page("Event store", kpis,
    h("div", { class: "grid" },
      h("section", { class: "card" }, h("h2", {}, "Events by type"), types),
      h("section", { class: "card" }, h("h2", {}, "Largest streams"),
        table(["Stream", { label: "Events", class: "num" }, "Last write"], streams, { class: "clickable", id: "streams-table" }), pager)),
    h("section", { class: "card" }, h("h2", {}, "Recent events"),
      table([{ label: "Position", class: "num" }, "Stream", { label: "Version", class: "num" }, "Type", "Recorded"], recent, { class: "clickable", id: "recent-events" })));
  const open = (stream) => (e) => {
    const orderId = orderOfStream(stream);
    if (orderId !== null && !e.target.closest("a")) location.hash = orderHref(orderId);
  };
  const load = async () => {
    const [summary, largest, latest] = await Promise.all([
      api("/api/store/summary"), api(`/api/store/streams?page=${pageNumber}&page_size=10`), api("/api/store/events?limit=25"),
    ]);
    if (!live(token)) return;
    kpis.replaceChildren(kpi("Events", count(summary.events)), kpi("Streams", count(summary.streams)),
      kpi("Head position", summary.head || "—"), kpi("Event types", count(summary.by_type.length)));
    Charts.horizontal(types, summary.by_type.map((t) => ({ label: t.type, value: t.count })), { format: count });
    streams.replaceChildren(...largest.items.map((s) => h("tr", { onclick: open(s.stream) },
      h("td", {}, streamLink(s.stream)),
      h("td", { class: "num" }, count(s.events)), h("td", {}, time(s.last_recorded_at)))));
    if (!largest.items.length) streams.append(emptyRow(3, largest.total ? "Past the last page" : "No streams yet"));
    const pages = Math.max(1, Math.ceil(largest.total / largest.page_size));
    pager.replaceChildren(h("span", { class: "muted" }, `page ${count(largest.page)} of ${count(pages)}`), h("span", { class: "spacer" }),
      h("button", { class: "secondary", type: "button", "aria-label": "Previous page", disabled: largest.page <= 1, onclick: () => { location.hash = `#/store?page=${largest.page - 1}`; } }, "‹ Previous"),
      h("button", { class: "secondary", type: "button", "aria-label": "Next page", disabled: largest.page >= pages, onclick: () => { location.hash = `#/store?page=${largest.page + 1}`; } }, "Next ›"));
    recent.replaceChildren(...latest.items.map((e) => h("tr", { onclick: open(e.stream) },
      h("td", { class: "num mono" }, e.position),
      h("td", {}, streamLink(e.stream)),
      h("td", { class: "num" }, e.version),
      h("td", {}, h("span", { class: `event-type ${eventKind(e.type)}` }, e.type)),
      h("td", {}, time(e.recorded_at)))));
    if (!latest.items.length) recent.append(emptyRow(5, "No events yet"));
  };
  try { await load(); } catch (error) { failed(token, error); return; }
  every(token, 5000, () => load().catch(() => {}));
}

// -- routing ----------------------------------------------------------------------------------

function notFound() {
  page("Page not found", h("div", { class: "card empty" }, "There is no such page. ", h("a", { href: "#/orders" }, "Go to the orders")));
}

// Every page reads the API, which needs a key: without a valid one, the sign-in page.
function signInPage() {
  const input = h("input", { id: "sign-in-key", type: "password", autocomplete: "off", spellcheck: "false", "aria-label": "API key to sign in" });
  const submit = async (event) => {
    event.preventDefault();
    await signIn(input.value.trim());
    if (!state.role) toast("This key was not recognised", true);
  };
  page("Sign in",
    h("section", { class: "card", id: "sign-in" },
      h("p", {}, "This dashboard shows customers' orders, so it needs an API key. Open the sign-in link the service printed when it started, or paste a key:"),
      h("form", { onsubmit: submit }, input, " ", h("button", { type: "submit" }, "Sign in")),
      h("p", { class: "muted small" }, "Issue one with ", h("code", {}, "python -m apps.orders keys issue --role reader --name you"), ".")));
}

async function route() {
  state.timers.forEach(clearInterval);
  state.timers = [];
  state.onFeed = null;
  const token = ++state.route;
  const [path, search] = (location.hash.slice(1) || "/orders").split("?");
  const params = new URLSearchParams(search || "");
  const parts = path.split("/").filter(Boolean);
  const section = parts[0] || "orders";
  document.querySelectorAll("nav a").forEach((a) => {
    const active = a.dataset.page === section;
    a.classList.toggle("active", active);
    if (active) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  });
  main.setAttribute("aria-busy", "true");
  try {
    if (!state.role) signInPage();
    else if (section === "orders" && parts.length === 1) await ordersPage(token, params);
    else if (section === "orders" && parts.length === 2) await orderPage(token, decodeURIComponent(parts[1]));
    else if (section === "analytics" && parts.length === 1) await analyticsPage(token);
    else if (section === "feed" && parts.length === 1) feedPage();
    else if (section === "store" && parts.length === 1) await storePage(token, params);
    else if (section === "projections" && parts.length === 1) await projectionsPage(token);
    else if (section === "operations" && parts.length === 1) await operationsPage(token); // operations.js
    else notFound();
  } finally {
    if (live(token)) main.setAttribute("aria-busy", "false");
  }
}

async function checkKey() {
  // localStorage: a new tab of the dashboard stays signed in; clearing the key signs out.
  if (keyInput.value) localStorage.setItem(KEY_STORAGE, keyInput.value);
  else localStorage.removeItem(KEY_STORAGE);
  const label = document.getElementById("key-role");
  state.role = null;
  try {
    if (keyInput.value) state.role = (await api("/api/whoami")).role;
    label.textContent = state.role ? `Signed in as ${state.role}` : "";
    label.className = "small key-state ok";
  } catch (error) {
    if (error.status === 401) localStorage.removeItem(KEY_STORAGE);
    label.textContent = "Key not recognised";
    label.className = "small key-state bad";
  }
}

document.getElementById("key-form").addEventListener("submit", (e) => e.preventDefault());
// The sign-in link printed at start-up, #/sign-in?key=…: its key, taken out of the address bar
// and the history (a fragment never reaches the server or its logs); null for other addresses.
function signInLinkKey() {
  if (!location.hash.startsWith("#/sign-in")) return null;
  const given = new URLSearchParams(location.hash.split("?")[1] || "").get("key");
  history.replaceState(null, "", `${location.pathname}${location.search}#/orders`);
  return given;
}

async function signIn(key) {
  keyInput.value = key;
  if (state.feedSource) { state.feedSource.close(); state.feedSource = null; } // opened as another key
  await checkKey();
  if (state.role) startFeed();
  route();
}

window.addEventListener("hashchange", () => {
  const key = signInLinkKey();
  if (key) signIn(key); else route();
});
keyInput.addEventListener("change", () => signIn(keyInput.value.trim()));
signIn(signInLinkKey() || localStorage.getItem(KEY_STORAGE) || "");
