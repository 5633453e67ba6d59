"""One supervisor for every background task: restarts with capped backoff, state in health,
stats and /metrics, and a task that keeps crashing marks the hub degraded."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import start_hub, wait_until

from alphawire.alerting.dispatcher import Dispatcher
from alphawire.node import Node
from alphawire.settings import Settings
from alphawire.supervisor import FLAP_CRASHES, Supervisor

pytestmark = pytest.mark.anyio


async def test_a_crashing_task_is_restarted_with_growing_capped_backoff() -> None:
    """Each crash is counted with its error; the delays double and stop at the cap, each
    jittered to between half and all of it (read from the delay the supervisor chose, so
    the test does not depend on how fast the machine runs it)."""
    supervisor = Supervisor(initial_backoff=0.01, max_backoff=0.04)
    runs = 0
    waits: list[float] = []

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs <= 5:
            raise RuntimeError(f"boom {runs}")
        await asyncio.Event().wait()

    def chosen_delay(exc: BaseException) -> None:
        state = supervisor.status()["flaky"]
        waits.append(state["next_restart_at"] - state["last_error_at"])

    supervisor.start("flaky", flaky, on_crash=chosen_delay)
    await wait_until(lambda: runs == 6)
    status = supervisor.status()["flaky"]
    assert (status["state"], status["restarts"]) == ("running", 5)
    assert status["last_error"] == "RuntimeError: boom 5"
    assert len(waits) == 5
    # (Unix times near 1.8e9 carry ~2.4e-7 of rounding: hence the 1e-6 either side.)
    for wait, delay in zip(waits, (0.01, 0.02, 0.04, 0.04, 0.04), strict=True):
        assert delay * 0.5 - 1e-6 <= wait <= delay + 1e-6, (waits, delay)
    assert supervisor.healthy() is False  # 5 crashes within the flap window
    await supervisor.stop()
    assert supervisor.status()["flaky"]["state"] == "stopped"


async def test_expected_errors_are_one_line_and_others_have_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A declared (expected) failure logs a warning without traceback; a bug logs one."""
    supervisor = Supervisor(initial_backoff=10)
    caplog.set_level(logging.WARNING, "alphawire.supervisor")

    async def lost() -> None:
        raise ConnectionError("connection reset")

    async def bug() -> None:
        raise KeyError("x")

    supervisor.start("net", lost, expected=(ConnectionError,))
    supervisor.start("bug", bug)
    await wait_until(lambda: len(caplog.records) == 2)
    by_task = {r.getMessage().split()[1].rstrip(":"): r for r in caplog.records}
    assert by_task["net"].levelno == logging.WARNING and by_task["net"].exc_info is None
    assert by_task["bug"].levelno == logging.ERROR and by_task["bug"].exc_info is not None
    await supervisor.stop()


class CrashingAgent:
    """An agent that crashes on its first runs, then works."""

    name = "crashy"

    def __init__(self, crashes: int) -> None:
        self.crashes = crashes
        self.runs = 0

    async def run(self, ctx: Any) -> None:
        self.runs += 1
        if self.runs <= self.crashes:
            raise RuntimeError(f"crash number {self.runs}")
        await asyncio.Event().wait()


async def test_a_killed_agent_is_restarted_and_shows_in_health_stats_and_metrics(
    tmp_path: Path,
) -> None:
    """An agent crashing FLAP_CRASHES times is restarted each time; health says degraded
    (flapping) with the task's restarts and last error; stats and /metrics show it too."""
    settings = Settings(data_dir=tmp_path, publish_token="t")
    agent = CrashingAgent(FLAP_CRASHES)
    node = Node(settings, agents=[agent])
    node.supervisor._initial = 0.01
    hub = start_hub(settings, node=node)
    try:
        await wait_until(lambda: agent.runs == FLAP_CRASHES + 1)
        async with httpx.AsyncClient(base_url=hub.url) as http:
            health = await http.get("/api/v1/health")
            stats = (await http.get("/api/v1/ws/stats")).json()
            metrics = (await http.get("/metrics")).text
    finally:
        hub.stop()
    assert health.status_code == 503
    body = health.json()
    assert body["status"] == "degraded"
    task = body["tasks"]["agent:crashy"]
    assert (task["state"], task["restarts"], task["flapping"]) == ("running", 3, True)
    assert task["last_error"] == "RuntimeError: crash number 3"
    assert stats["tasks"]["agent:crashy"]["restarts"] == 3
    assert 'alphawire_task_restarts_total{task="agent:crashy"} 3.0' in metrics
    assert 'alphawire_task_healthy{task="agent:crashy"} 0.0' in metrics


async def test_a_crashed_alert_dispatcher_is_restarted_and_seen_by_health(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hub's alert dispatcher runs under the node's supervisor: a crash is restarted,
    counted in health, and the alert still reaches subscribers."""
    real_run = Dispatcher.run
    crashed: list[str] = []

    async def run_once_badly(self: Dispatcher) -> None:
        if not crashed:
            crashed.append(self.destination.name)
            raise OSError("disk went away")
        await real_run(self)

    monkeypatch.setattr(Dispatcher, "run", run_once_badly)
    settings = Settings(data_dir=tmp_path, publish_token="t")
    node = Node(settings)
    node.supervisor._initial = 0.01
    await node.start()
    try:
        async with node.subscribe(["unified"]) as sub:
            await node.publish_alert(alert_type="t", source="s", content="still delivered")
            item = await asyncio.wait_for(anext(aiter(sub)), 10)
        await wait_until(lambda: node.supervisor.status()["alerts:hub"]["state"] == "running")
        ok, health = node.health()
    finally:
        await node.stop()
    assert item["content"] == "still delivered"
    assert crashed == ["hub"]
    task = health["tasks"]["alerts:hub"]
    assert (task["restarts"], task["last_error"]) == (1, "OSError: disk went away")
    assert ok is True, health  # one crash, running again: healthy (not flapping)
