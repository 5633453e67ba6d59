"""Where alerts go: the hub (in-process or over HTTP) and Discord webhooks.

Each destination is a small port, ``deliver(delivery) -> Outcome``; the dispatcher owns
retries, ordering and bookkeeping, so a destination only says what happened.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import httpx

from alphawire import messages
from alphawire.alerting.discord import DiscordClient, build_payloads, redact
from alphawire.alerting.outbox import Delivery
from alphawire.alerting.payloads import merge_payloads
from alphawire.alerting.routes import Route
from alphawire.errors import ValidationError
from alphawire.results import PublishValidated

OutcomeKind = Literal["sent", "rate_limited", "retry", "fatal"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one delivery attempt did; the dispatcher decides what happens next."""

    kind: OutcomeKind
    message_id: str | None = None
    retry_after: float | None = None
    error: str = ""
    disable: bool = False  # the destination itself is gone (404 webhook, revoked token)
    seq: Mapping[str, int] | None = None  # a hub's sequence numbers for the message, by channel


ProgressFn = Callable[[int, str | None], None]
"""Called after each part of a split message is sent: ``(parts_sent, message_id)``."""


class Destination(Protocol):
    """A place alerts are delivered to, one at a time and in order."""

    @property
    def name(self) -> str:
        """Unique name, e.g. ``hub`` or ``discord:<route>``."""

    def describe(self) -> str:
        """Human-readable target with secrets redacted."""

    async def deliver(self, delivery: Delivery, progress: ProgressFn) -> Outcome:
        """Attempt one delivery."""


class HubDestination:
    """Publishes to this process's hub; the alert's id becomes the message's id."""

    name = "hub"

    def __init__(self, publish: PublishValidated) -> None:
        self._publish = publish
        self.last_seq: dict[str, int] = {}

    def describe(self) -> str:
        return "the WebSocket hub (unified)"

    async def deliver(self, delivery: Delivery, progress: ProgressFn) -> Outcome:
        body = {k: v for k, v in delivery.body.items() if k != "id"}
        # The alert id doubles as the idempotency key: a redelivery after a crash within the
        # hub's idempotency window publishes nothing twice.
        body["idempotency_key"] = delivery.alert_id
        try:
            model = messages.validate(body, "alert")
        except ValidationError as exc:  # stored alerts were validated: only a schema change
            return Outcome("fatal", error=f"stored alert no longer valid: {exc}")
        (result,) = await self._publish([model], [delivery.alert_id])
        self.last_seq = result.seq
        return Outcome("sent", message_id=result.id, seq=result.seq)


class HttpHubDestination:
    """Posts to a hub's ``POST /api/v1/alerts`` (the bridge for monitors in other processes)."""

    name = "hub"

    def __init__(self, hub_url: str, token: str, http: httpx.AsyncClient | None = None) -> None:
        self._url = hub_url.rstrip("/") + "/api/v1/alerts"
        self._http = http or httpx.AsyncClient(timeout=10.0)
        self._headers = {"Authorization": f"Bearer {token}"}

    def describe(self) -> str:
        return self._url

    async def aclose(self) -> None:
        await self._http.aclose()

    async def deliver(self, delivery: Delivery, progress: ProgressFn) -> Outcome:
        body = {k: v for k, v in delivery.body.items() if k != "id"}
        body["idempotency_key"] = delivery.alert_id  # the hub accepts each bridge alert once
        try:
            response = await self._http.post(self._url, json=body, headers=self._headers)
        except httpx.HTTPError as exc:
            return Outcome("retry", error=f"hub unreachable: {type(exc).__name__}")
        if response.status_code == 202:
            data: dict[str, Any] = response.json()
            seq = data.get("seq")
            return Outcome(
                "sent",
                message_id=str(data.get("id")),
                seq=seq if isinstance(seq, dict) else None,
            )
        if response.status_code in (408, 429) or response.status_code >= 500:
            return Outcome("retry", error=f"hub answered {response.status_code}")
        return Outcome(
            "fatal", error=f"hub refused the alert ({response.status_code}): {response.text[:300]}"
        )


class DiscordDestination:
    """One route's webhook: payloads repaired to Discord's limits, split parts sent in order."""

    def __init__(self, route: Route, client: DiscordClient) -> None:
        self.route = route
        self._client = client
        self.name = route.destination

    @property
    def coalesce(self) -> float:
        return self.route.coalesce

    def describe(self) -> str:
        return redact(self.route.webhook_url)

    def _payloads(self, delivery: Delivery) -> list[dict[str, Any]]:
        route = self.route
        body = delivery.body
        embed = body.get("embed")
        if embed is None and route.embed is not None:
            embed = route.embed.render(body)  # the producer's own embed is kept as it is
        return build_payloads(
            body.get("content") or "",
            embed,
            username=route.username,
            avatar_url=route.avatar_url,
            allowed_mentions=route.allowed_mentions,
        )

    async def deliver_group(
        self, deliveries: Sequence[Delivery], progress: ProgressFn
    ) -> tuple[Outcome, int]:
        """Send the leading deliveries as one message; the outcome and how many it covered.

        Only alerts whose whole message is one part are merged (``merge_payloads`` keeps
        Discord's limits); a head that is split, or resumed, goes alone through ``deliver``.
        """
        head = deliveries[0]
        payloads: list[dict[str, Any]] = []
        for delivery in deliveries:
            parts = self._payloads(delivery)
            if len(parts) != 1 or delivery.parts_sent:
                break
            payloads.append(parts[0])
        if len(payloads) < 2:
            return await self.deliver(head, progress), 1
        message, count = merge_payloads(payloads)
        if count == 1:
            return await self.deliver(head, progress), 1
        route = self.route
        result = await self._client.send(route.webhook_url, message, thread_id=route.thread_id)
        if result.kind != "sent":
            outcome = Outcome(
                result.kind,
                retry_after=result.retry_after,
                error=result.error,
                disable=result.disable_webhook,
            )
            return outcome, count
        return Outcome("sent", message_id=result.message_id), count

    async def deliver(self, delivery: Delivery, progress: ProgressFn) -> Outcome:
        route = self.route
        payloads = self._payloads(delivery)
        first_id: str | None = None
        for index in range(delivery.parts_sent, len(payloads)):
            result = await self._client.send(
                route.webhook_url, payloads[index], thread_id=route.thread_id
            )
            if result.kind != "sent":
                return Outcome(
                    result.kind,
                    retry_after=result.retry_after,
                    error=result.error,
                    disable=result.disable_webhook,
                )
            first_id = first_id or result.message_id
            if index + 1 < len(payloads):
                progress(index + 1, result.message_id)
        return Outcome("sent", message_id=first_id)
