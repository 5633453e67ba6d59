"""Exact counters of what the hub accepted, delivered and dropped."""

from __future__ import annotations

import time
from typing import Any

from alphawire.messages import MESSAGE_TYPES


class Stats:
    """Counters shared by the publisher, the registry and every connection.

    Plain integer attributes, updated on the event loop thread only, so they are exact
    without locks.
    """

    __slots__ = (
        "connections_closed",
        "connections_opened",
        "delivered",
        "dropped",
        "published",
        "started_at",
        "started_monotonic",
    )

    def __init__(self) -> None:
        self.published: dict[str, int] = dict.fromkeys(MESSAGE_TYPES, 0)
        self.delivered = 0  # message frames written to a socket
        self.dropped = 0  # message frames a full connection queue refused
        self.connections_opened = 0
        self.connections_closed = 0
        self.started_monotonic = time.monotonic()
        self.started_at = time.time()

    def uptime(self) -> float:
        return time.monotonic() - self.started_monotonic

    def snapshot(self, channels: dict[str, int], total_connections: int) -> dict[str, Any]:
        """The JSON document served at ``GET /api/v1/ws/stats``."""
        return {
            "total_connections": total_connections,
            "channels": channels,
            "published": dict(self.published),
            "published_total": sum(self.published.values()),
            "delivered": self.delivered,
            "dropped": self.dropped,
            "connections_opened": self.connections_opened,
            "connections_closed": self.connections_closed,
            "uptime_seconds": round(self.uptime(), 3),
        }
