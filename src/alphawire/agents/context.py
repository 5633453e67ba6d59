"""The node's side of ``AgentContext``: publishing, subscriptions and records for one agent."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from alphawire.clock import Clock
from alphawire.messages import AnyMessage
from alphawire.publishing import Publishing, PublishMethods
from alphawire.results import PublishResult
from alphawire.sources.base import MarketCalendar
from alphawire.sources.bus import DEFAULT_MAXLEN, RecordBus, RecordStream

if TYPE_CHECKING:
    from alphawire.hub.local import LocalSubscription


class Bus(Publishing, Protocol):
    """What an agent's context needs of the node: its publish path and subscriptions."""

    @property
    def subscribe(self) -> Callable[..., LocalSubscription]:
        """``subscribe(channels, **options)``: an in-process subscription."""


class NodeAgentContext(PublishMethods):
    """One agent's context; its streams and subscriptions are closed when the agent stops."""

    def __init__(
        self,
        node: Bus,
        name: str,
        options: Mapping[str, Any],
        *,
        watchlist: tuple[str, ...],
        clock: Clock,
        calendar: MarketCalendar,
        bus: RecordBus,
    ) -> None:
        self._node: Publishing = node
        self._subscribe = node.subscribe
        self.name = name
        self.options = options
        self.watchlist = watchlist
        self.clock = clock
        self.calendar = calendar
        self._bus = bus
        self._streams: list[RecordStream] = []

    async def publish_many(
        self, batch: Sequence[AnyMessage | Mapping[str, Any]]
    ) -> list[PublishResult]:
        return await self._node.publish_many(batch)

    async def publish_insight(
        self, insight: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> PublishResult:
        return await self.publish_agent_insight(self.name, insight, idempotency_key=idempotency_key)

    def subscribe(self, channels: Iterable[str], **options: Any) -> LocalSubscription:
        options.setdefault("name", f"agent:{self.name}")
        return self._subscribe(channels, **options)

    def records(
        self,
        kinds: Iterable[str],
        *,
        symbols: Iterable[str] | None = None,
        maxlen: int = DEFAULT_MAXLEN,
    ) -> RecordStream:
        stream = self._bus.stream(
            kinds, symbols=symbols, maxlen=maxlen, name=f"agent:{self.name}:{len(self._streams)}"
        )
        self._streams.append(stream)
        return stream

    def close(self) -> None:
        for stream in self._streams:
            stream.close()
        self._streams.clear()
