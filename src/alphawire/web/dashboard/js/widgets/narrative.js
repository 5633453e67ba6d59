// Narrative Brain: the latest market-wide narrative and the latest for the focused symbol
// (headline, stance, confidence, drivers, conflicts, what to watch, insights used), and the
// history of headlines (select one to read it). Reads `narrative` (history 100).

import { clock, el, ratio, setText, show, stanceClass } from "../dom.js";
import { Widget } from "../widget.js";

const MAX = 100;

function itemText(item) {
  if (typeof item === "string") return [null, item];
  if (item && typeof item === "object") {
    const who = Array.isArray(item.agents) ? item.agents.join(" vs ") : item.agent;
    return [who ? show(who, 60) : null, show(item.text ?? item.description ?? JSON.stringify(item), 400)];
  }
  return [null, show(item, 400)];
}

function list(title, items, cls) {
  if (!Array.isArray(items) || !items.length) return null;
  return el(
    "div",
    { class: cls },
    el("h3", { text: title }),
    el(
      "ul",
      { class: "plain" },
      ...items.slice(0, 12).map((item) => {
        const [who, text] = itemText(item);
        return el("li", {}, who ? el("span", { class: "muted", text: `${who}: ` }) : null, el("span", { text }));
      }),
    ),
  );
}

export function narrativeCard(msg, label) {
  const n = msg.narrative || {};
  const stance = typeof n.stance === "string" ? n.stance : "neutral";
  const used = Array.isArray(n.insights_used) ? n.insights_used.length : 0;
  return el(
    "article",
    { class: "narrative", dataset: { id: msg.id } },
    el(
      "div",
      { class: "metrics" },
      el("span", { class: "k", text: label }),
      el("span", { class: `stance ${stanceClass(stance)}`, text: stance }),
      el("span", { class: "num", text: `conf ${ratio(n.confidence)}` }),
      el("span", { class: "muted num", text: clock(msg.timestamp) }),
      n.voice ? el("span", { class: "tag", text: show(n.voice, 20) }) : null,
      n.simulated === true ? el("span", { class: "tag sim", text: "SIM", title: "from simulated inputs" }) : null,
    ),
    el("p", { class: "headline", text: show(n.headline ?? "", 400), dataset: { field: "headline" } }),
    n.summary ? el("p", { class: "summary", text: show(n.summary, 3000), dataset: { field: "summary" } }) : null,
    list("Drivers", n.drivers, "drivers"),
    list("Conflicts", n.conflicts, "conflicts"),
    list("Watch", n.watch, "watch"),
    used ? el("p", { class: "muted", text: `Built from ${used} insight${used === 1 ? "" : "s"}` }) : null,
  );
}

export class NarrativeBrain extends Widget {
  static id = "narrative";
  static title = "Narrative Brain";

  mount() {
    this.items = [];
    this.selected = null;
    this.loaded = false;
    this.cards = el("div", { class: "split cards" });
    this.history = el("ul", { class: "plain history", "aria-label": "Narrative history" });
    this.body.append(this.cards, el("h3", { text: "History" }), this.history);
    this.ctx.onFocus(() => {
      this.selected = null;
      this.invalidate();
    });
    this.ctx.hub.open("narrative", { onMessage: (m) => this._take(m), onError: (e) => this.fail(e) }, { history: 100 });
    this.ctx.hub.channels.get("narrative").ready.then(() => {
      this.loaded = true;
      this.invalidate();
    });
  }

  _take(msg) {
    if (msg.type !== "narrative" || !msg.narrative || typeof msg.narrative !== "object") return;
    if (this.items.some((m) => m.id === msg.id)) return;
    this.items.unshift(msg);
    if (this.items.length > MAX) this.items.pop();
    this.touch();
    this.invalidate();
  }

  render() {
    const focus = this.ctx.focus;
    const wide = this.items.find((m) => !m.narrative.symbol);
    const mine = this.items.find((m) => typeof m.narrative.symbol === "string" && m.narrative.symbol.toUpperCase() === focus);
    const cards = [];
    if (this.selected) cards.push(narrativeCard(this.selected, this.selected.narrative.symbol ? `${this.selected.narrative.symbol} (selected)` : "Market (selected)"));
    else {
      if (wide) cards.push(narrativeCard(wide, "Market"));
      cards.push(mine ? narrativeCard(mine, show(focus, 20)) : el("p", { class: "muted", text: `No narrative for ${focus ?? "—"} yet.` }));
    }
    this.cards.replaceChildren(...cards);
    this.history.replaceChildren(
      ...this.items.slice(0, 40).map((m) =>
        el(
          "li",
          {},
          el(
            "button",
            {
              type: "button",
              class: "linkish",
              "aria-pressed": String(this.selected === m),
              onclick: () => {
                this.selected = this.selected === m ? null : m;
                this.invalidate();
              },
            },
            el("span", { class: "muted num", text: `${clock(m.timestamp)} ` }),
            el("span", { class: stanceClass(m.narrative.stance), text: `${show(m.narrative.symbol ?? "MKT", 10)} ` }),
            el("span", { text: show(m.narrative.headline ?? "", 200) }),
          ),
        ),
      ),
    );
    setText(this.subject, focus ?? "");
    if (!this.loaded && !this.items.length) return;
    this.settle(this.items.length > 0, "No narrative yet (channel narrative).");
  }
}
