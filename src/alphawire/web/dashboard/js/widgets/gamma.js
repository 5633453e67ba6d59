// Gamma Tracker: gamma exposure by strike for the focused symbol, as bars, with spot,
// zero gamma and the call and put walls marked; total GEX and the regime.
// Reads agent_gamma: metrics.by_strike [{strike, gex}], spot, total_gex, call_wall,
// put_wall, zero_gamma, regime.

import { AgentWidget, metric } from "../agent_widget.js";
import { barOptions, Chart } from "../charts.js";
import { el, isNum, price, usd } from "../dom.js";

export class GammaTracker extends AgentWidget {
  static id = "gamma";
  static title = "Gamma Tracker";
  static agent = "gamma";
  static showLevels = false; // marked on the chart and listed above it

  mount() {
    super.mount();
    this.stats = el("div", { class: "metrics" });
    this.host = el("div", { class: "chart grow", role: "img", "aria-label": "Gamma exposure by strike" });
    this.view.classList.add("stack");
    this.view.append(this.stats, this.host);
    this.markers = [];
    this.chart = new Chart(this.host, (w, h) =>
      barOptions(w, h, {
        label: "strike",
        yFormat: (v) => usd(v, 0),
        markers: () => this.markers,
        series: [
          { label: "long gamma", color: "up" },
          { label: "short gamma", color: "down" },
        ],
      }),
    );
  }

  draw(entry) {
    const m = entry && entry.insight.metrics;
    const rows = m && Array.isArray(m.by_strike) ? m.by_strike.filter((r) => r && isNum(r.strike) && isNum(r.gex)) : [];
    if (!rows.length) return false;
    rows.sort((a, b) => a.strike - b.strike);
    const regime = typeof m.regime === "string" ? m.regime : "—";
    this.stats.replaceChildren(
      metric("regime", regime, regime === "positive" ? "up" : regime === "negative" ? "down" : ""),
      metric("total GEX", usd(m.total_gex), isNum(m.total_gex) ? (m.total_gex >= 0 ? "up" : "down") : ""),
      metric("spot", price(m.spot)),
      metric("zero γ", price(m.zero_gamma)),
      metric("call wall", price(m.call_wall)),
      metric("put wall", price(m.put_wall)),
    );
    this.markers = [
      { x: m.spot, label: "spot", color: "fg" },
      { x: m.zero_gamma, label: "0γ", color: "warn", dash: true },
      { x: m.call_wall, label: "call wall", color: "up", dash: true },
      { x: m.put_wall, label: "put wall", color: "down", dash: true },
    ];
    this.host.setAttribute(
      "aria-label",
      `Gamma exposure by strike for ${entry.insight.symbol}: ${rows.length} strikes, total ${usd(m.total_gex)}, zero gamma ${price(m.zero_gamma)}`,
    );
    this.chart.setData([
      rows.map((r) => r.strike),
      rows.map((r) => (r.gex >= 0 ? r.gex : null)),
      rows.map((r) => (r.gex < 0 ? r.gex : null)),
    ]);
    return true;
  }

  onTheme() {
    this.chart.rebuild();
  }
}

