"""Prometheus metrics at ``GET /metrics``, read from the same counters as the stats."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from alphawire.node import Node

router = APIRouter()

_HUB_COUNTERS = (
    ("delivered", "Message frames written to WebSocket clients."),
    ("conflated", "Market ticks replaced by newer ones for slow clients."),
    ("slow_consumers", "Connections closed with 4008 (slow consumer)."),
    ("recoveries", "Subscriptions resumed from history without a gap."),
    ("recovery_failures", "Subscriptions told their gap could not be filled."),
    ("duplicates", "Publishes answered from the idempotency cache."),
    ("connections_opened", "WebSocket connections accepted."),
)
_ALERT_COUNTERS = ("accepted", "sent", "retried", "rate_limited", "suppressed", "dead")


class NodeCollector(Collector):
    """Collects a node's stats at scrape time (no second set of counters to keep in step)."""

    def __init__(self, node: Node) -> None:
        self._node = node

    def collect(self) -> Iterator[Metric]:
        stats = self._node.stats_snapshot()
        yield GaugeMetricFamily(
            "alphawire_connections", "Open WebSocket connections.", value=stats["total_connections"]
        )
        yield GaugeMetricFamily(
            "alphawire_publish_connections",
            "Open producer sockets (/api/v1/ws/publish), also counted in alphawire_connections.",
            value=stats["publish_connections"],
        )
        subs = GaugeMetricFamily(
            "alphawire_channel_subscribers", "Subscribers per channel.", labels=["channel"]
        )
        for channel, count in stats["channels"].items():
            subs.add_metric([channel], count)
        yield subs
        published = CounterMetricFamily(
            "alphawire_published", "Messages published, by type.", labels=["type"]
        )
        for kind, count in stats["published"].items():
            published.add_metric([kind], count)
        yield published
        for name, doc in _HUB_COUNTERS:
            yield CounterMetricFamily(f"alphawire_{name}", doc, value=stats[name])
        yield GaugeMetricFamily(
            "alphawire_uptime_seconds", "Seconds since start.", value=stats["uptime_seconds"]
        )
        alerts = {k: v for k, v in stats["alerts"].items() if k != "discord_client"}
        for name in _ALERT_COUNTERS:
            family = CounterMetricFamily(
                f"alphawire_alerts_{name}",
                f"Alert deliveries {name}, by destination.",
                labels=["destination"],
            )
            for destination, row in alerts.items():
                family.add_metric([destination], row[name])
            yield family
        pending = GaugeMetricFamily(
            "alphawire_alerts_pending", "Undelivered alerts.", labels=["destination"]
        )
        oldest = GaugeMetricFamily(
            "alphawire_alerts_oldest_undelivered_seconds",
            "Age of the oldest undelivered alert.",
            labels=["destination"],
        )
        disabled = GaugeMetricFamily(
            "alphawire_alerts_destination_disabled",
            "1 when a destination was disabled.",
            labels=["destination"],
        )
        held = GaugeMetricFamily(
            "alphawire_alerts_held",
            "Alerts held for a disabled destination (delivered when it is enabled).",
            labels=["destination"],
        )
        for destination, row in alerts.items():
            pending.add_metric([destination], row["pending"])
            oldest.add_metric([destination], row["oldest_undelivered_seconds"])
            disabled.add_metric([destination], 1 if row["disabled"] else 0)
            held.add_metric([destination], row.get("held", 0))
        yield pending
        yield oldest
        yield disabled
        yield held
        restarts = CounterMetricFamily(
            "alphawire_task_restarts",
            "Crashes of a supervised background task (each followed by a restart).",
            labels=["task"],
        )
        healthy = GaugeMetricFamily(
            "alphawire_task_healthy",
            "1 while a supervised task runs normally; 0 while it waits to restart or flaps.",
            labels=["task"],
        )
        for task, row in stats["tasks"].items():
            restarts.add_metric([task], row["restarts"])
            healthy.add_metric([task], 1 if row["healthy"] else 0)
        yield restarts
        yield healthy
        yield GaugeMetricFamily(
            "alphawire_local_subscriptions",
            "Open in-process subscriptions (agents, the Narrative Brain, user code).",
            value=stats["local_subscriptions"],
        )


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    registry: CollectorRegistry = request.app.state.metrics
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def registry_for(node: Node) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(NodeCollector(node))
    return registry
