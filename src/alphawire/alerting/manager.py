"""The AlertManager: alerts accepted durably at once, then delivered to the hub and Discord.

``send_discord`` (for synchronous monitor code) and ``asend_discord`` return as soon as the
alert is committed to the outbox; they never wait for Discord or the hub. One dispatcher task
per destination delivers in order, retrying with backoff, pacing Discord's rate limits,
dead-lettering what cannot be delivered, and disabling webhooks Discord says are gone.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alphawire import messages
from alphawire.alerting.destinations import (
    Destination,
    DiscordDestination,
    HttpHubDestination,
    HubDestination,
    Outcome,
)
from alphawire.alerting.discord import DiscordClient
from alphawire.alerting.outbox import (
    Delivery,
    NewAlert,
    NewDelivery,
    Outbox,
)
from alphawire.alerting.payloads import EMBEDS_LIMIT
from alphawire.alerting.routes import RouteTable
from alphawire.hub.publisher import Publisher
from alphawire.ids import new_id
from alphawire.messages import Alert

logger = logging.getLogger("alphawire.alerts")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, up to a maximum age, for retryable failures."""

    base: float = 1.0
    cap: float = 300.0
    max_age: float = 24 * 3600.0

    def delay(self, attempts: int) -> float:
        return random.uniform(0, min(self.cap, self.base * 2 ** min(attempts, 30)))


@dataclass(frozen=True, slots=True)
class AlertReceipt:
    """What accepting an alert did: its id, where it is going, and where it was suppressed."""

    id: str
    destinations: tuple[str, ...]
    suppressed: tuple[str, ...] = ()
    seq: Mapping[str, int] = field(default_factory=dict)
    duplicate: bool = False

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "type": "alert",
            "channels": list(self.seq) or ["unified"],
            "seq": dict(self.seq),
            "destinations": list(self.destinations),
            "suppressed": list(self.suppressed),
        }
        if self.duplicate:
            out["duplicate"] = True
        return out


def dedup_key(body: Mapping[str, Any]) -> str:
    """The producer's ``dedup_key``, else a digest of ``alert_type``, ``symbol`` and ``content``."""
    given = body.get("dedup_key")
    if given:
        return str(given)
    raw = "\x1f".join(str(body.get(k) or "") for k in ("alert_type", "symbol", "content"))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


class _Counters:
    __slots__ = ("accepted", "dead", "rate_limited", "retried", "sent", "suppressed")

    def __init__(self) -> None:
        self.accepted = self.sent = self.retried = self.rate_limited = self.suppressed = (
            self.dead
        ) = 0

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in self.__slots__}


class Dispatcher:
    """Delivers one destination's pending alerts in order, forever."""

    def __init__(
        self, outbox: Outbox, destination: Destination, policy: RetryPolicy, counters: _Counters
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
                    if not await self._attempt(delivery):
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
            return await self._attempt(head)
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

    async def _attempt(self, delivery: Delivery) -> bool:
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
            outbox.mark_sent(delivery, outcome.message_id, now)
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
        outbox.mark_dead(delivery, outcome.error or "refused", now)
        counters.dead += 1
        if outcome.disable:
            reason = f"disabled: {outcome.error}"
            outbox.disable(self.destination.name, reason, now)
            killed = outbox.kill_pending(self.destination.name, f"destination {reason}", now)
            counters.dead += killed
            logger.error(
                "destination %s (%s) %s; %d pending alerts dead-lettered (replay them once fixed)",
                self.destination.name,
                self.destination.describe(),
                reason,
                killed,
            )
            return False
        return True


class AlertManager:
    """Accepts alerts durably and delivers each to the hub and its Discord routes.

    In the hub process: ``AlertManager(outbox_path, publisher=..., routes=...)``. In a monitor
    process elsewhere: ``AlertManager(hub_url="http://hub:8000", token=...)`` keeps its own
    bounded outbox on disk and forwards to the hub, which routes to Discord; alerts survive
    the hub being down and are delivered when it is back.
    """

    def __init__(
        self,
        path: Path | str | None = None,
        *,
        publisher: Publisher | None = None,
        routes: RouteTable | None = None,
        discord: DiscordClient | None = None,
        hub_url: str | None = None,
        token: str | None = None,
        policy: RetryPolicy | None = None,
        max_pending: int = 100_000,
        synchronous: str = "NORMAL",
    ) -> None:
        if path is None:
            from alphawire.settings import default_data_dir

            path = default_data_dir() / ("bridge-outbox.sqlite3" if hub_url else "alerts.sqlite3")
        self.outbox = Outbox(Path(path), max_pending=max_pending, synchronous=synchronous)
        self.policy = policy or RetryPolicy()
        self.routes = (
            routes if routes is not None else (RouteTable() if hub_url else RouteTable.from_env())
        )
        self._discord = discord
        self._hub: HubDestination | None = None
        destinations: list[Destination] = []
        if hub_url is not None:
            if not token:
                from alphawire.settings import read_token_file

                token = read_token_file()
            if not token:
                from alphawire.errors import ClientError

                raise ClientError(
                    "AlertManager(hub_url=...) needs the hub's publish token: token=..."
                )
            destinations.append(HttpHubDestination(hub_url, token))
            self.routes = RouteTable()  # the hub routes to Discord
        elif publisher is not None:
            self._hub = HubDestination(publisher)
            destinations.append(self._hub)
        if self.routes.routes:
            self._discord = self._discord or DiscordClient()
            destinations.extend(
                DiscordDestination(route, self._discord) for route in self.routes.routes
            )
        self.counters: dict[str, _Counters] = {d.name: _Counters() for d in destinations}
        self._destinations = destinations
        self._dispatchers: dict[str, Dispatcher] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start one dispatcher per destination on the running loop."""
        self._loop = asyncio.get_running_loop()
        for destination in self._destinations:
            dispatcher = Dispatcher(
                self.outbox, destination, self.policy, self.counters[destination.name]
            )
            self._dispatchers[destination.name] = dispatcher
            self._tasks.append(
                asyncio.create_task(self._supervise(dispatcher), name=f"alerts:{destination.name}")
            )
        self._tasks.append(asyncio.create_task(self._checkpoints(), name="alerts:checkpoint"))

    async def _supervise(self, dispatcher: Dispatcher) -> None:
        delay = 0.5
        while True:
            try:
                await dispatcher.run()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("dispatcher %s crashed; restarting", dispatcher.destination.name)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _checkpoints(self) -> None:
        """Fold the outbox's WAL into its database every second, off the producers' path."""
        while True:
            await asyncio.sleep(1.0)
            try:
                await asyncio.to_thread(self.outbox.checkpoint)
            except Exception:  # a busy database: the next round catches up
                logger.debug("outbox checkpoint skipped", exc_info=True)

    async def stop(self) -> None:
        """Stop the dispatchers; undelivered alerts stay in the outbox for the next start."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for destination in self._destinations:
            closer = getattr(destination, "aclose", None)
            if closer is not None:
                await closer()
        if self._discord is not None:
            await self._discord.aclose()

    def start_in_thread(self) -> None:
        """Run the dispatchers on a background thread (for synchronous monitor programs)."""
        if self._thread is not None:
            return
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self.start())
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="alphawire-alerts", daemon=True)
        self._thread.start()
        ready.wait(10)

    def close(self) -> None:
        """Stop a background thread started by ``start_in_thread`` and close the outbox."""
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None:
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            self._thread = None
        self.outbox.close()

    # -- accepting ---------------------------------------------------------------------------

    def send_discord(
        self,
        content: str = "",
        embed: Mapping[str, Any] | None = None,
        *,
        alert_type: str,
        source: str,
        symbol: str | None = None,
        severity: str | None = None,
        timestamp: datetime | str | None = None,
        dedup_key: str | None = None,
        idempotency_key: str | None = None,
    ) -> AlertReceipt:
        """Accept an alert durably and return at once (the original system's API, synchronous)."""
        if self._loop is None:
            self.start_in_thread()
        fields = _fields(
            content,
            embed,
            alert_type,
            source,
            symbol,
            severity,
            timestamp,
            dedup_key,
            idempotency_key,
        )
        (receipt,) = self.accept([messages.validate(fields, "alert")])  # type: ignore[list-item]
        return receipt

    async def asend_discord(
        self,
        content: str = "",
        embed: Mapping[str, Any] | None = None,
        *,
        alert_type: str,
        source: str,
        symbol: str | None = None,
        severity: str | None = None,
        timestamp: datetime | str | None = None,
        dedup_key: str | None = None,
        idempotency_key: str | None = None,
    ) -> AlertReceipt:
        """The async twin of ``send_discord``: returns once the alert is committed."""
        fields = _fields(
            content,
            embed,
            alert_type,
            source,
            symbol,
            severity,
            timestamp,
            dedup_key,
            idempotency_key,
        )
        model = messages.validate(fields, "alert")
        assert isinstance(model, Alert)
        (receipt,) = await self.accept_and_publish([model])
        return receipt

    def accept(self, alerts: Sequence[Alert], *, test: bool = False) -> list[AlertReceipt]:
        """Commit validated alerts to the outbox (one transaction) and wake the dispatchers."""
        now = time.time()
        receipts: list[AlertReceipt] = []
        batch: list[NewAlert] = []
        keys: dict[str, str] = {}  # idempotency keys met in this call
        for alert in alerts:
            key = alert.idempotency_key
            if key is not None:
                earlier = keys.get(key) or self.outbox.find(key)
                if earlier is not None:
                    receipts.append(AlertReceipt(earlier, (), duplicate=True))
                    continue
            if alert.timestamp is None:
                alert.timestamp = datetime.now(UTC)
            alert_id = new_id()
            body = {"id": alert_id, **alert.model_dump(mode="json")}
            deliveries = [NewDelivery(d.name) for d in self._destinations if d.name == "hub"]
            routes = self.routes.routes if test else self.routes.select(body)
            key_for_dedup = dedup_key({**body, "dedup_key": alert.dedup_key})
            for route in routes:
                noisy = test or route.cooldown <= 0
                deliveries.append(
                    NewDelivery(route.destination, None if noisy else key_for_dedup, route.cooldown)
                )
            batch.append(NewAlert(alert_id, body, deliveries, key))
            if key is not None:
                keys[key] = alert_id
            receipts.append(AlertReceipt(alert_id, tuple(d.destination for d in deliveries)))
        if not batch:
            return receipts
        suppressed = iter(self.outbox.add(batch, now))
        out: list[AlertReceipt] = []
        for receipt in receipts:
            if receipt.duplicate:
                out.append(receipt)
                continue
            quiet = next(suppressed)
            for name in receipt.destinations:
                counters = self.counters.get(name)
                if counters is not None:
                    counters.accepted += 1
                    counters.suppressed += name in quiet
            kept = tuple(d for d in receipt.destinations if d not in quiet)
            out.append(AlertReceipt(receipt.id, kept, tuple(quiet)))
        self._wake()
        return out

    async def accept_and_publish(
        self, alerts: Sequence[Alert], *, test: bool = False
    ) -> list[AlertReceipt]:
        """Accept, then publish to the in-process hub at once when nothing older is waiting.

        The hub delivery is still recorded in the outbox first, so a crash between commit and
        publish is repaired by the dispatcher; publishing inline just lets the caller see the
        message's ``seq`` and keeps hub latency independent of the dispatcher's polling.
        """
        receipts = self.accept(alerts, test=test)
        hub = self._hub
        dispatcher = self._dispatchers.get("hub")
        if hub is None or dispatcher is None or dispatcher.busy or not dispatcher.holds_lease():
            return receipts
        out: list[AlertReceipt] = []
        for receipt in receipts:
            if receipt.duplicate:
                out.append(receipt)
                continue
            batch, _ = self.outbox.due("hub", time.time(), limit=1)
            if not batch or batch[0].alert_id != receipt.id:
                out.append(receipt)  # an older alert is waiting: keep order, let the dispatcher go
                continue
            if await dispatcher._attempt(batch[0]):
                out.append(
                    AlertReceipt(
                        receipt.id, receipt.destinations, receipt.suppressed, dict(hub.last_seq)
                    )
                )
            else:
                out.append(receipt)
        return out

    def _wake(self, *, everyone: bool = False) -> None:
        """Wake idle dispatchers (all with ``everyone``), at most one pending call each."""
        loop = self._loop
        if loop is None:
            return
        on_loop: bool | None = None
        for dispatcher in self._dispatchers.values():
            if not (dispatcher.idle or everyone) or dispatcher.wake_scheduled:
                continue
            if on_loop is None:
                on_loop = _on_loop(loop)
            if on_loop:
                dispatcher.wake()
            else:
                dispatcher.wake_scheduled = True
                try:
                    loop.call_soon_threadsafe(dispatcher.wake)
                except RuntimeError:  # the loop is closed: nothing left to wake
                    dispatcher.wake_scheduled = False

    # -- operations --------------------------------------------------------------------------

    def replay(self, alert_id: str, destination: str | None = None) -> int:
        if destination is not None:
            self.outbox.enable(destination)
        else:
            for name in list(self.outbox.disabled()):
                self.outbox.enable(name)
        count = self.outbox.replay(alert_id, destination)
        self._wake(everyone=True)  # a replayed delivery may go ahead of a waiting head
        return count

    def stats(self) -> dict[str, Any]:
        """Per destination: event counters and what the outbox holds."""
        now = time.time()
        stored = self.outbox.counters(now)
        disabled = self.outbox.disabled()
        out: dict[str, Any] = {}
        for destination in self._destinations:
            name = destination.name
            row: dict[str, Any] = {
                "target": destination.describe(),
                **self.counters[name].as_dict(),
            }
            held = stored.get(name, {})
            row["pending"] = held.get("pending", 0)
            row["dead_total"] = held.get("dead", 0)
            row["oldest_undelivered_seconds"] = held.get("oldest_undelivered_seconds", 0.0)
            row["disabled"] = disabled.get(name)
            out[name] = row
        if self._discord is not None:
            out["discord_client"] = self._discord.stats()
        return out


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _fields(
    content: str,
    embed: Mapping[str, Any] | None,
    alert_type: str,
    source: str,
    symbol: str | None,
    severity: str | None,
    timestamp: datetime | str | None,
    dedup: str | None,
    idempotency_key: str | None,
) -> dict[str, Any]:
    return {
        "type": "alert",
        "content": content,
        "embed": dict(embed) if embed is not None else None,
        "alert_type": alert_type,
        "source": source,
        "symbol": symbol,
        "severity": severity,
        "timestamp": timestamp,
        "dedup_key": dedup,
        "idempotency_key": idempotency_key,
    }
