"""The composition root: one ``Node`` builds the whole core from settings and runs it.

It owns, and starts in this order (stops in the reverse): the collector tuner, the broker,
the alert delivery (AlertManager dispatchers), the sources, the agents. Every background task
runs under the one ``Supervisor``. The web layer (``alphawire.web``) only wraps a node; a node
runs without it (tests, ``alphawire record``, embedding in user code).

The package layering it assembles (checked by tests/test_architecture.py)::

    messages, channels, errors, results, clock, settings      (neutral: no package imports)
    brokers/   -> neutral
    alerting/  -> neutral                 (publishes to the hub through a callable)
    hub/       -> brokers, neutral
    sources/, analytics/, agents/ -> neutral (+ analytics for agents; never web)
    node       -> all of the above        (the one place they meet)
    web/, cli  -> node and everything     (the only users of FastAPI/Starlette/uvicorn)
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from alphawire import messages, plugins
from alphawire.agents.base import Agent
from alphawire.agents.context import NodeAgentContext
from alphawire.alerting.manager import AlertManager, RetryPolicy
from alphawire.alerting.routes import RouteTable
from alphawire.auth import PublishAuth, SubscribeAuth
from alphawire.brokers.base import Broker, broker_from_url
from alphawire.calendar import default_calendar
from alphawire.clock import Clock, WallClock
from alphawire.errors import ValidationError
from alphawire.hub.connection import DEFAULT_MAX_BYTES, DEFAULT_MAX_MESSAGES
from alphawire.hub.local import DEFAULT_BUFFER, DISCOVER_INTERVAL, LocalSubscription
from alphawire.hub.publisher import IdempotencyCache, IdempotencyStore, Publisher
from alphawire.hub.registry import Registry
from alphawire.hub.stats import Stats
from alphawire.messages import Alert, AnyMessage
from alphawire.protocol import CLOSE_GOING_AWAY
from alphawire.publishing import PublishMethods
from alphawire.results import PublishResult
from alphawire.settings import Settings
from alphawire.sources.base import MarketCalendar, Source, SourceContext
from alphawire.sources.bus import RecordBus
from alphawire.sources.intake import RecordWriter, SourceIntake
from alphawire.supervisor import Supervisor

if TYPE_CHECKING:
    from alphawire.config import Config

logger = logging.getLogger("alphawire.node")

AGENT_START_TIMEOUT = 5.0  # seconds node.start waits for agents to be listening
DEFAULT_WATCHLIST = ("SPY", "QQQ", "IWM", "AAPL", "NVDA", "TSLA", "AMD", "GME", "AMC")


class Node(PublishMethods):
    """One hub process's core; framework-free, so it can be driven without a web server.

    In-process code publishes with ``publish`` / ``publish_many`` / the seed's
    ``publish_alert`` ... ``publish_narrative`` (one path: alerts always through the
    AlertManager) and reads the bus with ``subscribe``.
    """

    def __init__(
        self,
        settings: Settings,
        broker: Broker | None = None,
        *,
        routes: RouteTable | None = None,
        sources: Sequence[Source] = (),
        agents: Sequence[Agent] = (),
        agent_options: Mapping[str, Mapping[str, Any]] | None = None,
        watchlist: Sequence[str] | None = None,
        clock: Clock | None = None,
        calendar: MarketCalendar | None = None,
        recorder: RecordWriter | None = None,
        exclusive_intelligence: bool = False,
    ) -> None:
        self.settings = settings
        # With several hub processes (serve --workers N), only the one holding the data
        # directory's lock runs the sources and agents.
        self._exclusive = exclusive_intelligence
        self._lock_fd: int | None = None
        self.stats = Stats()
        self.supervisor = Supervisor()
        self.broker = (
            broker
            if broker is not None
            else broker_from_url(
                settings.broker_url,
                retention=settings.history,
                data_dir=settings.data_dir,
                supervisor=self.supervisor,
            )
        )
        self.registry = Registry(self.broker, self.stats)
        shared = getattr(self.broker, "idempotency_store", None)  # across processes (Redis)
        store: IdempotencyStore = (
            shared(settings.idempotency_window)
            if shared is not None
            else IdempotencyCache(settings.idempotency_window, settings.idempotency_max_keys)
        )
        self.publisher = Publisher(self.broker, self.stats, store, self.registry)
        self.publish_token = settings.resolve_publish_token()
        self.publish_auth = PublishAuth(self.publish_token)
        if routes is None:
            if settings.alert_route_table is not None:  # the [alerts] table of alphawire.toml
                routes = settings.alert_route_table
            elif settings.alert_routes is not None:  # the old separate route file
                routes = RouteTable.from_toml(settings.alert_routes)
            else:
                routes = RouteTable.from_env()
        self.alerts = AlertManager(
            settings.data_dir / "alerts.sqlite3",
            publish=self.publisher.publish_validated,
            routes=routes,
            max_pending=settings.alert_max_pending,
            synchronous=settings.alert_sync,
            policy=RetryPolicy(
                settings.alert_retry_base, settings.alert_retry_cap, settings.alert_max_age
            ),
            supervisor=self.supervisor,
        )
        self.subscribe_auth = SubscribeAuth.from_files(
            required=settings.subscribe_token_required(),
            secret=settings.jwt_secret,
            public_key_file=settings.jwt_public_key_file,
        )
        # The intelligence layer: sources -> record bus -> agents, all publishing through here.
        default = settings.demo_symbols if settings.demo else DEFAULT_WATCHLIST
        self.watchlist = tuple(s.upper() for s in (watchlist or default))
        if settings.demo and not sources:  # Settings(demo=True): the simulated market
            from alphawire.sources.sim import SimulatedSource

            sources = [SimulatedSource(seed=settings.demo_seed)]
            if clock is None:
                clock = _simulated_clock({"seed": settings.demo_seed}, calendar)
        self.clock: Clock = clock or WallClock()
        self.calendar: MarketCalendar = calendar or default_calendar()
        self.records = RecordBus()
        self.intake = SourceIntake(
            self.records,
            self,
            watchlist=self.watchlist,
            clock=self.clock,
            calendar=self.calendar,
            recorder=recorder,
        )
        self.sources: dict[str, Source] = {}
        for source in sources:
            self._add_unique(self.sources, source.name, source, "source")
        self.agents: dict[str, Agent] = {}
        for agent in agents:
            self._add_unique(self.agents, agent.name, agent, "agent")
        self._agent_options = dict(agent_options or {})
        self._agent_contexts: dict[str, NodeAgentContext] = {}
        self._started = False
        self.stopping = False  # set by begin_shutdown: new sockets are refused with 1001

    @classmethod
    def from_config(cls, config: Config, broker: Broker | None = None, **kw: Any) -> Node:
        """Build the node alphawire.toml describes: its settings, routes, watchlist, and
        every enabled source and agent (built-ins and entry-point plugins) with its options
        validated by the plugin's own ``Options`` model (ConfigError naming table and key)."""
        from alphawire.config import validate_plugin_options

        models: dict[str, dict[str, Any]] = {"sources": {}, "agents": {}}
        specs: dict[str, dict[str, plugins.PluginSpec]] = {"sources": {}, "agents": {}}
        for kind in ("sources", "agents"):
            available = plugins.discover(kind)
            tables = getattr(config, kind)
            for name in list(tables):
                found = available.get(name)
                if found is None and not any(
                    key.startswith(f"{kind}.{name}.") for key in config.origins
                ):
                    # A default table for a plugin this installation lacks: say so, go on.
                    logger.info("%s %r is not available here: skipped", kind[:-1], name)
                    continue
                if found is None:
                    models[kind][name] = None  # validate_plugin_options names the typo
                    continue
                models[kind][name] = found.options_model() or plugins.NoOptions
                if tables[name].enabled:
                    specs[kind][name] = found
        checked = dataclasses.replace(
            config,
            sources={n: t for n, t in config.sources.items() if n in models["sources"]},
            agents={n: t for n, t in config.agents.items() if n in models["agents"]},
        )
        validate_plugin_options(
            checked, {k: {n: m for n, m in v.items() if m is not None} for k, v in models.items()}
        )
        built_sources = [
            specs["sources"][n].build(config.sources[n].options) for n in specs["sources"]
        ]
        built_agents = [specs["agents"][n].build(config.agents[n].options) for n in specs["agents"]]
        if "sim" in specs["sources"] and "clock" not in kw:
            kw["clock"] = _simulated_clock(config.sources["sim"].options, kw.get("calendar"))
        return cls(
            config.settings,
            broker,
            routes=config.routes,
            sources=built_sources,
            agents=built_agents,
            agent_options={n: config.agents[n].options for n in specs["agents"]},
            watchlist=config.watchlist,
            **kw,
        )

    def add_source(self, source: Source) -> None:
        """Add a source before ``start`` (``alphawire replay`` adds its recording)."""
        if self._started:
            raise ValidationError(f"source {source.name!r} added after the node started")
        self._add_unique(self.sources, source.name, source, "source")

    @staticmethod
    def _add_unique(table: dict[str, Any], name: str, item: Any, kind: str) -> None:
        if name in table:
            raise ValidationError(f"two {kind}s are named {name!r}: names must be unique")
        table[name] = item

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start everything in dependency order."""
        self.registry.collector.start()
        await self.broker.start(self.registry.deliver, self.registry.gap)
        await self.alerts.start()
        self.supervisor.start("pattern_discovery", self._discover_channels)
        if (self.agents or self.sources) and not self._take_intelligence_lock():
            logger.info("another hub process runs the sources and agents")
            self._started = True
            return
        # Agents before sources: a record emitted at once has its readers already.
        for name, agent in self.agents.items():
            context = NodeAgentContext(
                self,
                name,
                self._agent_options.get(name, {}),
                watchlist=self.watchlist,
                clock=self.clock,
                calendar=self.calendar,
                bus=self.records,
            )
            self._agent_contexts[name] = context
            self.supervisor.start(f"agent:{name}", _agent_runner(agent, context))
        await _agents_ready(self.agents.values())
        for name, source in self.sources.items():
            self.supervisor.start(
                f"source:{name}", _source_runner(source, self.intake.context(name))
            )
        self._started = True

    def _take_intelligence_lock(self) -> bool:
        if not self._exclusive:
            return True
        import fcntl
        import os

        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.settings.data_dir / "intelligence.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._lock_fd = fd  # held until this process exits
        return True

    def begin_shutdown(self) -> None:
        """Tell every subscriber the hub is going away (1001) before the server stops; new
        subscribers are refused the same way from now on."""
        self.stopping = True
        self.registry.close_all(CLOSE_GOING_AWAY, "server shutting down")

    async def stop(self) -> None:
        """Stop in the reverse order of ``start``; undelivered alerts stay in the outbox."""
        self.begin_shutdown()
        await self.supervisor.stop()
        await self.alerts.stop()
        self.alerts.outbox.close()
        await self.broker.stop()
        self.registry.collector.stop()
        self._started = False

    async def _discover_channels(self) -> None:
        while True:
            await asyncio.sleep(DISCOVER_INTERVAL)
            await self.registry.discover()

    # -- the one publish path ----------------------------------------------------------------

    async def publish_many(
        self, batch: Sequence[AnyMessage | Mapping[str, Any]]
    ) -> list[PublishResult]:
        """Validate every message (models pass as they are), then publish them in order.

        Alerts go through the AlertManager (outbox first, then the hub and Discord routes,
        with cooldowns and idempotency); every other kind to the hub with idempotency.
        Nothing is published when any message is invalid.
        """
        models = [m if isinstance(m, messages.MODEL_TYPES) else messages.validate(m) for m in batch]
        return [PublishResult.from_json(r) for r in await self.publish_models(models)]

    async def publish_models(self, models: Sequence[AnyMessage]) -> list[dict[str, Any]]:
        """Publish validated messages in order; their receipts as JSON (the HTTP answer)."""
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

    # -- reading the bus in-process ----------------------------------------------------------

    def subscribe(
        self,
        channels: Iterable[str],
        *,
        since: Mapping[str, int] | None = None,
        epoch: str | None = None,
        buffer: int = DEFAULT_BUFFER,
        max_messages: int = DEFAULT_MAX_MESSAGES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        resume: bool = True,
        name: str = "in-process",
    ) -> LocalSubscription:
        """An in-process subscription (``async with node.subscribe([...]) as sub``).

        Channels or ``*`` patterns; the semantics of a socket subscriber (see
        ``alphawire.hub.local``): bounded, ticks conflated, slow consumers cut off and
        resumed from history, ``since``/``epoch`` recovery.
        """
        return LocalSubscription(
            self.registry,
            self.stats,
            channels,
            since=since,
            epoch=epoch,
            buffer=buffer,
            max_messages=max_messages,
            max_bytes=max_bytes,
            resume=resume,
            name=name,
        )

    # -- state -------------------------------------------------------------------------------

    def sources_status(self) -> dict[str, dict[str, Any]]:
        """Each source's state, last success, last error (redacted), next attempt, items."""
        tasks = self.supervisor.status()
        out: dict[str, dict[str, Any]] = {}
        for name, source in self.sources.items():
            status = source.status().as_json()
            status["produces"] = sorted(source.produces)
            status["task"] = tasks.get(f"source:{name}")
            out[name] = status
        return out

    def agents_status(self) -> dict[str, dict[str, Any]]:
        """Each agent's own status (``BaseAgent.status()``: state, cadence, last run / error /
        insight, counters) when it has one, and its task's state (restarts, last error)."""
        tasks = self.supervisor.status()
        out: dict[str, dict[str, Any]] = {}
        for name, agent in self.agents.items():
            status_of = getattr(agent, "status", None)
            entry: dict[str, Any] = dict(status_of()) if callable(status_of) else {"name": name}
            entry["task"] = tasks.get(f"agent:{name}")
            out[name] = entry
        return out

    def stats_snapshot(self) -> dict[str, Any]:
        snapshot = self.stats.snapshot(
            self.registry.channel_counts(), self.registry.connection_count()
        )
        snapshot["local_channels"] = self.registry.local_channel_counts()
        snapshot["tasks"] = self.supervisor.status()
        snapshot["records"] = self.records.stats()
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


def _agent_runner(agent: Agent, context: NodeAgentContext) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        try:
            await agent.run(context)
        finally:
            context.close()  # a restarted agent starts with fresh streams

    return run


async def _agents_ready(agents: Iterable[Agent]) -> None:
    # Agents that say when they are ready (BaseAgent.started: inputs open, timer set) are
    # waited for, so that a source emitting at once (a replay moving a virtual clock) finds
    # them listening; one that does not come up in time is left to its supervisor.
    waits = [
        asyncio.ensure_future(started())
        for agent in agents
        if callable(started := getattr(agent, "started", None))
    ]
    if waits:
        _, pending = await asyncio.wait(waits, timeout=AGENT_START_TIMEOUT)
        for task in pending:
            task.cancel()


def _source_runner(source: Source, context: SourceContext) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        await source.run(context)

    return run


def _simulated_clock(options: Mapping[str, Any], calendar: MarketCalendar | None) -> Clock:
    """The clock of a node running the simulated market: from the open of the current (or
    next) session, at the sim's ``speed``, so a demo shows a trading day at any hour."""
    from datetime import UTC, datetime

    from alphawire.clock import AcceleratedClock
    from alphawire.sources.builtin import SimOptions
    from alphawire.sources.sim import simulation_start

    sim = SimOptions.model_validate(dict(options))
    start = simulation_start(calendar or default_calendar(), datetime.now(UTC))
    return AcceleratedClock(start, sim.speed)
