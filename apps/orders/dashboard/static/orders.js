// The Orders page: the list of orders with full-text search, a status filter, sorts and
// paging, kept in step with the live feed (feed.js); writers place new orders from it
// (commands.js). Uses app.js's helpers (h, api, page, live, table, ...).
"use strict";

const SORTS = [
  ["-placed_at", "Newest first"], ["placed_at", "Oldest first"], ["-updated_at", "Recently updated"],
  ["-total", "Largest total"], ["total", "Smallest total"],
];
const STATUSES = ["placed", "paid", "shipped", "cancelled"];

function ordersHash({ q, status, sort, page: pageNumber }) {
  const next = new URLSearchParams();
  if (q) next.set("q", q);
  if (status) next.set("status", status);
  if (sort && sort !== "-placed_at") next.set("sort", sort);
  if (pageNumber > 1) next.set("page", pageNumber);
  const text = next.toString();
  return `#/orders${text ? `?${text}` : ""}`;
}

async function ordersPage(token, params) {
  const query = {
    q: (params.get("q") || "").trim(),
    status: STATUSES.includes(params.get("status")) ? params.get("status") : "",
    sort: SORTS.some(([s]) => s === params.get("sort")) ? params.get("sort") : "-placed_at",
    page: Math.max(1, Math.floor(Number(params.get("page")) || 1)),
  };
  state.lastList = ordersHash(query);
  const search = h("input", {
    type: "search", placeholder: "Search customers, products, addresses…", value: query.q,
    "aria-label": "Search orders", id: "order-search", autocomplete: "off",
  });
  const status = h("select", { "aria-label": "Status" },
    h("option", { value: "" }, "Any status"),
    STATUSES.map((s) => h("option", { value: s, selected: s === query.status }, s[0].toUpperCase() + s.slice(1))));
  const sort = h("select", {
    "aria-label": "Sort", disabled: Boolean(query.q),
    title: query.q ? "Search results are ranked by relevance" : "Sort order",
  }, query.q ? h("option", {}, "Most relevant") : SORTS.map(([value, label]) => h("option", { value, selected: value === query.sort }, label)));
  const go = (pageNumber = 1) => {
    location.hash = ordersHash({ q: search.value.trim(), status: status.value, sort: query.q ? query.sort : sort.value, page: pageNumber });
  };
  const form = h("form", { class: "toolbar", role: "search", onsubmit: (e) => { e.preventDefault(); go(); } },
    h("div", { class: "search-box" }, search),
    status, sort,
    h("button", { type: "submit" }, "Search"),
    query.q || query.status ? h("a", { class: "button secondary", href: "#/orders" }, "Clear") : null);
  status.addEventListener("change", () => go());
  sort.addEventListener("change", () => go());

  const columns = ["Order", "Customer", "Status", "Ship to", { label: "Items", class: "num" }, { label: "Total", class: "num" }, "Placed", "Updated"];
  const body = h("tbody", {}, loadingRow(columns.length));
  const info = h("span", { class: "muted", id: "orders-count", "aria-live": "polite" });
  const prev = h("button", { class: "secondary", type: "button", disabled: true, onclick: () => go(query.page - 1) }, "‹ Previous");
  const next = h("button", { class: "secondary", type: "button", disabled: true, onclick: () => go(query.page + 1) }, "Next ›");
  // Writers place orders here (commands.js): rows sent but not yet listed stay on top.
  const list = { pending: [], show: () => body.prepend(...list.pending), reload: () => load() };
  const creating = canWrite() ? h("section", { class: "card", id: "new-order", hidden: true }, newOrderForm(list)) : null;
  const toggle = creating ? h("button", {
    type: "button", class: "secondary", id: "new-order-toggle", "aria-expanded": "false",
    onclick: () => {
      creating.hidden = !creating.hidden;
      toggle.setAttribute("aria-expanded", String(!creating.hidden));
    },
  }, "New order") : null;
  form.append(toggle || "");
  page("Orders", form, creating,
    h("div", { class: "card flush" },
      table(columns, body, { id: "orders-table", class: "clickable" }),
      h("div", { class: "pager" }, info, h("span", { class: "spacer" }), prev, next)));

  const words = query.q.split(/\s+/).filter((w) => w.length > 1);
  const render = (result, catchingUp = false) => {
    // An order still pending shows once, as its pending row, until commands.js reconciles it.
    const sent = new Set(list.pending.map((row) => row.dataset.order));
    body.replaceChildren(...list.pending, ...result.items.filter((o) => !sent.has(o.order_id)).map((o) => {
      const href = orderHref(o.order_id);
      const address = o.shipping_address || {};
      return h("tr", { "data-order": o.order_id, onclick: (e) => { if (!e.target.closest("a")) location.hash = href; } },
        h("td", {}, h("a", { href, class: "mono" }, o.order_id)),
        h("td", {}, highlight(o.customer, words)),
        h("td", {}, pill(o.status)),
        h("td", { class: "muted" }, highlight([address.city, address.country].filter(Boolean).join(", "), words)),
        h("td", { class: "num" }, o.item_count),
        h("td", { class: "num" }, money(o.total, o.currency)),
        h("td", {}, time(o.placed_at)),
        h("td", {}, time(o.updated_at)));
    }));
    const pages = Math.max(1, Math.ceil(result.total / result.page_size));
    if (!result.items.length) {
      const text = result.total ? `Page ${count(result.page)} is past the last page (${count(pages)})`
        : query.q ? `No orders match “${query.q}”` : query.status ? `No ${query.status} orders` : "No orders yet";
      body.append(emptyRow(columns.length, text));
    }
    const matched = query.q ? plural(result.total, "match", "matches") : plural(result.total, "order");
    info.textContent = `${matched} · page ${count(Math.min(result.page, pages))} of ${count(pages)}`
      + (catchingUp ? " · the list is catching up with the latest events" : "");
    prev.disabled = result.page <= 1;
    next.disabled = result.page >= pages;
  };
  const url = (wait) => {
    const u = new URLSearchParams({ page: query.page, page_size: 25 });
    if (query.q) u.set("q", query.q);
    if (query.status) u.set("status", query.status);
    if (!query.q && query.sort !== "-placed_at") u.set("sort", query.sort);
    if (wait) u.set("min_position", state.feedPosition);
    return `/api/orders?${u}`;
  };
  const load = async () => {
    if (!state.feedPosition) {
      const result = await api(url(false));
      if (live(token)) render(result);
      return;
    }
    // The list includes what the live feed has shown: the API waits for its read model to
    // catch up. If that takes a while (a rebuild), show what the read model has meanwhile.
    const waited = api(url(true));
    const soon = new Promise((resolve) => { setTimeout(resolve, 400, null); });
    const first = await Promise.race([waited.catch(() => null), soon]);
    if (first) {
      if (live(token)) render(first);
      return;
    }
    const meanwhile = await api(url(false));
    if (live(token)) render(meanwhile, true);
    try {
      const full = await waited;
      if (live(token)) render(full);
    } catch (error) {
      if (error.status !== 503) throw error;
      setTimeout(() => { if (live(token)) load().catch(() => {}); }, 2000); // still behind: ask again
    }
  };
  try {
    await load();
  } catch (error) {
    body.replaceChildren(emptyRow(columns.length, "Could not load the orders"));
    failed(token, error);
    return;
  }
  if (live(token)) state.onFeed = throttled(1500, () => load().catch(() => {}));
}
