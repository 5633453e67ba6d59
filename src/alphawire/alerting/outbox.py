"""The durable outbox: every accepted alert and its per-destination delivery state, in SQLite.

An alert is committed (SQLite WAL) before
the caller gets its receipt, with one delivery row per destination. Dispatchers take due rows
in order, and record the outcome of every attempt. A crash at any point leaves each row
either pending (it is attempted again) or finished: delivery is at-least-once, and the only
window for a duplicate is between a destination accepting a message and the row recording it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from alphawire.alerting.database import (
    DEAD,
    HELD,
    PENDING,
    SENT,
    SUPPRESSED,
    OutboxDatabase,
)
from alphawire.alerting.leases import OutboxLeases
from alphawire.alerting.queries import OutboxQueries
from alphawire.errors import AlphawireError

__all__ = [
    "DEAD",
    "HELD",
    "PENDING",
    "SENT",
    "SUPPRESSED",
    "Delivery",
    "NewAlert",
    "NewDelivery",
    "Outbox",
    "OutboxFull",
]

# At most this often is the pending count read again from the database (see _recount).
_RECOUNT_INTERVAL = 1.0


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


class Outbox(OutboxQueries, OutboxLeases):
    """SQLite-backed alert store, safe to use from the event loop and from monitor threads.

    Its file is an ``OutboxDatabase``; its read-only queries and its leases are in
    ``queries.py`` and ``leases.py``; accepting alerts and recording deliveries are here.
    """

    def __init__(
        self, path: Path, *, max_pending: int = 100_000, synchronous: str = "NORMAL"
    ) -> None:
        self._db = OutboxDatabase(path, synchronous)
        self.path = path
        self.max_pending = max_pending
        # Bumped after every commit that may make a delivery due (add, replay): a dispatcher
        # about to sleep compares it with the value it saw before asking for due rows.
        self.version = 0
        with self._db.reader() as reader:
            # alert seq -> its pending deliveries: the bound is checked without a table scan.
            self._pending: dict[int, int] = dict(
                reader.execute(
                    "SELECT alert_seq, COUNT(*) FROM deliveries WHERE state = ? GROUP BY alert_seq",
                    (PENDING,),
                ).fetchall()
            )
            # Destinations that had pending deliveries: what _recount asks the index about.
            self._destinations: set[str] = {
                name
                for (name,) in reader.execute(
                    "SELECT DISTINCT destination FROM deliveries WHERE state = ?", (PENDING,)
                )
            }
        self._recounted = 0.0

    def close(self) -> None:
        self._db.close()

    def checkpoint(self) -> None:
        """Fold the WAL into the database, off the producers' path (see ``WalKeeper``)."""
        self._db.checkpoint()

    @property
    def busy_waits(self) -> int:
        """Writes that found another process's write transaction in the way."""
        return self._db.busy_waits

    @property
    def busy_wait_max(self) -> float:
        """The longest wait for another process's write transaction, in seconds."""
        return self._db.busy_wait_max

    @property
    def pending_alerts(self) -> int:
        return len(self._pending)

    def _settle(self, alert_seq: int, count: int = 1) -> None:
        left = self._pending.get(alert_seq, 0) - count
        if left > 0:
            self._pending[alert_seq] = left
        else:
            self._pending.pop(alert_seq, None)

    def _recount(self, db: sqlite3.Connection, now: float) -> None:
        """Read the pending count from the database again (``db``: the writer, held), at most
        once a second.

        Deliveries recorded by another process (a delivery process, another worker) settle
        there, not in this process's count: a count that says the outbox is full is checked.
        """
        if now - self._recounted < _RECOUNT_INTERVAL:
            return
        self._recounted = now
        pending: dict[int, int] = {}
        for name in self._destinations:
            for seq, count in db.execute(
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
        with self._db.writer() as db:
            if self.max_pending and len(self._pending) + len(alerts) > self.max_pending:
                self._recount(db, time.monotonic())
            if self.max_pending and len(self._pending) + len(alerts) > self.max_pending:
                raise OutboxFull(
                    f"the outbox holds {len(self._pending)} undelivered alerts "
                    f"(limit {self.max_pending}); nothing was accepted"
                )
            with self._db.transaction(held=True):
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
                        quiet = d.dedup_key is not None and _repeat(db, d, now)
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
            self._pending.update(fresh)
            self.version += 1
        return suppressed_by_alert

    def find(self, idempotency_key: str) -> str | None:
        """The id of the alert accepted with ``idempotency_key``, if any."""
        with self._db.writer() as db:
            row = db.execute("SELECT id FROM alerts WHERE idem = ?", (idempotency_key,)).fetchone()
        return None if row is None else str(row[0])

    def accepted(self, alert_id: str) -> tuple[list[str], list[str], dict[str, int]]:
        """What accepting an alert did: its destinations, those suppressed, and its hub seq.

        Destinations come in the order they were accepted; the seq is the one the hub
        answered its delivery with, once recorded (empty before).
        """
        with self._db.writer() as db:
            rows = db.execute(
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
            with self._db.writer() as db:
                self._recount(db, time.monotonic())
        pending = len(self._pending)
        if self.max_pending and count and pending + count > self.max_pending:
            raise OutboxFull(
                f"the outbox holds {pending} undelivered alerts (limit {self.max_pending}); "
                "nothing was accepted"
            )

    # -- dispatching -------------------------------------------------------------------------

    def due(
        self, destination: str, now: float, limit: int = 100
    ) -> tuple[list[Delivery], float | None]:
        """Pending deliveries for ``destination`` in order, up to the first not yet due.

        Returns them and, when the head is not due, when it will be: deliveries to one
        destination are strictly in order, so a head waiting for a retry holds the rest.
        """
        with self._db.reader() as reader:
            # Bodies only of rows already due: a head waiting for a retry costs one small row.
            rows = reader.execute(
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
        with self._db.transaction() as db:
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
        with self._db.transaction() as db:
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
        with self._db.transaction() as db:
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
        with self._db.transaction() as db:
            db.execute(
                "UPDATE deliveries SET state = ?, attempts = attempts + 1, last_error = ?, "
                "updated = ? WHERE alert_seq = ? AND destination = ?",
                (DEAD, error, now, delivery.alert_seq, delivery.destination),
            )
            self._settle(delivery.alert_seq)

    def kill_pending(self, destination: str, error: str, now: float) -> int:
        """Dead-letter everything pending for a destination that was disabled."""
        with self._db.transaction() as db:
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
        with self._db.transaction() as db:
            cur = db.execute(
                "UPDATE deliveries SET state = ?, last_error = ?, updated = ? "
                "WHERE destination = ? AND state = ?",
                (HELD, f"held: destination {reason}", now, destination, PENDING),
            )
            return int(cur.rowcount)

    def enable(self, destination: str, now: float | None = None) -> int:
        """Enable a destination and make what it held pending again; how many were held."""
        now = time.time() if now is None else now
        with self._db.transaction() as db:
            db.execute("DELETE FROM disabled_destinations WHERE destination = ?", (destination,))
            cur = db.execute(
                "UPDATE deliveries SET state = ?, attempts = 0, next_attempt = ?, parts_sent = 0, "
                "last_error = NULL, updated = ? WHERE destination = ? AND state = ?",
                (PENDING, now, now, destination, HELD),
            )
            self.version += 1
            return int(cur.rowcount)

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
        with self._db.transaction() as db:
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


def _repeat(db: sqlite3.Connection, delivery: NewDelivery, now: float) -> bool:
    """Inside add()'s transaction: is this a repeat within the cooldown? Records it if not."""
    row = db.execute(
        "SELECT last_sent FROM dedup WHERE route = ? AND key = ?",
        (delivery.destination, delivery.dedup_key),
    ).fetchone()
    if row is not None and now - row[0] < delivery.cooldown:
        return True
    db.execute(
        "INSERT INTO dedup (route, key, last_sent) VALUES (?, ?, ?) "
        "ON CONFLICT(route, key) DO UPDATE SET last_sent = excluded.last_sent",
        (delivery.destination, delivery.dedup_key, now),
    )
    return False
