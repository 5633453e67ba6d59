// The common part of every agent widget: it reads one agent's feed, follows the focused
// symbol (or shows the market-wide insight), and renders the insight's common fields
// (stance, score, confidence, headline, summary, levels, evidence, as_of) above the
// widget's own view. Subclasses implement view(entry) and, if they are not per-symbol,
// pick(feed).

import { MARKET_WIDE, insightTime } from "./agents.js";
import { age, clear, clock, el, isNum, price, ratio, show, signed, stanceClass } from "./dom.js";
import { Widget } from "./widget.js";

export class AgentWidget extends Widget {
  static agent = "";
  static perSymbol = true; // follows the focused symbol
  static emptyText = "No insight yet.";
  static showLevels = true; // false where the widget's own view shows the levels

  mount() {
    this.feed = this.ctx.agent(this.constructor.agent);
    this.head = el("div", { class: "insight-head" });
    this.view = el("div", { class: "view grow" });
    this.body.classList.add("stack");
    this.body.append(this.head, this.view);
    this.shown = null;
    this.feed.listen((key) => {
      if (key === undefined || this.relevant(key)) this.invalidate();
    });
    this.ctx.onFocus(() => this.invalidate());
    this.invalidate();
  }

  relevant(key) {
    if (!this.constructor.perSymbol) return true;
    return key === this.ctx.focus || key === MARKET_WIDE;
  }

  /** The entry this widget shows: the focused symbol's insight by default. */
  pick() {
    return this.constructor.perSymbol ? this.feed.get(this.ctx.focus) : this.feed.get(MARKET_WIDE);
  }

  render() {
    this.setSubject(this.constructor.perSymbol ? this.ctx.focus ?? "" : "");
    if (this.feed.error && !this.feed.latest.size) {
      this.setState("error", `${this.feed.channel}: ${this.feed.error.message}`);
      return;
    }
    if (!this.feed.loaded && !this.feed.latest.size) {
      this.setState("loading");
      return;
    }
    const entry = this.pick();
    if (entry) {
      this.touch(insightTime(entry) || Date.now());
      if (entry !== this.shown) {
        this.shown = entry;
        this.renderHead(entry);
      }
    } else {
      this.shown = null;
      clear(this.head);
    }
    const has = this.draw(entry);
    const waiting = this.constructor.perSymbol
      ? `No ${this.constructor.agent} insight for ${this.ctx.focus ?? "—"} yet (channel ${this.feed.channel}).`
      : `No ${this.constructor.agent} insight yet (channel ${this.feed.channel}).`;
    this.settle(has, waiting);
  }

  /** Draw the widget's own view; return whether there was anything to show. */
  draw(entry) {
    return Boolean(entry);
  }

  renderHead(entry) {
    const i = entry.insight;
    const stance = typeof i.stance === "string" ? i.stance : "neutral";
    const line = el(
      "div",
      { class: "metrics" },
      el("span", { class: `stance ${stanceClass(stance)}`, text: stance }),
      i.simulated === true ? el("span", { class: "tag sim", text: "SIM", title: "from simulated inputs" }) : null,
      metric("score", isNum(i.score) ? signed(i.score, 2) : "—", isNum(i.score) ? (i.score > 0 ? "up" : i.score < 0 ? "down" : "") : ""),
      metric("conf", ratio(i.confidence)),
      metric("as of", clock(i.as_of ?? entry.message.timestamp), "", age(i.as_of ?? entry.message.timestamp)),
    );
    const levels = i.levels && typeof i.levels === "object" ? Object.entries(i.levels).slice(0, 8) : [];
    const parts = [
      line,
      el("p", { class: "headline", text: show(i.headline ?? "", 400), dataset: { field: "headline" } }),
    ];
    if (i.summary) parts.push(el("p", { class: "summary", text: show(i.summary, 2000), dataset: { field: "summary" } }));
    if (levels.length && this.constructor.showLevels) {
      parts.push(el("div", { class: "metrics levels" }, ...levels.map(([k, v]) => metric(k.replaceAll("_", " "), isNum(v) ? price(v) : show(v, 40)))));
    }
    const evidence = Array.isArray(i.evidence) ? i.evidence.slice(0, 5) : [];
    if (evidence.length) {
      const details = el("details", { class: "evidence" }, el("summary", { text: `Evidence (${i.evidence.length})` }));
      const list = el("ul", { class: "plain" });
      for (const e of evidence) {
        if (!e || typeof e !== "object") continue;
        list.append(
          el(
            "li",
            {},
            el("span", { class: "muted", text: `${show(e.source ?? "", 40)} ` }),
            e.value !== undefined ? el("span", { class: "num", text: `${show(e.value, 40)} ` }) : null,
            el("span", { text: show(e.text ?? "", 300) }),
            e.time ? el("span", { class: "muted", text: ` · ${clock(e.time)}` }) : null,
          ),
        );
      }
      details.append(list);
      parts.push(details);
    }
    this.head.replaceChildren(...parts);
  }
}

/** A label and a value, as a small inline pair. */
export function metric(label, value, cls = "", title = "") {
  return el(
    "span",
    { class: "metric", title: title || undefined },
    el("span", { class: "k", text: label }),
    el("span", { class: `v num ${cls}`, text: value }),
  );
}
