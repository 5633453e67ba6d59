// The dashboard's entry point: the shared context (hub connection, agents, focus,
// watchlist, preferences), the top bar, the widget grid and the token prompt.

import { AgentFeed } from "./agents.js";
import { resetColors } from "./charts.js";
import { el, setText } from "./dom.js";
import { Hub } from "./hub.js";
import { Prefs, Watchlist } from "./layout.js";
import { WIDGETS, DEFAULT_LAYOUT } from "./widgets/index.js";
import { STATE_TEXT } from "./widgets/status.js";

const DEFAULT_WATCHLIST = ["SPY", "QQQ", "IWM", "AAPL", "NVDA", "TSLA"];
const TOKEN_KEY = "alphawire.subscribeToken"; // sessionStorage: this tab only
const WIDTHS = 5; // layout width steps (CSS: data-w 1..5)
const HEIGHTS = 3; // layout height steps (CSS: data-h 1..3)

function params() {
  return new URLSearchParams(location.search);
}

/** Take ?token= once and remove it from the address bar and history. */
function takeToken() {
  const q = params();
  const token = q.get("token");
  if (token !== null) {
    q.delete("token");
    const rest = q.toString();
    history.replaceState(null, "", `${location.pathname}${rest ? `?${rest}` : ""}${location.hash}`);
    return token;
  }
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

function normalizeSymbol(raw) {
  const s = (raw || "").trim().toUpperCase();
  return Watchlist.valid(s) ? s : null;
}

class Dashboard {
  constructor() {
    this.prefs = new Prefs(DEFAULT_LAYOUT);
    const q = params();
    this.hub = new Hub({ token: takeToken() });
    this.urlWatchlist = (q.get("watchlist") || "").split(",").map(normalizeSymbol).filter(Boolean);
    this.focusListeners = new Set();
    this.feeds = new Map();
    this.widgets = new Map();
    this.announcer = {
      polite: document.getElementById("announce"),
      assertive: document.getElementById("announce-urgent"),
    };
  }

  // -- the context widgets get ---------------------------------------------------------------

  agent(name) {
    let feed = this.feeds.get(name);
    if (!feed) {
      feed = new AgentFeed(this.hub, name);
      this.feeds.set(name, feed);
    }
    return feed;
  }

  onFocus(fn) {
    this.focusListeners.add(fn);
  }

  setFocus(symbol) {
    const s = normalizeSymbol(symbol);
    if (!s || s === this.focus) return;
    this.focus = s;
    this.watchlist.add(s);
    this.prefs.focus = s;
    this.prefs.save();
    const q = params();
    q.set("symbol", s);
    history.replaceState(null, "", `${location.pathname}?${q}${location.hash}`);
    setText(this.focusLabel, s);
    this.focusInput.value = "";
    for (const fn of this.focusListeners) fn(s);
  }

  /** Say `text` in the ARIA live region (urgent: assertive). */
  announce(text, urgent = false) {
    const region = urgent ? this.announcer.assertive : this.announcer.polite;
    region.textContent = text;
  }

  // -- page -----------------------------------------------------------------------------------

  /** The watchlist: ?watchlist=, else the one remembered, else the symbols the hub has
   *  market data for (GET /api/v1/channels), else a default. */
  async _watchlist() {
    let symbols = this.urlWatchlist.length ? this.urlWatchlist : this.prefs.watchlist;
    if (!symbols) {
      try {
        const listing = await this.hub.get("/api/v1/channels");
        symbols = listing.channels
          .filter((c) => c.channel.startsWith("market_") && c.last_seq > 0)
          .map((c) => c.channel.slice("market_".length))
          .slice(0, 50);
      } catch {
        symbols = [];
      }
      if (!symbols.length) symbols = DEFAULT_WATCHLIST;
    }
    this.watchlist = new Watchlist(symbols, this.prefs);
    const q = params();
    this.focus = normalizeSymbol(q.get("symbol")) ?? this.prefs.focus ?? this.watchlist.symbols[0] ?? null;
    if (this.focus) this.watchlist.add(this.focus);
  }

  async start() {
    await this._watchlist();
    this._theme(this.prefs.theme ?? (matchMedia("(prefers-color-scheme: light)").matches ? "light" : "dark"));
    this._topbar();
    this.grid = document.getElementById("grid");
    for (const Type of WIDGETS) {
      const widget = new Type(this);
      this.widgets.set(Type.id, widget);
      this._tools(widget);
      try {
        widget.mount();
      } catch (err) {
        widget.fail(err);
      }
    }
    this._arrange();
    this.hub.addEventListener("status", () => this._status());
    this.hub.addEventListener("auth-required", (e) => this._askToken(e.detail));
    this.hub.addEventListener("authenticated", () => this._keepToken());
    setInterval(() => {
      const now = Date.now();
      for (const w of this.widgets.values()) w.checkStale(now);
    }, 1000);
    this.hub.connect();
    this._status();
    document.addEventListener("keydown", (e) => this._key(e));
  }

  _key(e) {
    const typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement;
    if (e.key === "/" && !typing) {
      e.preventDefault();
      this.focusInput.focus();
    }
  }

  _theme(theme) {
    document.documentElement.dataset.theme = theme;
    this.theme = theme;
    resetColors();
  }

  _topbar() {
    const bar = document.getElementById("topbar");
    this.focusLabel = el("strong", { class: "focus-sym", text: this.focus ?? "—", "aria-live": "polite" });
    this.focusInput = el("input", {
      name: "focus",
      placeholder: "Symbol  (/)",
      "aria-label": "Focus a symbol",
      maxlength: "20",
      autocomplete: "off",
      spellcheck: "false",
      list: "watchlist-options",
    });
    this.datalist = el("datalist", { id: "watchlist-options" });
    const focusForm = el(
      "form",
      {
        class: "focus-form",
        role: "search",
        onsubmit: (e) => {
          e.preventDefault();
          this.setFocus(this.focusInput.value);
        },
      },
      el("span", { class: "label", text: "Focus" }),
      this.focusLabel,
      this.focusInput,
      this.datalist,
    );
    this.pill = el("span", { class: "pill", role: "status", "aria-live": "polite" });
    this.tokenButton = el("button", {
      type: "button",
      text: "Token",
      hidden: true,
      onclick: () => this._askToken("enter a subscribe token"),
    });
    const themeButton = el("button", {
      type: "button",
      text: "Theme",
      title: "Switch between dark and light",
      onclick: () => {
        this._theme(this.theme === "dark" ? "light" : "dark");
        this.prefs.theme = this.theme;
        this.prefs.save();
        for (const w of this.widgets.values()) w.onTheme?.();
      },
    });
    this.layoutMenu = el("div", { class: "menu-items" });
    const layout = el(
      "details",
      { class: "menu" },
      el("summary", { text: "Layout" }),
      this.layoutMenu,
    );
    bar.append(
      el("span", { class: "brand", text: "alphawire" }),
      focusForm,
      el("span", { class: "spacer" }),
      this.pill,
      this.tokenButton,
      layout,
      themeButton,
    );
    this.watchlist.listen(() => this._options());
    this._options();
  }

  _options() {
    this.datalist.replaceChildren(...this.watchlist.symbols.map((s) => el("option", { value: s })));
  }

  _tools(widget) {
    const id = widget.constructor.id;
    const title = widget.constructor.title;
    const button = (text, label, fn) =>
      el("button", { type: "button", class: "tool", text, title: label, "aria-label": `${label}: ${title}`, onclick: fn });
    widget.tools.append(
      button("◂", "Move earlier", () => {
        this.prefs.move(id, -1);
        this._arrange();
      }),
      button("▸", "Move later", () => {
        this.prefs.move(id, 1);
        this._arrange();
      }),
      button("↔", "Change width", () => {
        this.prefs.cycle("width", id, WIDTHS);
        this._arrange();
      }),
      button("↕", "Change height", () => {
        this.prefs.cycle("height", id, HEIGHTS);
        this._arrange();
      }),
      button("×", "Hide", () => {
        this.prefs.setHidden(id, true);
        this._arrange();
      }),
    );
  }

  _arrange() {
    const { order, hidden, width, height } = this.prefs.layout;
    const nodes = [];
    for (const id of order) {
      const w = this.widgets.get(id);
      if (!w) continue;
      w.root.dataset.w = String(width[id] || 2);
      w.root.dataset.h = String(height[id] || 1);
      w.root.hidden = hidden.includes(id);
      nodes.push(w.root);
    }
    this.grid.replaceChildren(...nodes);
    // The layout menu: a checkbox per widget, and reset.
    const items = order.map((id) => {
      const w = this.widgets.get(id);
      const box = el("input", {
        type: "checkbox",
        checked: !hidden.includes(id),
        onchange: () => {
          this.prefs.setHidden(id, !box.checked);
          this._arrange();
        },
      });
      return el("label", {}, box, ` ${w.constructor.title}`);
    });
    items.push(
      el("button", {
        type: "button",
        text: "Reset layout",
        onclick: () => {
          this.prefs.reset();
          this._arrange();
        },
      }),
    );
    this.layoutMenu.replaceChildren(...items);
    for (const w of this.widgets.values()) w.onResize?.();
  }

  _status() {
    const s = this.hub.status;
    let text = STATE_TEXT[s.state] ?? s.state;
    if (s.state === "replaying") text = `replaying · ${s.replayed} recovered`;
    if (s.state === "reconnecting" && s.lastClose) text = `reconnecting (${s.lastClose.code})`;
    setText(this.pill, text);
    this.pill.className = `pill conn-${s.state}`;
    this.tokenButton.hidden = !(this.hub.token || s.state === "auth");
  }

  _keepToken() {
    // Only a token the hub accepted as a subscribe token is kept, and only for this tab.
    if (!this.hub.token) return;
    try {
      sessionStorage.setItem(TOKEN_KEY, this.hub.token);
    } catch {
      // storage disabled: asked again next time
    }
    // Widgets that failed for want of a token start over.
    for (const w of this.widgets.values()) {
      if (w.state === "error") {
        w.setState("loading");
        w.invalidate();
      }
    }
  }

  _askToken(reason) {
    let dialog = document.getElementById("token-dialog");
    if (!dialog) {
      const input = el("input", {
        type: "password",
        name: "token",
        autocomplete: "off",
        "aria-describedby": "token-help",
        required: true,
      });
      dialog = el(
        "dialog",
        { id: "token-dialog", "aria-labelledby": "token-title" },
        el(
          "form",
          {
            method: "dialog",
            onsubmit: () => {
              try {
                sessionStorage.removeItem(TOKEN_KEY);
              } catch {
                // nothing stored
              }
              this.hub.setToken(input.value.trim());
              input.value = "";
            },
          },
          el("h2", { id: "token-title", text: "Subscribe token" }),
          el("p", { class: "why", dataset: { field: "reason" } }),
          el("p", {
            id: "token-help",
            text: "This hub asks for a subscribe token (a JWT that lets you read channels). Never paste your publish token here: it is not kept, and the hub refuses it for reading.",
          }),
          el("label", {}, "Token ", input),
          el("div", { class: "row" }, el("button", { type: "submit", text: "Connect" })),
        ),
      );
      document.body.append(dialog);
    }
    setText(dialog.querySelector("[data-field=reason]"), reason ? `The hub said: ${reason}` : "");
    if (!dialog.open) dialog.showModal();
  }
}

const dashboard = new Dashboard();
window.alphawire = dashboard; // for the console and the browser tests
dashboard.start();
