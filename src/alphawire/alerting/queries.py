"""What the outbox is asked from outside: dead letters, one alert's deliveries, the alert
log, counts per destination and disabled destinations (the CLI, the REST API and stats).

Every query reads through the reader connection: none waits for a write, none holds one up.
"""

from __future__ import annotations

from typing import Any

import orjson

from alphawire.alerting.database import DEAD, HELD, PENDING, SENT, SUPPRESSED, OutboxDatabase


class OutboxQueries:
    """The outbox's read-only queries (``Outbox`` has them)."""

    _db: OutboxDatabase

    def disabled(self) -> dict[str, str]:
        with self._db.reader() as reader:
            rows = reader.execute(
                "SELECT destination, reason FROM disabled_destinations"
            ).fetchall()
        return dict(rows)

    def dead(self, limit: int = 100) -> list[dict[str, Any]]:
        with self._db.reader() as reader:
            rows = reader.execute(
                "SELECT a.id, a.alert_type, a.symbol, d.destination, d.attempts, d.last_error, "
                "d.updated "
                "FROM deliveries d JOIN alerts a ON a.seq = d.alert_seq WHERE d.state = ? "
                "ORDER BY d.alert_seq DESC LIMIT ?",
                (DEAD, limit),
            ).fetchall()
        keys = ("id", "alert_type", "symbol", "destination", "attempts", "last_error", "updated")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def get(self, alert_id: str) -> dict[str, Any] | None:
        with self._db.reader() as reader:
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
        with self._db.reader() as reader:
            rows = reader.execute(
                f"SELECT body FROM alerts {where} ORDER BY seq DESC LIMIT ?", (*args, limit)
            ).fetchall()
        return [orjson.loads(r[0]) for r in rows]

    def counters(self, now: float) -> dict[str, dict[str, Any]]:
        """Per destination: rows by state, and the age of the oldest undelivered alert."""
        with self._db.reader() as reader:
            rows = reader.execute(
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
