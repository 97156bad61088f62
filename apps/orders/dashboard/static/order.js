// One order's page: its state at any version as a readable panel (items, totals, address;
// the raw JSON one click away), its timeline, and, for writers, the commands that change it
// (commands.js). Uses app.js's helpers (h, api, page, live, kpi, table, ...).
"use strict";

async function orderPage(token, orderId) {
  const back = h("a", { class: "back", href: state.lastList }, "← Orders");
  const title = () => h("span", {}, "Order ", h("span", { class: "mono" }, orderId));
  page(title(), back, h("div", { class: "muted" }, "Loading…"));
  let history;
  try {
    history = await api(`/api/orders/${encodeURIComponent(orderId)}/events`);
  } catch (error) {
    if (!live(token)) return;
    page(title(), back);
    if (error.status === 404 || error.status === 422) main.append(h("div", { class: "card empty", id: "order-missing" }, `There is no order ${orderId}.`));
    else failed(token, error);
    return;
  }
  if (!live(token)) return;
  const events = history.items;
  const latest = events.length;
  const slider = h("input", {
    type: "range", min: 1, max: latest, value: latest, step: 1, id: "version-slider",
    "aria-label": "Version", disabled: latest < 2,
  });
  const label = h("strong", { id: "version-label" });
  const caption = h("div", { class: "caption", id: "version-event" });
  const panel = h("div", { id: "order-panel", class: "order-panel", "data-pending": "false" });
  const stateView = h("pre", { id: "state-view", class: "json", tabindex: 0, "aria-label": "State at the chosen version" });
  const raw = h("details", { class: "raw-json", id: "raw-json" }, h("summary", {}, "Raw JSON"), stateView);
  const timeline = h("ol", { class: "timeline", id: "timeline" });
  const summary = h("div", { class: "kpis", id: "order-kpis" });
  const states = new Map(); // version → Promise of the state
  const stateAt = (version) => {
    if (!states.has(version)) {
      const loaded = api(`/api/orders/${encodeURIComponent(orderId)}/state?version=${version}`).then((v) => v.state);
      loaded.catch(() => states.delete(version));
      states.set(version, loaded);
    }
    return states.get(version);
  };
  const showSummary = (now) => {
    const address = now.shipping_address || {};
    summary.replaceChildren(
      kpi("Status", pill(now.status || "—")),
      kpi("Customer", now.customer || "—", { class: "kpi text", title: [address.street, address.postcode, address.city, address.country].filter(Boolean).join(", ") }),
      kpi("Items", (now.items || []).length),
      kpi("Total", money(now.total || 0, now.currency || "EUR")),
      kpi("Paid", money(now.paid || 0, now.currency || "EUR")));
  };
  let shown = 0;
  const show = async (version) => {
    shown = version;
    slider.value = version;
    label.textContent = `version ${version} of ${latest}`;
    const event = events[version - 1];
    caption.replaceChildren(h("span", { class: "type" }, event.type), " ", h("span", { class: "muted" }, "· ", time(occurred(event))));
    [...timeline.children].forEach((li, i) => {
      li.classList.toggle("future", i >= version);
      li.classList.toggle("current", i === version - 1);
      li.setAttribute("aria-current", i === version - 1 ? "step" : "false");
    });
    try {
      const [now, before] = await Promise.all([stateAt(version), version > 1 ? stateAt(version - 1) : null]);
      if (shown !== version || !live(token)) return; // the slider moved on meanwhile
      renderState(stateView, now, before);
      renderOrderPanel(panel, now, before);
      stateView.dataset.version = version;
      panel.dataset.version = version;
      showSummary(now);
    } catch (error) {
      if (shown === version) stateView.textContent = error.message;
    }
  };
  slider.addEventListener("input", () => show(Number(slider.value)));
  timeline.replaceChildren(...events.map((e) =>
    h("li", { "data-version": e.version },
      h("button", { class: "v", type: "button", title: `Show the state at version ${e.version}`, onclick: () => show(e.version) }, `v${e.version}`),
      h("div", { class: "body" },
        h("div", { class: "head" }, h("span", { class: "type" }, e.type),
          time(occurred(e), { class: "muted small", title: `recorded ${fullTime(e.recorded_at)}` })),
        h("div", { class: "meta" },
          metaItem("command", e.metadata.command_type),
          metaItem("actor", e.metadata.actor),
          metaItem("position", e.position),
          upcast(e)),
        h("details", {},
          h("summary", { class: "small muted" }, "data and metadata"),
          h("pre", { class: "json" }, JSON.stringify({ data: e.data, metadata: e.metadata }, null, 2)))))));
  // Commands change the latest version: the panel shows it, pending, until the read model has it.
  const commands = canWrite() ? orderCommands({
    orderId, version: latest, current: () => stateAt(latest), panel, summary: showSummary,
    before: async () => { await show(latest); },
    done: () => route(),
    rollback: async () => { await show(latest); },
  }) : h("p", { class: "muted small", id: "commands-need-writer" }, "Sign in with a writer key to change this order.");
  const flash = state.flash && state.flash.orderId === orderId ? state.flash : null;
  state.flash = null;
  page(title(),
    back,
    flash ? h("div", { class: "notice info", id: "command-done", role: "status" }, flash.text) : null,
    summary,
    h("div", { class: "grid order" },
      h("section", { class: "card" },
        h("div", { class: "card-head" }, h("h2", {}, "State at a version"), label),
        h("div", { class: "slider" }, h("span", { class: "muted small" }, "v1"), slider, h("span", { class: "muted small" }, `v${latest}`)),
        caption,
        panel,
        raw,
        h("p", { class: "muted small" }, "Rebuilt from the events up to this version. Highlighted: what this event changed.")),
      h("div", { class: "stack" },
        h("section", { class: "card", id: "order-commands" }, h("h2", {}, "Change this order"), commands),
        h("section", { class: "card" }, h("h2", {}, `Timeline · ${plural(latest, "event")}`), timeline))));
  // A new event of this order: offer its newest state rather than move the slider away.
  const changed = h("div", { class: "notice info", id: "order-changed", hidden: true });
  main.querySelector(".back").after(changed);
  state.onFeed = (item) => {
    if (orderOfStream(item.stream) !== orderId || Number(item.version) <= latest) return;
    if (panel.dataset.pending === "true") return; // our own command: reconciled by commands.js
    changed.hidden = false;
    changed.replaceChildren(`This order changed: ${item.type} made version ${item.version}. `,
      h("button", { type: "button", class: "secondary small", onclick: () => route() }, "Show the latest"));
  };
  await show(latest);
}

const canWrite = () => state.role === "writer" || state.role === "operator";

// Amounts are decimal strings: computed in cents, never in floating point.
const cents = (amount) => Math.round(Number(amount || 0) * 100);
const fromCents = (value) => (value / 100).toFixed(2);

// The state as a person reads it: status and customer, the items with their amounts,
// the totals and the shipping address; what this version changed is highlighted.
function renderOrderPanel(target, now, before = null) {
  const currency = now.currency || "EUR";
  const changed = (key) => (before !== null && JSON.stringify(now[key]) !== JSON.stringify(before[key]) ? "changed" : null);
  const items = now.items || [];
  const rows = items.map((item) => h("tr", { "data-product": item.product },
    h("td", { class: "wrap" }, item.product),
    h("td", { class: "num" }, count(item.quantity)),
    h("td", { class: "num" }, money(item.unit_price, currency)),
    h("td", { class: "num" }, money(item.amount ?? fromCents(cents(item.unit_price) * item.quantity), currency))));
  if (!items.length) rows.push(emptyRow(4, "No items"));
  const address = now.shipping_address || {};
  const due = cents(now.total) - cents(now.paid);
  target.replaceChildren(
    h("div", { class: "panel-head" },
      h("span", { class: changed("status") }, pill(now.status || "—")),
      h("strong", { class: changed("customer") }, now.customer || "—"),
      h("span", { class: "muted small" }, currency),
      now.carrier ? h("span", { class: "muted small" }, `via ${now.carrier}`) : null,
      h("span", { class: "pending-mark", "aria-hidden": target.dataset.pending === "true" ? "false" : "true" }, "Pending…")),
    h("div", { class: `table-wrap ${changed("items") || ""}`, id: "order-items" },
      h("table", { class: "items" },
        h("thead", {}, h("tr", {}, h("th", {}, "Product"), h("th", { class: "num" }, "Qty"),
          h("th", { class: "num" }, "Unit price"), h("th", { class: "num" }, "Amount"))),
        h("tbody", {}, rows))),
    h("dl", { class: "totals", id: "order-totals" },
      h("div", { class: changed("total") }, h("dt", {}, "Total"), h("dd", { "data-total": now.total }, money(now.total || 0, currency))),
      h("div", { class: changed("paid") }, h("dt", {}, "Paid"), h("dd", { "data-paid": now.paid }, money(now.paid || 0, currency))),
      h("div", {}, h("dt", {}, due < 0 ? "Refund due" : "Due"), h("dd", {}, money(fromCents(Math.abs(due)), currency)))),
    h("address", { class: `ship-to ${changed("shipping_address") || ""}`, id: "order-address" },
      h("span", { class: "muted small" }, "Ship to"),
      [address.name, address.street, [address.postcode, address.city].filter(Boolean).join(" "), address.country]
        .filter(Boolean).map((line) => h("span", {}, line))));
}

function renderState(target, now, before) {
  const keys = Object.keys(now);
  const lines = [h("span", {}, "{\n")];
  keys.forEach((key, i) => {
    const value = JSON.stringify(now[key], null, 2).replace(/\n/g, "\n  ");
    const changed = before !== null && JSON.stringify(now[key]) !== JSON.stringify(before[key]);
    lines.push(h("span", { class: changed ? "changed" : null, "data-key": key },
      `  ${JSON.stringify(key)}: ${value}${i < keys.length - 1 ? "," : ""}\n`));
  });
  lines.push(h("span", {}, "}"));
  target.replaceChildren(...lines);
}

// When it happened (the order's own time), else when the store recorded it.
const occurred = (event) => (event.data && event.data.at) || event.metadata.occurred_at || event.recorded_at;

function upcast(event) {
  const stored = event.stored_schema_version;
  const now = event.metadata.schema_version;
  if (stored === undefined || now === undefined || stored === now) return null;
  return metaItem("upcast", `schema v${stored} → v${now}`);
}

function metaItem(name, value) {
  return value === undefined || value === null ? null : h("span", { class: "meta-item" }, `${name} `, h("code", {}, String(value)));
}
