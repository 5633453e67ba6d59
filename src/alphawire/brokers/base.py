"""The broker contract: a small Protocol that the in-memory and Redis brokers both satisfy."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from alphawire.channels import channel_kind
from alphawire.errors import ValidationError
from alphawire.supervisor import Supervisor

DeliverFn = Callable[[str, int, bytes], None]
"""Called by a broker for every message on a channel this process subscribed to:
``deliver(channel, seq, body)``, in ``seq`` order per channel."""

GapFn = Callable[[str, int, int, str], None]
"""Called when a broker lost deliveries it cannot recover: ``gap(channel, after, upto, reason)``."""


@dataclass(frozen=True, slots=True)
class Limit:
    """How much history one channel keeps: at most ``messages``, none older than ``seconds``."""

    messages: int
    seconds: float


def _default_limits() -> dict[str, Limit]:
    # Alerts and signals are what a trader must not miss: kept long. Ticks are superseded
    # by the next tick within seconds: kept short (the newest is kept apart, for snapshots).
    return {
        "unified": Limit(10_000, 24 * 3600),
        "signals": Limit(10_000, 24 * 3600),
        "narrative": Limit(1_000, 24 * 3600),
        "agent": Limit(1_000, 24 * 3600),
        "market": Limit(200, 300),
    }


@dataclass(frozen=True)
class Retention:
    """History limits by channel kind: unified, signals, narrative, agent, market."""

    limits: Mapping[str, Limit] = field(default_factory=_default_limits)

    def for_channel(self, channel: str) -> Limit:
        limits = self.limits
        return limits.get(channel_kind(channel)) or limits["unified"]


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """A slice of one channel's history.

    ``entries`` are ``(seq, body)`` after the requested ``since``, oldest first; ``first_seq``
    is the oldest seq still kept (``last_seq + 1`` when none is), so the slice is gap-free
    from ``since`` exactly when ``first_seq <= since + 1``.
    """

    epoch: str
    last_seq: int
    first_seq: int
    entries: list[tuple[int, bytes]]

    def covers(self, since: int) -> bool:
        return self.first_seq <= since + 1 and since <= self.last_seq


class Broker(Protocol):
    """Assigns per-channel sequence numbers, keeps history, delivers to subscribed processes."""

    @property
    def epoch(self) -> str:
        """Identifies the history's continuity; changes whenever history or seq were lost."""

    async def start(self, deliver: DeliverFn, gap: GapFn | None = None) -> None:
        """Begin delivering messages of subscribed channels to ``deliver``."""

    async def stop(self) -> None:
        """Release connections and tasks; no delivery happens after this returns."""

    async def publish(self, items: Sequence[tuple[str, bytes]]) -> list[int]:
        """Append each ``(channel, body)`` in order, returning the ``seq`` given to each."""

    async def subscribe(self, channel: str) -> None:
        """Start delivering ``channel`` here.

        Every message published after this returns is delivered; combined with
        ``last_seq``/``history`` read in the same step, a subscriber misses nothing.
        """

    async def unsubscribe(self, channel: str) -> None:
        """Stop delivering ``channel`` here."""

    async def last_seq(self, channel: str) -> int:
        """The ``seq`` of the newest message on ``channel`` (0 when it has none)."""

    async def history(
        self, channel: str, since: int | None, limit: int | None = None
    ) -> HistoryPage:
        """Messages after ``since`` (the newest ``limit`` when ``since`` is None), oldest first."""

    async def latest(self, channel: str) -> tuple[int, bytes] | None:
        """The newest message of ``channel`` whatever its age, or None."""

    async def channels(self, limit: int) -> dict[str, int]:
        """Up to ``limit`` channels that have had a message, each with its last ``seq``."""

    def health(self) -> dict[str, object]:
        """``{"ok": bool, ...}``: whether delivery through the broker works right now."""


def broker_from_url(
    url: str,
    *,
    retention: Retention | None = None,
    data_dir: Path | None = None,
    supervisor: Supervisor | None = None,
) -> Broker:
    """Pick a broker from a URL: ``memory://`` (the default) or ``redis://host:port/db``."""
    scheme = url.split(":", 1)[0].lower()
    if scheme == "memory":
        from alphawire.brokers.memory import MemoryBroker

        snapshot = data_dir / "memory-broker.snapshot" if data_dir is not None else None
        return MemoryBroker(retention=retention, snapshot_path=snapshot)
    if scheme in ("redis", "rediss", "unix"):
        try:
            from alphawire.brokers.redis import RedisBroker
        except ImportError:  # pragma: no cover - the extra is not installed
            raise ValidationError(
                "the Redis broker needs the redis extra: pip install 'alphawire[redis]'"
            ) from None
        return RedisBroker(url, retention=retention, supervisor=supervisor)
    raise ValidationError(f"unsupported broker URL scheme {scheme!r}: use memory:// or redis://")
