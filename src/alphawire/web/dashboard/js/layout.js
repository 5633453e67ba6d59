// Layout and preferences remembered in localStorage: which widgets show, in what order,
// how wide and tall each is, the theme, the watchlist and the focused symbol. Nothing
// secret is stored (the subscribe token lives in memory and sessionStorage only).

const KEY = "alphawire.dashboard.v1";

function read() {
  try {
    const value = JSON.parse(localStorage.getItem(KEY) || "{}");
    return value && typeof value === "object" ? value : {};
  } catch {
    return {};
  }
}

export class Prefs {
  constructor(defaults) {
    this.defaults = defaults; // {order: [...ids], width: {id: n}, height: {id: n}}
    const saved = read();
    const known = new Set(defaults.order);
    const order = Array.isArray(saved.order) ? saved.order.filter((id) => known.has(id)) : [];
    for (const id of defaults.order) if (!order.includes(id)) order.push(id);
    this.layout = {
      order,
      hidden: Array.isArray(saved.hidden) ? saved.hidden.filter((id) => known.has(id)) : [],
      width: { ...defaults.width, ...(saved.width || {}) },
      height: { ...defaults.height, ...(saved.height || {}) },
    };
    this.theme = saved.theme === "light" || saved.theme === "dark" ? saved.theme : null;
    this.watchlist = Array.isArray(saved.watchlist) ? saved.watchlist.filter((s) => typeof s === "string") : null;
    this.focus = typeof saved.focus === "string" ? saved.focus : null;
    this.alerts = saved.alerts && typeof saved.alerts === "object" ? saved.alerts : {};
  }

  save() {
    const value = {
      order: this.layout.order,
      hidden: this.layout.hidden,
      width: this.layout.width,
      height: this.layout.height,
      theme: this.theme,
      watchlist: this.watchlist,
      focus: this.focus,
      alerts: this.alerts,
    };
    try {
      localStorage.setItem(KEY, JSON.stringify(value));
    } catch {
      // Storage full or disabled: the layout is simply not remembered.
    }
  }

  reset() {
    this.layout = {
      order: [...this.defaults.order],
      hidden: [],
      width: { ...this.defaults.width },
      height: { ...this.defaults.height },
    };
    this.save();
  }

  move(id, delta) {
    const order = this.layout.order;
    const i = order.indexOf(id);
    const j = i + delta;
    if (i < 0 || j < 0 || j >= order.length) return;
    [order[i], order[j]] = [order[j], order[i]];
    this.save();
  }

  cycle(kind, id, max) {
    const sizes = this.layout[kind];
    sizes[id] = ((sizes[id] || 1) % max) + 1;
    this.save();
  }

  setHidden(id, hidden) {
    const list = this.layout.hidden.filter((x) => x !== id);
    if (hidden) list.push(id);
    this.layout.hidden = list;
    this.save();
  }
}

/** The watchlist: symbols shown in Market Overview, in order, bounded. */
export class Watchlist {
  static MAX = 200; // the hub allows 256 channels per connection; leave room for the rest

  constructor(symbols, prefs) {
    this.symbols = [];
    this.prefs = prefs;
    this.listeners = new Set();
    for (const s of symbols) this._push(s);
  }

  static valid(symbol) {
    return /^[A-Z0-9.\-^=_]{1,20}$/.test(symbol);
  }

  _push(symbol) {
    if (!Watchlist.valid(symbol) || this.symbols.includes(symbol)) return false;
    if (this.symbols.length >= Watchlist.MAX) return false;
    this.symbols.push(symbol);
    return true;
  }

  add(symbol) {
    const added = this._push(symbol);
    if (added) this._changed();
    return added;
  }

  remove(symbol) {
    this.symbols = this.symbols.filter((s) => s !== symbol);
    this._changed();
  }

  _changed() {
    this.prefs.watchlist = [...this.symbols];
    this.prefs.save();
    for (const fn of this.listeners) fn();
  }

  listen(fn) {
    this.listeners.add(fn);
  }
}
