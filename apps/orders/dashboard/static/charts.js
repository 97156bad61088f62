// Small SVG charts: enough for the dashboard, no library to download.
// Each chart is drawn at its container's width (so text keeps its size), again when that changes.
"use strict";

const Charts = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const drawn = new WeakMap(); // container → how to draw it, and at what width it was drawn
  const resized = new ResizeObserver((entries) => {
    for (const entry of entries) {
      const chart = drawn.get(entry.target);
      if (!entry.target.isConnected) resized.unobserve(entry.target);
      else if (chart && chart.width !== widthOf(entry.target)) chart.draw();
    }
  });

  function svg(width, height, label) {
    const el = document.createElementNS(NS, "svg");
    el.setAttribute("viewBox", `0 0 ${width} ${height}`);
    el.setAttribute("width", width);
    el.setAttribute("height", height);
    el.setAttribute("role", "img");
    if (label) el.setAttribute("aria-label", label);
    return el;
  }

  function add(parent, name, attrs, text) {
    const el = document.createElementNS(NS, name);
    for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, value);
    if (text !== undefined) el.textContent = text;
    parent.appendChild(el);
    return el;
  }

  // A round step for about four gridlines up to `value`: 1, 2, 2.5 or 5 times a power of ten.
  function niceStep(value, integer) {
    if (value <= 0) return 1;
    const raw = value / 4;
    const power = 10 ** Math.floor(Math.log10(raw));
    const steps = integer || power < 1 ? [1, 2, 5, 10] : [1, 2, 2.5, 5, 10];
    const step = steps.find((s) => s * power >= raw) * power;
    return integer ? Math.max(1, Math.round(step)) : step;
  }

  function widthOf(container) {
    return Math.max(280, Math.floor(container.clientWidth || 640));
  }

  function remember(container, draw) {
    const chart = { width: 0, draw: () => { chart.width = widthOf(container); draw(); } };
    drawn.set(container, chart);
    resized.observe(container);
    chart.draw();
  }

  function frame(container, points, { format, integer, height, label }) {
    const width = widthOf(container);
    const longest = Math.max(...points.map((p) => p.value), 0);
    const step = niceStep(longest, integer);
    const lines = Math.max(1, Math.ceil(longest / step));
    const max = step * lines;
    const labelWidth = Math.max(...Array.from({ length: lines + 1 }, (_, i) => format(step * i).length)) * 6.5;
    const pad = { left: Math.ceil(labelWidth) + 14, right: 12, top: 12, bottom: 26 };
    const root = svg(width, height, label);
    const plotW = width - pad.left - pad.right;
    const plotH = height - pad.top - pad.bottom;
    const y = (v) => pad.top + plotH - (plotH * v) / max;
    const x = (i) => pad.left + (plotW * (i + 0.5)) / points.length;
    for (let i = 0; i <= lines; i += 1) {
      const at = y(step * i);
      add(root, "line", { x1: pad.left, x2: width - pad.right, y1: at, y2: at, class: i === 0 ? "axis base" : "axis" });
      add(root, "text", { x: pad.left - 8, y: at + 4, "text-anchor": "end" }, format(step * i));
    }
    const labels = Math.max(2, Math.floor(plotW / 70));
    const labelEvery = Math.max(1, Math.ceil(points.length / labels));
    points.forEach((p, i) => {
      if ((points.length - 1 - i) % labelEvery !== 0) return; // always label the newest point
      add(root, "text", { x: x(i), y: height - 6, "text-anchor": "middle" }, p.label);
    });
    return { root, y, x, plotW, plotH, pad };
  }

  function bars(container, points, { format = String, tooltip = format, integer = false, height = 240, label = "" } = {}) {
    remember(container, () => {
      container.replaceChildren();
      if (!points.length) return empty(container);
      const f = frame(container, points, { format, integer, height, label });
      const slot = f.plotW / points.length;
      points.forEach((p, i) => {
        const top = f.y(p.value);
        const bar = add(f.root, "rect", {
          x: f.x(i) - slot * 0.35, y: top, width: Math.max(1, slot * 0.7),
          height: Math.max(0, f.pad.top + f.plotH - top), class: "bar", rx: Math.min(3, slot * 0.2),
        });
        add(bar, "title", {}, `${p.label}: ${tooltip(p.value)}`);
      });
      container.appendChild(f.root);
    });
  }

  function line(container, points, { format = String, tooltip = format, integer = false, height = 240, label = "" } = {}) {
    remember(container, () => {
      container.replaceChildren();
      if (!points.length) return empty(container);
      const f = frame(container, points, { format, integer, height, label });
      const coords = points.map((p, i) => `${f.x(i).toFixed(1)},${f.y(p.value).toFixed(1)}`);
      const base = f.pad.top + f.plotH;
      add(f.root, "path", { d: `M${f.x(0)},${base} L${coords.join(" L")} L${f.x(points.length - 1)},${base} Z`, class: "area" });
      add(f.root, "path", { d: `M${coords.join(" L")}`, class: "line" });
      const radius = points.length > 40 ? 2.5 : 3.5;
      points.forEach((p, i) => {
        const dot = add(f.root, "circle", { cx: f.x(i), cy: f.y(p.value), r: radius, class: "dot" });
        add(dot, "title", {}, `${p.label}: ${tooltip(p.value)}`);
      });
      container.appendChild(f.root);
    });
  }

  function horizontal(container, points, { format = String, label = "" } = {}) {
    remember(container, () => {
      container.replaceChildren();
      if (!points.length) return empty(container);
      const width = widthOf(container);
      const row = 30;
      const labelW = Math.min(width * 0.4, Math.max(...points.map((p) => p.label.length)) * 7 + 16);
      const valueW = Math.max(...points.map((p) => format(p.value).length)) * 7 + 12;
      const root = svg(width, row * points.length, label);
      const max = Math.max(...points.map((p) => p.value), 1);
      points.forEach((p, i) => {
        const y = i * row;
        add(root, "text", { x: labelW - 10, y: y + row / 2 + 4, "text-anchor": "end", class: "label" }, p.label);
        add(root, "rect", { x: labelW, y: y + 5, width: Math.max(0, width - labelW - valueW), height: row - 10, class: "track", rx: 4 });
        const w = ((width - labelW - valueW) * p.value) / max;
        const bar = add(root, "rect", { x: labelW, y: y + 5, width: Math.max(2, w), height: row - 10, class: "bar", rx: 4 });
        add(bar, "title", {}, `${p.label}: ${format(p.value)}`);
        add(root, "text", { x: labelW + w + 8, y: y + row / 2 + 4, class: "value" }, format(p.value));
      });
      container.appendChild(root);
    });
  }

  function empty(container) {
    const div = document.createElement("div");
    div.className = "empty";
    div.textContent = "No data yet";
    container.appendChild(div);
  }

  return { bars, line, horizontal };
})();
