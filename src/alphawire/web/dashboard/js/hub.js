// The dashboard's one connection to the hub: a WebSocket to /api/v1/ws carrying every
// channel the widgets read, REST for initial state, and recovery after any disconnect.
//
// Per channel it keeps the last seq it delivered and, for the whole hub, the epoch. A widget
// opens a channel with `hub.open(channel, handler, {history, batch})`: the newest `history`
// messages come from GET /api/v1/history/{channel}, then the subscription starts with
// `since` = that history's last seq, so the hub stitches history and the live stream with no
// gap and no duplicate. After a disconnect (hub restart, network, 4008 slow consumer) the
// client reconnects with jittered exponential backoff and subscribes again with `since` and
// `epoch`; a gap the hub cannot fill arrives as a `recovery` frame and is passed to the
// widgets (`onGap`), never hidden. Messages at or below a channel's seq are dropped, so a
// message is delivered to the widgets at most once even if the hub resent it.

const MESSAGE_TYPES = new Set(["alert", "signal", "market_data", "agent_insight", "narrative"]);
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 10_000;
const PING_EVERY_MS = 15_000;
const SILENT_LIMIT_MS = 45_000; // no frame at all for this long: the socket is dead
// Messages kept per channel for a widget that opens it late (oldest dropped); `keep` in
// open() overrides it (market channels keep 1: tiles hold their own state).
const RECENT_LIMIT = 200;
// Channels opened within this window go out in one subscribe frame: the hub allows 20 client
// frames a second (bursts of 60), and a hundred history reads finish at scattered times.
const SUBSCRIBE_EVERY_MS = 100;

export class HubError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export class Hub extends EventTarget {
  constructor({ base = location.origin, token = null } = {}) {
    super();
    this.base = base;
    this.token = token;
    this.epoch = null;
    this.channels = new Map();
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.pending = { subscribe: new Set(), unsubscribe: new Set() };
    this.flushQueued = false;
    this.lastFrameAt = 0;
    this.status = {
      state: "connecting", // connecting | live | replaying | reconnecting | auth | offline
      received: 0,
      replayed: 0,
      skipped: 0,
      lost: 0,
      duplicates: 0,
      reconnects: 0,
      lastClose: null,
      lastError: null,
      authenticated: false,
    };
    this._pinger = setInterval(() => this._keepalive(), PING_EVERY_MS);
  }

  // -- REST ---------------------------------------------------------------------------------

  headers() {
    return this.token ? { Authorization: `Bearer ${this.token}` } : {};
  }

  /** GET a JSON document from the hub; HubError on any non-2xx answer. */
  async get(path) {
    let response;
    try {
      response = await fetch(this.base + path, { headers: this.headers(), cache: "no-store" });
    } catch (err) {
      throw new HubError(0, "network", `hub unreachable: ${err.message}`);
    }
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    if (!response.ok) {
      const e = body && body.error ? body.error : {};
      if (response.status === 401) this._needAuth(e.message || "token required");
      throw new HubError(response.status, e.code || "http", e.message || `HTTP ${response.status}`);
    }
    return body;
  }

  // -- channels -----------------------------------------------------------------------------

  /**
   * Read `channel`: `handler.onMessage(msg, meta)` for each message (meta.replay is true for
   * history and recovered messages), `onGap(info)` when the hub could not fill a gap,
   * `onError(err)` for a failed history load or a refused subscription. Returns a function
   * that stops reading.
   */
  open(channel, handler, { history = 0, batch = false, keep = RECENT_LIMIT } = {}) {
    let ch = this.channels.get(channel);
    if (!ch) {
      ch = {
        name: channel,
        seq: null,
        snapshotSeq: null,
        replayUntil: null,
        handlers: new Set(),
        batch,
        recent: [],
        keep,
        subscribed: false,
        loaded: false,
        historyLimit: history,
      };
      this.channels.set(channel, ch);
      ch.handlers.add(handler);
      ch.ready = (history > 0 ? this._loadHistory(ch, history) : Promise.resolve()).finally(() => {
        ch.loaded = true;
        if (this.channels.get(channel) === ch) this._queue("subscribe", channel);
      });
    } else {
      ch.handlers.add(handler);
      // A late reader gets what the channel already delivered.
      ch.ready.then(() => {
        for (const msg of ch.recent) handler.onMessage?.(msg, { replay: true });
      });
    }
    return () => {
      ch.handlers.delete(handler);
      if (ch.handlers.size === 0 && this.channels.get(channel) === ch) {
        this.channels.delete(channel);
        if (ch.subscribed) this._queue("unsubscribe", channel);
      }
    };
  }

  async _loadHistory(ch, limit) {
    try {
      const page = await this.get(`/api/v1/history/${encodeURIComponent(ch.name)}?limit=${limit}`);
      if (this.epoch === null) this.epoch = page.epoch;
      if (page.epoch === this.epoch) {
        for (const msg of page.messages) this._deliver(ch, msg, true);
        if (ch.seq === null || page.last_seq > ch.seq) ch.seq = page.last_seq;
      }
      ch.loadFailed = false;
      for (const h of ch.handlers) h.onLoaded?.();
    } catch (err) {
      ch.loadFailed = true;
      for (const h of ch.handlers) h.onError?.(err);
    }
  }

  /** Fetch history after `since` (a widget filling what it can after a gap). */
  async history(channel, { since = null, limit = 200 } = {}) {
    const q = since === null ? `limit=${limit}` : `since=${since}&limit=${limit}`;
    return this.get(`/api/v1/history/${encodeURIComponent(channel)}?${q}`);
  }

  _queue(action, channel) {
    const other = action === "subscribe" ? "unsubscribe" : "subscribe";
    this.pending[other].delete(channel);
    this.pending[action].add(channel);
    if (!this.flushQueued) {
      this.flushQueued = true;
      setTimeout(() => this._flush(), SUBSCRIBE_EVERY_MS);
    }
  }

  _flush() {
    this.flushQueued = false;
    if (!this._isOpen() || !this._ready) return; // sent on (re)connect
    const subs = [...this.pending.subscribe].filter((c) => this.channels.has(c));
    const unsubs = [...this.pending.unsubscribe].filter((c) => !this.channels.has(c));
    this.pending.subscribe.clear();
    this.pending.unsubscribe.clear();
    if (unsubs.length) this._send({ action: "unsubscribe", channels: unsubs });
    this._subscribe(subs);
  }

  _subscribe(names) {
    for (const batch of [true, false]) {
      const group = names.filter((n) => this.channels.get(n).batch === batch);
      if (!group.length) continue;
      const frame = { action: "subscribe", channels: group };
      const since = {};
      for (const n of group) {
        const seq = this.channels.get(n).seq;
        if (seq !== null) since[n] = seq;
      }
      if (this.epoch !== null && Object.keys(since).length) {
        frame.since = since;
        frame.epoch = this.epoch;
      }
      if (batch) frame.batch = true;
      for (const n of group) this.channels.get(n).subscribed = true;
      this._send(frame);
    }
  }

  // -- the socket ---------------------------------------------------------------------------

  connect() {
    clearTimeout(this.timer);
    const url = `${this.base.replace(/^http/, "ws")}/api/v1/ws`;
    let ws;
    try {
      ws = new WebSocket(url);
    } catch (err) {
      this.status.lastError = err.message;
      this._retry();
      return;
    }
    this.ws = ws;
    this._ready = false;
    this._setState(this.status.reconnects ? "reconnecting" : "connecting");
    ws.onopen = () => {
      this.lastFrameAt = performance.now();
      // The token goes in a first frame, not the URL: URLs end up in logs.
      if (this.token) this._send({ action: "auth", token: this.token });
      this._ready = true;
      this.pending.subscribe.clear();
      this.pending.unsubscribe.clear();
      for (const ch of this.channels.values()) ch.subscribed = false;
      // A channel still loading its history subscribes when the load ends (open()).
      this._subscribe([...this.channels.keys()].filter((n) => this.channels.get(n).loaded));
      if (!this.channels.size) this._setState("live");
    };
    ws.onmessage = (event) => this._frame(event.data);
    ws.onclose = (event) => this._closed(ws, event);
    ws.onerror = () => {}; // the close event follows and says why
  }

  _isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  _send(frame) {
    if (this._isOpen()) this.ws.send(JSON.stringify(frame));
  }

  _keepalive() {
    if (!this._isOpen()) return;
    if (performance.now() - this.lastFrameAt > SILENT_LIMIT_MS) {
      this.ws.close(4000, "no frames from the hub");
      return;
    }
    this._send({ action: "ping" });
  }

  _closed(ws, event) {
    if (ws !== this.ws) return;
    this.ws = null;
    this._ready = false;
    this.status.lastClose = { code: event.code, reason: event.reason, at: Date.now() };
    if (event.code === 4001 || event.code === 4002) {
      this._needAuth(event.reason || "subscribe token required");
      return;
    }
    this._retry(event.code === 4008 ? 0 : undefined);
  }

  _retry(delay) {
    this.status.reconnects += 1;
    this._setState("reconnecting");
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 10);
    const wait = delay ?? base * (0.5 + Math.random() / 2);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), wait);
  }

  _needAuth(reason) {
    this.status.authenticated = false;
    this.status.lastError = reason;
    this._setState("auth");
    this.dispatchEvent(new CustomEvent("auth-required", { detail: reason }));
  }

  /** Use a (new) subscribe token: reconnect with it. It is kept in memory only. */
  setToken(token) {
    this.token = token || null;
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close(1000, "new token");
    }
    this.attempt = 0;
    this.connect();
    // Channels whose history failed for want of a token load again.
    for (const ch of this.channels.values()) {
      if (ch.loadFailed && ch.historyLimit) this._loadHistory(ch, ch.historyLimit);
    }
  }

  // -- frames -------------------------------------------------------------------------------

  _frame(text) {
    this.lastFrameAt = performance.now();
    let data;
    try {
      data = JSON.parse(text);
    } catch {
      return;
    }
    if (Array.isArray(data)) {
      for (const msg of data) this._message(msg);
    } else if (data && MESSAGE_TYPES.has(data.type)) {
      this._message(data);
    } else if (data) {
      this._control(data);
    }
  }

  _message(msg) {
    const ch = this.channels.get(msg.channel);
    if (!ch) return;
    const snapshot = msg.snapshot === true && ch.snapshotSeq === msg.seq;
    if (ch.seq !== null && msg.seq <= ch.seq && !snapshot) {
      this.status.duplicates += 1;
      return;
    }
    ch.snapshotSeq = null;
    const replay = ch.replayUntil !== null && msg.seq <= ch.replayUntil;
    ch.seq = Math.max(ch.seq ?? 0, msg.seq);
    this.status.received += 1;
    if (replay) {
      this.status.replayed += 1;
      if (msg.seq >= ch.replayUntil) {
        ch.replayUntil = null;
        this._maybeLive();
      }
    }
    this._deliver(ch, msg, replay);
  }

  _deliver(ch, msg, replay) {
    if (ch.keep > 0) {
      ch.recent.push(msg);
      if (ch.recent.length > ch.keep) ch.recent.splice(0, ch.recent.length - ch.keep);
    }
    for (const h of ch.handlers) {
      try {
        h.onMessage?.(msg, { replay });
      } catch (err) {
        console.warn("widget failed on a message", err);
      }
    }
  }

  _control(frame) {
    const ch = frame.channel ? this.channels.get(frame.channel) : undefined;
    switch (frame.type) {
      case "subscribed":
        if (frame.epoch) this.epoch = frame.epoch;
        this.attempt = 0;
        this._authenticated();
        if (!ch) return;
        if (frame.recovered === true && ch.seq !== null && frame.seq > ch.seq) {
          ch.replayUntil = frame.seq;
        } else if (frame.recovered === undefined && ch.seq === null) {
          ch.seq = frame.seq;
          ch.snapshotSeq = frame.seq; // a market channel's snapshot tick carries this seq
        }
        this._maybeLive();
        return;
      case "recovery":
        if (frame.epoch) this.epoch = frame.epoch;
        if (!ch) return;
        this.status.lost +=
          frame.reason === "epoch_changed" ? 0 : Math.max(0, frame.seq - frame.since);
        ch.seq = frame.seq;
        ch.replayUntil = null;
        for (const h of ch.handlers) h.onGap?.(frame);
        this.dispatchEvent(new CustomEvent("gap", { detail: frame }));
        this._maybeLive();
        return;
      case "skipped":
        this.status.skipped += frame.count || 0;
        if (ch && (ch.seq === null || frame.to_seq > ch.seq)) ch.seq = frame.to_seq;
        if (ch && ch.replayUntil !== null && ch.seq >= ch.replayUntil) {
          ch.replayUntil = null; // the rest of the replay was conflated away
          this._maybeLive();
        }
        return;
      case "error":
        this.status.lastError = `${frame.code}: ${frame.message}`;
        if (ch) for (const h of ch.handlers) h.onError?.(new HubError(0, frame.code, frame.message));
        this._emit();
        return;
      case "authenticated":
        // An open hub reads no tokens: forget the one we sent, so it is never kept.
        if (frame.required === false) this.token = null;
        this._authenticated();
        return;
      default:
        return; // pong, unsubscribed
    }
  }

  _authenticated() {
    if (this.status.authenticated) return;
    this.status.authenticated = true;
    this.dispatchEvent(new Event("authenticated"));
  }

  _maybeLive() {
    let replaying = false;
    for (const ch of this.channels.values()) if (ch.replayUntil !== null) replaying = true;
    this._setState(replaying ? "replaying" : "live");
  }

  _setState(state) {
    if (this.status.state !== state) {
      this.status.state = state;
      this._emit();
    }
  }

  _emit() {
    this.dispatchEvent(new Event("status"));
  }
}
