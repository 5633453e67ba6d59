"""Every Redis key and channel name alphawire uses, in one place.

All live under one prefix (``alphawire`` by default) so that several hubs, or other apps,
can share a Redis. Sequence counters never expire: a channel's seq continuity is the point.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    """Key names under ``prefix``; ``{ch}`` is a canonical channel name."""

    prefix: str = "alphawire"

    @property
    def epoch(self) -> str:
        return f"{self.prefix}:epoch"

    def seq(self, channel: str) -> str:
        return f"{self.prefix}:seq:{channel}"

    def history(self, channel: str) -> str:
        return f"{self.prefix}:hist:{channel}"

    def latest(self, channel: str) -> str:
        return f"{self.prefix}:latest:{channel}"

    def pubsub(self, channel: str) -> str:
        return f"{self.prefix}:ch:{channel}"

    def idempotency(self, key: str) -> str:
        return f"{self.prefix}:idem:{key}"

    def once(self, token: str) -> str:
        """One publish's answer, kept briefly so that a retried run publishes nothing."""
        return f"{self.prefix}:once:{token}"

    def canary(self, node_id: str) -> str:
        return f"{self.prefix}:canary:{node_id}"

    def channel_of(self, pubsub_name: str) -> str | None:
        head = f"{self.prefix}:ch:"
        return pubsub_name[len(head) :] if pubsub_name.startswith(head) else None
