// Market Overview: one tile per watchlist symbol (price, change, sparkline, volume against
// its average). Clicking a tile focuses the symbol; the page follows the focus.
// Reads market_{SYMBOL} (batch mode, history for the sparkline) and agent_market
// (metrics.rel_volume or metrics.avg_volume for "volume vs average").

import { compact, direction, el, isNum, num, pct, price, setText, signed } from "../dom.js";
import { observeSpark, sparkline } from "../charts.js";
import { Widget } from "../widget.js";

const POINTS = 120; // sparkline length (most recent ticks)
const TILE_STALE_MS = 15_000;
const SPARK_EVERY_MS = 250; // sparklines redraw at most 4 times a second (prices at once)

export class MarketOverview extends Widget {
  static id = "market";
  static title = "Market Overview";
  static staleAfterMs = 15_000;
  static frameMs = 50; // at most 20 renders a second, whatever the tick rate

  mount() {
    this.tiles = new Map();
    this.list = el("ul", { class: "tiles", "aria-label": "Watchlist" });
    const input = el("input", {
      class: "add-symbol",
      name: "symbol",
      placeholder: "Add symbol",
      "aria-label": "Add a symbol to the watchlist",
      maxlength: "20",
      autocomplete: "off",
      spellcheck: "false",
    });
    const form = el(
      "form",
      { class: "row-form", onsubmit: (e) => {
        e.preventDefault();
        const symbol = input.value.trim().toUpperCase();
        if (this.ctx.watchlist.add(symbol)) input.value = "";
      } },
      input,
      el("button", { type: "submit", text: "Add" }),
    );
    this.body.append(form, this.list);
    this.marketAgent = this.ctx.agent("market");
    this.marketAgent.listen((key) => {
      const tile = this.tiles.get(key);
      if (tile) this._dirty(tile);
    });
    this.ctx.watchlist.listen(() => this._sync());
    this.ctx.onFocus(() => {
      for (const tile of this.tiles.values()) this._dirty(tile);
    });
    this._sync();
  }

  _sync() {
    const wanted = this.ctx.watchlist.symbols;
    for (const [symbol, tile] of this.tiles) {
      if (!wanted.includes(symbol)) {
        tile.close();
        tile.node.remove();
        this.tiles.delete(symbol);
      }
    }
    for (const symbol of wanted) if (!this.tiles.has(symbol)) this._tile(symbol);
    // Keep the DOM in watchlist order.
    for (const symbol of wanted) this.list.append(this.tiles.get(symbol).node);
    this.settle(this._hasData(), "No ticks yet.");
  }

  _hasData() {
    for (const tile of this.tiles.values()) if (tile.data) return true;
    return false;
  }

  _tile(symbol) {
    const f = {
      price: el("span", { class: "price num", dataset: { field: "price" } }),
      change: el("span", { class: "chg num" }),
      volume: el("span", { class: "vol num" }),
      rvol: el("span", { class: "rvol num" }),
      sim: el("span", { class: "tag sim", text: "SIM", title: "simulated data", hidden: true }),
      canvas: el("canvas", { class: "spark", width: "120", height: "28", "aria-hidden": "true" }),
    };
    const main = el(
      "button",
      {
        class: "tile-main",
        type: "button",
        "aria-pressed": "false",
        onclick: () => this.ctx.setFocus(symbol),
      },
      el("span", { class: "sym", text: symbol }),
      f.sim,
      f.price,
      f.change,
      f.canvas,
      el("span", { class: "volrow" }, f.volume, f.rvol),
    );
    const remove = el("button", {
      class: "tile-remove",
      type: "button",
      text: "×",
      title: `Remove ${symbol}`,
      "aria-label": `Remove ${symbol} from the watchlist`,
      onclick: () => this.ctx.watchlist.remove(symbol),
    });
    const node = el("li", { class: "tile", dataset: { symbol } }, main, remove);
    const tile = {
      symbol,
      node,
      main,
      f,
      data: null,
      points: new Float64Array(POINTS),
      n: 0,
      lastAt: 0,
      queued: false,
    };
    tile.close = this.ctx.hub.open(
      `market_${symbol}`,
      {
        onMessage: (msg) => this._tick(tile, msg),
        onError: (err) => this._tileError(tile, err),
      },
      { history: POINTS, batch: true, keep: 1 },
    );
    observeSpark(f.canvas);
    this.tiles.set(symbol, tile);
    this._dirty(tile);
  }

  _tileError(tile, err) {
    tile.error = err.message;
    this._dirty(tile);
  }

  _tick(tile, msg) {
    const data = msg.data;
    if (!data || typeof data !== "object") return;
    tile.data = data;
    tile.error = null;
    if (isNum(data.price)) {
      if (tile.n < POINTS) tile.points[tile.n++] = data.price;
      else {
        tile.points.copyWithin(0, 1);
        tile.points[POINTS - 1] = data.price;
      }
    }
    tile.lastAt = Date.now();
    this.touch(tile.lastAt);
    this._dirty(tile);
  }

  _dirty(tile) {
    tile.queued = true;
    this.invalidate();
  }

  render() {
    const focus = this.ctx.focus;
    for (const tile of this.tiles.values()) {
      if (!tile.queued) continue;
      tile.queued = false;
      const d = tile.data;
      const f = tile.f;
      const focused = tile.symbol === focus;
      if (tile.focused !== focused) {
        tile.focused = focused;
        tile.main.setAttribute("aria-pressed", String(focused));
        tile.node.classList.toggle("focused", focused);
      }
      if (!d) {
        setText(f.price, tile.error ? "error" : "…");
        if (tile.error) tile.main.title = tile.error;
        continue;
      }
      setText(f.price, price(d.price));
      const dir = direction(d.change ?? d.change_pct);
      if (tile.dir !== dir) {
        tile.dir = dir;
        f.change.className = `chg num ${dir}`;
      }
      setText(f.change, `${signed(d.change)} ${pct(d.change_pct)}`);
      setText(f.volume, isNum(d.volume) ? `Vol ${compact(d.volume)}` : "");
      const rvol = this._relVolume(tile.symbol, d);
      setText(f.rvol, rvol === null ? "" : `${num(rvol, 1)}× avg`);
      const hot = rvol !== null && rvol >= 1.5;
      if (f.rvol.classList.contains("hot") !== hot) f.rvol.classList.toggle("hot", hot);
      if (f.sim.hidden !== (d.simulated !== true)) f.sim.hidden = d.simulated !== true;
      tile.sparkDir = dir;
      tile.sparkDue = true;
    }
    this._sparks();
    this.settle(this._hasData(), "No ticks yet.");
  }

  _sparks() {
    const now = performance.now();
    let pending = false;
    for (const tile of this.tiles.values()) {
      if (!tile.sparkDue) continue;
      if (now - (tile.sparkAt || 0) >= SPARK_EVERY_MS) {
        tile.sparkDue = false;
        tile.sparkAt = now;
        sparkline(tile.f.canvas, tile.points, tile.n, tile.data.prev_close, tile.sparkDir);
      } else pending = true;
    }
    if (pending && !this.sparkTimer) {
      this.sparkTimer = setTimeout(() => {
        this.sparkTimer = null;
        requestAnimationFrame(() => this._sparks());
      }, SPARK_EVERY_MS);
    }
  }

  _relVolume(symbol, data) {
    const entry = this.marketAgent.get(symbol);
    const m = entry && entry.insight.metrics;
    if (!m) return null;
    if (isNum(m.rel_volume)) return m.rel_volume;
    if (isNum(m.avg_volume) && m.avg_volume > 0 && isNum(data.volume)) return data.volume / m.avg_volume;
    return null;
  }

  checkStale(now) {
    for (const tile of this.tiles.values()) {
      const stale = tile.data !== null && now - tile.lastAt > TILE_STALE_MS;
      if (tile.node.classList.contains("stale") !== stale) tile.node.classList.toggle("stale", stale);
    }
    super.checkStale(now);
  }
}
