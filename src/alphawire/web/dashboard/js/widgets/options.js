// Options Flow: the unusual-contracts tape (side, sentiment, size, premium) for the focused
// symbol, or for every symbol, and the premium by side (calls/puts) and sentiment.
// Reads agent_options: metrics.unusual [...], metrics.premium {calls, puts, bullish, bearish}.

import { AgentWidget } from "../agent_widget.js";
import { clock, compact, el, isNum, price, show, stanceClass, usd } from "../dom.js";

const MAX_ROWS = 60;

function bar(label, value, total, cls) {
  const fill = el("span", { class: cls });
  fill.style.width = `${total > 0 && isNum(value) ? Math.round((Math.max(0, value) / total) * 100) : 0}%`;
  return el("div", { class: "premium-row" }, el("span", { class: "k", text: label }), el("div", { class: "bar" }, fill), el("span", { class: "v num", text: usd(value) }));
}

export class OptionsFlow extends AgentWidget {
  static id = "options";
  static title = "Options Flow";
  static agent = "options";

  mount() {
    super.mount();
    this.all = el("input", { type: "checkbox", onchange: () => this.invalidate() });
    this.premium = el("div", { class: "premium" });
    this.tbody = el("tbody");
    this.view.append(
      el("div", { class: "filters" }, el("label", {}, this.all, " all symbols")),
      this.premium,
      el(
        "table",
        { class: "tape" },
        el("thead", {}, el("tr", {}, ...["Time", "Sym", "Contract", "Side", "Sent.", "Size", "Premium"].map((h, i) => el("th", { scope: "col", class: i >= 5 ? "num" : "", text: h })))),
        this.tbody,
      ),
    );
  }

  relevant(key) {
    return this.all.checked || super.relevant(key);
  }

  draw(entry) {
    const entries = this.all.checked ? this.feed.perSymbol().map(([, e]) => e) : entry ? [entry] : [];
    const rows = [];
    const premium = { calls: 0, puts: 0, bullish: 0, bearish: 0 };
    for (const e of entries) {
      const m = e.insight.metrics || {};
      for (const k of Object.keys(premium)) if (m.premium && isNum(m.premium[k])) premium[k] += m.premium[k];
      if (Array.isArray(m.unusual)) for (const u of m.unusual) if (u && typeof u === "object") rows.push({ symbol: e.insight.symbol, ...u });
    }
    rows.sort((a, b) => (Date.parse(b.time) || 0) - (Date.parse(a.time) || 0));
    const sides = premium.calls + premium.puts;
    const moods = premium.bullish + premium.bearish;
    this.premium.replaceChildren(
      bar("calls", premium.calls, sides, "up"),
      bar("puts", premium.puts, sides, "down"),
      bar("bullish", premium.bullish, moods, "up"),
      bar("bearish", premium.bearish, moods, "down"),
    );
    this.tbody.replaceChildren(
      ...rows.slice(0, MAX_ROWS).map((u) => {
        const right = u.right === "put" ? "P" : u.right === "call" ? "C" : "";
        const contract = u.contract ? show(u.contract, 40) : `${show(u.expiry ?? "", 12)} ${isNum(u.strike) ? price(u.strike) : ""}${right}`;
        return el(
          "tr",
          {},
          el("td", { class: "num", text: clock(u.time) }),
          el("td", { text: show(u.symbol ?? "", 12) }),
          el("td", { text: contract }, u.sweep === true ? el("span", { class: "tag", text: "SWEEP" }) : null),
          el("td", { text: show(u.side ?? "", 8) }),
          el("td", { class: stanceClass(u.sentiment), text: show(u.sentiment ?? "", 10) }),
          el("td", { class: "num", text: compact(u.size, 1) }),
          el("td", { class: "num", text: usd(u.premium) }),
        );
      }),
    );
    return rows.length > 0 || sides > 0;
  }
}

