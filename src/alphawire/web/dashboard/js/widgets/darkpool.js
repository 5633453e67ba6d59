// Dark Pool Flow: the focused symbol's block prints (size, notional, side), its short-volume
// ratio history, and the dollar-weighted index (DIX) over the watchlist.
// Reads agent_darkpool: metrics.blocks, short_ratio, short_ratio_z, short_ratio_history;
// metrics.dix and dix_history from the market-wide insight (or the symbol's).

import { AgentWidget, metric } from "../agent_widget.js";
import { MARKET_WIDE } from "../agents.js";
import { Chart, lineOptions } from "../charts.js";
import { clock, compact, el, isNum, num, price, ratio, show, usd } from "../dom.js";

const MAX_BLOCKS = 50;
const SIDE_CLASS = { buy: "up", sell: "down", mid: "flat", unknown: "flat" };

function series(list, key) {
  const pts = (Array.isArray(list) ? list : [])
    .map((p) => [Date.parse(p && p.date), p && p[key]])
    .filter(([t, v]) => Number.isFinite(t) && isNum(v))
    .sort((a, b) => a[0] - b[0]);
  return [pts.map((p) => p[0] / 1000), pts.map((p) => p[1])];
}

export class DarkPoolFlow extends AgentWidget {
  static id = "darkpool";
  static title = "Dark Pool Flow";
  static agent = "darkpool";

  mount() {
    super.mount();
    this.stats = el("div", { class: "metrics" });
    this.tbody = el("tbody");
    const table = el(
      "table",
      { class: "tape" },
      el(
        "thead",
        {},
        el("tr", {}, ...["Time", "Price", "Size", "Notional", "Side"].map((h, i) => el("th", { scope: "col", class: i ? "num" : "", text: h }))),
      ),
      this.tbody,
    );
    this.host = el("div", { class: "chart", role: "img", "aria-label": "Short-volume ratio history" });
    this.view.classList.add("stack");
    this.view.append(this.stats, el("div", { class: "split grow" }, el("div", { class: "scroll" }, table), this.host));
    this.chart = new Chart(this.host, (w, h) =>
      lineOptions(w, h, {
        time: true,
        series: [
          { label: "short ratio", color: "accent", points: true },
          { label: "DIX", color: "warn" },
        ],
        yFormat: (v) => ratio(v, 0),
      }),
    );
  }

  relevant() {
    return true; // the DIX rides on any insight
  }

  draw(entry) {
    const m = (entry && entry.insight.metrics) || {};
    const wide = this.feed.get(MARKET_WIDE);
    const wm = (wide && wide.insight.metrics) || {};
    const dix = isNum(wm.dix) ? wm.dix : m.dix;
    const dixHistory = wm.dix_history ?? m.dix_history;
    const blocks = Array.isArray(m.blocks) ? m.blocks.filter((b) => b && typeof b === "object") : [];
    blocks.sort((a, b) => (Date.parse(b.time) || 0) - (Date.parse(a.time) || 0));
    this.stats.replaceChildren(
      metric("short ratio", ratio(m.short_ratio, 1)),
      metric("z", num(m.short_ratio_z, 2), isNum(m.short_ratio_z) && Math.abs(m.short_ratio_z) >= 2 ? "hot" : ""),
      metric("DIX", ratio(dix, 1)),
      metric("blocks", String(blocks.length)),
    );
    this.tbody.replaceChildren(
      ...blocks.slice(0, MAX_BLOCKS).map((b) => {
        const side = typeof b.side === "string" ? b.side : "unknown";
        return el(
          "tr",
          {},
          el("td", { class: "num", text: clock(b.time) }),
          el("td", { class: "num", text: price(b.price) }),
          el("td", { class: "num", text: compact(b.size, 1) }),
          el("td", { class: "num", text: usd(b.notional) }),
          el("td", { class: `num ${SIDE_CLASS[side] ?? "flat"}`, text: show(side, 12) }),
        );
      }),
    );
    const [xs, ratios] = series(m.short_ratio_history, "ratio");
    const [dx, dixes] = series(dixHistory, "value");
    // One x axis: the union of both series' dates.
    const xsAll = [...new Set([...xs, ...dx])].sort((a, b) => a - b);
    const at = (x, y) => new Map(x.map((t, i) => [t, y[i]]));
    const r = at(xs, ratios);
    const d = at(dx, dixes);
    if (xsAll.length) this.chart.setData([xsAll, xsAll.map((t) => r.get(t) ?? null), xsAll.map((t) => d.get(t) ?? null)]);
    return Boolean(entry) || isNum(dix);
  }

  onTheme() {
    this.chart.rebuild();
  }
}
