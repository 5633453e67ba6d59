"""A new user's first hour with the command line (issue #15): the real ``alphawire`` command,
run as a subprocess against real hubs, never silent and never hanging."""

from __future__ import annotations

import os
import queue
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import orjson
import pytest
from tests.conftest import RunningHub, connect, recv_json, start_hub
from tests.test_cli import Background, free_port, publish_http, run_cli

from alphawire.settings import Settings

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).with_name("alphawire")  # the console script pip installed


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """No ALPHAWIRE_* variables, an empty XDG data home, and the venv's bin off PATH."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAWIRE_")}
    clean["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    clean["PATH"] = os.pathsep.join(
        p for p in clean.get("PATH", "").split(os.pathsep) if Path(p) != SCRIPT.parent
    )
    return clean


class Streams:
    """A command as a subprocess with its stdout and stderr lines collected by threads."""

    def __init__(self, argv: list[str], env: dict[str, str], **kw: Any) -> None:
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, **kw
        )
        self.out: queue.Queue[str] = queue.Queue()
        self.err: queue.Queue[str] = queue.Queue()
        self.err_seen: list[str] = []
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._threads = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @staticmethod
    def _read(stream: IO[str], sink: queue.Queue[str]) -> None:
        for line in stream:
            sink.put(line.rstrip("\n"))

    def line(self, timeout: float = 30) -> str:
        """The next stdout line (the timeout is a hang guard)."""
        try:
            return self.out.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no stdout line; stderr: {self.err_seen}") from None

    def err_until(self, predicate: Callable[[str], bool], timeout: float = 30) -> str:
        """Read stderr lines until one satisfies ``predicate`` (a hang guard, not a limit)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.err.get(timeout=0.1)
            except queue.Empty:
                continue
            self.err_seen.append(line)
            if predicate(line):
                return line
        raise AssertionError(f"stderr never matched; saw {self.err_seen}")

    def drain_err(self) -> list[str]:
        while True:
            try:
                self.err_seen.append(self.err.get_nowait())
            except queue.Empty:
                return self.err_seen

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig) if self._own_group() else self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(timeout=15)
        for thread in self._threads:
            thread.join(15)
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.proc.stdout.close()
        self.proc.stderr.close()
        self.drain_err()
        return code

    def _own_group(self) -> bool:
        try:
            return os.getpgid(self.proc.pid) == self.proc.pid
        except ProcessLookupError:
            return False


def tail(args: list[str], env: dict[str, str]) -> Streams:
    return Streams([sys.executable, "-m", "alphawire", "tail", *args], env)


# -- tail ------------------------------------------------------------------------------------


def test_tail_of_a_misspelt_channel_exits_non_zero_naming_the_rule(env: dict[str, str]) -> None:
    """`tail foo` does not hang: it exits 2 at once, naming the channel and the naming rule."""
    done = run_cli("tail", "foo", "--url", f"http://127.0.0.1:{free_port()}", env=env)
    assert done.returncode == 2
    assert "unknown channel 'foo'" in done.stderr
    assert "market_{SYMBOL}" in done.stderr
    assert "Traceback" not in done.stderr


def test_tail_refused_by_the_hub_exits_non_zero(
    hub_factory: Callable[..., RunningHub], env: dict[str, str]
) -> None:
    """A channel the hub refuses (over the per-connection limit) ends tail with status 1."""
    hub = hub_factory(max_channels_per_connection=1)
    done = run_cli("tail", "market_SPY", "market_QQQ", "--url", hub.url, env=env)
    assert done.returncode == 1
    assert "too_many_channels" in done.stderr
    assert "Traceback" not in done.stderr


def test_tail_says_it_is_retrying_until_the_hub_comes_up(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """Against a hub that is not running, tail says on stderr that it is connecting and
    retrying (with the error), then that it connected once the hub is up, then streams."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = tail(["market_SPY", "--json", "--url", url], env)
    hub: RunningHub | None = None
    try:
        assert proc.err_until(lambda s: s.startswith("connecting to ")) == (
            f"connecting to ws://127.0.0.1:{port}/api/v1/ws ..."
        )
        retry = proc.err_until(lambda s: "retrying in" in s)
        assert f"cannot reach the hub at {url}" in retry
        assert "ConnectionRefusedError" in retry
        hub = start_hub(Settings(data_dir=tmp_path / "late", publish_token="t"), port)
        proc.err_until(lambda s: s == f"connected to {url}")
        assert orjson.loads(proc.line())["type"] == "subscribed"
        publish_http(hub, "/api/v1/market/SPY", {"data": {"price": 1.5}})
        assert orjson.loads(proc.line())["data"]["price"] == 1.5
    finally:
        proc.stop()
        if hub is not None:
            hub.stop()


def test_tail_says_when_the_hub_goes_away_and_when_it_is_back(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """A hub restart is never silent: tail says it was disconnected (with the close code),
    that it is retrying, that it connected again, and then resumes after the last seq."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data = tmp_path / "hub"
    hub = start_hub(Settings(data_dir=data, publish_token="t"), port)
    proc = tail(["market_SPY", "--json", "--url", url], env)
    try:
        assert orjson.loads(proc.line())["type"] == "subscribed"
        publish_http(hub, "/api/v1/market/SPY", {"data": {"price": 1.0}})
        assert orjson.loads(proc.line())["seq"] == 1
        hub.stop()
        lost = proc.err_until(lambda s: s.startswith("disconnected from "))
        assert lost.startswith(f"disconnected from {url} (close 1001 ")
        assert "reconnecting" in lost
        proc.err_until(lambda s: "retrying in" in s)
        hub = start_hub(Settings(data_dir=data, publish_token="t"), port)
        proc.err_until(lambda s: s == f"connected to {url}")
        assert orjson.loads(proc.line())["type"] == "subscribed"
        publish_http(hub, "/api/v1/market/SPY", {"data": {"price": 2.0}})
        frame = orjson.loads(proc.line())
        assert "data" in frame, frame
        assert (frame["seq"], frame["data"]["price"]) == (2, 2.0)
    finally:
        proc.stop()
        hub.stop()


def test_tail_on_a_silent_channel_says_so_once(hub: RunningHub, env: dict[str, str]) -> None:
    """On a channel nothing has published, tail says once that it is subscribed with no
    message yet; a channel with messages gets no such note."""
    publish_http(hub, "/api/v1/market/SPY", {"data": {"price": 598.0}})
    proc = tail(["market_SPX", "market_SPY", "--url", hub.url], env)
    try:
        proc.err_until(lambda s: s == "subscribed; no message yet on market_SPX")
        assert proc.line() == "-- subscribed to market_SPX (last seq 0)"
        assert proc.line() == "-- subscribed to market_SPY (last seq 1)"
        assert "SPY 598.0" in proc.line()  # the snapshot
        publish_http(hub, "/api/v1/market/SPX", {"data": {"price": 6000.5}})
        assert "SPX 6000.5" in proc.line()
    finally:
        proc.stop()
    notes = [s for s in proc.err_seen if "no message yet" in s]
    assert notes == ["subscribed; no message yet on market_SPX"]


async def test_channels_lists_last_seq_and_subscribers(
    hub: RunningHub, env: dict[str, str]
) -> None:
    """`alphawire channels` lists each channel with its last seq and subscriber count."""
    for price in (1.0, 2.0, 3.0):
        publish_http(hub, "/api/v1/market/SPY", {"data": {"price": price}})
    async with await connect(hub.ws + "/ws/unified") as ws:
        await recv_json(ws)
        listed = run_cli("channels", "--url", hub.url, env=env)
        as_json = run_cli("channels", "--json", "--url", hub.url, env=env)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["channel", "last", "seq", "subscribers"]
    table = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert table["market_SPY"] == ["3", "0"]
    assert table["unified"] == ["0", "1"]
    assert {"signals", "narrative"} <= set(table)
    rows = [orjson.loads(line) for line in as_json.stdout.splitlines()]
    assert {"channel": "market_SPY", "last_seq": 3, "subscribers": 0} in rows


def test_channels_against_no_hub_is_a_clear_error(env: dict[str, str]) -> None:
    """`channels` with no hub says it cannot reach it, exit 1, no traceback."""
    done = run_cli("channels", "--url", f"http://127.0.0.1:{free_port()}", env=env)
    assert done.returncode == 1
    assert "cannot reach the hub" in done.stderr
    assert "Traceback" not in done.stderr


# -- demo ------------------------------------------------------------------------------------


@pytest.fixture
def demo_port() -> int:
    return free_port()


@pytest.fixture
def running_demo(tmp_path: Path, env: dict[str, str], demo_port: int) -> Iterator[Streams]:
    """`alphawire demo` run through its console script, off PATH, as after `make demo`."""
    assert SCRIPT.exists(), SCRIPT
    proc = Streams(
        [str(SCRIPT), "demo", "--port", str(demo_port), "--interval", "0.05"],
        env,
        cwd=tmp_path,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        proc.stop()


def test_demo_prints_commands_that_run_as_printed_and_its_symbols(
    running_demo: Streams, env: dict[str, str], tmp_path: Path, demo_port: int
) -> None:
    """The demo's hint is the command as it will run (the script's path when alphawire is
    not on PATH) and works when pasted; the banner lists the simulated symbols."""
    symbols = running_demo.err_until(lambda s: s.strip().startswith("symbols:"))
    listed = symbols.split()[1:]
    assert listed[:3] == ["SPY", "QQQ", "IWM"], listed  # the default watchlist, in order
    assert all(s.isupper() for s in listed)
    hint = running_demo.err_until(lambda s: " tail market_SPY" in s).strip()
    assert hint.split()[0] == str(SCRIPT), hint
    running_demo.err_until(lambda s: "Uvicorn running" in s)
    printed = Streams([*shlex.split(hint), "--json"], env, cwd=tmp_path)
    try:
        assert orjson.loads(printed.line())["type"] == "subscribed"
        tick = orjson.loads(printed.line())
        assert tick["symbol"] == "SPY" and tick["data"]["simulated"] is True
    finally:
        printed.stop()
    assert any("SIMULATED" in line for line in running_demo.err_seen)


def test_demo_keeps_its_own_data_dir_apart_from_serve(
    running_demo: Streams, env: dict[str, str], tmp_path: Path, demo_port: int
) -> None:
    """The demo writes its channels and alerts under alphawire-demo; `serve` afterwards
    starts without them, and the CLI publishes to the demo with the usual token file."""
    running_demo.err_until(lambda s: "Uvicorn running" in s)
    demo_url = f"http://127.0.0.1:{demo_port}"
    done = run_cli(
        "publish", "alert", "alert_type=t", "source=me", "content=x", "--url", demo_url, env=env
    )
    assert done.returncode == 0, done.stderr
    assert running_demo.stop(signal.SIGINT) == 0
    xdg = tmp_path / "xdg"
    assert (xdg / "alphawire-demo" / "memory-broker.snapshot").exists()
    assert (xdg / "alphawire-demo" / "alerts.sqlite3").exists()
    assert sorted(p.name for p in (xdg / "alphawire").iterdir()) == ["publish-token"]
    port = free_port()
    server = Background(["serve", "--port", str(port)], env, tmp_path / "serve")
    try:
        server.wait_healthy(port)
        rows = httpx.get(f"http://127.0.0.1:{port}/api/v1/channels", timeout=10).json()
        assert all(r["last_seq"] == 0 for r in rows["channels"]), rows
        alerts = httpx.get(f"http://127.0.0.1:{port}/api/v1/alerts", timeout=10).json()
        assert alerts["alerts"] == []
    finally:
        server.stop()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_demo_stops_cleanly_on_ctrl_c_and_sigterm(running_demo: Streams, sig: int) -> None:
    """Ctrl-C (SIGINT to the process group) or SIGTERM: a graceful shutdown, status 0."""
    running_demo.err_until(lambda s: "Uvicorn running" in s)
    assert running_demo.stop(sig) == 0
    err = "\n".join(running_demo.err_seen)
    assert "Application shutdown complete" in err
    assert "Traceback" not in err and "Aborted" not in err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_make_demo_stops_without_make_reporting_an_error(
    env: dict[str, str], tmp_path: Path, sig: int
) -> None:
    """`make demo` stopped by a signal to its process group (what Ctrl-C does) ends without
    make's `*** [demo] Terminated` / `Interrupt` line: the demo itself exits 0."""
    port = free_port()
    proc = Streams(
        ["make", "-s", "demo"],
        {**env, "ALPHAWIRE_PORT": str(port), "ALPHAWIRE_LOG_LEVEL": "info"},
        cwd=REPO,
        start_new_session=True,
    )
    try:
        proc.err_until(lambda s: "Uvicorn running" in s, timeout=120)
    finally:
        proc.stop(sig)
    err = "\n".join(proc.err_seen)
    assert "Application shutdown complete" in err
    assert "***" not in err and "Traceback" not in err
