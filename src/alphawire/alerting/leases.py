"""Which process delivers to a destination: a lease in the outbox, renewed while it lives.

Several hub processes (``serve --workers N``) and a delivery process can share one outbox;
only the holder of a destination's lease delivers to it, so no alert is sent twice by two
processes. A lease that is not renewed expires, and another process takes the destination.
"""

from __future__ import annotations

from alphawire.alerting.database import OutboxDatabase


class OutboxLeases:
    """The outbox's leases per destination (``Outbox`` has them)."""

    _db: OutboxDatabase

    def hold_lease(self, destination: str, owner: str, ttl: float, now: float) -> bool:
        """Take or renew the right to deliver to ``destination`` for ``ttl`` seconds; False
        if another owner holds it and it has not expired."""
        with self._db.transaction() as db:
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
        with self._db.transaction() as db:
            db.execute(
                "DELETE FROM leases WHERE destination = ? AND owner = ?", (destination, owner)
            )
