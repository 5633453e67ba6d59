"""The ``Agent`` port: what an agent is, and what the node gives it to work with.

An agent is one supervised task (``run``) that reads the bus (``ctx.subscribe``: alerts,
signals, other agents' insights) and the sources' records (``ctx.records``: quotes, prints,
chains, files, posts, series), and publishes through the node's one publish path
(``ctx.publish_insight``, ``ctx.publish_alert``, ``ctx.publish_signal``, ...): an alert it
raises goes through the AlertManager (outbox, Discord routes, cooldowns) like any other.

Writing one (a package of your own, registered under the ``alphawire.agents`` entry-point
group, found at start without touching alphawire)::

    class EchoAgent:
        name = "echo"

        def __init__(self, options: Mapping[str, Any]) -> None:
            self.threshold = float(options.get("threshold", 1.0))

        async def run(self, ctx: AgentContext) -> None:
            async for quote in ctx.records(["quote"]):
                if quote.last > self.threshold:
                    await ctx.publish_insight({"symbol": quote.symbol, "last": quote.last})
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from alphawire.clock import Clock
from alphawire.messages import AnyMessage
from alphawire.results import PublishResult
from alphawire.sources.base import MarketCalendar
from alphawire.sources.bus import RecordStream

if TYPE_CHECKING:
    from alphawire.hub.local import LocalSubscription


class AgentContext(Protocol):
    """What the node gives a running agent (see ``alphawire.agents.context``)."""

    name: str
    options: Mapping[str, Any]
    watchlist: tuple[str, ...]
    clock: Clock
    calendar: MarketCalendar

    async def publish_many(
        self, batch: Sequence[AnyMessage | Mapping[str, Any]]
    ) -> list[PublishResult]:
        """Publish through the node's one path (alerts through the AlertManager)."""

    async def publish_alert(
        self,
        *,
        alert_type: str,
        source: str,
        content: str = "",
        symbol: str | None = None,
        embed: Mapping[str, Any] | None = None,
        severity: str | None = None,
        dedup_key: str | None = None,
        idempotency_key: str | None = None,
        timestamp: datetime | str | None = None,
    ) -> PublishResult:
        """Raise an alert: to ``unified`` and its Discord routes, through the outbox."""

    async def publish_signal(
        self,
        signal: Mapping[str, Any],
        *,
        timestamp: datetime | str | None = None,
        idempotency_key: str | None = None,
    ) -> PublishResult:
        """Publish a ``signal``."""

    async def publish_narrative(
        self,
        narrative: Mapping[str, Any],
        *,
        timestamp: datetime | str | None = None,
        idempotency_key: str | None = None,
    ) -> PublishResult:
        """Publish a ``narrative``."""

    async def publish_insight(
        self, insight: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> PublishResult:
        """Publish an ``agent_insight`` on ``agent_{name}``."""

    def subscribe(self, channels: Iterable[str], **options: Any) -> LocalSubscription:
        """An in-process subscription to bus channels or ``*`` patterns."""

    def records(
        self, kinds: Iterable[str], *, symbols: Iterable[str] | None = None, maxlen: int = ...
    ) -> RecordStream:
        """A bounded stream of the sources' records of ``kinds``."""


@runtime_checkable
class Agent(Protocol):
    """An intelligence agent: one supervised task that reads and publishes."""

    name: str  # lower-case identifier; its insights go to agent_{name}

    async def run(self, ctx: AgentContext) -> None:
        """Work until cancelled; raising reports a crash (the supervisor restarts it)."""
