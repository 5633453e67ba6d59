"""``BaseAgent``: the plumbing every agent shares, written once.

An agent subclass declares what it reads and implements three small methods; the base runs it:

- ``records = ("quote", ...)``: the sources' record kinds it reads; each is handed to
  ``on_record(record)`` (cheap: update state, never wait);
- ``channels = ("agent_*", ...)``: bus channels (or patterns) it reads; each message is handed
  to ``on_message(message)`` (its own ``agent_{name}`` insights are not);
- ``evaluate(now) -> list[Insight]``: called every ``cadence`` seconds of ``ctx.clock`` and
  soon after ``self.trigger()``; ``now`` is the clock time the evaluation is for. Records
  waiting in the stream are handed to ``on_record`` first, so an evaluation sees everything
  emitted before it. Heavy work goes off the loop: ``await self.compute(fn, *args)``.

The base then checks each insight (every number in its headline and summary must be backed by
its metrics, levels or evidence: an insight that fails is not published and the failure is the
agent's ``last_error``), marks it ``simulated`` when the agent's inputs were, publishes the
batch on ``agent_{name}`` through the node's one path, and keeps the latest insight per symbol
(market-wide under ``None``; at most ``MAX_LATEST`` symbols, the least recently updated
evicted). Monitors' alerts (MonitorBridge, ``alphawire.agents.bridge``): with
``monitor_evidence`` (the default) the base also reads ``unified``, keeps the external alerts
whose ``alert_type`` maps to this agent (newest 5 per symbol) and appends them to each
published insight's evidence for that symbol; ``on_message`` sees ``unified`` only when the
agent declares it. ``await self.alert(...)`` raises an alert with a Discord embed, a dedup key and a
cooldown on the clock. ``status()`` is what ``GET /api/v1/agents`` shows.

Scheduling: one timer task sleeps on ``ctx.clock`` and marks an evaluation due; triggers mark
one too; evaluations run one at a time, and several due marks before the loop wakes make one
evaluation (coalesced, counted in ``coalesced``). With ``intraday_only`` the cadence skips
times when the market calendar says closed (a trigger still evaluates). Under a
``VirtualClock`` it is deterministic: evaluations happen at the timer's deadlines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

from alphawire.agents.agent_options import AgentOptions
from alphawire.agents.base import AgentContext
from alphawire.agents.bridge import ExternalEvidence
from alphawire.agents.embed import Severity, alert_embed
from alphawire.agents.insight import Evidence, Insight
from alphawire.sources.bus import RecordStream
from alphawire.sources.records import Record

logger = logging.getLogger("alphawire.agents")

T = TypeVar("T")

MAX_LATEST = 1000  # symbols kept in the latest-insight store (least recently updated go)
MAX_EVIDENCE = 100  # an insight's evidence list, as the Insight model caps it
MAX_COOLDOWN_KEYS = 4096  # alert dedup keys remembered (the oldest forgotten first)


class AgentNotRunning(RuntimeError):
    """The agent has no context yet (it is not running in a node)."""


class BaseAgent:
    """An ``Agent`` with the run loop, publishing, alerts and status written once."""

    name: ClassVar[str] = ""
    Options: ClassVar[type[AgentOptions]] = AgentOptions
    records: ClassVar[tuple[str, ...]] = ()
    channels: ClassVar[tuple[str, ...]] = ()
    # MonitorBridge (agents.bridge): users' monitors' alerts whose alert_type maps to this
    # agent are kept and added to its insights' evidence for their symbol (False: opt out).
    monitor_evidence: ClassVar[bool] = True

    def __init__(self, options: Mapping[str, Any] | AgentOptions | None = None) -> None:
        if not self.name:
            raise TypeError(f"{type(self).__name__} must set a class attribute 'name'")
        self.options: AgentOptions = (
            options
            if isinstance(options, AgentOptions)
            else self.Options.model_validate(dict(options or {}))
        )
        self.external = ExternalEvidence(self.name)
        self.ctx: AgentContext | None = None
        self.watchlist: tuple[str, ...] = ()
        self.latest: OrderedDict[str | None, Insight] = OrderedDict()
        self.simulated_inputs = False
        self.state = "stopped"
        self.last_run: datetime | None = None
        self.last_run_reason: str | None = None
        self.last_error: str | None = None
        self.last_error_at: datetime | None = None
        self.last_insight_at: datetime | None = None
        self.counts = {
            "runs": 0,
            "insights": 0,
            "rejected": 0,
            "alerts": 0,
            "suppressed": 0,
            "coalesced": 0,
            "records": 0,
            "messages": 0,
        }
        self.busy_seconds = 0.0  # CPU-ish time spent in on_record/on_message/evaluate
        self._cooldowns: OrderedDict[str, datetime] = OrderedDict()
        self._stream: RecordStream | None = None
        self._due_at: datetime | None = None
        self._triggers: list[str] = []
        self._wake: asyncio.Event | None = None
        self._idle = asyncio.Event()  # no evaluation pending or running
        self._running = asyncio.Event()  # the timer is set
        self._lock: asyncio.Lock | None = None
        self._now: datetime | None = None  # the evaluation's time, while one runs

    # -- what a subclass writes ------------------------------------------------------------

    def setup(self, ctx: AgentContext) -> None:
        """Called once the context is known (watchlist, options) and before any input."""

    def on_record(self, record: Record) -> None:
        """Take one source record into state (cheap; never waits)."""

    def on_message(self, message: Mapping[str, Any]) -> None:
        """Take one bus message into state (cheap; never waits)."""

    async def evaluate(self, now: datetime) -> list[Insight]:
        """The insights as of ``now`` (alerts through ``self.alert``)."""
        return []

    # -- what a subclass calls ---------------------------------------------------------------

    @property
    def cadence(self) -> float:
        return float(self.options.cadence)

    def trigger(self, reason: str = "event") -> None:
        """Ask for an evaluation soon (coalesced with any already pending)."""
        self._triggers.append(reason)
        del self._triggers[:-8]  # only the last few reasons are worth reporting
        self._request_evaluation()

    def _request_evaluation(self) -> None:
        self._idle.clear()
        if self._wake is not None:
            self._wake.set()

    async def compute(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` in a worker thread: heavy analytics off the loop."""
        return await asyncio.to_thread(fn, *args, **kwargs)

    def now(self) -> datetime:
        """The evaluation's time while one runs, else the clock's."""
        if self._now is not None:
            return self._now
        if self.ctx is None:
            raise AgentNotRunning(f"agent {self.name!r} is not running")
        return self.ctx.clock.now()

    def session_open(self, at: datetime | None = None) -> bool:
        """Whether the market calendar has the market open at ``at`` (default: now)."""
        if self.ctx is None:
            raise AgentNotRunning(f"agent {self.name!r} is not running")
        return self.ctx.calendar.is_open(at or self.now())

    async def alert(
        self,
        alert_type: str,
        *,
        title: str,
        description: str = "",
        symbol: str | None = None,
        severity: Severity = "medium",
        fields: Mapping[str, Any] | Sequence[tuple[str, Any]] = (),
        dedup_key: str | None = None,
        cooldown: float | None = None,
        content: str | None = None,
    ) -> bool:
        """Raise an alert unless its dedup key alerted within the cooldown; True if sent.

        The key defaults to ``{agent}:{alert_type}:{symbol}``; the cooldown (seconds of the
        clock, default ``alert_cooldown``) counts from the last alert *sent* with that key.
        The embed is ``alert_embed(...)``; ``content`` (Discord's notification text)
        defaults to the title.
        """
        if self.ctx is None:
            raise AgentNotRunning(f"agent {self.name!r} is not running")
        now = self.now()
        key = dedup_key or f"{self.name}:{alert_type}:{symbol or '-'}"
        window = self.options.alert_cooldown if cooldown is None else cooldown
        last = self._cooldowns.get(key)
        if not self.options.alerts or (last is not None and (now - last).total_seconds() < window):
            self.counts["suppressed"] += 1
            return False
        embed = alert_embed(
            title,
            description,
            fields=fields,
            severity=severity,
            timestamp=now,
            footer=f"alphawire · {self.name} agent"
            + (" · SIMULATED" if self.simulated_inputs else ""),
        )
        await self.ctx.publish_alert(
            alert_type=alert_type,
            source=f"{self.name}_agent",
            content=content or title,
            symbol=symbol,
            embed=embed,
            severity=severity,
            dedup_key=key,
            timestamp=now,
        )
        self._cooldowns[key] = now
        self._cooldowns.move_to_end(key)
        while len(self._cooldowns) > MAX_COOLDOWN_KEYS:
            self._cooldowns.popitem(last=False)
        self.counts["alerts"] += 1
        return True

    # -- the Agent protocol --------------------------------------------------------------------

    async def run(self, ctx: AgentContext) -> None:
        """Read the declared inputs, evaluate on cadence and triggers, until cancelled."""
        self.ctx = ctx
        self.watchlist = tuple(ctx.watchlist)
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        if self._triggers:
            self._request_evaluation()
        self.setup(ctx)
        self.state = "starting"
        try:
            async with contextlib.AsyncExitStack() as stack, asyncio.TaskGroup() as tasks:
                if self.records:
                    self._stream = ctx.records(self.records)
                    tasks.create_task(self._read_records(self._stream))
                channels = self.channels
                if self.monitor_evidence and "unified" not in channels:
                    channels = (*channels, "unified")
                if channels:
                    subscription = await stack.enter_async_context(ctx.subscribe(channels))
                    tasks.create_task(self._read_messages(subscription))
                tasks.create_task(self._tick())
                tasks.create_task(self._loop())
        finally:
            self.state = "stopped"
            self._running.clear()
            self._stream = None

    async def run_now(self) -> list[Insight]:
        """Evaluate at once (``POST /api/v1/agents/{name}/run``); the insights published."""
        if self.ctx is None:
            raise AgentNotRunning(f"agent {self.name!r} is not running")
        return await self._evaluate(self.ctx.clock.now(), "manual", raise_errors=True)

    async def started(self) -> None:
        """Return once the agent runs with its timer set (a VirtualClock may move then)."""
        await self._running.wait()

    async def settled(self) -> None:
        """Return once no evaluation is pending or running (for deterministic tests)."""
        await self._idle.wait()

    def status(self) -> dict[str, Any]:
        """State, cadence, last run / error / insight, counters (``GET /api/v1/agents``)."""
        return {
            "name": self.name,
            "state": self.state,
            "enabled": self.options.enabled,
            "cadence_seconds": self.cadence,
            "intraday_only": self.options.intraday_only,
            "records": list(self.records),
            "channels": list(self.channels),
            "last_run": _iso(self.last_run),
            "last_run_reason": self.last_run_reason,
            "last_error": self.last_error,
            "last_error_at": _iso(self.last_error_at),
            "last_insight_at": _iso(self.last_insight_at),
            "symbols": len(self.latest),
            "busy_seconds": round(self.busy_seconds, 6),
            "simulated_inputs": self.simulated_inputs,
            "monitor_evidence": self.external.taken,
            **self.counts,
            "stream": self._stream.stats() if self._stream is not None else None,
        }

    # -- the loop --------------------------------------------------------------------------------

    async def _tick(self) -> None:
        assert self.ctx is not None
        assert self._wake is not None
        clock = self.ctx.clock
        due = clock.now()
        # "running" once the timer is set: a test may move a VirtualClock from then on.
        self.state = "running"
        self._running.set()
        while True:
            due += timedelta(seconds=self.cadence)
            await clock.sleep((due - clock.now()).total_seconds())
            if self._due_at is not None:
                self.counts["coalesced"] += 1
            self._due_at = due
            self._request_evaluation()

    async def _loop(self) -> None:
        assert self.ctx is not None
        assert self._wake is not None
        while True:
            if not self._wake.is_set():
                self._idle.set()
            await self._wake.wait()
            self._wake.clear()
            due, self._due_at = self._due_at, None
            triggers, self._triggers = self._triggers, []
            if triggers:
                await self._evaluate(self.ctx.clock.now(), "trigger: " + ", ".join(triggers))
            elif due is not None:
                if self.options.intraday_only and not self.ctx.calendar.is_open(due):
                    self.state = "waiting: market closed"
                    continue
                await self._evaluate(due, "cadence")

    async def _evaluate(
        self, now: datetime, reason: str, *, raise_errors: bool = False
    ) -> list[Insight]:
        assert self.ctx is not None
        assert self._lock is not None
        async with self._lock:
            self._pump()
            self._now = now
            self.state = "evaluating"
            started = time.perf_counter()
            try:
                insights = await self.evaluate(now)
                return await self._publish(insights, now)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failed(exc, now, "evaluate")
                if raise_errors:
                    raise
                return []
            finally:
                self.busy_seconds += time.perf_counter() - started
                self._now = None
                self.state = "running"
                self.last_run = now
                self.last_run_reason = reason
                self.counts["runs"] += 1

    async def _publish(self, insights: Iterable[Insight], now: datetime) -> list[Insight]:
        assert self.ctx is not None
        accepted: list[Insight] = []
        for insight in insights:
            unbacked = insight.unbacked()
            if unbacked:
                self.counts["rejected"] += 1
                self._failed(
                    ValueError(
                        f"insight for {insight.symbol or 'the market'} not published: "
                        f"{', '.join(unbacked)} in its text are not in its metrics/evidence"
                    ),
                    now,
                    "publish",
                )
                continue
            if insight.simulated is None and self.simulated_inputs:
                insight.simulated = True
            if self.monitor_evidence:
                self._add_monitor_evidence(insight)
            accepted.append(insight)
        if not accepted:
            return []
        await self.ctx.publish_many(
            [
                {
                    "type": "agent_insight",
                    "agent": self.name,
                    "insight": i.to_json(),
                    "timestamp": now,
                }
                for i in accepted
            ]
        )
        for insight in accepted:
            self.latest[insight.symbol] = insight
            self.latest.move_to_end(insight.symbol)
        while len(self.latest) > MAX_LATEST:
            self.latest.popitem(last=False)
        self.counts["insights"] += len(accepted)
        self.last_insight_at = now
        return accepted

    def _pump(self) -> None:
        # Records emitted before this evaluation, not yet read by the reader task.
        if self._stream is not None:
            for record in self._stream.drain():
                self._consume(record)

    def _consume(self, record: Record) -> None:
        self.counts["records"] += 1
        if record.simulated:
            self.simulated_inputs = True
        started = time.perf_counter()
        try:
            self.on_record(record)
        except Exception as exc:
            self._failed(exc, self._clock_now(), f"on_record({record.kind})")
        self.busy_seconds += time.perf_counter() - started

    async def _read_records(self, stream: RecordStream) -> None:
        async for record in stream:
            self._consume(record)
            self._pump()

    def _add_monitor_evidence(self, insight: Insight) -> None:
        cited = {getattr(e, "alert_id", None) for e in insight.evidence}
        for item in self.external.for_symbol(insight.symbol):
            if item["alert_id"] not in cited and len(insight.evidence) < MAX_EVIDENCE:
                insight.evidence.append(Evidence.model_validate(item))

    async def _read_messages(self, subscription: Any) -> None:
        own = f"agent_{self.name}"
        declared = "unified" in self.channels
        async for item in subscription:
            if item.get("type") in ("skipped", "recovery") or item.get("channel") == own:
                continue
            if item.get("channel") == "unified":
                if self.monitor_evidence:
                    self.external.offer(item, _iso(self._clock_now()))
                if not declared:  # subscribed for the bridge only
                    continue
            self.counts["messages"] += 1
            started = time.perf_counter()
            try:
                self.on_message(item)
            except Exception as exc:
                self._failed(exc, self._clock_now(), "on_message")
            self.busy_seconds += time.perf_counter() - started

    def _failed(self, exc: Exception, at: datetime | None, where: str) -> None:
        self.last_error = f"{where}: {type(exc).__name__}: {exc}"
        self.last_error_at = at
        logger.error("agent %s %s", self.name, self.last_error, exc_info=exc)

    def _clock_now(self) -> datetime | None:
        return self.ctx.clock.now() if self.ctx is not None else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


__all__ = ["AgentNotRunning", "AgentOptions", "BaseAgent", "alert_embed"]
