/* Tiny SVG charts for the ops console (no dependencies): grouped line series and horizontal bars. */
(function (global) {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";

  function el(name, attrs, text) {
    const node = document.createElementNS(NS, name);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function clear(svg) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
  }

  function niceMax(value) {
    if (value <= 0) return 1;
    const power = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 2, 5, 10]) if (value <= step * power) return step * power;
    return 10 * power;
  }

  /* lines(svg, points, series): points = [{label, ...values}], series = [{key, name, cls}] */
  function lines(svg, points, series) {
    clear(svg);
    const width = 600, height = 200, left = 36, right = 8, top = 10, bottom = 24;
    const max = niceMax(Math.max(0, ...points.flatMap((p) => series.map((s) => p[s.key] || 0))));
    const x = (i) => left + (points.length <= 1 ? 0 : (i * (width - left - right)) / (points.length - 1));
    const y = (v) => top + (height - top - bottom) * (1 - v / max);
    for (const tick of [0, max / 2, max]) {
      svg.appendChild(el("line", { x1: left, x2: width - right, y1: y(tick), y2: y(tick), class: "gridline" }));
      svg.appendChild(el("text", { x: left - 4, y: y(tick) + 4, "text-anchor": "end", class: "axis" },
        Number.isInteger(tick) ? tick : tick.toFixed(1)));
    }
    const every = Math.max(1, Math.ceil(points.length / 8));
    points.forEach((p, i) => {
      if (i % every === 0) {
        const anchor = i === 0 ? "start" : i === points.length - 1 ? "end" : "middle";
        svg.appendChild(el("text", { x: x(i), y: height - 6, "text-anchor": anchor, class: "axis" }, p.label));
      }
    });
    for (const s of series) {
      const path = points.map((p, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(p[s.key] || 0).toFixed(1)}`).join(" ");
      svg.appendChild(el("path", { d: path, class: `series ${s.cls}` }));
      points.forEach((p, i) => {
        const dot = el("circle", { cx: x(i), cy: y(p[s.key] || 0), r: 2.5, class: `dot ${s.cls}` });
        dot.appendChild(el("title", {}, `${p.label}: ${s.name} ${p[s.key] || 0}`));
        svg.appendChild(dot);
      });
    }
  }

  /* bars(svg, items): items = [{label, value (0..1), text}] */
  function bars(svg, items) {
    clear(svg);
    const width = 600, rowHeight = 26, left = 120, right = 60;
    svg.setAttribute("viewBox", `0 0 ${width} ${Math.max(1, items.length) * rowHeight + 8}`);
    if (!items.length) {
      svg.appendChild(el("text", { x: 8, y: 20, class: "axis" }, "No escalations in this window"));
      return;
    }
    items.forEach((item, i) => {
      const yy = 4 + i * rowHeight;
      const w = Math.max(1, (width - left - right) * Math.min(1, item.value));
      svg.appendChild(el("text", { x: left - 6, y: yy + 16, "text-anchor": "end", class: "axis" }, item.label));
      svg.appendChild(el("rect", { x: left, y: yy + 3, width: w, height: rowHeight - 8, rx: 3, class: "bar" }));
      svg.appendChild(el("text", { x: left + w + 6, y: yy + 16, class: "axis" }, item.text));
    });
  }

  global.CarelineChart = { lines, bars };
})(window);
