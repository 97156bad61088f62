// Commands from the dashboard, through the same HTTP API as any client, with the writer
// role (the sign-in link printed at start-up carries the operator key, which may write).
//
// Optimistic, as eventbook's design advises for eventual consistency: the expected state is
// shown at once, marked pending; once the command is accepted (202, with its position) the
// read model is asked for the order with `min_position`, which answers when it has caught up
// with that position: the page then shows what the read model says. A refused command
// (409 a business rule, 412 a stale version, 422 bad input) is rolled back: the page shows
// the state it had, with the problem's message. Uses app.js's helpers (h, api, ...).
"use strict";

// POST a command; `version` (the order's version the page shows) goes as If-Match, so a
// change made meanwhile by someone else is a 412 rather than a silent overwrite.
function sendCommand(path, body, version = null) {
  const headers = { "Content-Type": "application/json" };
  if (version !== null) headers["If-Match"] = `"${version}"`;
  return api(path, { method: "POST", headers, body: JSON.stringify(body) });
}

// The order as the read model has it once it has caught up with `accepted.position`.
const readModelAt = (accepted) =>
  api(`/api/orders/${encodeURIComponent(accepted.order_id)}?min_position=${encodeURIComponent(accepted.position)}`);

// The problem's message, with each bad field a 422 names.
function problemText(error) {
  const errors = (error.problem && error.problem.errors) || [];
  return [error.message, ...errors.map((e) => `${e.field}: ${e.message}`)].join(" · ");
}

function formError(form) {
  return form.querySelector(".form-error");
}

function field(labelText, input) {
  return h("label", { class: "field" }, h("span", {}, labelText), input);
}

const input = (name, attrs = {}) => h("input", { name, autocomplete: "off", ...attrs });
// A whole number stays a number; anything else goes as typed, for the API to refuse.
const quantityOf = (text) => (/^\d+$/.test(text.trim()) ? Number(text) : text);

function commandForm(name, title, fields, submitLabel, onSubmit) {
  const form = h("form", { class: "command", "data-command": name, novalidate: true },
    h("h3", {}, title), h("div", { class: "fields" }, fields),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "small" }, submitLabel)),
    h("div", { class: "form-error error-text small", role: "alert" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    formError(form).textContent = "";
    button.disabled = true;
    try { await onSubmit(form); } finally { button.disabled = false; }
  });
  return form;
}

const value = (form, name) => form.elements[name].value.trim();

// -- one order: add/remove item, pay, ship, cancel ------------------------------------------

function orderCommands(ctx) {
  const path = (action) => `/api/orders/${encodeURIComponent(ctx.orderId)}/${action}`;
  const run = (label, action, bodyOf, expect) => async (form) => {
    const before = await ctx.current();
    const body = bodyOf(form);
    const expected = expect(structuredClone(before), body);
    ctx.panel.dataset.pending = "true";
    renderOrderPanel(ctx.panel, expected, before);
    ctx.summary(expected);
    let accepted;
    try {
      accepted = await sendCommand(path(action), body, ctx.version);
    } catch (error) {
      ctx.panel.dataset.pending = "false";
      await ctx.rollback();
      formError(form).textContent = problemText(error);
      return;
    }
    let text = `${label}: saved as version ${accepted.version}.`;
    try {
      const confirmed = await readModelAt(accepted);
      ctx.panel.dataset.pending = "false";
      renderOrderPanel(ctx.panel, confirmed, before);
      ctx.summary(confirmed);
    } catch (error) {
      text += ` The read model has not caught up yet (${error.message}).`;
    }
    state.flash = { orderId: ctx.orderId, text };
    ctx.done();
  };
  return h("div", { class: "commands" },
    commandForm("add-item", "Add an item", [
      field("Product", input("product", { required: true })),
      field("Quantity", input("quantity", { value: "1", inputmode: "numeric" })),
      field("Unit price", input("unit_price", { placeholder: "12.50", inputmode: "decimal" })),
    ], "Add item", run("Item added", "add-item",
      (f) => ({ product: value(f, "product"), quantity: quantityOf(value(f, "quantity")), unit_price: value(f, "unit_price") }),
      (order, body) => {
        const line = order.items.find((item) => item.product === body.product);
        if (line) line.quantity += Number(body.quantity);
        else order.items.push({ product: body.product, quantity: Number(body.quantity), unit_price: body.unit_price });
        order.total = fromCents(cents(order.total) + cents(body.unit_price) * Number(body.quantity));
        return order;
      })),
    commandForm("remove-item", "Remove an item", [
      field("Product", input("product", { required: true })),
    ], "Remove item", run("Item removed", "remove-item",
      (f) => ({ product: value(f, "product") }),
      (order, body) => {
        const line = order.items.find((item) => item.product === body.product);
        order.items = order.items.filter((item) => item !== line);
        if (line) order.total = fromCents(cents(order.total) - cents(line.unit_price) * line.quantity);
        return order;
      })),
    commandForm("pay", "Pay", [
      field("Amount", input("amount", { placeholder: "the order's total", inputmode: "decimal" })),
      field("Method", input("method", { value: "card" })),
    ], "Pay", run("Paid", "process-payment",
      (f) => ({ amount: value(f, "amount"), method: value(f, "method") }),
      (order, body) => ({ ...order, status: "paid", paid: fromCents(cents(body.amount)) }))),
    commandForm("ship", "Ship", [
      field("Carrier", input("carrier", { value: "DHL" })),
    ], "Ship", run("Shipped", "ship",
      (f) => ({ carrier: value(f, "carrier") }),
      (order, body) => ({ ...order, status: "shipped", carrier: body.carrier }))),
    commandForm("cancel", "Cancel", [
      field("Reason", input("reason", { value: "customer request" })),
    ], "Cancel order", run("Cancelled", "cancel",
      (f) => ({ reason: value(f, "reason") }),
      (order) => ({ ...order, status: "cancelled", paid: "0.00" }))));
}

// -- a new order, from the orders list --------------------------------------------------------

// `list.pending` holds the rows of orders sent but not yet in the read model: the list
// keeps them on top whenever it renders; `list.reload()` reads the list again.
function newOrderForm(list) {
  return commandForm("place-order", "New order", [
    field("Customer", input("customer", { required: true })),
    field("Product", input("product", { required: true })),
    field("Quantity", input("quantity", { value: "1", inputmode: "numeric" })),
    field("Unit price", input("unit_price", { placeholder: "12.50", inputmode: "decimal" })),
    field("Currency", h("select", { name: "currency" }, ["EUR", "GBP", "CHF"].map((c) => h("option", { value: c }, c)))),
    field("Street", input("street", { required: true })),
    field("Postcode", input("postcode", { required: true })),
    field("City", input("city", { required: true })),
    field("Country", input("country", { placeholder: "DE", maxlength: 2 })),
  ], "Place order", async (form) => {
    const body = {
      customer: value(form, "customer"),
      items: [{ product: value(form, "product"), quantity: quantityOf(value(form, "quantity")), unit_price: value(form, "unit_price") }],
      shipping_address: {
        name: value(form, "customer"), street: value(form, "street"), city: value(form, "city"),
        postcode: value(form, "postcode"), country: value(form, "country").toUpperCase(),
      },
      currency: form.elements.currency.value,
    };
    const row = pendingOrderRow(body);
    list.pending.unshift(row);
    list.show();
    const forget = () => { list.pending = list.pending.filter((r) => r !== row); row.remove(); };
    let accepted;
    try {
      accepted = await sendCommand("/api/orders", body);
    } catch (error) {
      forget();
      formError(form).textContent = problemText(error);
      return;
    }
    row.dataset.order = accepted.order_id;
    row.querySelector("td").replaceChildren(h("a", { href: orderHref(accepted.order_id), class: "mono" }, accepted.order_id));
    try {
      await readModelAt(accepted);
    } catch (error) {
      toast(`Order ${accepted.order_id} placed; the list has not caught up yet (${error.message})`);
    }
    forget();
    form.reset();
    toast(`Order ${accepted.order_id} placed`);
    await list.reload();
  });
}

// The order as it will be listed, marked pending until the read model has it.
function pendingOrderRow(body) {
  const total = body.items.reduce((sum, item) => sum + cents(item.unit_price) * Number(item.quantity), 0);
  const address = body.shipping_address;
  const now = new Date().toISOString();
  return h("tr", { class: "pending", "data-pending": "true", "data-order": "" },
    h("td", {}, h("span", { class: "muted" }, "sending…")),
    h("td", {}, body.customer),
    h("td", {}, pill("placed"), " ", h("span", { class: "pending-mark" }, "Pending…")),
    h("td", { class: "muted" }, [address.city, address.country].filter(Boolean).join(", ")),
    h("td", { class: "num" }, body.items.length),
    h("td", { class: "num" }, Number.isFinite(total) ? money(fromCents(total), body.currency) : "—"),
    h("td", {}, time(now)),
    h("td", {}, time(now)));
}
