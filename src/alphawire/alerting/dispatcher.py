"""The dispatcher: one destination's pending alerts delivered in order, with retries.

A ``Dispatcher`` runs on an event loop: in the hub's process, on ``start_in_thread``'s
background thread, or in the delivery process (``worker.py``). It reads due deliveries from
the outbox, tries them through its destination, and records every outcome there; its
``Counters`` live in 64-bit cells that the delivery process shares with its parent.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from alphawire.alerting.destinations import Destination, Outcome
from alphawire.alerting.outbox import Delivery, Outbox
from alphawire.alerting.payloads import EMBEDS_LIMIT

logger = logging.getLogger("alphawire.alerts")

COUNTER_FIELDS = ("accepted", "sent", "retried", "rate_limited", "suppressed", "dead")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, up to a maximum age, for retryable failures."""

    base: float = 1.0
    cap: float = 300.0
    max_age: float = 24 * 3600.0

    def delay(self, attempts: int) -> float:
        return random.uniform(0, min(self.cap, self.base * 2 ** min(attempts, 30)))


class _Cell:
    """One counter of ``Counters``: an index into its cells."""

    def __init__(self, index: int) -> None:
        self.index = index

    def __get__(self, counters: Any, owner: Any = None) -> int:
        return int(counters.cells[self.index])

    def __set__(self, counters: Any, value: int) -> None:
        counters.cells[self.index] = value


class Counters:
    """One destination's event counts since start, in 64-bit cells (``COUNTER_FIELDS`` order).

    The cells are private memory, or a slice of the block a delivery process shares with its
    parent: the child counts deliveries, the parent acceptances, and each reads both.
    """

    __slots__ = ("cells",)
    accepted = _Cell(0)
    sent = _Cell(1)
    retried = _Cell(2)
    rate_limited = _Cell(3)
    suppressed = _Cell(4)
    dead = _Cell(5)

    def __init__(self, cells: memoryview | None = None) -> None:
        if cells is None:
            cells = memoryview(bytearray(8 * len(COUNTER_FIELDS))).cast("q")
        self.cells = cells

    def as_dict(self) -> dict[str, int]:
        return dict(zip(COUNTER_FIELDS, self.cells.tolist(), strict=True))


class Dispatcher:
    """Delivers one destination's pending alerts in order, forever."""

    def __init__(
        self, outbox: Outbox, destination: Destination, policy: RetryPolicy, counters: Counters
    ) -> None:
        self.outbox = outbox
        self.destination = destination
        self.policy = policy
        self.counters = counters
        self.wakeup = asyncio.Event()
        self.busy = False
        # True while asleep with nothing pending: only then can a new alert change what the
        # dispatcher would do (a busy one asks for due rows again when its batch is done; one
        # waiting for its head's retry cannot send anything behind it). Producers wake only
        # an idle dispatcher, so a burst of alerts costs the dispatcher's thread nothing.
        self.idle = False
        self.wake_scheduled = False
        # Deliveries up to this alert seq go one message each (a merged message was refused).
        self._solo_through = 0
        self.poll = 1.0  # also picks up replays made by another process (the CLI)
        self.owner = secrets.token_hex(8)
        self.lease_ttl = 5.0
        self._lease_until = 0.0

    def holds_lease(self) -> bool:
        """Whether this process may deliver to the destination now (renewed at half-life)."""
        now = time.time()
        if now < self._lease_until - self.lease_ttl / 2:
            return True
        if self.outbox.hold_lease(self.destination.name, self.owner, self.lease_ttl, now):
            self._lease_until = now + self.lease_ttl
            return True
        self._lease_until = 0.0
        return False

    async def run(self) -> None:
        outbox = self.outbox
        name = self.destination.name
        while True:
            if name in outbox.disabled() or not self.holds_lease():
                await self._sleep(self.poll)
                continue
            now = time.time()
            seen = outbox.version
            batch, next_due = outbox.due(name, now)
            if not batch:
                if next_due is not None:
                    await self._sleep(max(0.0, min(next_due - now, self.poll)))
                    continue
                # A producer bumps the version after its commit, then looks at idle; this
                # side sets idle, then looks at the version: one of the two sees the other.
                self.idle = True
                try:
                    if outbox.version == seen:
                        await self._sleep(self.poll)
                finally:
                    self.idle = False
                continue
            window = getattr(self.destination, "coalesce", 0.0)
            if window > 0 and batch[0].alert_seq > self._solo_through:
                # Coalescing: a fresh head waits out its window for company, unless a full
                # message is already due; then one message, and the due rows are read again.
                wait = batch[0].created + window - now
                if wait > 0 and len(batch) < EMBEDS_LIMIT:
                    await self._sleep(wait)
                    continue
                self.busy = True
                try:
                    await self._attempt_group(batch[:EMBEDS_LIMIT])
                finally:
                    self.busy = False
                continue
            self.busy = True
            try:
                for delivery in batch:
                    if not await self.attempt(delivery):
                        break  # the head waits (retry or rate limit): order is kept
            finally:
                self.busy = False

    def wake(self) -> None:
        """Wake the dispatcher now (on its loop)."""
        self.wake_scheduled = False
        self.wakeup.set()

    async def _sleep(self, seconds: float) -> None:
        # A timer setting the event rather than wait_for(event.wait()): one future, nothing
        # for a cancellation to race with.
        self.wakeup.clear()
        timer = asyncio.get_running_loop().call_later(seconds, self.wakeup.set)
        try:
            await self.wakeup.wait()
        finally:
            timer.cancel()

    async def _attempt_group(self, deliveries: Sequence[Delivery]) -> bool:
        """Try the leading deliveries as one message (a coalescing route); as ``_attempt``."""
        head = deliveries[0]
        outbox = self.outbox

        def progress(parts: int, message_id: str | None) -> None:
            outbox.mark_part(head, parts, message_id, time.time())

        deliver_group = getattr(self.destination, "deliver_group", None)
        if deliver_group is None or len(deliveries) < 2:
            return await self.attempt(head)
        try:
            outcome, count = await deliver_group(deliveries, progress)
        except Exception as exc:  # a bug in a destination must not kill the dispatcher
            logger.exception("delivery to %s raised", self.destination.describe())
            outcome, count = Outcome("retry", error=f"{type(exc).__name__}: {exc}"), 1
        if count < 2:
            return self._record(head, outcome)
        group = deliveries[:count]
        if outcome.kind == "sent":
            outbox.mark_sent_many(group, outcome.message_id, time.time())
            self.counters.sent += count
            return True
        if outcome.kind == "fatal" and not outcome.disable:
            # Discord refused the merged message: each alert gets its own attempt and its
            # own verdict, one message each, rather than all of them dead-lettered together.
            self._solo_through = group[-1].alert_seq
            return True
        return self._record(head, outcome)  # a retry or a wait holds the head, as alone

    async def attempt(self, delivery: Delivery) -> bool:
        """Try one delivery; True when the dispatcher may go on to the next."""
        outbox = self.outbox

        def progress(parts: int, message_id: str | None) -> None:
            outbox.mark_part(delivery, parts, message_id, time.time())

        try:
            outcome = await self.destination.deliver(delivery, progress)
        except Exception as exc:  # a bug in a destination must not kill the dispatcher
            logger.exception("delivery to %s raised", self.destination.describe())
            outcome = Outcome("retry", error=f"{type(exc).__name__}: {exc}")
        return self._record(delivery, outcome)

    def _record(self, delivery: Delivery, outcome: Outcome) -> bool:
        """Record one delivery's outcome; True when the dispatcher may go on to the next."""
        outbox = self.outbox
        now = time.time()
        counters = self.counters
        if outcome.kind == "sent":
            outbox.mark_sent(delivery, outcome.message_id, now, seq=outcome.seq)
            counters.sent += 1
            return True
        if outcome.kind == "rate_limited":
            # Waiting out a rate limit is not a failed attempt.
            wait = outcome.retry_after if outcome.retry_after is not None else 1.0
            outbox.mark_retry(
                delivery, now + wait, outcome.error or "rate limited", now, spend=False
            )
            counters.rate_limited += 1
            return False
        if outcome.kind == "retry":
            if now - delivery.created > self.policy.max_age:
                outbox.mark_dead(
                    delivery,
                    f"gave up after {delivery.attempts + 1} attempts: {outcome.error}",
                    now,
                )
                counters.dead += 1
                return True
            delay = self.policy.delay(delivery.attempts)
            outbox.mark_retry(delivery, now + delay, outcome.error, now, spend=True)
            counters.retried += 1
            return False
        if outcome.disable:
            # The destination itself is gone (404 Unknown Webhook, a revoked token): this
            # alert and everything behind it is held, not dead-lettered, and new alerts for
            # it are held as they come; enabling the destination delivers them all in order.
            reason = f"disabled: {outcome.error}"
            outbox.disable(self.destination.name, reason, now)
            held = outbox.hold_pending(self.destination.name, reason, now)
            name = self.destination.name
            logger.error(
                "destination %s (%s) %s; %d alert%s held, and new alerts are held too: fix the "
                "webhook, then run `alphawire alerts enable %s` to deliver them",
                name,
                self.destination.describe(),
                reason,
                held,
                "" if held == 1 else "s",
                name.removeprefix("discord:"),
            )
            return False
        outbox.mark_dead(delivery, outcome.error or "refused", now)
        counters.dead += 1
        return True
