"""The hub's last publishing step: seal (id + timestamp + one serialisation), route, broker.

Only validated messages come here, and only from the node's one publish path
(``alphawire.node.Node.publish``): alerts through the AlertManager's hub destination (after
the outbox has them), every other kind directly. Nothing else calls this.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Protocol

from alphawire import messages
from alphawire.brokers.base import Broker
from alphawire.hub.registry import Registry
from alphawire.hub.stats import Stats
from alphawire.messages import AnyMessage
from alphawire.results import PublishResult


class IdempotencyStore(Protocol):
    """Remembers what each idempotency key published, for a window of time."""

    async def begin(self, key: str) -> PublishResult | None:
        """The first publish's result for ``key`` (waiting for it if in flight), or None
        after reserving ``key`` for the caller, who then calls ``done`` or ``fail``."""

    async def done(self, key: str, result: PublishResult) -> None:
        """Record what a reserved key published."""

    async def fail(self, key: str) -> None:
        """Forget a reservation whose publish failed, so that a retry can publish."""


class IdempotencyCache:
    """In-process idempotency store: ``window`` seconds, at most ``max_keys`` keys.

    When full, the oldest key is forgotten first (a retry that late publishes again, which
    the docs state). A key whose publish is still in flight is held as a future, so a
    concurrent retry waits for and returns the first result instead of publishing twice.
    """

    def __init__(self, window: float = 600.0, max_keys: int = 100_000) -> None:
        self.window = window
        self.max_keys = max_keys
        self._entries: OrderedDict[str, tuple[float, asyncio.Future[PublishResult]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def begin(self, key: str) -> PublishResult | None:
        entries = self._entries
        now = time.monotonic()
        while entries:
            oldest = next(iter(entries.values()))
            if oldest[0] > now:
                break
            entries.popitem(last=False)
        hit = entries.get(key)
        if hit is not None:
            return await asyncio.shield(hit[1])
        future: asyncio.Future[PublishResult] = asyncio.get_running_loop().create_future()
        entries[key] = (now + self.window, future)
        while len(entries) > self.max_keys:
            entries.popitem(last=False)
        return None

    async def done(self, key: str, result: PublishResult) -> None:
        entry = self._entries.get(key)
        if entry is not None and not entry[1].done():
            entry[1].set_result(result)

    async def fail(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None and not entry[1].done():
            entry[1].set_exception(RuntimeError("the first publish with this key failed"))
            entry[1].exception()  # retrieved: concurrent waiters see it, nobody else


class Publisher:
    """Publishes validated messages with idempotency; never waits for any subscriber."""

    def __init__(
        self,
        broker: Broker,
        stats: Stats,
        idempotency: IdempotencyStore | None = None,
        registry: Registry | None = None,
    ) -> None:
        self._broker = broker
        self._stats = stats
        self._registry = registry
        self._idempotency = idempotency if idempotency is not None else IdempotencyCache()

    async def publish_validated(
        self, models: Sequence[AnyMessage], ids: Sequence[str | None] | None = None
    ) -> list[PublishResult]:
        """Publish messages that already passed validation (the HTTP layer's path).

        Messages whose ``idempotency_key`` was seen within the window are not published
        again: their result is the first publish's, marked ``duplicate``.
        """
        if ids is None and any(m.type == "alert" for m in models):
            # Only the AlertManager's hub destination publishes alerts here (with the ids the
            # outbox gave them); an alert from anywhere else would skip the outbox and Discord.
            raise TypeError(
                "alerts are published with Node.publish / publish_alert (through the "
                "AlertManager), not with the hub's Publisher"
            )
        store = self._idempotency
        given = ids if ids is not None else [None] * len(models)
        fresh: list[tuple[AnyMessage, str | None]] = []
        slots: list[int | PublishResult] = []  # index into fresh, or an earlier result
        mine: dict[str, int] = {}  # keys reserved by this call -> index into fresh
        for model, message_id in zip(models, given, strict=True):
            key = model.idempotency_key
            if key is not None:
                if key in mine:  # the same key twice in one batch
                    slots.append(-1 - mine[key])
                    continue
                earlier = await store.begin(key)
                if earlier is not None:
                    slots.append(earlier)
                    continue
                mine[key] = len(fresh)
            slots.append(len(fresh))
            fresh.append((model, message_id))
        try:
            published = await self._publish_fresh(fresh)
        except BaseException:
            for key in mine:
                await store.fail(key)
            raise
        for key, index in mine.items():
            await store.done(key, published[index])
        out: list[PublishResult] = []
        for slot in slots:
            if isinstance(slot, PublishResult):
                self._stats.duplicates += 1
                out.append(replace(slot, duplicate=True))
            elif slot < 0:
                self._stats.duplicates += 1
                out.append(replace(published[-1 - slot], duplicate=True))
            else:
                out.append(published[slot])
        return out

    async def _publish_fresh(
        self, models: Sequence[tuple[AnyMessage, str | None]]
    ) -> list[PublishResult]:
        if not models:
            return []
        seal = messages.seal
        now = datetime.now(UTC)
        envelopes = [seal(m, message_id, now) for m, message_id in models]
        items = [(channel, env.body) for env in envelopes for channel in env.channels]
        registry = self._registry
        if registry is not None and registry.watches_patterns:
            await registry.observe([channel for channel, _ in items])
        seqs = await self._broker.publish(items)
        published = self._stats.published
        results: list[PublishResult] = []
        pos = 0
        for env in envelopes:
            chans = env.channels
            if len(chans) == 1:  # all but signals
                seq = {chans[0]: seqs[pos]}
                pos += 1
            else:
                seq = dict(zip(chans, seqs[pos : pos + len(chans)], strict=True))
                pos += len(chans)
            results.append(PublishResult(env.id, env.type, seq))
            published[env.type] += 1
        return results
