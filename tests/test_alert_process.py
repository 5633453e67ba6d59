"""Delivery from a child process: what a synchronous ``send_discord`` starts (real processes)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.fake_discord import FakeDiscord

from alphawire.alerting.manager import AlertManager
from alphawire.alerting.routes import Route, RouteTable

# A monitor program: sends ``count`` alerts through the synchronous API (none with 0, then
# only starts delivery), prints its delivery process's pid, then waits for stdin to close.
MONITOR = """
import sys
from alphawire.alerting.manager import AlertManager
from alphawire.alerting.routes import Route, RouteTable

path, url, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
alerts = AlertManager(path, routes=RouteTable((Route("desk", url, cooldown=0),)))
for i in range(count):
    alerts.send_discord(f"alert #{i}", alert_type="gex", source="monitor")
alerts.start_in_process()
print(alerts.worker.pid, flush=True)
sys.stdin.read()
alerts.close()
"""


@pytest.fixture
def discord() -> Iterator[FakeDiscord]:
    with FakeDiscord(rate_limit=1000, rate_period=0.05) as fake:
        yield fake


def wait_for(predicate: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.02)


def contents(fake: FakeDiscord, webhook: str) -> list[str]:
    return [m["content"] for m in fake.messages(webhook)]


def manager_for(tmp_path: Path, url: str) -> AlertManager:
    routes = RouteTable((Route("desk", url, cooldown=0),))
    return AlertManager(tmp_path / "alerts.sqlite3", routes=routes)


def gone(pid: int) -> bool:
    """Whether the process has exited (a zombie nobody reaped yet counts as exited)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False


def test_sync_alerts_reach_discord_from_the_child_complete_and_in_order(
    discord: FakeDiscord, tmp_path: Path
) -> None:
    """send_discord starts a delivery process; it delivers every alert, in order; stats agree."""
    url = discord.add_webhook("2001", "tok-p")
    manager = manager_for(tmp_path, url)
    try:
        for i in range(300):
            manager.send_discord(f"alert #{i}", alert_type="gex", source="monitor")
        worker = manager.worker
        assert worker is not None and worker.pid not in (None, os.getpid())
        assert not any(t.name == "alphawire-alerts" for t in threading.enumerate())
        wait_for(lambda: len(discord.messages("2001")) >= 300)
        assert contents(discord, "2001") == [f"alert #{i}" for i in range(300)]
        wait_for(lambda: manager.stats()["discord:desk"]["sent"] == 300)
        stats = manager.stats()["discord:desk"]
        assert stats["accepted"] == 300  # counted here
        assert stats["pending"] == 0
        wait_for(lambda: manager.stats()["discord_client"]["sent"] == 300)  # counted there
    finally:
        manager.close()


def test_send_discord_returns_while_discord_holds_every_request(
    discord: FakeDiscord, tmp_path: Path
) -> None:
    """With Discord holding the child's request unanswered, each call still returns, committed."""
    url = discord.add_webhook("2002", "tok-q")
    discord.hold()
    manager = manager_for(tmp_path, url)
    try:
        first = manager.send_discord("alert #0", alert_type="gex", source="monitor")
        wait_for(lambda: discord.held >= 1)  # the child is now waiting for Discord
        receipts = [first] + [
            manager.send_discord(f"alert #{i}", alert_type="gex", source="monitor")
            for i in range(1, 50)
        ]
        assert discord.messages("2002") == []
        for receipt in receipts:
            stored = manager.outbox.get(receipt.id)
            assert stored is not None
            assert stored["deliveries"][0]["state"] == "pending"
        discord.release()
        wait_for(lambda: len(discord.messages("2002")) >= 50)
        assert contents(discord, "2002") == [f"alert #{i}" for i in range(50)]
    finally:
        discord.release()
        manager.close()


def test_close_stops_the_delivery_process(discord: FakeDiscord, tmp_path: Path) -> None:
    """close() ends the child gracefully (exit status 0) and leaves no process behind."""
    url = discord.add_webhook("2003", "tok-r")
    manager = manager_for(tmp_path, url)
    manager.send_discord("alert #0", alert_type="gex", source="monitor")
    worker = manager.worker
    assert worker is not None
    proc = worker._proc
    assert proc is not None
    wait_for(lambda: len(discord.messages("2003")) == 1)
    manager.close()
    assert proc.returncode == 0
    assert manager.worker is None
    # It gave up its lease: the next delivery process need not wait for it to expire.
    db = sqlite3.connect(tmp_path / "alerts.sqlite3")
    try:
        assert db.execute("SELECT COUNT(*) FROM leases").fetchone() == (0,)
    finally:
        db.close()


def test_a_delivery_process_that_dies_is_restarted(discord: FakeDiscord, tmp_path: Path) -> None:
    """A child killed on its own is started again; alerts sent meanwhile are delivered."""
    url = discord.add_webhook("2004", "tok-s")
    manager = manager_for(tmp_path, url)
    try:
        manager.send_discord("alert #0", alert_type="gex", source="monitor")
        worker = manager.worker
        assert worker is not None
        wait_for(lambda: len(discord.messages("2004")) == 1)
        first_pid = worker.pid
        assert first_pid is not None
        os.kill(first_pid, signal.SIGKILL)
        wait_for(lambda: worker.pid != first_pid)
        for i in range(1, 20):
            manager.send_discord(f"alert #{i}", alert_type="gex", source="monitor")
        wait_for(lambda: len(set(contents(discord, "2004"))) == 20)
        assert list(dict.fromkeys(contents(discord, "2004"))) == [f"alert #{i}" for i in range(20)]
        assert worker.restarts == 1
    finally:
        manager.close()


def _monitor(path: Path, url: str, count: int) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-c", MONITOR, str(path), url, str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def _close_pipes(proc: subprocess.Popen[str]) -> None:
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            pipe.close()


def test_the_child_dies_with_a_sigkilled_parent_and_a_restart_delivers_the_rest(
    discord: FakeDiscord, tmp_path: Path
) -> None:
    """SIGKILL the monitor: its delivery process exits too; the next run delivers what was left."""
    url = discord.add_webhook("2005", "tok-t")
    discord.delay = 0.05
    path = tmp_path / "alerts.sqlite3"
    monitor, child = _monitor(path, url, 100)
    try:
        wait_for(lambda: len(discord.messages("2005")) >= 5)
        monitor.send_signal(signal.SIGKILL)
        monitor.wait(30)
        wait_for(lambda: gone(child))  # no orphan left delivering
        killed_at = len(discord.messages("2005"))
        assert killed_at < 100, "the kill came too late to test anything"
    finally:
        if monitor.poll() is None:
            monitor.kill()
            monitor.wait()
        _close_pipes(monitor)
    again, _ = _monitor(path, url, 0)
    try:
        wait_for(lambda: len(set(contents(discord, "2005"))) == 100)
    finally:
        _close_pipes(again)  # the monitor's cue to close()
        again.wait(30)
    assert again.returncode == 0
    seen = contents(discord, "2005")
    first_seen = list(dict.fromkeys(seen))
    assert first_seen == [f"alert #{i}" for i in range(100)]
    # At-least-once: at most the message in flight when the child stopped is sent again.
    assert len(seen) - len(first_seen) <= 1
