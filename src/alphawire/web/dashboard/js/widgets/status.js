// Connection: the socket's state (live / connecting / reconnecting / replaying missed
// messages / token required), what it received, replayed, had conflated and lost, and the
// hub's own health and stats (GET /api/v1/health, GET /api/v1/ws/stats every 10 s).

import { age, clock, compact, el, setText } from "../dom.js";
import { Widget } from "../widget.js";

const POLL_MS = 10_000;

export const STATE_TEXT = {
  connecting: "connecting",
  live: "live",
  replaying: "replaying missed messages",
  reconnecting: "reconnecting",
  auth: "token required",
  offline: "offline",
};

export class ConnectionStatus extends Widget {
  static id = "status";
  static title = "Connection";

  mount() {
    const rows = [
      ["state", "Socket"],
      ["received", "Received"],
      ["replayed", "Recovered (replayed by the hub)"],
      ["skipped", "Ticks conflated (slow tab)"],
      ["lost", "Lost (not in history)"],
      ["duplicates", "Duplicates dropped"],
      ["reconnects", "Reconnects"],
      ["channels", "Channels"],
      ["lastClose", "Last close"],
      ["health", "Hub health"],
      ["connections", "Hub connections"],
      ["uptime", "Hub uptime"],
      ["epoch", "Epoch"],
    ];
    this.cells = {};
    const table = el("table", { class: "kv" });
    for (const [key, label] of rows) {
      this.cells[key] = el("td", { class: "num", dataset: { field: key } });
      table.append(el("tr", {}, el("th", { scope: "row", text: label }), this.cells[key]));
    }
    this.body.append(table);
    this.health = null;
    this.stats = null;
    this.ctx.hub.addEventListener("status", () => this.invalidate());
    this._poll();
    this.timer = setInterval(() => this._poll(), POLL_MS);
    this.setState("ready");
  }

  async _poll() {
    const hub = this.ctx.hub;
    try {
      this.health = await hub.get("/api/v1/health");
    } catch (err) {
      // 503 answers a degraded hub with the same document; anything else is unreachable.
      this.health = { status: err.status === 503 ? "degraded" : `unreachable (${err.message})` };
    }
    try {
      this.stats = await hub.get("/api/v1/ws/stats");
    } catch {
      this.stats = null;
    }
    this.touch();
    this.invalidate();
  }

  render() {
    const hub = this.ctx.hub;
    const s = hub.status;
    const c = this.cells;
    setText(c.state, STATE_TEXT[s.state] ?? s.state);
    c.state.className = `num conn-${s.state}`;
    setText(c.received, compact(s.received, 1));
    setText(c.replayed, String(s.replayed));
    setText(c.skipped, String(s.skipped));
    setText(c.lost, String(s.lost));
    setText(c.duplicates, String(s.duplicates));
    setText(c.reconnects, String(s.reconnects));
    setText(c.channels, String(hub.channels.size));
    setText(
      c.lastClose,
      s.lastClose ? `${s.lastClose.code} ${s.lastClose.reason || ""} at ${clock(s.lastClose.at)}`.trim() : "—",
    );
    setText(c.health, this.health ? this.health.status : "…");
    setText(c.connections, this.stats ? String(this.stats.total_connections) : "—");
    setText(c.uptime, this.stats ? age(Date.now() - this.stats.uptime_seconds * 1000) : "—");
    setText(c.epoch, hub.epoch ? hub.epoch.slice(0, 12) : "—");
  }

  checkStale() {
    // The connection widget reports the connection, never stale itself; counters refresh.
    this.invalidate();
  }
}
