// Charts: a hand-drawn canvas sparkline for the watchlist tiles (a hundred of them redraw
// many times a second, so each is a few canvas calls), and uPlot (vendored) for the real
// charts: bars for gamma exposure by strike, lines for histories and the yield curve.

import uPlot from "../vendor/uplot-1.6.32/uPlot.esm.js";

let palette = null;

/** The theme's colours, read from the CSS custom properties (re-read on theme change). */
export function colors() {
  if (palette === null) {
    const css = getComputedStyle(document.documentElement);
    const v = (name) => css.getPropertyValue(name).trim();
    palette = {
      up: v("--up"),
      down: v("--down"),
      flat: v("--muted"),
      fg: v("--fg"),
      muted: v("--muted"),
      grid: v("--grid"),
      accent: v("--accent"),
      warn: v("--warn"),
      panel: v("--panel"),
    };
  }
  return palette;
}

export function resetColors() {
  palette = null;
}

// The sparklines' CSS sizes, observed (reading clientWidth while drawing would force a
// layout per tile per frame).
const sizes = new WeakMap();
const sizer = new ResizeObserver((entries) => {
  for (const e of entries) sizes.set(e.target, [e.contentRect.width, e.contentRect.height]);
});

/** Watch a sparkline canvas's size. */
export function observeSpark(canvas) {
  sizer.observe(canvas);
}

/** Draw `n` points of `values` into a small canvas, with the previous close dashed. */
export function sparkline(canvas, values, n, reference, dir) {
  const ratio = window.devicePixelRatio || 1;
  const [w, h] = sizes.get(canvas) || [120, 28];
  if (w === 0 || h === 0) return;
  if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(h * ratio)) {
    canvas.width = Math.round(w * ratio);
    canvas.height = Math.round(h * ratio);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, w, h);
  if (n < 2) return;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    if (values[i] < lo) lo = values[i];
    if (values[i] > hi) hi = values[i];
  }
  const hasRef = typeof reference === "number" && Number.isFinite(reference);
  if (hasRef) {
    lo = Math.min(lo, reference);
    hi = Math.max(hi, reference);
  }
  const span = hi - lo || 1;
  const y = (v) => h - 2 - ((v - lo) / span) * (h - 4);
  const c = colors();
  if (hasRef) {
    ctx.strokeStyle = c.grid;
    ctx.setLineDash([2, 2]);
    ctx.beginPath();
    ctx.moveTo(0, y(reference));
    ctx.lineTo(w, y(reference));
    ctx.stroke();
    ctx.setLineDash([]);
  }
  ctx.strokeStyle = c[dir] || c.fg;
  ctx.lineWidth = 1.25;
  ctx.beginPath();
  for (let i = 0; i < n; i++) {
    const x = (i / (n - 1)) * w;
    if (i === 0) ctx.moveTo(x, y(values[i]));
    else ctx.lineTo(x, y(values[i]));
  }
  ctx.stroke();
}

function axes(c, xLabel, yFormat) {
  const font = "11px system-ui, sans-serif";
  return [
    { stroke: c.muted, grid: { stroke: c.grid, width: 1 }, ticks: { stroke: c.grid }, font, label: xLabel },
    {
      stroke: c.muted,
      grid: { stroke: c.grid, width: 1 },
      ticks: { stroke: c.grid },
      font,
      size: 56,
      values: yFormat ? (u, vals) => vals.map(yFormat) : undefined,
    },
  ];
}

/**
 * A uPlot chart living in `host`, resized with it. `make(width, height)` returns the uPlot
 * options; setData() replaces the data; markers (vertical lines) are drawn by a hook.
 */
export class Chart {
  constructor(host, make) {
    this.host = host;
    this.make = make;
    this.plot = null;
    this.data = null;
    this.observer = new ResizeObserver(() => this._resize());
    this.observer.observe(host);
  }

  _size() {
    const w = Math.max(160, Math.floor(this.host.clientWidth));
    const h = Math.max(100, Math.floor(this.host.clientHeight));
    return [w, h];
  }

  setData(data) {
    this.data = data;
    if (this.plot === null) {
      const [w, h] = this._size();
      this.plot = new uPlot(this.make(w, h), data, this.host);
    } else {
      this.plot.setData(data);
    }
  }

  redraw() {
    if (this.plot) this.plot.redraw(false, false);
  }

  rebuild() {
    if (this.plot) {
      this.plot.destroy();
      this.plot = null;
      if (this.data) this.setData(this.data);
    }
  }

  _resize() {
    if (!this.plot) return;
    const [w, h] = this._size();
    if (w !== this.plot.width || h !== this.plot.height) this.plot.setSize({ width: w, height: h });
  }
}

/** Options for a bar chart (x: positions such as strikes), one colour per series, with
 *  vertical markers: series [{label, color}] with null where a series has no bar. */
export function barOptions(width, height, { label, yFormat, markers, series }) {
  const c = colors();
  return {
    width,
    height,
    legend: { show: false },
    cursor: { show: true, drag: { x: false, y: false }, points: { show: false } },
    scales: { x: { time: false } },
    axes: axes(c, label, yFormat),
    series: [
      {},
      ...series.map((s) => ({
        label: s.label,
        paths: uPlot.paths.bars({ size: [0.8, 40] }),
        points: { show: false },
        stroke: c[s.color] || s.color,
        fill: c[s.color] || s.color,
        width: 0,
      })),
    ],
    hooks: { draw: [(u) => drawMarkers(u, markers(), c)] },
  };
}

/** Options for a line chart over numeric x (time: true for epoch seconds). */
export function lineOptions(width, height, { label, time = false, series, yFormat, markers }) {
  const c = colors();
  return {
    width,
    height,
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
    // One point (a single day of history): uPlot widens a zero-span time axis by 86,400
    // "ms" units, which for data in seconds is 1,000 days. Centre it in two days instead.
    scales: { x: { time, range: (u, min, max) => (u.data[0].length === 1 ? [u.data[0][0] - (time ? 86400 : 1), u.data[0][0] + (time ? 86400 : 1)] : [min, max]) } },
    axes: axes(c, label, yFormat),
    series: [
      {},
      ...series.map((s) => ({
        label: s.label,
        stroke: c[s.color] || s.color || c.accent,
        width: 1.5,
        points: { show: s.points ?? false, size: 5 },
        scale: s.scale ?? "y",
      })),
    ],
    hooks: markers ? { draw: [(u) => drawMarkers(u, markers(), c)] } : {},
  };
}

/** Vertical lines at x positions: [{x, label, color}], drawn over the plot. */
function drawMarkers(u, markers, c) {
  const ctx = u.ctx;
  const ratio = window.devicePixelRatio || 1;
  ctx.save();
  ctx.font = `${10 * ratio}px system-ui, sans-serif`;
  ctx.textBaseline = "top";
  ctx.textAlign = "left"; // uPlot leaves its axes' alignment on the context
  let row = 0;
  for (const m of markers) {
    if (typeof m.x !== "number" || !Number.isFinite(m.x)) continue;
    const x = Math.round(u.valToPos(m.x, "x", true));
    if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
    ctx.strokeStyle = c[m.color] || m.color || c.fg;
    ctx.fillStyle = ctx.strokeStyle;
    ctx.lineWidth = ratio;
    ctx.setLineDash(m.dash ? [4 * ratio, 3 * ratio] : []);
    ctx.beginPath();
    ctx.moveTo(x, u.bbox.top);
    ctx.lineTo(x, u.bbox.top + u.bbox.height);
    ctx.stroke();
    // The label on a panel-coloured box, right of its line (left of it near the right edge).
    const width = ctx.measureText(m.label).width + 4 * ratio;
    const right = x + 3 * ratio + width <= u.bbox.left + u.bbox.width;
    const lx = right ? x + 3 * ratio : x - 3 * ratio - width;
    const ly = u.bbox.top + row * 13 * ratio;
    ctx.fillStyle = c.panel;
    ctx.fillRect(lx, ly, width, 12 * ratio);
    ctx.fillStyle = ctx.strokeStyle;
    ctx.fillText(m.label, lx + 2 * ratio, ly + ratio);
    row = (row + 1) % 4;
  }
  ctx.restore();
}
