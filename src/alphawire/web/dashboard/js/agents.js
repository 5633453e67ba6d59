// The agents' insights, as the widgets read them (docs/dashboard.md, "What the dashboard
// reads"): one AgentFeed per agent channel `agent_{name}`, keeping the latest insight per
// symbol (market-wide insights, symbol null, under "*") and notifying its widgets.

export const AGENTS = ["gamma", "darkpool", "squeeze", "options", "reddit", "macro", "market", "signal"];
export const MARKET_WIDE = "*";
const MAX_SYMBOLS = 1000; // bound on symbols remembered per agent (oldest update dropped)

export class AgentFeed {
  constructor(hub, name) {
    this.name = name;
    this.channel = `agent_${name}`;
    // Agents named in class style ("GammaAgent") publish on agent_gammaagent: read both.
    this.channels = [this.channel, `agent_${name}agent`];
    this.latest = new Map(); // symbol or "*" → {insight, message}
    this.listeners = new Set();
    this.loaded = false;
    this.error = null;
    const handler = {
      onMessage: (msg) => this._take(msg),
      onError: (err) => {
        this.error = err;
        this._notify();
      },
      onLoaded: () => {
        this.error = null;
        this._notify();
      },
    };
    this.closers = this.channels.map((c) => hub.open(c, handler, { history: 500 }));
    Promise.all(this.channels.map((c) => hub.channels.get(c).ready)).then(() => {
      this.loaded = true;
      this._notify();
    });
  }

  _take(msg) {
    const insight = msg.insight;
    if (!insight || typeof insight !== "object") return;
    const key = typeof insight.symbol === "string" && insight.symbol ? insight.symbol.toUpperCase() : MARKET_WIDE;
    const held = this.latest.get(key);
    // Two channels (and history after live) may arrive out of order: keep the newest.
    if (held && held.message.id > msg.id) return;
    this.latest.delete(key); // re-insert: Map order is recency order
    this.latest.set(key, { insight, message: msg });
    if (this.latest.size > MAX_SYMBOLS) this.latest.delete(this.latest.keys().next().value);
    this.error = null;
    this._notify(key);
  }

  _notify(key) {
    for (const fn of this.listeners) fn(key);
  }

  /** The latest insight for `symbol` (or market-wide with "*"), or undefined. */
  get(symbol) {
    return this.latest.get(symbol ?? MARKET_WIDE);
  }

  /** Every symbol's latest insight (market-wide excluded). */
  perSymbol() {
    return [...this.latest.entries()].filter(([k]) => k !== MARKET_WIDE);
  }

  listen(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}

/** Time of an insight: its as_of, else the message's timestamp. */
export function insightTime(entry) {
  if (!entry) return 0;
  const t = Date.parse(entry.insight.as_of ?? entry.message.timestamp ?? "");
  return Number.isFinite(t) ? t : 0;
}
