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
        "conflated",
        "connections_closed",
        "connections_opened",
        "delivered",
        "dropped",
        "duplicates",
        "local_delivered",
        "local_subscriptions",
        "publish_connections",
        "published",
        "recoveries",
        "recovery_failures",
        "slow_consumers",
        "started_at",
        "started_monotonic",
    )

    def __init__(self) -> None:
        self.published: dict[str, int] = dict.fromkeys(MESSAGE_TYPES, 0)
        self.delivered = 0  # message frames written to a socket
        self.dropped = (
            0  # message frames lost for a connection (none since lanes; kept for the API)
        )
        self.duplicates = 0  # publishes answered from the idempotency cache
        self.conflated = 0  # market ticks replaced by a newer tick in a slow connection's lane
        self.slow_consumers = 0  # connections closed with 4008
        self.recoveries = 0  # subscriptions resumed from history without a gap
        self.recovery_failures = 0  # subscriptions told their gap could not be filled
        self.connections_opened = 0
        self.connections_closed = 0
        self.publish_connections = (
            0  # open producer sockets (/api/v1/ws/publish), also in connections
        )
        self.local_subscriptions = (
            0  # open in-process subscriptions (node.subscribe), not in connections
        )
        self.local_delivered = 0  # messages handed to in-process subscribers (not in delivered)
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
            "conflated": self.conflated,
            "duplicates": self.duplicates,
            "slow_consumers": self.slow_consumers,
            "recoveries": self.recoveries,
            "recovery_failures": self.recovery_failures,
            "connections_opened": self.connections_opened,
            "connections_closed": self.connections_closed,
            "publish_connections": self.publish_connections,
            "local_subscriptions": self.local_subscriptions,
            "local_delivered": self.local_delivered,
            "uptime_seconds": round(self.uptime(), 3),
        }
