// Squeeze Scanner: every symbol's latest squeeze score and its inputs, as a table sortable
// by any column (click the header) and filterable by symbol text and minimum score, under
// the market-wide insight's headline when there is one (e.g. the ranking's leader).
// Reads agent_squeeze: metrics.squeeze_score (0..100), metrics.inputs {name: number}.

import { AgentWidget } from "../agent_widget.js";
import { compact, el, isNum, num, show, signed } from "../dom.js";

// The squeeze agent's inputs (analytics squeeze_score): a short header, its unit, and the
// full name as the header's tooltip. Percent inputs are in percent units (23.5 = 23.5 %).
const INPUTS = {
  short_interest_pct: { label: "SI %", title: "Short interest, % of float", format: (v) => num(v, 1) },
  days_to_cover: { label: "DTC", title: "Days to cover: short interest ÷ average daily volume", format: (v) => num(v, 1) },
  borrow_fee_pct: { label: "Borrow %", title: "Annual borrow fee, %", format: (v) => num(v, 2) },
  utilization_pct: { label: "Util %", title: "Utilisation of lendable shares, %", format: (v) => num(v, 0) },
  rel_volume: { label: "Rel vol", title: "Volume vs average", format: (v) => `${num(v, 1)}×` },
  change_pct: { label: "Chg %", title: "Change on the day, %", format: (v) => signed(v, 2), signed: true },
  float_shares: { label: "Float", title: "Shares in the float", format: (v) => compact(v, 1) },
};

export class SqueezeScanner extends AgentWidget {
  static id = "squeeze";
  static title = "Squeeze Scanner";
  static agent = "squeeze";
  static perSymbol = false;

  mount() {
    super.mount();
    this.sortKey = "squeeze_score";
    this.sortDesc = true;
    this.filter = el("input", { type: "search", placeholder: "Filter symbol", "aria-label": "Filter squeeze table by symbol", oninput: () => this.invalidate() });
    this.minScore = el("input", { type: "number", min: "0", max: "100", step: "5", value: "0", "aria-label": "Minimum squeeze score", class: "narrow", oninput: () => this.invalidate() });
    this.thead = el("thead");
    this.tbody = el("tbody");
    this.view.append(
      el("div", { class: "filters" }, this.filter, el("label", {}, "min score ", this.minScore)),
      el("table", { class: "sortable" }, this.thead, this.tbody),
    );
    this.columns = [];
  }

  draw() {
    const rows = this.feed
      .perSymbol()
      .map(([symbol, e]) => ({ symbol, m: e.insight.metrics || {} }))
      .filter((r) => isNum(r.m.squeeze_score));
    const inputs = new Set();
    for (const r of rows) if (r.m.inputs && typeof r.m.inputs === "object") for (const k of Object.keys(r.m.inputs)) inputs.add(k);
    // The known inputs in the order a trader reads them, then any others by name.
    const known = Object.keys(INPUTS).filter((k) => inputs.has(k));
    const columns = ["symbol", "squeeze_score", ...known, ...[...inputs].filter((k) => !(k in INPUTS)).sort()];
    if (columns.join() !== this.columns.join()) {
      this.columns = columns;
      this._header();
    }
    this._sortMarks();
    const text = this.filter.value.trim().toUpperCase();
    const min = Number(this.minScore.value) || 0;
    const value = (r, k) => (k === "symbol" ? r.symbol : k === "squeeze_score" ? r.m.squeeze_score : r.m.inputs?.[k]);
    const shown = rows.filter((r) => r.symbol.includes(text) && r.m.squeeze_score >= min);
    const dir = this.sortDesc ? -1 : 1;
    shown.sort((a, b) => {
      const x = value(a, this.sortKey);
      const y = value(b, this.sortKey);
      if (x === y) return a.symbol < b.symbol ? -1 : 1;
      if (x === undefined || x === null) return 1;
      if (y === undefined || y === null) return -1;
      return (x < y ? -1 : 1) * dir;
    });
    this.tbody.replaceChildren(
      ...shown.map((r) =>
        el(
          "tr",
          { class: `clickable ${r.symbol === this.ctx.focus ? "focused" : ""}`, dataset: { symbol: r.symbol }, onclick: () => this.ctx.setFocus(r.symbol) },
          ...this.columns.map((k) => {
            const v = value(r, k);
            if (k === "symbol") return el("th", { scope: "row" }, el("button", { type: "button", class: "linkish", text: r.symbol, "aria-label": `Focus ${r.symbol}` }));
            const cls = k === "squeeze_score" ? (v >= 70 ? "num down hot" : v >= 40 ? "num warn" : "num") : "num";
            if (k === "squeeze_score") return el("td", { class: cls, text: num(v, 0) });
            const spec = INPUTS[k];
            const text = !isNum(v) ? show(v, 20) : spec ? spec.format(v) : Math.abs(v) >= 1e6 ? compact(v, 1) : num(v, 2);
            const tone = spec && spec.signed && isNum(v) ? (v > 0 ? " up" : v < 0 ? " down" : "") : "";
            return el("td", { class: cls + tone, text });
          }),
        ),
      ),
    );
    this.setSubject(`${shown.length} of ${rows.length}`);
    return rows.length > 0;
  }

  _header() {
    const label = (k) => (k === "squeeze_score" ? "Score" : k === "symbol" ? "Symbol" : INPUTS[k]?.label ?? k.replaceAll("_", " "));
    this.thead.replaceChildren(
      el(
        "tr",
        {},
        ...this.columns.map((k) =>
          el(
            "th",
            { scope: "col", class: k === "symbol" ? "" : "num", dataset: { key: k }, title: INPUTS[k]?.title },
            el("button", {
              type: "button",
              text: label(k),
              onclick: () => {
                if (this.sortKey === k) this.sortDesc = !this.sortDesc;
                else {
                  this.sortKey = k;
                  this.sortDesc = k !== "symbol";
                }
                this.invalidate();
              },
            }),
          ),
        ),
      ),
    );
  }

  _sortMarks() {
    for (const th of this.thead.querySelectorAll("th")) {
      const sorted = th.dataset.key === this.sortKey;
      th.setAttribute("aria-sort", sorted ? (this.sortDesc ? "descending" : "ascending") : "none");
    }
  }
}
