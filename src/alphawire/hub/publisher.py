"""Publishing: validate, seal (id + timestamp + one serialisation), route, hand to the broker.

This is the in-process API the original system offered (``publish_alert``, ``publish_signal``,
``publish_market_data``, ``publish_agent_insight``, ``publish_narrative``); the HTTP API, the
producer clients and the built-in agents all come through here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from alphawire import messages
from alphawire.brokers.base import Broker
from alphawire.hub.stats import Stats
from alphawire.messages import AnyMessage


@dataclass(frozen=True, slots=True)
class PublishResult:
    """What a publish did: the message's id and the ``seq`` it got on each channel."""

    id: str
    type: str
    seq: dict[str, int]

    @property
    def channels(self) -> list[str]:
        return list(self.seq)

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "channels": self.channels, "seq": self.seq}


class Publisher:
    """Validates and publishes messages; never waits for any subscriber."""

    def __init__(self, broker: Broker, stats: Stats) -> None:
        self._broker = broker
        self._stats = stats

    async def publish(self, message: AnyMessage | Mapping[str, Any]) -> PublishResult:
        """Publish one message (a model, or a mapping with its ``type``)."""
        (result,) = await self.publish_many([message])
        return result

    async def publish_many(
        self, batch: Sequence[AnyMessage | Mapping[str, Any]]
    ) -> list[PublishResult]:
        """Publish several messages in order; all are validated before any is published."""
        models = [m if isinstance(m, messages.MODEL_TYPES) else messages.validate(m) for m in batch]
        return await self.publish_validated(models)

    async def publish_validated(self, models: Sequence[AnyMessage]) -> list[PublishResult]:
        """Publish messages that already passed validation (the HTTP layer's path)."""
        envelopes = [messages.seal(m) for m in models]
        items = [(channel, env.body) for env in envelopes for channel in env.channels]
        seqs = await self._broker.publish(items)
        published = self._stats.published
        results: list[PublishResult] = []
        pos = 0
        for env in envelopes:
            n = len(env.channels)
            results.append(
                PublishResult(
                    env.id, env.type, dict(zip(env.channels, seqs[pos : pos + n], strict=True))
                )
            )
            pos += n
            published[env.type] += 1
        return results

    # -- the original system's API -----------------------------------------------------------

    async def publish_alert(
        self,
        *,
        alert_type: str,
        source: str,
        content: str = "",
        symbol: str | None = None,
        embed: Mapping[str, Any] | None = None,
        severity: str | None = None,
        timestamp: datetime | str | None = None,
    ) -> PublishResult:
        """Publish an ``alert`` to ``unified``."""
        return await self.publish(
            {
                "type": "alert",
                "alert_type": alert_type,
                "source": source,
                "content": content,
                "symbol": symbol,
                "embed": embed,
                "severity": severity,
                "timestamp": timestamp,
            }
        )

    async def publish_signal(
        self, signal: Mapping[str, Any], *, timestamp: datetime | str | None = None
    ) -> PublishResult:
        """Publish a ``signal`` to ``signals`` and ``unified``."""
        return await self.publish({"type": "signal", "signal": signal, "timestamp": timestamp})

    async def publish_market_data(
        self, symbol: str, data: Mapping[str, Any], *, timestamp: datetime | str | None = None
    ) -> PublishResult:
        """Publish a ``market_data`` tick to ``market_{SYMBOL}``."""
        return await self.publish(
            {"type": "market_data", "symbol": symbol, "data": data, "timestamp": timestamp}
        )

    async def publish_agent_insight(
        self, agent: str, insight: Mapping[str, Any], *, timestamp: datetime | str | None = None
    ) -> PublishResult:
        """Publish an ``agent_insight`` to ``agent_{agent}``."""
        return await self.publish(
            {"type": "agent_insight", "agent": agent, "insight": insight, "timestamp": timestamp}
        )

    async def publish_narrative(
        self, narrative: Mapping[str, Any], *, timestamp: datetime | str | None = None
    ) -> PublishResult:
        """Publish a ``narrative`` to ``narrative``."""
        return await self.publish(
            {"type": "narrative", "narrative": narrative, "timestamp": timestamp}
        )
