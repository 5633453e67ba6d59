"""The one in-process publish API, with the original system's ``WebSocketPublisher`` methods.

``Publishing`` is what in-process producers are handed (sources, agents, the Narrative Brain,
user code): ``publish`` / ``publish_many`` take models or mappings with a ``type``, and the
five seed-compatible methods (``publish_alert``, ``publish_signal``, ``publish_market_data``,
``publish_agent_insight``, ``publish_narrative``) are thin calls of ``publish``. Whatever the
entry, an alert goes through the AlertManager (outbox, Discord routes, dedup, idempotency) and
every kind honours ``idempotency_key``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from alphawire.messages import AnyMessage
from alphawire.results import PublishResult


class Publishing(Protocol):
    """Anything that publishes through the node's one path (the node itself, an agent's context)."""

    async def publish_many(
        self, batch: Sequence[AnyMessage | Mapping[str, Any]]
    ) -> list[PublishResult]:
        """Validate every message, then publish them in order (all or nothing on bad input)."""


class PublishMethods:
    """The seed-compatible publish methods, built on ``publish_many`` (a mixin)."""

    async def publish_many(
        self, batch: Sequence[AnyMessage | Mapping[str, Any]]
    ) -> list[PublishResult]:
        raise NotImplementedError

    async def publish(self, message: AnyMessage | Mapping[str, Any]) -> PublishResult:
        """Publish one message (a model, or a mapping with its ``type``)."""
        (result,) = await self.publish_many([message])
        return result

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
        """Publish an ``alert``: to ``unified`` and its Discord routes, through the outbox."""
        return await self.publish(
            _present(
                type="alert",
                alert_type=alert_type,
                source=source,
                content=content,
                symbol=symbol,
                embed=embed,
                severity=severity,
                dedup_key=dedup_key,
                idempotency_key=idempotency_key,
                timestamp=timestamp,
            )
        )

    async def publish_signal(
        self,
        signal: Mapping[str, Any],
        *,
        timestamp: datetime | str | None = None,
        idempotency_key: str | None = None,
    ) -> PublishResult:
        """Publish a ``signal`` to ``signals`` and ``unified``."""
        return await self.publish(
            _present(
                type="signal", signal=signal, timestamp=timestamp, idempotency_key=idempotency_key
            )
        )

    async def publish_market_data(
        self,
        symbol: str,
        data: Mapping[str, Any],
        *,
        timestamp: datetime | str | None = None,
        idempotency_key: str | None = None,
    ) -> PublishResult:
        """Publish a ``market_data`` tick to ``market_{SYMBOL}``."""
        return await self.publish(
            _present(
                type="market_data",
                symbol=symbol,
                data=data,
                timestamp=timestamp,
                idempotency_key=idempotency_key,
            )
        )

    async def publish_agent_insight(
        self,
        agent: str,
        insight: Mapping[str, Any],
        *,
        timestamp: datetime | str | None = None,
        idempotency_key: str | None = None,
    ) -> PublishResult:
        """Publish an ``agent_insight`` to ``agent_{agent}``."""
        return await self.publish(
            _present(
                type="agent_insight",
                agent=agent,
                insight=insight,
                timestamp=timestamp,
                idempotency_key=idempotency_key,
            )
        )

    async def publish_narrative(
        self,
        narrative: Mapping[str, Any],
        *,
        timestamp: datetime | str | None = None,
        idempotency_key: str | None = None,
    ) -> PublishResult:
        """Publish a ``narrative`` to ``narrative``."""
        return await self.publish(
            _present(
                type="narrative",
                narrative=narrative,
                timestamp=timestamp,
                idempotency_key=idempotency_key,
            )
        )


def _present(**fields: Any) -> dict[str, Any]:
    # Unset optional fields are left out rather than sent as null, so a message's JSON holds
    # only what its producer said (as over HTTP).
    return {k: v for k, v in fields.items() if v is not None}
