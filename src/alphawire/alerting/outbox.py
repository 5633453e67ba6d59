"""The durable outbox: every accepted alert and its per-destination delivery state, in SQLite.

An alert is committed (SQLite WAL) before
the caller gets its receipt, with one delivery row per destination. Dispatchers take due rows
in order, and record the outcome of every attempt. A crash at any point leaves each row
either pending (it is attempted again) or finished: delivery is at-least-once, and the only
window for a duplicate is between a destination accepting a message and the row recording it.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from alphawire.alerting.wal import WalKeeper
from alphawire.errors import AlphawireError

# How long a write waits for another process's write transaction before giving up (seconds),
# and its first and longest pause between tries.
BUSY_TIMEOUT = 5.0
_BUSY_FIRST_PAUSE, _BUSY_MAX_PAUSE = 20e-6, 1e-3
# At most this often is the pending count read again from the database (see _recount).
_RECOUNT_INTERVAL = 1.0

PENDING = "pending"
SENT = "sent"
DEAD = "dead"
SUPPRESSED = "suppressed"
# Waiting for a disabled destination (its webhook is gone): kept, counted as undelivered, and
# made pending again when the destination is enabled (``enable``).
HELD = "held"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    created REAL NOT NULL,
    alert_type TEXT NOT NULL,
    source TEXT NOT NULL,
    symbol TEXT,
    severity TEXT,
    idem TEXT UNIQUE,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_symbol ON alerts(symbol, seq);
CREATE INDEX IF NOT EXISTS alerts_type ON alerts(alert_type, seq);
CREATE TABLE IF NOT EXISTS deliveries (
    alert_seq INTEGER NOT NULL REFERENCES alerts(seq),
    destination TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL,
    last_error TEXT,
    message_id TEXT,
    parts_sent INTEGER NOT NULL DEFAULT 0,
    updated REAL NOT NULL,
    seq TEXT,
    PRIMARY KEY (alert_seq, destination)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(destination, state, alert_seq);
CREATE TABLE IF NOT EXISTS dedup (
    route TEXT NOT NULL,
    key TEXT NOT NULL,
    last_sent REAL NOT NULL,
    PRIMARY KEY (route, key)
);
CREATE TABLE IF NOT EXISTS leases (
    destination TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS disabled_destinations (
    destination TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    since REAL NOT NULL
);
"""


class OutboxFull(AlphawireError):
    """The outbox holds its maximum of undelivered alerts; nothing more is accepted for now."""


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """A destination an alert must reach; a dedup key repeated within ``cooldown`` is suppressed."""

    destination: str
    dedup_key: str | None = None
    cooldown: float = 0.0


@dataclass(frozen=True, slots=True)
class NewAlert:
    """An alert to accept: its id, message body, destinations and optional idempotency key."""

    id: str
    body: dict[str, Any]
    deliveries: Sequence[NewDelivery]
    idempotency_key: str | None = None

    def __iter__(self) -> Any:
        return iter((self.id, self.body, self.deliveries, self.idempotency_key))


@dataclass(frozen=True, slots=True)
class Delivery:
    """One due delivery: the alert (as its message JSON) and its state for one destination."""

    alert_seq: int
    alert_id: str
    created: float
    body: dict[str, Any]
    destination: str
    attempts: int
    parts_sent: int


class Outbox:
    """SQLite-backed alert store, safe to use from the event loop and from monitor threads."""

    def __init__(
        self, path: Path, *, max_pending: int = 100_000, synchronous: str = "NORMAL"
    ) -> None:
        # NORMAL (the default): a committed alert survives any crash of the process (SIGKILL
        # included), in about 0.1 ms; an OS crash or power cut may lose the last commits.
        # FULL: survives those too, at one fsync per commit (0.5-6 ms measured here).
        if synchronous.upper() not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be NORMAL or FULL, not {synchronous!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_pending = max_pending
        # Writes (producers' commits, the dispatchers' marks) share one connection under
        # _lock, each a short transaction. Reads go through a second connection under
        # _read_lock: a WAL reader never blocks a writer, so a dispatcher scanning for due
        # rows, or the stats endpoint counting them, never holds up a producer's commit.
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.execute("PRAGMA busy_timeout=5000")
        # Checkpoints run off the producers' path (see checkpoint()): an automatic one inside
        # a producer's commit would cost it milliseconds.
        self._db.execute("PRAGMA wal_autocheckpoint=0")
        self._db.executescript(_SCHEMA)
        _add_column(self._db, "deliveries", "seq TEXT")  # outboxes made before it existed
        self._read_lock = threading.Lock()
        self._reader = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._reader.execute("PRAGMA busy_timeout=5000")
        # Bumped after every commit that may make a delivery due (add, replay): a dispatcher
        # about to sleep compares it with the value it saw before asking for due rows.
        self.version = 0
        # alert seq -> its pending deliveries: the bound is checked without a table scan.
        self._pending: dict[int, int] = dict(
            self._db.execute(
                "SELECT alert_seq, COUNT(*) FROM deliveries WHERE state = ? GROUP BY alert_seq",
                (PENDING,),
            ).fetchall()
        )
        # Destinations that had pending deliveries: what _recount asks the index about.
        self._destinations: set[str] = {
            name
            for (name,) in self._db.execute(
                "SELECT DISTINCT destination FROM deliveries WHERE state = ?", (PENDING,)
            )
        }
        self._recounted = 0.0
        # Writes that found another process's write transaction in the way, and the longest
        # wait for one (seconds).
        self.busy_waits = 0
        self.busy_wait_max = 0.0
        # SQLite's own busy handler sleeps 1 ms, then 2, 5, 10...: another process's write
        # (a delivery process recording a delivery, ~0.1 ms) would cost a producer's commit
        # that much. _begin() retries in microseconds instead.
        self._db.execute("PRAGMA busy_timeout=0")
        self._wal = WalKeeper(path)

    def close(self) -> None:
        with self._lock:
            self._db.close()
        with self._read_lock:
            self._reader.close()
        self._wal.close()

    @property
    def pending_alerts(self) -> int:
        return len(self._pending)

    def checkpoint(self) -> None:
        """Fold the WAL into the database, off the producers' path (see ``WalKeeper``)."""
        self._wal.checkpoint()

    def _settle(self, alert_seq: int, count: int = 1) -> None:
        left = self._pending.get(alert_seq, 0) - count
        if left > 0:
            self._pending[alert_seq] = left
        else:
            self._pending.pop(alert_seq, None)

    def _begin(self) -> None:
        """BEGIN IMMEDIATE on the writer (under ``_lock``), retried in microseconds while busy.

        Busy means another process (a delivery process, another worker) is in a write
        transaction, which lasts about 0.1 ms; waiting for it in short pauses costs a
        producer little more than that.
        """
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise
        started = time.monotonic()
        deadline = started + BUSY_TIMEOUT
        pause = _BUSY_FIRST_PAUSE
        while True:
            time.sleep(pause)
            try:
                db.execute("BEGIN IMMEDIATE")
                waited = time.monotonic() - started
                self.busy_waits += 1
                self.busy_wait_max = max(self.busy_wait_max, waited)
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() > deadline:
                    raise
            pause = min(2 * pause, _BUSY_MAX_PAUSE)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction on the writer connection (holding ``_lock``)."""
        with self._lock:
            db = self._db
            self._begin()
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _recount(self, now: float) -> None:
        """Read the pending count from the database again (under ``_lock``), at most once a second.

        Deliveries recorded by another process (a delivery process, another worker) settle
        there, not in this process's count: a count that says the outbox is full is checked.
        """
        if now - self._recounted < _RECOUNT_INTERVAL:
            return
        self._recounted = now
        pending: dict[int, int] = {}
        for name in self._destinations:
            for seq, count in self._db.execute(
                "SELECT alert_seq, COUNT(*) FROM deliveries WHERE destination = ? "
                "AND state IN (?, ?) GROUP BY alert_seq",
                (name, PENDING, HELD),
            ):
                pending[seq] = pending.get(seq, 0) + count
        self._pending = pending

    # -- accepting ---------------------------------------------------------------------------

    def add(self, alerts: Sequence[NewAlert], now: float | None = None) -> list[list[str]]:
        """Commit alerts in one transaction (one fsync); returns each one's suppressed destinations.

        Noise control happens in the same transaction: a delivery whose dedup key was
        accepted for the same destination within its cooldown is stored as suppressed.

        Raises OutboxFull (and commits nothing) when accepting them would exceed ``max_pending``
        undelivered alerts.
        """
        return [suppressed for suppressed, _ in self.add_alerts(alerts, now)]

    def add_alerts(
        self, alerts: Sequence[NewAlert], now: float | None = None
    ) -> list[tuple[list[str], list[str]]]:
        """``add``, returning each alert's suppressed and held destinations.

        A delivery to a disabled destination is stored as held, with the reason it was
        disabled as its last error, in the same transaction as the check.
        """
        now = time.time() if now is None else now
        suppressed_by_alert: list[tuple[list[str], list[str]]] = []
        fresh: dict[int, int] = {}
        with self._lock:
            db = self._db
            if self.max_pending and len(self._pending) + len(alerts) > self.max_pending:
                self._recount(time.monotonic())
            if self.max_pending and len(self._pending) + len(alerts) > self.max_pending:
                raise OutboxFull(
                    f"the outbox holds {len(self._pending)} undelivered alerts "
                    f"(limit {self.max_pending}); nothing was accepted"
                )
            self._begin()
            try:
                disabled = dict(
                    db.execute("SELECT destination, reason FROM disabled_destinations").fetchall()
                )
                for alert_id, body, deliveries, idem in alerts:
                    cur = db.execute(
                        "INSERT INTO alerts (id, created, alert_type, source, symbol, severity, "
                        "idem, body) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            alert_id,
                            now,
                            body.get("alert_type", ""),
                            body.get("source", ""),
                            body.get("symbol"),
                            body.get("severity"),
                            idem,
                            orjson.dumps(body).decode(),
                        ),
                    )
                    seq = int(cur.lastrowid or 0)
                    suppressed: list[str] = []
                    held: list[str] = []
                    rows = []
                    for d in deliveries:
                        quiet = d.dedup_key is not None and self._repeat(d, now)
                        reason = disabled.get(d.destination)
                        state, error = PENDING, None
                        if quiet:
                            suppressed.append(d.destination)
                            state, error = SUPPRESSED, "duplicate within cooldown"
                        elif reason is not None:
                            held.append(d.destination)
                            state, error = HELD, f"held: destination {reason}"
                        rows.append((seq, d.destination, state, now, now, error))
                    suppressed_by_alert.append((suppressed, held))
                    waiting = sum(1 for row in rows if row[2] in (PENDING, HELD))
                    if waiting:
                        fresh[seq] = waiting
                        self._destinations.update(row[1] for row in rows)
                    db.executemany(
                        "INSERT INTO deliveries (alert_seq, destination, state, next_attempt, "
                        "updated, last_error) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        rows,
                    )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._pending.update(fresh)
            self.version += 1
        return suppressed_by_alert

    def _repeat(self, delivery: NewDelivery, now: float) -> bool:
        """Inside add()'s transaction: is this a repeat within the cooldown? Records it if not."""
        row = self._db.execute(
            "SELECT last_sent FROM dedup WHERE route = ? AND key = ?",
            (delivery.destination, delivery.dedup_key),
        ).fetchone()
        if row is not None and now - row[0] < delivery.cooldown:
            return True
        self._db.execute(
            "INSERT INTO dedup (route, key, last_sent) VALUES (?, ?, ?) "
            "ON CONFLICT(route, key) DO UPDATE SET last_sent = excluded.last_sent",
            (delivery.destination, delivery.dedup_key, now),
        )
        return False

    def find(self, idempotency_key: str) -> str | None:
        """The id of the alert accepted with ``idempotency_key``, if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT id FROM alerts WHERE idem = ?", (idempotency_key,)
            ).fetchone()
        return None if row is None else str(row[0])

    def accepted(self, alert_id: str) -> tuple[list[str], list[str], dict[str, int]]:
        """What accepting an alert did: its destinations, those suppressed, and its hub seq.

        Destinations come in the order they were accepted; the seq is the one the hub
        answered its delivery with, once recorded (empty before).
        """
        with self._lock:
            rows = self._db.execute(
                "SELECT d.destination, d.state, d.seq FROM deliveries d "
                "JOIN alerts a ON a.seq = d.alert_seq WHERE a.id = ? ORDER BY d.rowid",
                (alert_id,),
            ).fetchall()
        going = [name for name, state, _ in rows if state != SUPPRESSED]
        quiet = [name for name, state, _ in rows if state == SUPPRESSED]
        seq: dict[str, int] = {}
        for _, _, raw in rows:
            if raw:
                seq.update(orjson.loads(raw))
        return going, quiet, seq

    def check_room(self, count: int) -> None:
        """Raise OutboxFull when ``count`` more alerts would exceed ``max_pending``."""
        if self.max_pending and count and len(self._pending) + count > self.max_pending:
            with self._lock:
                self._recount(time.monotonic())
        pending = len(self._pending)
        if self.max_pending and count and pending + count > self.max_pending:
            raise OutboxFull(
                f"the outbox holds {pending} undelivered alerts (limit {self.max_pending}); "
                "nothing was accepted"
            )

    def hold_lease(self, destination: str, owner: str, ttl: float, now: float) -> bool:
        """Take or renew the right to deliver to ``destination``; False if another owner has it.

        Several hub processes (``serve --workers N``) share one outbox; only the holder of a
        destination's lease delivers to it, so no alert is sent twice by two processes.
        """
        with self._write() as db:
            db.execute(
                "INSERT INTO leases (destination, owner, expires) VALUES (?, ?, ?) "
                "ON CONFLICT(destination) DO UPDATE SET owner = excluded.owner, "
                "expires = excluded.expires "
                "WHERE leases.owner = excluded.owner OR leases.expires < ?",
                (destination, owner, now + ttl, now),
            )
            (holder,) = db.execute(
                "SELECT owner FROM leases WHERE destination = ?", (destination,)
            ).fetchone()
        return bool(holder == owner)

    def release_lease(self, destination: str, owner: str) -> None:
        """Give up ``owner``'s lease on ``destination`` (a stopping dispatcher's successor, in
        this process or another, need not wait for it to expire)."""
        with self._write() as db:
            db.execute(
                "DELETE FROM leases WHERE destination = ? AND owner = ?", (destination, owner)
            )

    # -- dispatching -------------------------------------------------------------------------

    def due(
        self, destination: str, now: float, limit: int = 100
    ) -> tuple[list[Delivery], float | None]:
        """Pending deliveries for ``destination`` in order, up to the first not yet due.

        Returns them and, when the head is not due, when it will be: deliveries to one
        destination are strictly in order, so a head waiting for a retry holds the rest.
        """
        with self._read_lock:
            # Bodies only of rows already due: a head waiting for a retry costs one small row.
            rows = self._reader.execute(
                "SELECT d.alert_seq, a.id, a.created, "
                "CASE WHEN d.next_attempt <= ? THEN a.body END, d.attempts, d.parts_sent, "
                "d.next_attempt "
                "FROM deliveries d JOIN alerts a ON a.seq = d.alert_seq "
                "WHERE d.destination = ? AND d.state = ? ORDER BY d.alert_seq LIMIT ?",
                (now, destination, PENDING, limit),
            ).fetchall()
        out: list[Delivery] = []
        for seq, alert_id, created, body, attempts, parts, next_attempt in rows:
            if body is None:
                return out, next_attempt
            out.append(
                Delivery(seq, alert_id, created, orjson.loads(body), destination, attempts, parts)
            )
        return out, None

    def _update(self, sql: str, args: Iterable[Any]) -> None:
        with self._write() as db:
            db.execute(sql, tuple(args))

    def mark_sent(
        self,
        delivery: Delivery,
        message_id: str | None,
        now: float,
        *,
        seq: Mapping[str, int] | None = None,
    ) -> None:
        """Record a delivery done; ``seq``: a hub's sequence numbers for it, by channel."""
        with self._write() as db:
            db.execute(
                "UPDATE deliveries SET state = ?, message_id = ?, updated = ?, last_error = NULL, "
                "seq = ? WHERE alert_seq = ? AND destination = ?",
                (
                    SENT,
                    message_id,
                    now,
                    orjson.dumps(dict(seq)).decode() if seq else None,
                    delivery.alert_seq,
                    delivery.destination,
                ),
            )
            self._settle(delivery.alert_seq)

    def mark_sent_many(
        self, deliveries: Sequence[Delivery], message_id: str | None, now: float
    ) -> None:
        """Record deliveries sent as one message (coalesced), in one transaction."""
        with self._write() as db:
            db.executemany(
                "UPDATE deliveries SET state = ?, message_id = ?, updated = ?, "
                "last_error = NULL WHERE alert_seq = ? AND destination = ?",
                [(SENT, message_id, now, d.alert_seq, d.destination) for d in deliveries],
            )
            for delivery in deliveries:
                self._settle(delivery.alert_seq)

    def mark_part(
        self, delivery: Delivery, parts_sent: int, message_id: str | None, now: float
    ) -> None:
        """Record progress through a split message, so a restart does not resend parts."""
        self._update(
            "UPDATE deliveries SET parts_sent = ?, message_id = COALESCE(message_id, ?), updated "
            "= ? "
            "WHERE alert_seq = ? AND destination = ?",
            (parts_sent, message_id, now, delivery.alert_seq, delivery.destination),
        )

    def mark_retry(
        self, delivery: Delivery, next_attempt: float, error: str, now: float, *, spend: bool
    ) -> None:
        self._update(
            "UPDATE deliveries SET attempts = attempts + ?, next_attempt = ?, last_error = ?, "
            "updated = ? "
            "WHERE alert_seq = ? AND destination = ?",
            (1 if spend else 0, next_attempt, error, now, delivery.alert_seq, delivery.destination),
        )

    def mark_dead(self, delivery: Delivery, error: str, now: float) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE deliveries SET state = ?, attempts = attempts + 1, last_error = ?, "
                "updated = ? WHERE alert_seq = ? AND destination = ?",
                (DEAD, error, now, delivery.alert_seq, delivery.destination),
            )
            self._settle(delivery.alert_seq)

    def kill_pending(self, destination: str, error: str, now: float) -> int:
        """Dead-letter everything pending for a destination that was disabled."""
        with self._write() as db:
            seqs = [
                seq
                for (seq,) in db.execute(
                    "SELECT alert_seq FROM deliveries WHERE destination = ? AND state = ?",
                    (destination, PENDING),
                )
            ]
            db.execute(
                "UPDATE deliveries SET state = ?, last_error = ?, updated = ? "
                "WHERE destination = ? AND state = ?",
                (DEAD, error, now, destination, PENDING),
            )
            for seq in seqs:
                self._settle(seq)
            return len(seqs)

    def disable(self, destination: str, reason: str, now: float) -> None:
        self._update(
            "INSERT OR REPLACE INTO disabled_destinations (destination, reason, since) VALUES "
            "(?, ?, ?)",
            (destination, reason, now),
        )

    def hold_pending(self, destination: str, reason: str, now: float) -> int:
        """Hold everything pending for a destination that was just disabled; how many."""
        with self._write() as db:
            cur = db.execute(
                "UPDATE deliveries SET state = ?, last_error = ?, updated = ? "
                "WHERE destination = ? AND state = ?",
                (HELD, f"held: destination {reason}", now, destination, PENDING),
            )
            return int(cur.rowcount)

    def enable(self, destination: str, now: float | None = None) -> int:
        """Enable a destination and make what it held pending again; how many were held."""
        now = time.time() if now is None else now
        with self._write() as db:
            db.execute("DELETE FROM disabled_destinations WHERE destination = ?", (destination,))
            cur = db.execute(
                "UPDATE deliveries SET state = ?, attempts = 0, next_attempt = ?, parts_sent = 0, "
                "last_error = NULL, updated = ? WHERE destination = ? AND state = ?",
                (PENDING, now, now, destination, HELD),
            )
            self.version += 1
            return int(cur.rowcount)

    def disabled(self) -> dict[str, str]:
        with self._read_lock:
            rows = self._reader.execute(
                "SELECT destination, reason FROM disabled_destinations"
            ).fetchall()
        return dict(rows)

    # -- operations --------------------------------------------------------------------------

    def replay(
        self, alert_id: str, destination: str | None = None, now: float | None = None
    ) -> int:
        """Make dead deliveries of an alert pending again; returns how many."""
        now = time.time() if now is None else now
        where = "state = ? AND alert_seq = (SELECT seq FROM alerts WHERE id = ?)"
        args: list[Any] = [DEAD, alert_id]
        if destination is not None:
            where += " AND destination = ?"
            args.append(destination)
        with self._write() as db:
            query = f"SELECT alert_seq FROM deliveries WHERE {where}"
            seqs = [seq for (seq,) in db.execute(query, args)]
            db.execute(
                "UPDATE deliveries SET state = ?, attempts = 0, next_attempt = ?, parts_sent = 0, "
                f"updated = ? WHERE {where}",
                [PENDING, now, now, *args],
            )
            for seq in seqs:
                self._pending[seq] = self._pending.get(seq, 0) + 1
            self.version += 1
            return len(seqs)

    def dead(self, limit: int = 100) -> list[dict[str, Any]]:
        with self._read_lock:
            rows = self._reader.execute(
                "SELECT a.id, a.alert_type, a.symbol, d.destination, d.attempts, d.last_error, "
                "d.updated "
                "FROM deliveries d JOIN alerts a ON a.seq = d.alert_seq WHERE d.state = ? "
                "ORDER BY d.alert_seq DESC LIMIT ?",
                (DEAD, limit),
            ).fetchall()
        keys = ("id", "alert_type", "symbol", "destination", "attempts", "last_error", "updated")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def get(self, alert_id: str) -> dict[str, Any] | None:
        with self._read_lock:
            reader = self._reader
            reader.execute("BEGIN")  # one snapshot for the alert and its deliveries
            try:
                row = reader.execute(
                    "SELECT seq, created, body FROM alerts WHERE id = ?", (alert_id,)
                ).fetchone()
                deliveries = (
                    []
                    if row is None
                    else reader.execute(
                        "SELECT destination, state, attempts, next_attempt, last_error, "
                        "message_id, parts_sent, updated "
                        "FROM deliveries WHERE alert_seq = ? ORDER BY destination",
                        (row[0],),
                    ).fetchall()
                )
            finally:
                reader.execute("COMMIT")
        if row is None:
            return None
        keys = (
            "destination",
            "state",
            "attempts",
            "next_attempt",
            "last_error",
            "message_id",
            "parts_sent",
            "updated",
        )
        return {
            "alert": orjson.loads(row[2]),
            "accepted_at": row[1],
            "deliveries": [dict(zip(keys, d, strict=True)) for d in deliveries],
        }

    def log(
        self,
        *,
        symbol: str | None = None,
        alert_type: str | None = None,
        since: float | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """The alert log, newest first, filtered by symbol, type and acceptance time."""
        clauses: list[str] = []
        args: list[Any] = []
        if symbol is not None:
            clauses.append("symbol = ?")
            args.append(symbol)
        if alert_type is not None:
            clauses.append("alert_type = ?")
            args.append(alert_type)
        if since is not None:
            clauses.append("created >= ?")
            args.append(since)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._read_lock:
            rows = self._reader.execute(
                f"SELECT body FROM alerts {where} ORDER BY seq DESC LIMIT ?", (*args, limit)
            ).fetchall()
        return [orjson.loads(r[0]) for r in rows]

    def counters(self, now: float) -> dict[str, dict[str, Any]]:
        """Per destination: rows by state, and the age of the oldest undelivered alert."""
        with self._read_lock:
            rows = self._reader.execute(
                "SELECT d.destination, d.state, COUNT(*), MIN(a.created), SUM(d.attempts) "
                "FROM deliveries d JOIN alerts a ON a.seq = d.alert_seq GROUP BY d.destination, "
                "d.state"
            ).fetchall()
        out: dict[str, dict[str, Any]] = {}
        for destination, state, count, oldest, _attempts in rows:
            entry = out.setdefault(
                destination,
                {
                    PENDING: 0,
                    SENT: 0,
                    DEAD: 0,
                    SUPPRESSED: 0,
                    HELD: 0,
                    "oldest_undelivered_seconds": 0.0,
                },
            )
            entry[state] = count
            if state in (PENDING, HELD) and oldest is not None:
                age = round(now - oldest, 3)
                entry["oldest_undelivered_seconds"] = max(entry["oldest_undelivered_seconds"], age)
        return out


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    """Whether SQLite refused for a lock another connection holds (SQLITE_BUSY)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return bool(code & 0xFF == sqlite3.SQLITE_BUSY)
    return "locked" in str(exc) or "busy" in str(exc)


def _add_column(db: sqlite3.Connection, table: str, column: str) -> None:
    """Add ``column`` (name and type) to ``table`` unless it is there (another process may race)."""
    name = column.split()[0]
    if any(row[1] == name for row in db.execute(f"PRAGMA table_info({table})")):
        return
    try:
        db.execute(f"ALTER TABLE {table} ADD COLUMN {column}")
    except sqlite3.OperationalError as exc:
        if "duplicate column" not in str(exc):
            raise
