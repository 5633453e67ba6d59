"""The broker contract: a small Protocol that the in-memory and Redis brokers both satisfy."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from alphawire.errors import ValidationError

DeliverFn = Callable[[str, int, bytes], None]
"""Called by a broker for every message on a channel this process subscribed to:
``deliver(channel, seq, body)``, in ``seq`` order per channel."""


class Broker(Protocol):
    """Assigns per-channel sequence numbers and delivers messages to subscribed processes."""

    async def start(self, deliver: DeliverFn) -> None:
        """Begin delivering messages of subscribed channels to ``deliver``."""

    async def stop(self) -> None:
        """Release connections and tasks; no delivery happens after this returns."""

    async def publish(self, items: Sequence[tuple[str, bytes]]) -> list[int]:
        """Append each ``(channel, body)`` in order, returning the ``seq`` given to each."""

    async def subscribe(self, channel: str) -> int:
        """Start delivering ``channel`` here; return its last ``seq`` at that moment.

        Every message with a larger ``seq`` is delivered after this returns, none with a
        smaller or equal one, so a subscriber told the returned ``seq`` misses nothing.
        """

    async def unsubscribe(self, channel: str) -> None:
        """Stop delivering ``channel`` here."""

    async def last_seq(self, channel: str) -> int:
        """The ``seq`` of the newest message on ``channel`` (0 when it has none)."""


def broker_from_url(url: str) -> Broker:
    """Pick a broker from a URL: ``memory://`` (the default) or ``redis://host:port/db``."""
    scheme = url.split(":", 1)[0].lower()
    if scheme == "memory":
        from alphawire.brokers.memory import MemoryBroker

        return MemoryBroker()
    raise ValidationError(f"unsupported broker URL scheme {scheme!r}: use memory://")
