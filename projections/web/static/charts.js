// Tiny inline-SVG charts: bars and lines over time buckets, no library.
"use strict";

const Charts = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const W = 300, H = 120, PAD = { l: 34, r: 6, t: 8, b: 18 };

  function el(name, attrs, text) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function fmt(v) {
    if (v === null || v === undefined) return "";
    if (Math.abs(v) >= 1000) return (v / 1000).toFixed(v >= 10000 ? 0 : 1) + "k";
    return Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 2 : 0);
  }

  // series: [{values: [...], color, kind: "bar" | "line"}]; labels: time label per bucket.
  function draw(svg, labels, series, { max } = {}) {
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    svg.replaceChildren();
    const n = labels.length;
    const all = series.flatMap((s) => s.values.filter((v) => v !== null && v !== undefined));
    const top = max ?? (Math.max(0, ...all) || 1) * 1.1;
    const x = (i) => PAD.l + (i + 0.5) * ((W - PAD.l - PAD.r) / Math.max(1, n));
    const y = (v) => H - PAD.b - (v / top) * (H - PAD.t - PAD.b);
    for (const f of [0, 0.5, 1]) {
      svg.appendChild(el("line", { x1: PAD.l, x2: W - PAD.r, y1: y(top * f), y2: y(top * f), stroke: "#e5e7eb" }));
      svg.appendChild(el("text", { x: PAD.l - 4, y: y(top * f) + 3, "text-anchor": "end", "font-size": 8, fill: "#6b7280" }, fmt(top * f)));
    }
    const step = Math.max(1, Math.ceil(n / 6));
    labels.forEach((label, i) => {
      if (i % step === 0) svg.appendChild(el("text", { x: x(i), y: H - 5, "text-anchor": "middle", "font-size": 8, fill: "#6b7280" }, label));
    });
    const bw = Math.max(1, ((W - PAD.l - PAD.r) / Math.max(1, n)) * 0.7);
    for (const s of series) {
      if (s.kind === "bar") {
        s.values.forEach((v, i) => {
          if (!v) return;
          const rect = el("rect", { x: x(i) - bw / 2, y: y(v), width: bw, height: y(0) - y(v), fill: s.color });
          rect.appendChild(el("title", {}, `${labels[i]}: ${fmt(v)}`));
          svg.appendChild(rect);
        });
      } else {
        let d = "";
        s.values.forEach((v, i) => {
          if (v === null || v === undefined) return;
          d += (d ? " L" : "M") + x(i).toFixed(1) + " " + y(v).toFixed(1);
          svg.appendChild(el("circle", { cx: x(i), cy: y(v), r: 1.8, fill: s.color }));
        });
        if (d) svg.appendChild(el("path", { d, fill: "none", stroke: s.color, "stroke-width": 1.5 }));
      }
    }
    if (!all.length) svg.appendChild(el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", "font-size": 10, fill: "#9ca3af" }, "no data"));
  }

  return { draw };
})();
