// DOM and formatting helpers. Everything a producer sends reaches the page through `text`
// (textContent) or attribute values set with setAttribute: never as markup. No HTML-parsing
// sink is used anywhere in the dashboard (tests/test_dashboard_assets.py checks it).

/** Create an element: el("td", {class: "num", text: "1.00", title: "..."}, child, ...). */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = String(value);
    else if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Set a node's text only when it changed (cheap, and keeps MutationObservers quiet). */
export function setText(node, value) {
  const text = value === null || value === undefined ? "" : String(value);
  const first = node.firstChild;
  // Changing the existing text node's data is cheaper than replacing the node.
  if (first !== null && first === node.lastChild && first.nodeType === 3) {
    if (first.data !== text) first.data = text;
  } else if (node.textContent !== text) node.textContent = text;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

const cache = new Map();
function nf(min, max, extra = {}) {
  const key = `${min}|${max}|${JSON.stringify(extra)}`;
  let f = cache.get(key);
  if (!f) {
    f = new Intl.NumberFormat("en-US", {
      minimumFractionDigits: min,
      maximumFractionDigits: max,
      ...extra,
    });
    cache.set(key, f);
  }
  return f;
}

export function isNum(v) {
  return typeof v === "number" && Number.isFinite(v);
}

/** A price: 2 decimals (4 under $1). */
export function price(v) {
  if (!isNum(v)) return "—";
  return Math.abs(v) < 1 ? nf(4, 4).format(v) : nf(2, 2).format(v);
}

/** A plain number with `d` decimals. */
export function num(v, d = 2) {
  return isNum(v) ? nf(d, d).format(v) : "—";
}

/** A signed number: +1.23 / −1.23. */
export function signed(v, d = 2) {
  if (!isNum(v)) return "—";
  const s = nf(d, d).format(Math.abs(v));
  return v > 0 ? `+${s}` : v < 0 ? `−${s}` : s;
}

/** A percentage given in percent units (1.5 → "+1.50%"). */
export function pct(v, d = 2, sign = true) {
  if (!isNum(v)) return "—";
  return `${sign ? signed(v, d) : nf(d, d).format(v)}%`;
}

/** A 0..1 ratio as a percentage (0.42 → "42%"). */
export function ratio(v, d = 0) {
  return isNum(v) ? `${nf(d, d).format(v * 100)}%` : "—";
}

/** A compact magnitude: 1.2K, 3.4M, 5.6B (sign kept). */
export function compact(v, d = 1) {
  if (!isNum(v)) return "—";
  const a = Math.abs(v);
  const sign = v < 0 ? "−" : "";
  for (const [div, suffix] of [
    [1e12, "T"],
    [1e9, "B"],
    [1e6, "M"],
    [1e3, "K"],
  ]) {
    if (a >= div) return `${sign}${nf(d, d).format(a / div)}${suffix}`;
  }
  return `${sign}${nf(0, 0).format(a)}`;
}

/** Dollars, compact: $1.2M. */
export function usd(v, d = 1) {
  if (!isNum(v)) return "—";
  const c = compact(v, d);
  return c.startsWith("−") ? `−$${c.slice(1)}` : `$${c}`;
}

/** "up" / "down" / "flat": the CSS class of a signed move. */
export function direction(v) {
  if (!isNum(v) || v === 0) return "flat";
  return v > 0 ? "up" : "down";
}

/** A time of day in the viewer's zone, seconds shown (HH:MM:SS). */
export function clock(iso) {
  const t = typeof iso === "number" ? new Date(iso) : new Date(iso ?? NaN);
  if (Number.isNaN(t.getTime())) return "—";
  return t.toLocaleTimeString("en-GB", { hour12: false });
}

/** "12s", "4m", "3h" since an ISO time or epoch milliseconds. */
export function age(iso, now = Date.now()) {
  const t = typeof iso === "number" ? iso : Date.parse(iso ?? "");
  if (!Number.isFinite(t)) return "—";
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  return `${Math.floor(s / 3600)}h`;
}

/** A short string of an arbitrary producer value (objects as compact JSON), bounded. */
export function show(value, limit = 200) {
  if (value === null || value === undefined) return "—";
  let s;
  if (typeof value === "number") s = Number.isInteger(value) ? String(value) : num(value, 2);
  else if (typeof value === "string") s = value;
  else s = JSON.stringify(value);
  return s.length > limit ? `${s.slice(0, limit - 1)}…` : s;
}

/** Stance → CSS class (unknown stances are neutral). */
export function stanceClass(stance) {
  return stance === "bullish" ? "up" : stance === "bearish" ? "down" : "flat";
}
