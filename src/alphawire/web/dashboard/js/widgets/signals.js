// Signals Center: live signals (action, confidence, entry/stop/target, timeframe, rationale)
// and the signal agent's record (hit rate). Reads `signals` (history 100) and agent_signal's
// market-wide insight metrics.record {signals, hits, stops, expired, open, hit_rate}.

import { MARKET_WIDE } from "../agents.js";
import { clock, el, isNum, num, price, ratio, setText, show } from "../dom.js";
import { Widget } from "../widget.js";

const MAX = 200; // signals kept (oldest dropped)
const ACTION_CLASS = { buy: "up", long: "up", sell: "down", short: "down" };

export class SignalsCenter extends Widget {
  static id = "signals";
  static title = "Signals Center";

  mount() {
    this.signals = [];
    this.ids = new Set();
    this.loaded = false;
    this.record = el("div", { class: "metrics record", dataset: { field: "record" } });
    this.onlyFocus = el("input", { type: "checkbox", onchange: () => this.invalidate() });
    this.tbody = el("tbody");
    this.body.append(
      el("div", { class: "filters" }, this.record, el("span", { class: "spacer" }), el("label", {}, this.onlyFocus, " focused only")),
      el(
        "table",
        { class: "tape" },
        el(
          "thead",
          {},
          el("tr", {}, ...["Time", "Symbol", "Action", "Conf", "Entry", "Stop", "Target", "TF", "Rationale"].map((h, i) => el("th", { scope: "col", class: i >= 3 && i <= 6 ? "num" : "", text: h }))),
        ),
        this.tbody,
      ),
    );
    this.agent = this.ctx.agent("signal");
    this.agent.listen(() => this.invalidate());
    this.ctx.onFocus(() => this.invalidate());
    this.ctx.hub.open(
      "signals",
      {
        onMessage: (msg) => this._take(msg),
        onError: (err) => this.fail(err),
      },
      { history: 100 },
    );
    this.ctx.hub.channels.get("signals").ready.then(() => {
      this.loaded = true;
      this.invalidate();
    });
  }

  _take(msg) {
    if (msg.type !== "signal" || !msg.signal || this.ids.has(msg.id)) return;
    this.ids.add(msg.id);
    this.signals.unshift(msg);
    if (this.signals.length > MAX) this.ids.delete(this.signals.pop().id);
    this.touch();
    this.invalidate();
  }

  render() {
    const wide = this.agent.get(MARKET_WIDE);
    const r = wide && wide.insight.metrics && wide.insight.metrics.record;
    if (r && typeof r === "object") {
      const closed = (r.hits ?? 0) + (r.stops ?? 0) + (r.expired ?? 0); // hit_rate's denominator
      this.record.replaceChildren(
        el("span", { class: "k", text: "Record" }),
        el("span", { class: "num", text: `${ratio(r.hit_rate)} hit (${num(r.hits ?? 0, 0)}/${num(closed, 0)})` }),
        el("span", { class: "num muted", text: `${num(r.stops ?? 0, 0)} stopped · ${num(r.expired ?? 0, 0)} expired · ${num(r.open ?? 0, 0)} open · ${num(r.signals ?? 0, 0)} total` }),
      );
    } else {
      this.record.replaceChildren(el("span", { class: "muted", text: "Record: no signal-agent record yet" }));
    }
    const focus = this.ctx.focus;
    const shown = this.onlyFocus.checked ? this.signals.filter((m) => m.signal.symbol === focus) : this.signals;
    this.tbody.replaceChildren(
      ...shown.slice(0, 100).map((m) => {
        const s = m.signal;
        const action = typeof s.action === "string" ? s.action : "";
        return el(
          "tr",
          { class: `clickable ${s.symbol === focus ? "focused" : ""}`, dataset: { id: m.id }, onclick: () => this.ctx.setFocus(s.symbol) },
          el("td", { class: "num", text: clock(m.timestamp) }),
          el("th", { scope: "row" }, el("button", { type: "button", class: "linkish", text: show(s.symbol, 20) })),
          el("td", { class: `action ${ACTION_CLASS[action.toLowerCase()] ?? "flat"}`, text: show(action.toUpperCase() || "—", 12) }),
          el("td", { class: "num", text: isNum(s.confidence) ? ratio(s.confidence) : "—" }),
          el("td", { class: "num", text: price(s.entry) }),
          el("td", { class: "num down", text: price(s.stop) }),
          el("td", { class: "num up", text: price(s.target) }),
          el("td", { text: show(s.timeframe ?? "", 12) }),
          el("td", { class: "wrap rationale", text: show(s.rationale ?? "", 400), title: show(s.rationale ?? "", 2000) }),
        );
      }),
    );
    setText(this.subject, `${this.signals.length}`);
    if (!this.loaded && !this.signals.length) return;
    this.settle(this.signals.length > 0 || Boolean(r), "No signals yet (channel signals).");
  }
}
