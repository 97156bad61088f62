// Small SVG charts: enough for the analytics page, no library to download.
"use strict";

const Charts = (() => {
  const NS = "http://www.w3.org/2000/svg";

  function svg(width, height) {
    const el = document.createElementNS(NS, "svg");
    el.setAttribute("viewBox", `0 0 ${width} ${height}`);
    el.setAttribute("role", "img");
    return el;
  }

  function add(parent, name, attrs, text) {
    const el = document.createElementNS(NS, name);
    for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, value);
    if (text !== undefined) el.textContent = text;
    parent.appendChild(el);
    return el;
  }

  function niceMax(value) {
    if (value <= 0) return 1;
    const step = 10 ** Math.floor(Math.log10(value));
    return Math.ceil(value / step) * step;
  }

  function frame(points, format, width, height) {
    const pad = { left: 56, right: 12, top: 10, bottom: 28 };
    const root = svg(width, height);
    const max = niceMax(Math.max(...points.map((p) => p.value), 0));
    const plotW = width - pad.left - pad.right;
    const plotH = height - pad.top - pad.bottom;
    for (let i = 0; i <= 4; i += 1) {
      const y = pad.top + plotH - (plotH * i) / 4;
      add(root, "line", { x1: pad.left, x2: width - pad.right, y1: y, y2: y, class: "axis" });
      add(root, "text", { x: pad.left - 6, y: y + 4, "text-anchor": "end" }, format((max * i) / 4));
    }
    const labelEvery = Math.max(1, Math.ceil(points.length / 8));
    points.forEach((p, i) => {
      if (i % labelEvery !== 0) return;
      const x = pad.left + (plotW * (i + 0.5)) / points.length;
      add(root, "text", { x, y: height - 8, "text-anchor": "middle" }, p.label);
    });
    const y = (v) => pad.top + plotH - (plotH * v) / max;
    const x = (i) => pad.left + (plotW * (i + 0.5)) / points.length;
    return { root, y, x, plotW, plotH, pad };
  }

  function bars(container, points, { format = String, height = 220 } = {}) {
    container.replaceChildren();
    if (!points.length) return empty(container);
    const width = 640;
    const f = frame(points, format, width, height);
    const slot = f.plotW / points.length;
    points.forEach((p, i) => {
      const top = f.y(p.value);
      const bar = add(f.root, "rect", {
        x: f.x(i) - slot * 0.35, y: top, width: Math.max(1, slot * 0.7),
        height: f.pad.top + f.plotH - top, class: "bar", rx: 2,
      });
      add(bar, "title", {}, `${p.label}: ${format(p.value)}`);
    });
    container.appendChild(f.root);
  }

  function line(container, points, { format = String, height = 220 } = {}) {
    container.replaceChildren();
    if (!points.length) return empty(container);
    const width = 640;
    const f = frame(points, format, width, height);
    const coords = points.map((p, i) => `${f.x(i)},${f.y(p.value)}`);
    const base = f.pad.top + f.plotH;
    add(f.root, "path", { d: `M${f.x(0)},${base} L${coords.join(" L")} L${f.x(points.length - 1)},${base} Z`, class: "area" });
    add(f.root, "path", { d: `M${coords.join(" L")}`, class: "line" });
    points.forEach((p, i) => {
      const dot = add(f.root, "circle", { cx: f.x(i), cy: f.y(p.value), r: 3, class: "bar" });
      add(dot, "title", {}, `${p.label}: ${format(p.value)}`);
    });
    container.appendChild(f.root);
  }

  function horizontal(container, points, { format = String } = {}) {
    container.replaceChildren();
    if (!points.length) return empty(container);
    const width = 1100, row = 28, labelW = 200;
    const root = svg(width, row * points.length + 4);
    const max = Math.max(...points.map((p) => p.value), 1);
    points.forEach((p, i) => {
      const y = i * row + 4;
      add(root, "text", { x: labelW - 8, y: y + 15, "text-anchor": "end" }, p.label);
      const w = ((width - labelW - 90) * p.value) / max;
      const bar = add(root, "rect", { x: labelW, y, width: Math.max(1, w), height: row - 8, class: "bar", rx: 3 });
      add(bar, "title", {}, `${p.label}: ${format(p.value)}`);
      add(root, "text", { x: labelW + w + 6, y: y + 15 }, format(p.value));
    });
    container.appendChild(root);
  }

  function empty(container) {
    const div = document.createElement("div");
    div.className = "empty";
    div.textContent = "No data yet";
    container.appendChild(div);
  }

  return { bars, line, horizontal };
})();
