// Reddit Sentiment: top mentioned tickers with mention velocity and sentiment, and the posts
// behind them. Reads agent_reddit: the market-wide insight's metrics.tickers
// [{symbol, mentions, velocity, sentiment, call_put_ratio}], else each symbol's insight
// (metrics.mentions, velocity, sentiment); posts are evidence items (text = title).

import { AgentWidget } from "../agent_widget.js";
import { MARKET_WIDE } from "../agents.js";
import { clock, el, isNum, num, show, signed } from "../dom.js";

const TOP = 25;

function sentimentBar(v) {
  const fill = el("span", { class: v > 0.05 ? "up" : v < -0.05 ? "down" : "flat" });
  fill.style.width = `${isNum(v) ? Math.round(Math.min(1, Math.abs(v)) * 100) : 0}%`;
  return el("div", { class: "bar sentbar", title: isNum(v) ? signed(v, 2) : "—" }, fill);
}

export class RedditSentiment extends AgentWidget {
  static id = "reddit";
  static title = "Reddit Sentiment";
  static agent = "reddit";
  static perSymbol = false;

  mount() {
    super.mount();
    this.tbody = el("tbody");
    this.posts = el("ul", { class: "plain posts" });
    this.view.append(
      el(
        "table",
        {},
        el("thead", {}, el("tr", {}, ...["Symbol", "Mentions", "Velocity", "Sentiment", "", "C/P"].map((h, i) => el("th", { scope: "col", class: i && i !== 4 ? "num" : "", text: h })))),
        this.tbody,
      ),
      el("h3", { text: "Posts" }),
      this.posts,
    );
  }

  draw(entry) {
    let tickers = entry && Array.isArray(entry.insight.metrics?.tickers) ? entry.insight.metrics.tickers : null;
    if (!tickers) {
      tickers = this.feed.perSymbol().map(([symbol, e]) => ({ symbol, ...(e.insight.metrics || {}) }));
    }
    tickers = tickers.filter((t) => t && typeof t.symbol === "string").sort((a, b) => (b.mentions ?? 0) - (a.mentions ?? 0));
    this.tbody.replaceChildren(
      ...tickers.slice(0, TOP).map((t) =>
        el(
          "tr",
          { class: `clickable ${t.symbol === this.ctx.focus ? "focused" : ""}`, dataset: { symbol: t.symbol }, onclick: () => this.ctx.setFocus(t.symbol) },
          el("th", { scope: "row" }, el("button", { type: "button", class: "linkish", text: show(t.symbol, 20) })),
          el("td", { class: "num", text: isNum(t.mentions) ? num(t.mentions, 0) : "—" }),
          el("td", { class: `num ${isNum(t.velocity) && t.velocity >= 2 ? "hot" : ""}`, text: isNum(t.velocity) ? `${num(t.velocity, 1)}×` : "—" }),
          el("td", { class: `num ${isNum(t.sentiment) ? (t.sentiment > 0.05 ? "up" : t.sentiment < -0.05 ? "down" : "flat") : ""}`, text: isNum(t.sentiment) ? signed(t.sentiment, 2) : "—" }),
          el("td", {}, sentimentBar(t.sentiment)),
          el("td", { class: "num", text: isNum(t.call_put_ratio) ? num(t.call_put_ratio, 2) : "—" }),
        ),
      ),
    );
    // The posts behind the counts: the focused symbol's first, then the market-wide
    // insight's, then the other symbols', newest first (a quiet symbol still shows the tape).
    const focused = this.feed.get(this.ctx.focus);
    const sources = [focused, this.feed.get(MARKET_WIDE)];
    for (const [, e] of this.feed.perSymbol()) if (e !== focused) sources.push(e);
    const posts = [];
    for (const [rank, e] of sources.entries()) {
      if (!e || !Array.isArray(e.insight.evidence)) continue;
      for (const p of e.insight.evidence) {
        if (p && typeof p === "object") posts.push({ p, symbol: e.insight.symbol, rank: Math.min(rank, 2), t: Date.parse(p.time) || 0 });
      }
    }
    posts.sort((a, b) => a.rank - b.rank || b.t - a.t);
    this.posts.replaceChildren(
      ...posts.slice(0, 12).map(({ p, symbol }) =>
        el(
          "li",
          { class: "post" },
          el("span", { class: "muted", text: `${show(p.source ?? "", 40)}${typeof symbol === "string" ? ` · ${show(symbol, 12)}` : ""}${p.time ? ` · ${clock(p.time)}` : ""} ` }),
          el("span", { text: show(p.text ?? "", 300) }),
          isNum(p.value) ? el("span", { class: `num ${p.value > 0.05 ? "up" : p.value < -0.05 ? "down" : "flat"}`, text: ` ${signed(p.value, 2)}`, title: "sentiment" }) : null,
        ),
      ),
    );
    return tickers.length > 0;
  }
}
