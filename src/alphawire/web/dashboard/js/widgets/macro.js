// Macro Intelligence: the Treasury curve, the VIX and its regime, and the inflation trend.
// Reads agent_macro's market-wide insight: metrics.curve [{tenor, years, yield}],
// spread_2s10s, curve_regime, vix, vix_regime, inflation [{date, yoy}], inflation_trend,
// fed_funds.

import { AgentWidget, metric } from "../agent_widget.js";
import { Chart, lineOptions } from "../charts.js";
import { el, isNum, num, pct, show, signed } from "../dom.js";

const VIX_CLASS = { calm: "up", normal: "flat", elevated: "warn", stress: "down" };

export class MacroIntelligence extends AgentWidget {
  static id = "macro";
  static title = "Macro Intelligence";
  static agent = "macro";
  static perSymbol = false;

  mount() {
    super.mount();
    this.stats = el("div", { class: "metrics" });
    this.curveHost = el("div", { class: "chart", role: "img", "aria-label": "Treasury yield curve" });
    this.inflHost = el("div", { class: "chart", role: "img", "aria-label": "Inflation, year over year" });
    this.view.classList.add("stack");
    this.view.append(this.stats, el("div", { class: "split grow" }, this.curveHost, this.inflHost));
    this.tenors = [];
    this.curve = new Chart(this.curveHost, (w, h) => {
      const o = lineOptions(w, h, { label: "tenor", series: [{ label: "yield %", color: "accent", points: true }], yFormat: (v) => `${num(v, 2)}%` });
      // Tenors evenly spaced, as desks draw the curve: on a scale of years the 3M-2Y front
      // end, where an inversion shows first, would be squeezed into a tenth of the width.
      o.axes[0].splits = () => this.tenors.map((_, i) => i);
      o.axes[0].values = (u, splits) => splits.map((i) => this.tenors[i] ?? "");
      return o;
    });
    this.inflation = new Chart(this.inflHost, (w, h) =>
      lineOptions(w, h, { time: true, series: [{ label: "CPI YoY %", color: "warn" }], yFormat: (v) => `${num(v, 1)}%` }),
    );
  }

  draw(entry) {
    if (!entry) return false;
    const m = entry.insight.metrics || {};
    const curve = (Array.isArray(m.curve) ? m.curve : []).filter((p) => p && isNum(p.years) && isNum(p.yield)).sort((a, b) => a.years - b.years);
    const infl = (Array.isArray(m.inflation) ? m.inflation : [])
      .map((p) => [Date.parse(p && p.date), p && p.yoy])
      .filter(([t, v]) => Number.isFinite(t) && isNum(v))
      .sort((a, b) => a[0] - b[0]);
    const latest = isNum(m.inflation_yoy) ? m.inflation_yoy : infl.length ? infl[infl.length - 1][1] : null;
    const trend = typeof m.inflation_trend === "string" ? m.inflation_trend : "—";
    // The change behind the trend label (percentage points over three months), when given.
    const trendText = isNum(m.inflation_trend_pp) ? `${trend} (${signed(m.inflation_trend_pp, 2)} pp, 3m)` : trend;
    this.stats.replaceChildren(
      metric("2s10s", isNum(m.spread_2s10s) ? `${num(m.spread_2s10s, 2)} pp` : "—", isNum(m.spread_2s10s) && m.spread_2s10s < 0 ? "down" : ""),
      metric("3m10y", isNum(m.spread_3m10y) ? `${num(m.spread_3m10y, 2)} pp` : "—", isNum(m.spread_3m10y) && m.spread_3m10y < 0 ? "down" : ""),
      metric("curve", show(m.curve_regime ?? "—", 20), m.curve_regime === "inverted" ? "down" : ""),
      metric("VIX", num(m.vix, 2)),
      metric("regime", show(m.vix_regime ?? "—", 20), VIX_CLASS[m.vix_regime] ?? ""),
      metric("CPI YoY", latest === null ? "—" : pct(latest, 2, false)),
      metric("trend", trendText, trend === "rising" ? "down" : trend === "falling" ? "up" : ""),
      metric("fed funds", isNum(m.fed_funds) ? pct(m.fed_funds, 2, false) : "—"),
    );
    if (curve.length) {
      this.tenors = curve.map((p) => show(p.tenor ?? `${num(p.years, 2)}Y`, 8));
      this.curve.setData([curve.map((_, i) => i), curve.map((p) => p.yield)]);
      this.curveHost.setAttribute("aria-label", `Treasury yield curve: ${curve.map((p) => `${show(p.tenor ?? p.years, 8)} ${num(p.yield, 2)}%`).join(", ")}`);
    }
    if (infl.length) this.inflation.setData([infl.map((p) => p[0] / 1000), infl.map((p) => p[1])]);
    return true;
  }

  onTheme() {
    this.curve.rebuild();
    this.inflation.rebuild();
  }
}
