"""The core assembled: broker, registry, publisher, stats and background tasks, started in order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alphawire.alerting.manager import AlertManager, RetryPolicy
from alphawire.alerting.routes import RouteTable
from alphawire.auth import SubscribeAuth
from alphawire.brokers.base import Broker, broker_from_url
from alphawire.hub.publisher import IdempotencyCache, IdempotencyStore, Publisher
from alphawire.hub.registry import Registry
from alphawire.hub.stats import Stats
from alphawire.messages import Alert, AnyMessage
from alphawire.protocol import CLOSE_GOING_AWAY
from alphawire.settings import Settings
from alphawire.supervisor import Supervisor


class Node:
    """One hub process's core; framework-free, so it can be driven without a web server."""

    def __init__(self, settings: Settings, broker: Broker | None = None) -> None:
        self.settings = settings
        self.stats = Stats()
        self.broker = (
            broker
            if broker is not None
            else broker_from_url(
                settings.broker_url, retention=settings.history, data_dir=settings.data_dir
            )
        )
        self.registry = Registry(self.broker, self.stats)
        shared = getattr(self.broker, "idempotency_store", None)  # across processes (Redis)
        store: IdempotencyStore = (
            shared(settings.idempotency_window)
            if shared is not None
            else IdempotencyCache(settings.idempotency_window, settings.idempotency_max_keys)
        )
        self.publisher = Publisher(self.broker, self.stats, store)
        self.supervisor = Supervisor()
        self.publish_token = settings.resolve_publish_token()
        routes = (
            settings.alert_route_table
            if settings.alert_route_table is not None
            else RouteTable.from_toml(settings.alert_routes)
            if settings.alert_routes is not None
            else RouteTable.from_env()
        )
        self.alerts = AlertManager(
            settings.data_dir / "alerts.sqlite3",
            publisher=self.publisher,
            routes=routes,
            max_pending=settings.alert_max_pending,
            synchronous=settings.alert_sync,
            policy=RetryPolicy(
                settings.alert_retry_base, settings.alert_retry_cap, settings.alert_max_age
            ),
        )
        self.subscribe_auth = SubscribeAuth.from_files(
            required=settings.subscribe_token_required(),
            secret=settings.jwt_secret,
            public_key_file=settings.jwt_public_key_file,
        )

    async def start(self) -> None:
        self.registry.collector.start()
        await self.broker.start(self.registry.deliver, self.registry.gap)
        await self.alerts.start()
        if self.settings.demo:
            from alphawire.sim.market import SimulatedMarket

            market = SimulatedMarket(
                self.settings.demo_symbols,
                seed=self.settings.demo_seed,
                interval=self.settings.demo_interval,
            )
            self.supervisor.start(
                "simulated_market", lambda: market.run(self.publisher.publish_market_data)
            )

    def begin_shutdown(self) -> None:
        """Tell every subscriber the hub is going away (1001) before the server stops."""
        self.registry.close_all(CLOSE_GOING_AWAY, "server shutting down")

    async def stop(self) -> None:
        self.begin_shutdown()
        await self.supervisor.stop()
        await self.alerts.stop()
        self.alerts.outbox.close()
        await self.broker.stop()
        self.registry.collector.stop()

    async def publish_models(self, models: Sequence[AnyMessage]) -> list[dict[str, Any]]:
        """Publish validated messages in order: alerts through the AlertManager (durable, to
        the hub and Discord), everything else straight to the hub."""
        # All or nothing: refuse before publishing anything if the alerts would not fit.
        self.alerts.outbox.check_room(sum(isinstance(m, Alert) for m in models))
        results: list[dict[str, Any]] = []
        run: list[AnyMessage] = []
        for model in [*models, None]:
            if run and (model is None or isinstance(model, Alert) != isinstance(run[0], Alert)):
                if isinstance(run[0], Alert):
                    receipts = await self.alerts.accept_and_publish(run)  # type: ignore[arg-type]
                    self.stats.duplicates += sum(r.duplicate for r in receipts)
                    results.extend(r.as_json() for r in receipts)
                else:
                    published = await self.publisher.publish_validated(run)
                    results.extend(r.as_json() for r in published)
                run = []
            if model is not None:
                run.append(model)
        return results

    def stats_snapshot(self) -> dict[str, Any]:
        snapshot = self.stats.snapshot(
            self.registry.channel_counts(), self.registry.connection_count()
        )
        snapshot["tasks"] = self.supervisor.status()
        snapshot["alerts"] = self.alerts.stats()
        snapshot["gc"] = self.registry.collector.stats()
        return snapshot

    def health(self) -> tuple[bool, dict[str, Any]]:
        broker = self.broker.health()
        ok = self.supervisor.healthy() and bool(broker["ok"])
        return ok, {
            "status": "ok" if ok else "degraded",
            "uptime_seconds": round(self.stats.uptime(), 3),
            "broker": type(self.broker).__name__,
            "epoch": self.broker.epoch,
            "broker_health": broker,
            "connections": self.registry.connection_count(),
            "tasks": self.supervisor.status(),
        }
