// Alerts feed: every alert on `unified`, live, newest first; filters by type, symbol and
// minimum severity; opt-in sound and desktop notifications; each alert's delivery state
// (GET /api/v1/alerts/{id}) on demand; new alerts announced in the ARIA live region.
// An alert is shown once whatever happens to the connection: the feed is keyed by the
// alert's id, and after a gap the hub could not fill it re-reads the channel's history.

import { clock, el, setText, show } from "../dom.js";
import { Widget } from "../widget.js";

const MAX = 500; // alerts kept on the page (oldest dropped; the hub keeps the full log)
const SEVERITIES = ["info", "low", "medium", "high", "critical"];
const ANNOUNCE_EVERY_MS = 1000;

function severityOf(alert) {
  return SEVERITIES.includes(alert.severity) ? alert.severity : "info";
}

export class AlertsFeed extends Widget {
  static id = "alerts";
  static title = "Alerts";

  mount() {
    this.alerts = []; // newest first
    this.byId = new Map();
    this.nodes = new Map();
    this.types = new Set();
    this.loaded = false;
    this.pendingAnnounce = [];
    this.lastAnnounce = 0;
    this.fresh = [];
    const saved = this.ctx.prefs.alerts;
    this.type = el("select", { "aria-label": "Filter alerts by type", onchange: () => this._filtersChanged() }, el("option", { value: "", text: "all types" }));
    this.symbol = el("input", { type: "search", placeholder: "Symbol", "aria-label": "Filter alerts by symbol", maxlength: "20", class: "narrow", oninput: () => this._filtersChanged() });
    this.severity = el(
      "select",
      { "aria-label": "Minimum severity", onchange: () => this._filtersChanged() },
      ...SEVERITIES.map((s) => el("option", { value: s, text: s === "info" ? "all severities" : `≥ ${s}` })),
    );
    this.sound = el("input", { type: "checkbox", checked: saved.sound === true, onchange: () => this._savePrefs() });
    this.desktop = el("input", { type: "checkbox", checked: saved.desktop === true, onchange: () => this._desktopChanged() });
    this.severity.value = SEVERITIES.includes(saved.minSeverity) ? saved.minSeverity : "info";
    this.list = el("ol", { class: "alerts", "aria-label": "Alerts, newest first" });
    this.body.append(
      el(
        "div",
        { class: "filters" },
        this.type,
        this.symbol,
        this.severity,
        el("label", { title: "A short tone for high and critical alerts" }, this.sound, " sound"),
        el("label", { title: "Browser notifications" }, this.desktop, " desktop"),
      ),
      this.list,
    );
    this.ctx.hub.open(
      "unified",
      {
        onMessage: (msg, meta) => this._take(msg, meta),
        onGap: (frame) => this._gap(frame),
        onError: (err) => this.fail(err),
      },
      { history: 200 },
    );
    this.ctx.hub.channels.get("unified").ready.then(() => {
      this.loaded = true;
      this.rebuild = true;
      this.invalidate();
    });
    this.rebuild = true;
  }

  _savePrefs() {
    this.ctx.prefs.alerts = { sound: this.sound.checked, desktop: this.desktop.checked, minSeverity: this.severity.value };
    this.ctx.prefs.save();
  }

  _desktopChanged() {
    if (this.desktop.checked && "Notification" in window && Notification.permission === "default") {
      Notification.requestPermission().catch(() => {});
    }
    this._savePrefs();
  }

  _filtersChanged() {
    this._savePrefs();
    this.rebuild = true;
    this.invalidate();
  }

  _take(msg, meta = {}) {
    if (msg.type !== "alert" || typeof msg.id !== "string" || this.byId.has(msg.id)) return;
    this.byId.set(msg.id, msg);
    // Newest first by id (ULIDs sort by time; seqs restart when the hub's history is reset,
    // and history merged after a gap may be older than what we have).
    let i = 0;
    while (i < this.alerts.length && this.alerts[i].id > msg.id) i++;
    this.alerts.splice(i, 0, msg);
    if (i !== 0) this.rebuild = true;
    else this.fresh.push(msg);
    while (this.alerts.length > MAX) {
      const old = this.alerts.pop();
      this.byId.delete(old.id);
      const node = this.nodes.get(old.id);
      if (node) node.remove();
      this.nodes.delete(old.id);
    }
    if (typeof msg.alert_type === "string" && !this.types.has(msg.alert_type)) {
      this.types.add(msg.alert_type);
      this.type.append(el("option", { value: msg.alert_type, text: show(msg.alert_type, 64) }));
    }
    this.touch();
    if (!meta.replay && this.loaded) this._notify(msg);
    this.invalidate();
  }

  async _gap(frame) {
    // The hub could not replay everything: read what its history still has and merge by id.
    const before = this.byId.size;
    try {
      const page = await this.ctx.hub.history("unified", { limit: 200 });
      for (const msg of page.messages) this._take(msg, { replay: true });
    } catch (err) {
      console.warn("alerts: history after a gap failed", err);
    }
    if (frame.reason === "epoch_changed") {
      this.gapNote = "The hub's history was reset (epoch changed): alerts published while this page was disconnected may be missing here; the hub's alert log has them (GET /api/v1/alerts).";
    } else {
      const lost = frame.seq - frame.since - (this.byId.size - before);
      this.gapNote = lost > 0 ? `${lost} message(s) on unified could not be recovered (${frame.reason}).` : null;
    }
    this.rebuild = true;
    this.invalidate();
  }

  _matches(msg) {
    const type = this.type.value;
    const symbol = this.symbol.value.trim().toUpperCase();
    if (type && msg.alert_type !== type) return false;
    if (symbol && !(typeof msg.symbol === "string" && msg.symbol.includes(symbol))) return false;
    return SEVERITIES.indexOf(severityOf(msg)) >= SEVERITIES.indexOf(this.severity.value);
  }

  _node(msg) {
    let node = this.nodes.get(msg.id);
    if (node) return node;
    const sev = severityOf(msg);
    const embed = msg.embed && typeof msg.embed === "object" ? msg.embed : null;
    const state = el("div", { class: "delivery", hidden: true });
    const fields = embed && Array.isArray(embed.fields) ? embed.fields.slice(0, 10) : [];
    const footer = embed && embed.footer && typeof embed.footer === "object" && typeof embed.footer.text === "string" ? embed.footer.text : "";
    // The built-in agents mark an alert from simulated inputs in its embed's footer (what
    // Discord shows); the feed says so up front as well.
    const simulated = /\bSIMULATED\b/.test(footer);
    node = el(
      "li",
      { class: `alert sev-${sev}`, dataset: { id: msg.id, seq: String(msg.seq ?? "") } },
      el(
        "div",
        { class: "meta" },
        el("span", { class: "num muted", text: clock(msg.timestamp) }),
        el("span", { class: `sev sev-${sev}`, text: sev }),
        el("strong", { text: show(msg.alert_type ?? "", 64) }),
        msg.symbol ? el("span", { class: "sym", text: show(msg.symbol, 20) }) : null,
        simulated ? el("span", { class: "tag sim", text: "SIM", title: "from simulated inputs" }) : null,
        el("span", { class: "muted", text: show(msg.source ?? "", 128) }),
        el("button", { type: "button", class: "tool", text: "Delivery", "aria-label": `Delivery state of alert ${msg.id}`, onclick: () => this._delivery(msg, state) }),
      ),
      msg.content ? el("div", { class: "content", text: show(msg.content, 4000), dataset: { field: "content" } }) : null,
      embed
        ? el(
            "div",
            { class: "embed", dataset: { field: "embed" } },
            embed.title ? el("div", { class: "etitle", text: show(embed.title, 256) }) : null,
            embed.description ? el("div", { text: show(embed.description, 4096) }) : null,
            ...fields.filter((f) => f && typeof f === "object").map((f) => el("div", {}, el("span", { class: "k", text: `${show(f.name ?? "", 256)}: ` }), el("span", { text: show(f.value ?? "", 1024) }))),
            footer ? el("div", { class: "muted efooter", text: show(footer, 2048) }) : null,
          )
        : null,
      state,
    );
    this.nodes.set(msg.id, node);
    return node;
  }

  async _delivery(msg, box) {
    if (!box.hidden) {
      box.hidden = true;
      return;
    }
    box.hidden = false;
    setText(box, "Loading delivery state…");
    try {
      const doc = await this.ctx.hub.get(`/api/v1/alerts/${encodeURIComponent(msg.id)}`);
      const rows = Array.isArray(doc.deliveries) ? doc.deliveries : [];
      box.replaceChildren(
        rows.length
          ? el("ul", { class: "plain" }, ...rows.map((d) => el("li", { text: `${show(d.destination, 64)}: ${show(d.state, 20)} · ${d.attempts ?? 0} attempt(s)${d.last_error ? ` · ${show(d.last_error, 200)}` : ""}` })))
          : el("span", { text: "No Discord destination: delivered to WebSocket subscribers only." }),
      );
    } catch (err) {
      setText(box, `Delivery state unavailable: ${err.message}`);
    }
  }

  _notify(msg) {
    this.pendingAnnounce.push(msg);
    const sev = severityOf(msg);
    if (this.sound.checked && (sev === "high" || sev === "critical")) this._beep();
    if (this.desktop.checked && "Notification" in window && Notification.permission === "granted") {
      try {
        new Notification(`${show(msg.alert_type, 64)} ${show(msg.symbol ?? "", 20)}`.trim(), { body: show(msg.content ?? "", 200), tag: msg.id });
      } catch {
        // notifications unavailable in this context
      }
    }
  }

  _beep() {
    try {
      this.audio = this.audio || new AudioContext();
      const osc = this.audio.createOscillator();
      const gain = this.audio.createGain();
      gain.gain.value = 0.05;
      osc.frequency.value = 880;
      osc.connect(gain).connect(this.audio.destination);
      osc.start();
      osc.stop(this.audio.currentTime + 0.12);
    } catch {
      // no audio output
    }
  }

  _announce() {
    const now = Date.now();
    if (!this.pendingAnnounce.length || now - this.lastAnnounce < ANNOUNCE_EVERY_MS) return;
    const batch = this.pendingAnnounce.filter((m) => this._matches(m));
    this.pendingAnnounce = [];
    if (!batch.length) return;
    this.lastAnnounce = now;
    const urgent = batch.some((m) => severityOf(m) === "critical");
    const m = batch[batch.length - 1];
    const one = `${severityOf(m)} alert ${show(m.alert_type, 64)} ${show(m.symbol ?? "", 20)}: ${show(m.content ?? "", 140)}`;
    this.ctx.announce(batch.length === 1 ? one : `${batch.length} new alerts. Latest: ${one}`, urgent);
  }

  render() {
    if (this.rebuild) {
      this.rebuild = false;
      this.fresh = [];
      const nodes = [];
      if (this.gapNote) nodes.push(el("li", { class: "gap-note", text: this.gapNote }));
      for (const msg of this.alerts) if (this._matches(msg)) nodes.push(this._node(msg));
      this.list.replaceChildren(...nodes);
    } else if (this.fresh.length) {
      // Alerts pushed out by newer ones in the same frame never get a node.
      const add = this.fresh.filter((m) => this.byId.has(m.id) && this._matches(m)).map((m) => this._node(m)).reverse();
      this.fresh = [];
      this.list.prepend(...add);
    }
    this._announce();
    if (this.pendingAnnounce.length && !this.announceTimer) {
      this.announceTimer = setTimeout(() => {
        this.announceTimer = null;
        this.invalidate();
      }, ANNOUNCE_EVERY_MS);
    }
    setText(this.subject, `${this.alerts.length}`);
    if (!this.loaded && !this.alerts.length) return;
    this.settle(this.alerts.length > 0, "No alerts yet (channel unified).");
  }
}
