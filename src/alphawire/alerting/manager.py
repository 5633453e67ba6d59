"""The AlertManager: alerts accepted durably at once, then delivered to the hub and Discord.

``send_discord`` (for synchronous monitor code) and ``asend_discord`` return as soon as the
alert is committed to the outbox; they never wait for Discord or the hub. One dispatcher
(``dispatcher.py``) per destination delivers in order, retrying with backoff, pacing Discord's
rate limits, dead-lettering what cannot be delivered, and disabling webhooks Discord says are
gone. The dispatchers run on the caller's event loop (``start``), or, for synchronous code, in
a delivery process (``start_in_process``, ``worker.py``; what ``send_discord`` starts) or on a
background thread (``start_in_thread``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alphawire import messages
from alphawire.alerting.destinations import (
    Destination,
    DiscordDestination,
    HttpHubDestination,
    HubDestination,
)
from alphawire.alerting.discord import DiscordClient
from alphawire.alerting.dispatcher import Counters, Dispatcher, RetryPolicy
from alphawire.alerting.outbox import NewAlert, NewDelivery, Outbox
from alphawire.alerting.process import DeliveryProcess, worker_config
from alphawire.alerting.receipts import AlertReceipt, fill_duplicates
from alphawire.alerting.routes import RouteTable
from alphawire.ids import new_id
from alphawire.messages import Alert
from alphawire.results import PublishValidated
from alphawire.supervisor import Supervisor

__all__ = ["AlertManager", "AlertReceipt", "Counters", "Dispatcher", "RetryPolicy", "dedup_key"]

logger = logging.getLogger("alphawire.alerts")

NO_ROUTE_MESSAGE = (
    "no Discord route configured: alerts go to the hub only. To add one, set "
    "ALPHAWIRE_DISCORD_WEBHOOK_URL=https://discord.com/api/webhooks/<id>/<token> "
    "(Discord: channel settings > Integrations > Webhooks > Copy Webhook URL), or add "
    "[[alerts.routes]] to alphawire.toml"
)

# Checkpoints: about every CHECKPOINT_INTERVAL seconds, once no alert has come for
# CHECKPOINT_QUIET seconds (a checkpoint's fsync can stall a commit 2-6 ms), but never put
# off for more than CHECKPOINT_MAX_DEFER.
CHECKPOINT_INTERVAL = 1.0
CHECKPOINT_QUIET = 0.1
CHECKPOINT_MAX_DEFER = 10.0


def dedup_key(body: Mapping[str, Any]) -> str:
    """The producer's ``dedup_key``, else a digest of ``alert_type``, ``symbol`` and ``content``."""
    given = body.get("dedup_key")
    if given:
        return str(given)
    raw = "\x1f".join(str(body.get(k) or "") for k in ("alert_type", "symbol", "content"))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


class AlertManager:
    """Accepts alerts durably and delivers each to the hub and its Discord routes.

    In the hub process: ``AlertManager(outbox_path, publish=..., routes=...)``. In a monitor
    process elsewhere: ``AlertManager(hub_url="http://hub:8000", token=...)`` keeps its own
    bounded outbox on disk and forwards to the hub, which routes to Discord; alerts survive
    the hub being down and are delivered when it is back.
    """

    def __init__(
        self,
        path: Path | str | None = None,
        *,
        publish: PublishValidated | None = None,
        routes: RouteTable | None = None,
        discord: DiscordClient | None = None,
        hub_url: str | None = None,
        token: str | None = None,
        policy: RetryPolicy | None = None,
        max_pending: int = 100_000,
        synchronous: str = "NORMAL",
        supervisor: Supervisor | None = None,
    ) -> None:
        if path is None:
            from alphawire.paths import default_data_dir

            path = default_data_dir() / ("bridge-outbox.sqlite3" if hub_url else "alerts.sqlite3")
        self.outbox = Outbox(Path(path), max_pending=max_pending, synchronous=synchronous)
        self._synchronous = synchronous
        self._hub_url, self._token = hub_url, token
        self._own_discord = discord is None
        self.policy = policy or RetryPolicy()
        self.routes = (
            routes if routes is not None else (RouteTable() if hub_url else RouteTable.from_env())
        )
        self._discord = discord
        self._hub: HubDestination | None = None
        destinations: list[Destination] = []
        if hub_url is not None:
            if not token:
                from alphawire.paths import read_token_file

                token = read_token_file()
            if not token:
                from alphawire.errors import ClientError

                raise ClientError(
                    "AlertManager(hub_url=...) needs the hub's publish token: token=..."
                )
            self._token = token
            destinations.append(HttpHubDestination(hub_url, token))
            self.routes = RouteTable()  # the hub routes to Discord
        elif publish is not None:
            self._hub = HubDestination(publish)
            destinations.append(self._hub)
        if self.routes.routes:
            self._discord = self._discord or DiscordClient()
            destinations.extend(
                DiscordDestination(route, self._discord) for route in self.routes.routes
            )
        self.counters: dict[str, Counters] = {d.name: Counters() for d in destinations}
        self._destinations = destinations
        self._dispatchers: dict[str, Dispatcher] = {}
        # The node's supervisor in the hub; a private one in a monitor's thread or process.
        self._supervisor = supervisor
        self._task_names: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.worker: DeliveryProcess | None = None
        self._start_lock = threading.Lock()
        self._last_activity = 0.0  # time.monotonic() of the last alert accepted (or woken for)

    @property
    def discord_client(self) -> DiscordClient | None:
        """The Discord client of this process's dispatchers (None without Discord routes)."""
        return self._discord

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start one dispatcher per destination on the running loop, supervised."""
        self._loop = asyncio.get_running_loop()
        if self._supervisor is None:
            self._supervisor = Supervisor()
        for destination in self._destinations:
            dispatcher = Dispatcher(
                self.outbox, destination, self.policy, self.counters[destination.name]
            )
            self._dispatchers[destination.name] = dispatcher
            name = f"alerts:{destination.name}"
            self._supervisor.start(name, dispatcher.run)
            self._task_names.append(name)
        self._supervisor.start("alerts:checkpoint", self._checkpoints)
        self._task_names.append("alerts:checkpoint")
        self._announce_routes()

    def _announce_routes(self) -> None:
        """Say at start where alerts go: no Discord at all, or routes disabled and holding."""
        if self._hub is not None and not self.routes.routes:
            logger.warning("%s; then check with `alphawire alerts test`", NO_ROUTE_MESSAGE)
        held = self.outbox.counters(time.time())
        for name, reason in self.outbox.disabled().items():
            logger.error(
                "destination %s is %s; %d alerts held: fix the webhook, then run "
                "`alphawire alerts enable %s` to deliver them",
                name,
                reason,
                held.get(name, {}).get("held", 0),
                name.removeprefix("discord:"),
            )

    async def _checkpoints(self) -> None:
        """Fold the outbox's WAL into its database, off the producers' path, while they are quiet.

        A checkpoint fsyncs the WAL, and a producer's commit appending to it meanwhile can
        wait for that (2-6 ms measured): it runs once no alert came for CHECKPOINT_QUIET.
        """
        while True:
            await asyncio.sleep(CHECKPOINT_INTERVAL)
            deferred = 0.0
            while (
                time.monotonic() - self._last_activity < CHECKPOINT_QUIET
                and deferred < CHECKPOINT_MAX_DEFER
            ):
                await asyncio.sleep(CHECKPOINT_QUIET)
                deferred += CHECKPOINT_QUIET
            try:
                await asyncio.to_thread(self.outbox.checkpoint)
            except Exception:  # a busy database: the next round catches up
                logger.debug("outbox checkpoint skipped", exc_info=True)

    async def stop(self) -> None:
        """Stop the dispatchers; undelivered alerts stay in the outbox for the next start."""
        if self._supervisor is not None:
            await self._supervisor.cancel(self._task_names)
        self._task_names.clear()
        for dispatcher in self._dispatchers.values():
            try:
                self.outbox.release_lease(dispatcher.destination.name, dispatcher.owner)
            except Exception:  # a closed or busy outbox: the lease expires on its own
                logger.debug("lease of %s not released", dispatcher.destination.name, exc_info=True)
        for destination in self._destinations:
            closer = getattr(destination, "aclose", None)
            if closer is not None:
                await closer()
        if self._discord is not None:
            await self._discord.aclose()

    def start_in_process(self) -> None:
        """Run the dispatchers in a child process (what ``send_discord`` starts by default).

        The caller's thread then only commits to the outbox and writes a wake byte: no
        delivery work shares its GIL. The child opens the same outbox with the same routes,
        policy and hub bridge; it stops when ``close`` is called or this process dies, and
        is restarted (with backoff) if it dies alone. Counters are shared (see ``stats``).
        """
        if self.worker is not None or self._loop is not None:
            return
        if not self._own_discord or self._hub is not None:
            raise RuntimeError(
                "start_in_process needs everything the child builds itself: not with a "
                "publish= (the hub's own process) or a discord= client; use start_in_thread"
            )
        config = worker_config(
            path=self.outbox.path,
            synchronous=self._synchronous,
            max_pending=self.outbox.max_pending,
            policy=self.policy,
            routes=self.routes,
            hub_url=self._hub_url,
            token=self._token,
            destinations=list(self.counters),
        )
        worker = DeliveryProcess(config)
        for name, counters in self.counters.items():  # keep what was counted before
            worker.counters[name].cells[:] = counters.cells
        self.counters = worker.counters
        worker.start()
        self.worker = worker

    def _can_start_process(self) -> bool:
        return (
            self._own_discord
            and self._hub is None
            and os.name == "posix"
            and bool(sys.executable)
            and bool(self._destinations)
        )

    def start_in_thread(self) -> None:
        """Run the dispatchers on a background thread of this process.

        Delivering then takes this process's GIL (about 1 ms of Python per Discord request),
        which the caller's ``send_discord`` sometimes waits for; ``start_in_process`` avoids it.
        """
        if self._thread is not None or self.worker is not None:
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
        """Stop the delivery process or thread (``start_in_process``, ``start_in_thread``), then
        close the outbox; undelivered alerts stay in it for the next start."""
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
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
        """Accept an alert durably and return at once (the original system's API, synchronous).

        The first call starts delivery: in a child process (``start_in_process``), or on a
        thread when this manager cannot be rebuilt in one (a ``publish`` or ``discord``
        client given); nothing if it already runs on a loop.
        """
        if self._loop is None and self.worker is None:
            with self._start_lock:  # monitor threads making their first calls together
                if self._loop is None and self.worker is None:
                    if self._can_start_process():
                        self.start_in_process()
                    else:
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
        self._last_activity = time.monotonic()
        receipts: list[AlertReceipt] = []
        batch: list[NewAlert] = []
        keys: dict[str, int] = {}  # idempotency keys met in this call: their receipt's index
        for alert in alerts:
            key = alert.idempotency_key
            if key is not None:
                if key in keys:  # its receipt is filled in once the first is committed
                    receipts.append(AlertReceipt(receipts[keys[key]].id, (), duplicate=True))
                    continue
                earlier = self.outbox.find(key)
                if earlier is not None:
                    receipts.append(self._receipt_of(earlier))
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
                keys[key] = len(receipts)
            receipts.append(AlertReceipt(alert_id, tuple(d.destination for d in deliveries)))
        if not batch:
            return receipts
        outcomes = iter(self.outbox.add_alerts(batch, now))
        out: list[AlertReceipt] = []
        for receipt in receipts:
            if receipt.duplicate:
                out.append(receipt)
                continue
            quiet, held = next(outcomes)
            for name in receipt.destinations:
                counters = self.counters.get(name)
                if counters is not None:
                    counters.accepted += 1
                    counters.suppressed += name in quiet
            kept = tuple(d for d in receipt.destinations if d not in quiet and d not in held)
            out.append(AlertReceipt(receipt.id, kept, tuple(quiet), held=tuple(held)))
        self.wake()
        return fill_duplicates(out)

    def _receipt_of(self, alert_id: str) -> AlertReceipt:
        """The receipt of an alert accepted earlier, as its first publish answered (a retry's)."""
        going, quiet, seq = self.outbox.accepted(alert_id)
        return AlertReceipt(alert_id, tuple(going), tuple(quiet), seq, duplicate=True)

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
            if await dispatcher.attempt(batch[0]):
                out.append(
                    AlertReceipt(
                        receipt.id,
                        receipt.destinations,
                        receipt.suppressed,
                        dict(hub.last_seq),
                        held=receipt.held,
                    )
                )
            else:
                out.append(receipt)
        return fill_duplicates(out)

    def note_activity(self) -> None:
        """Record that an alert just came (checkpoints wait for a quiet moment)."""
        self._last_activity = time.monotonic()

    def wake(self, *, everyone: bool = False) -> None:
        """Wake idle dispatchers (all with ``everyone``), at most one pending call each."""
        if self.worker is not None:
            self.worker.wake(everyone=everyone)
            return
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

    def enable(self, destination: str) -> int:
        """Enable a disabled destination and deliver what it held, in order; how many."""
        released = self.outbox.enable(destination)
        self.wake(everyone=True)
        return released

    def replay(self, alert_id: str, destination: str | None = None) -> int:
        if destination is not None:
            self.outbox.enable(destination)
        else:
            for name in list(self.outbox.disabled()):
                self.outbox.enable(name)
        count = self.outbox.replay(alert_id, destination)
        self.wake(everyone=True)  # a replayed delivery may go ahead of a waiting head
        return count

    def stats(self) -> dict[str, Any]:
        """Per destination: event counters and what the outbox holds.

        With a delivery process the counters are the cells this process shares with it:
        ``accepted`` and ``suppressed`` counted here, the others there, all current; the
        ``discord_client`` counts are the child's, up to 0.25 s old.
        """
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
            row["held"] = held.get("held", 0)
            row["disabled"] = disabled.get(name)
            out[name] = row
        if self.worker is not None and self.routes.routes:
            out["discord_client"] = self.worker.discord_stats()
        elif self._discord is not None:
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
