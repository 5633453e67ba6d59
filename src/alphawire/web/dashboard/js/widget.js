// The widget frame every panel shares: a header (title, subject, state badge, layout
// buttons), a body, and the four states besides "ready":
//   loading  nothing received yet and the initial REST load has not answered
//   empty    loaded, but there is nothing to show (e.g. no agent has published yet)
//   stale    data shown is old: the connection is down or no update within staleAfterMs
//   error    the load or subscription failed; the message says why
// Rendering is batched: widgets call invalidate() when their model changes and render()
// runs once per animation frame at most.

import { el, setText } from "./dom.js";

const dirty = new Set();
let queued = false;

function flush() {
  queued = false;
  const list = [...dirty];
  dirty.clear();
  const now = performance.now();
  for (const widget of list) {
    widget.renderedAt = now;
    try {
      widget.render();
    } catch (err) {
      widget.fail(err);
    }
  }
}

export class Widget {
  /** Subclasses set id, title and, optionally, staleAfterMs (0: never stale by age). */
  static id = "widget";
  static title = "Widget";
  static staleAfterMs = 0;
  /** Minimum time between two renders (0: every animation frame). Each frame that changes
   *  the page costs a style, layout, paint and composite pass whatever changed, so a widget
   *  fed a thousand messages a second draws at a bounded rate instead. */
  static frameMs = 0;

  constructor(ctx) {
    this.ctx = ctx;
    const { id, title } = this.constructor;
    this.state = "loading";
    this.lastUpdate = 0;
    this.errorText = "";
    this.titleId = `w-${id}-title`;
    this.subject = el("span", { class: "subject" });
    this.badge = el("span", { class: "badge state-badge", role: "status" });
    this.tools = el("div", { class: "tools" });
    this.message = el("div", { class: "state-msg" });
    this.body = el("div", { class: "body" });
    this.root = el(
      "section",
      { class: "widget", id: `w-${id}`, "aria-labelledby": this.titleId, dataset: { widget: id } },
      el(
        "header",
        { class: "whead" },
        el("h2", { id: this.titleId, text: title }),
        this.subject,
        this.badge,
        this.tools,
      ),
      this.message,
      this.body,
    );
    this.setState("loading");
  }

  /** Start reading (subclasses open channels here). */
  mount() {}

  invalidate() {
    const frameMs = this.constructor.frameMs;
    if (frameMs) {
      if (this.waiting) return;
      const wait = (this.renderedAt ?? -Infinity) + frameMs - performance.now();
      if (wait > 4) {
        this.waiting = setTimeout(() => {
          this.waiting = null;
          this._queue();
        }, wait - 4); // the frame after the timer lands about on time
        return;
      }
    }
    this._queue();
  }

  _queue() {
    dirty.add(this);
    if (!queued) {
      queued = true;
      requestAnimationFrame(flush);
    }
  }

  render() {}

  /** Record that data arrived now (for the stale check). */
  touch(time = Date.now()) {
    this.lastUpdate = Math.max(this.lastUpdate, time);
  }

  setState(state, text = "") {
    this.state = state;
    this.root.dataset.state = state;
    const messages = {
      loading: "Loading…",
      empty: text || "Nothing yet.",
      error: text || "Error.",
      stale: "",
      ready: "",
    };
    setText(this.message, messages[state]);
    this.message.hidden = !(state === "loading" || state === "empty" || state === "error");
    setText(this.badge, state === "stale" ? text || "stale" : state === "error" ? "error" : "");
    this.badge.hidden = !(state === "stale" || state === "error");
  }

  /** Ready or empty, by whether there is anything to show; then the stale check. */
  settle(hasData, emptyText) {
    if (this.state === "error" && !hasData) return;
    if (!hasData) this.setState("empty", emptyText);
    else this.setState("ready");
    this.checkStale(Date.now());
  }

  fail(err) {
    this.errorText = err && err.message ? err.message : String(err);
    console.warn(`widget ${this.constructor.id}:`, err);
    this.setState("error", this.errorText);
  }

  /** Called every second: ages, and the stale state (connection down or data too old). */
  checkStale(now) {
    if (this.state !== "ready" && this.state !== "stale") return;
    const live = this.ctx.hub.status.state;
    const connected = live === "live" || live === "replaying";
    const limit = this.constructor.staleAfterMs;
    let why = "";
    if (!connected) why = "disconnected";
    else if (limit && this.lastUpdate && now - this.lastUpdate > limit) {
      why = `no update for ${Math.round((now - this.lastUpdate) / 1000)}s`;
    }
    if (why) this.setState("stale", `stale: ${why}`);
    else if (this.state === "stale") this.setState("ready");
  }

  setSubject(text) {
    setText(this.subject, text);
  }
}
