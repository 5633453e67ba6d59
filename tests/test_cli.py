"""The ``alphawire`` command run for real, as subprocesses, against live hubs."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import queue
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import IO, Any

import anyio
import httpx
import orjson
import pytest
from tests.conftest import RunningHub, connect, recv_json, start_hub

from alphawire.settings import Settings

pytestmark = pytest.mark.anyio

ALERT_ARGS = ["alert_type=dark_pool", "source=cli", "content=2M shares @ 598", "symbol=spy"]


# -- helpers ---------------------------------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The environment for CLI subprocesses: no ALPHAWIRE_* variables, an empty XDG data home."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAWIRE_")}
    clean["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    return clean


def run_cli(
    *args: str, env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m alphawire ARGS`` to completion (the timeout is a hang guard)."""
    return subprocess.run(
        [sys.executable, "-m", "alphawire", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


async def acli(
    *args: str, env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``run_cli`` in a worker thread, so the test's event loop keeps its sockets serviced."""
    return await anyio.to_thread.run_sync(partial(run_cli, *args, env=env, stdin=stdin))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=3):
            return True
    except OSError:
        return False


def non_loopback_ipv4() -> str | None:
    """An IPv4 address of this machine other than loopback, if it has one."""
    candidates: set[str] = set()
    with (
        contextlib.suppress(OSError),
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
    ):
        sock.connect(("192.0.2.1", 9))  # UDP: picks the outgoing interface, sends nothing
        candidates.add(sock.getsockname()[0])
    with contextlib.suppress(OSError):
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            candidates.add(str(info[4][0]))
    for ip in sorted(candidates):
        addr = ipaddress.ip_address(ip)
        if not addr.is_loopback and not addr.is_unspecified:
            return ip
    return None


class Background:
    """A long-running CLI subprocess whose output goes to files in ``logs``."""

    def __init__(self, args: list[str], env: dict[str, str], logs: Path) -> None:
        logs.mkdir(parents=True, exist_ok=True)
        self.out_path = logs / "stdout.log"
        self.err_path = logs / "stderr.log"
        self._out = self.out_path.open("wb")
        self._err = self.err_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "alphawire", *args],
            stdout=self._out,
            stderr=self._err,
            env=env,
            cwd=logs,
        )

    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def wait_healthy(self, port: int, timeout: float = 60) -> None:
        """Poll GET /api/v1/health until 200 (a hang guard, not a speed limit)."""
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{port}/api/v1/health"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"exited with {self.proc.returncode}:\n{self.stderr()}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"no healthy hub on port {port}:\n{self.stderr()}")

    def interrupt(self) -> int:
        """Send SIGINT and wait for the process to end; returns its exit status."""
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self._out.close()
        self._err.close()


@contextlib.contextmanager
def background(args: list[str], env: dict[str, str], logs: Path) -> Iterator[Background]:
    bg = Background(args, env, logs)
    try:
        yield bg
    finally:
        bg.stop()


class Tail:
    """``alphawire tail`` as a subprocess, with its stdout lines collected by a thread."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "alphawire", "tail", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        assert self.proc.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line.rstrip("\n"))

    def line(self, timeout: float = 20) -> str:
        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("tail printed no line (hang guard)") from None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self._reader.join(15)
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.proc.stdout.close()
        self.proc.stderr.close()


def ack(frame: dict[str, Any]) -> tuple[Any, Any, Any]:
    """A subscribed frame's type, channel and seq (other keys may be added by the hub)."""
    return frame.get("type"), frame.get("channel"), frame.get("seq")


def publish_http(hub: RunningHub, path: str, body: dict[str, Any]) -> None:
    with httpx.Client(base_url=hub.url, headers=hub.headers(), timeout=10) as http:
        response = http.post(path, json=body)
    assert response.status_code == 202, response.text


def stats(url: str) -> dict[str, Any]:
    data: dict[str, Any] = httpx.get(url + "/api/v1/ws/stats", timeout=10).json()
    return data


async def astats(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        data: dict[str, Any] = (await http.get("/api/v1/ws/stats")).json()
        return data


# -- publish ---------------------------------------------------------------------------------


async def test_publish_alert_prints_its_result_and_delivers_it(
    hub: RunningHub, env: dict[str, str]
) -> None:
    """`publish alert k=v...` exits 0, prints one JSON result, and the alert reaches unified."""
    async with await connect(hub.ws + "/ws/unified") as ws:
        assert (await recv_json(ws))["type"] == "subscribed"
        done = await acli(
            "publish", "alert", *ALERT_ARGS, "--url", hub.url, "--token", hub.token, env=env
        )
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert len(lines) == 1
        result = orjson.loads(lines[0])
        assert result["type"] == "alert"
        assert result["channels"] == ["unified"]
        assert result["seq"] == {"unified": 1}
        assert len(result["id"]) == 26
        frame = await recv_json(ws)
    assert frame["id"] == result["id"]
    assert (frame["channel"], frame["seq"]) == ("unified", 1)
    assert frame["type"] == "alert"
    assert frame["alert_type"] == "dark_pool"
    assert frame["source"] == "cli"
    assert frame["content"] == "2M shares @ 598"
    assert frame["symbol"] == "SPY"


@pytest.mark.parametrize(
    ("kind", "fields", "path", "expected"),
    [
        (
            "signal",
            ["signal.symbol=NVDA", "signal.confidence=0.8", "signal.action=buy"],
            "/ws/signals",
            {"signal": {"symbol": "NVDA", "confidence": 0.8, "action": "buy"}},
        ),
        (
            "market_data",
            ["symbol=SPY", "data.price=598.2", "data.volume=1200", "data.venue.name=arca"],
            "/ws/market/SPY",
            {"symbol": "SPY", "data": {"price": 598.2, "volume": 1200, "venue": {"name": "arca"}}},
        ),
        (
            "agent_insight",
            ["agent=MarketAgent", "insight.regime=risk_on", "insight.score=3"],
            "/ws/agents/marketagent",
            {"agent": "MarketAgent", "insight": {"regime": "risk_on", "score": 3}},
        ),
        (
            "narrative",
            ["narrative.headline=Tech leads", "narrative.tags=[1,2]"],
            "/ws/narrative",
            {"narrative": {"headline": "Tech leads", "tags": [1, 2]}},
        ),
    ],
)
async def test_publish_dotted_keys_nest_and_values_parse_as_json(
    hub: RunningHub,
    env: dict[str, str],
    kind: str,
    fields: list[str],
    path: str,
    expected: dict[str, Any],
) -> None:
    """Dotted keys build nested objects and JSON-looking values arrive as numbers or lists."""
    async with await connect(hub.ws + path) as ws:
        assert (await recv_json(ws))["type"] == "subscribed"
        done = await acli("publish", kind, *fields, "--url", hub.url, "--token", hub.token, env=env)
        assert done.returncode == 0, done.stderr
        frame = await recv_json(ws)
    assert frame["type"] == kind
    assert {k: frame[k] for k in expected} == expected
    if kind == "signal":
        assert isinstance(frame["signal"]["confidence"], float)
    if kind == "market_data":
        assert isinstance(frame["data"]["price"], float)
        assert frame["data"]["volume"] == 1200  # a number (the model makes it a float)


async def test_publish_stdin_json_lines_are_all_delivered_in_order(
    hub: RunningHub, env: dict[str, str]
) -> None:
    """`publish -` sends 1500 JSON lines (over the 1000-message batch limit) in order."""
    n = 1500
    lines = [
        orjson.dumps({"type": "market_data", "symbol": "X", "data": {"price": i}}).decode()
        for i in range(1, n + 1)
    ]
    stdin = "\n".join(lines[:700]) + "\n\n" + "\n".join(lines[700:]) + "\n"  # blank line skipped
    async with await connect(hub.ws + "/ws/market/X", max_queue=None) as ws:
        assert ack(await recv_json(ws)) == ("subscribed", "market_X", 0)
        done = await acli(
            "publish", "-", "--url", hub.url, "--token", hub.token, env=env, stdin=stdin
        )
        assert done.returncode == 0, done.stderr
        frames = [await recv_json(ws) for _ in range(n)]
    results = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert [r["seq"] for r in results] == [{"market_X": i} for i in range(1, n + 1)]
    assert [f["seq"] for f in frames] == list(range(1, n + 1))
    assert [f["data"]["price"] for f in frames] == list(range(1, n + 1))
    assert [f["id"] for f in frames] == [r["id"] for r in results]
    assert (await astats(hub.url))["dropped"] == 0


async def test_publish_stdin_line_that_is_not_json_is_refused(
    hub: RunningHub, env: dict[str, str]
) -> None:
    """A stdin line that is not JSON fails with its line number and publishes nothing."""
    stdin = '{"type": "narrative", "narrative": {}}\nnot json\n'
    done = await acli("publish", "-", "--url", hub.url, "--token", hub.token, env=env, stdin=stdin)
    assert done.returncode != 0
    assert "line 2" in done.stderr
    assert (await astats(hub.url))["published_total"] == 0


async def test_publish_with_a_wrong_token_fails_with_401(
    hub: RunningHub, env: dict[str, str]
) -> None:
    """A wrong token exits non-zero, says 401, and nothing is published."""
    done = await acli(
        "publish", "alert", *ALERT_ARGS, "--url", hub.url, "--token", "wrong", env=env
    )
    assert done.returncode != 0
    assert "401" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert (await astats(hub.url))["published_total"] == 0


@pytest.mark.parametrize(
    ("kind", "fields", "field"),
    [
        ("signal", ["signal.symbol=NVDA", "signal.confidence=3"], "signal.confidence"),
        ("signal", ["signal.action=buy"], "signal.symbol"),
        ("alert", ["source=cli", "content=x"], "alert_type"),
        ("market_data", ["symbol=SP Y", "data.price=1"], "symbol"),
    ],
)
async def test_publish_invalid_field_fails_naming_the_field(
    hub: RunningHub, env: dict[str, str], kind: str, fields: list[str], field: str
) -> None:
    """An invalid message exits non-zero with the offending field named, publishing nothing."""
    done = await acli("publish", kind, *fields, "--url", hub.url, "--token", hub.token, env=env)
    assert done.returncode != 0
    assert "422" in done.stderr
    assert f'"field":"{field}"' in done.stderr
    assert "Traceback" not in done.stderr
    assert (await astats(hub.url))["published_total"] == 0


async def test_publish_field_without_equals_is_a_usage_error(
    hub: RunningHub, env: dict[str, str]
) -> None:
    """A FIELDS argument that is not key=value is a usage error (exit 2) that quotes it."""
    done = await acli("publish", "alert", "source", "--url", hub.url, "--token", hub.token, env=env)
    assert done.returncode == 2
    assert "'source' is not key=value" in done.stderr


async def test_publish_without_any_token_is_a_clear_error(
    hub: RunningHub, env: dict[str, str], tmp_path: Path
) -> None:
    """No --token, no ALPHAWIRE_PUBLISH_TOKEN and no token file: a clear error, exit 1."""
    empty = tmp_path / "empty"
    empty.mkdir()
    done = await acli(
        "publish", "alert", *ALERT_ARGS, "--url", hub.url, "--data-dir", str(empty), env=env
    )
    assert done.returncode == 1
    assert "no publish token" in done.stderr
    assert "--token" in done.stderr and "ALPHAWIRE_PUBLISH_TOKEN" in done.stderr
    assert "Traceback" not in done.stderr


async def test_publish_reads_the_token_from_the_environment(
    hub: RunningHub, env: dict[str, str]
) -> None:
    """ALPHAWIRE_PUBLISH_TOKEN stands in for --token."""
    done = await acli(
        "publish",
        "narrative",
        "narrative.headline=x",
        "--url",
        hub.url,
        env={**env, "ALPHAWIRE_PUBLISH_TOKEN": hub.token},
    )
    assert done.returncode == 0, done.stderr
    assert orjson.loads(done.stdout)["channels"] == ["narrative"]


async def test_publish_to_an_unreachable_hub_is_a_clear_error(env: dict[str, str]) -> None:
    """Publishing to a hub that is not there says it cannot reach it, without a traceback."""
    url = f"http://127.0.0.1:{free_port()}"
    done = await acli("publish", "alert", *ALERT_ARGS, "--url", url, "--token", "t", env=env)
    assert done.returncode == 1
    assert "cannot reach the hub" in done.stderr
    assert "Traceback" not in done.stderr


def test_hub_without_token_writes_a_private_token_file_the_cli_uses(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """With no publish_token, the hub writes <data_dir>/publish-token (0600) and the CLI uses it."""
    data_dir = tmp_path / "hubdata"
    hub = start_hub(Settings(data_dir=data_dir, publish_token=None))
    try:
        token_file = data_dir / "publish-token"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(data_dir.stat().st_mode) & 0o077 == 0
        token = token_file.read_text().strip()
        assert token == hub.token
        assert len(token) >= 32
        assert Settings(data_dir=data_dir).resolve_publish_token() == token  # reused, not new
        done = run_cli(
            "publish", "alert", *ALERT_ARGS, "--url", hub.url, "--data-dir", str(data_dir), env=env
        )
        assert done.returncode == 0, done.stderr
        assert orjson.loads(done.stdout)["seq"] == {"unified": 1}
        done = run_cli(
            "publish",
            "narrative",
            "narrative.headline=x",
            "--url",
            hub.url,
            env={**env, "ALPHAWIRE_DATA_DIR": str(data_dir)},
        )
        assert done.returncode == 0, done.stderr
    finally:
        hub.stop()


# -- tail ------------------------------------------------------------------------------------


def test_tail_json_prints_the_subscribed_frame_then_each_message(
    hub: RunningHub, env: dict[str, str]
) -> None:
    """`tail market_SPY --json` prints the subscribed frame, then each tick as one JSON line."""
    tail = Tail(["market_SPY", "--json", "--url", hub.url], env)
    try:
        assert ack(orjson.loads(tail.line())) == ("subscribed", "market_SPY", 0)
        for price in (598.1, 598.2, 598.3):
            publish_http(hub, "/api/v1/market/SPY", {"data": {"price": price}})
        frames = [orjson.loads(tail.line()) for _ in range(3)]
        assert [f["seq"] for f in frames] == [1, 2, 3]
        assert [f["data"]["price"] for f in frames] == [598.1, 598.2, 598.3]
        assert all(f["type"] == "market_data" and f["symbol"] == "SPY" for f in frames)
        tail.proc.send_signal(signal.SIGINT)
        assert tail.proc.wait(timeout=30) == 0
    finally:
        tail.stop()


def test_tail_readable_format_shows_symbol_price_and_alerts(
    hub: RunningHub, env: dict[str, str]
) -> None:
    """Without --json, tail prints one readable line per frame: symbol, price, quote, alerts."""
    tail = Tail(["market_spy", "unified", "--url", hub.url], env)
    try:
        assert tail.line() == "-- subscribed to market_SPY (last seq 0)"
        assert tail.line() == "-- subscribed to unified (last seq 0)"
        tick = {"price": 598.25, "bid": 598.2, "ask": 598.3, "change_pct": 0.42, "volume": 1200}
        publish_http(hub, "/api/v1/market/SPY", {"data": tick})
        publish_http(
            hub, "/api/v1/alerts", {"alert_type": "dark_pool", "source": "dp", "content": "2M"}
        )
        line = tail.line()
        assert "market_SPY#1" in line
        assert " SPY 598.25 bid 598.2 ask 598.3 +0.42% vol 1200" in line
        line = tail.line()
        assert "unified#1" in line
        assert line.endswith("ALERT dark_pool [dp] 2M")
    finally:
        tail.stop()


# -- serve and demo --------------------------------------------------------------------------


def test_serve_help_lists_options_and_their_env_vars(env: dict[str, str]) -> None:
    """`serve --help` documents --host, --port, --data-dir, --log-level and their env vars."""
    done = run_cli("serve", "--help", env=env)
    assert done.returncode == 0, done.stderr
    blocks: dict[str, str] = {}
    current = ""
    for line in done.stdout.splitlines():
        stripped = line.strip()
        if line.startswith("  --"):
            current = stripped.split()[0]
            blocks[current] = stripped
        elif current and stripped:
            blocks[current] += " " + stripped
    for option, var in (
        ("--host", "ALPHAWIRE_HOST"),
        ("--port", "ALPHAWIRE_PORT"),
        ("--data-dir", "ALPHAWIRE_DATA_DIR"),
        ("--log-level", "ALPHAWIRE_LOG_LEVEL"),
    ):
        assert option in blocks, done.stdout
        assert f"env {var}" in blocks[option], blocks[option]
    assert "127.0.0.1" in blocks["--host"]


def test_serve_binds_loopback_by_default_and_stops_on_sigint(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """`serve` listens on 127.0.0.1 only by default and shuts down gracefully on SIGINT."""
    port = free_port()
    data_dir = tmp_path / "data"
    args = ["serve", "--port", str(port), "--data-dir", str(data_dir)]
    with background(args, env, tmp_path / "logs") as server:
        server.wait_healthy(port)
        assert reachable("127.0.0.1", port)
        ip = non_loopback_ipv4()
        if ip is not None:
            assert not reachable(ip, port), f"serve is reachable on {ip}"
        assert (data_dir / "publish-token").exists()
        server.interrupt()
        err = server.stderr()
        assert "Application shutdown complete" in err
        assert "Traceback" not in err


def test_serve_exits_with_status_0_on_sigint(tmp_path: Path, env: dict[str, str]) -> None:
    """Ctrl-C (SIGINT) stops `serve` with exit status 0 and no 'Aborted!'."""
    port = free_port()
    args = ["serve", "--port", str(port), "--data-dir", str(tmp_path / "data")]
    with background(args, env, tmp_path / "logs") as server:
        server.wait_healthy(port)
        status = server.interrupt()
        assert "Aborted!" not in server.stderr()
        assert status == 0


def test_serve_honours_port_and_data_dir_env_vars(tmp_path: Path, env: dict[str, str]) -> None:
    """ALPHAWIRE_PORT and ALPHAWIRE_DATA_DIR configure `serve` without options."""
    port = free_port()
    data_dir = tmp_path / "envdata"
    env = {
        **env,
        "ALPHAWIRE_PORT": str(port),
        "ALPHAWIRE_DATA_DIR": str(data_dir),
        "ALPHAWIRE_LOG_LEVEL": "warning",
    }
    with background(["serve"], env, tmp_path / "logs") as server:
        server.wait_healthy(port)
        assert (data_dir / "publish-token").exists()
        assert stats(f"http://127.0.0.1:{port}")["published_total"] == 0


async def test_demo_publishes_simulated_ticks(tmp_path: Path, env: dict[str, str]) -> None:
    """`demo` serves a simulated market: stats count ticks, market/SPY streams real quotes."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = ["demo", "--port", str(port), "--data-dir", str(tmp_path / "data")]
    with background([*args, "--log-level", "warning"], env, tmp_path / "logs") as demo:
        await anyio.to_thread.run_sync(demo.wait_healthy, port)
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            with anyio.fail_after(60):  # hang guard
                while True:
                    published = (await http.get("/api/v1/ws/stats")).json()["published"]
                    if published["market_data"] > 0:
                        break
                    await anyio.sleep(0.05)
        async with await connect(f"ws://127.0.0.1:{port}/api/v1/ws/market/SPY") as ws:
            first = await recv_json(ws)
            assert (first["type"], first["channel"]) == ("subscribed", "market_SPY")
            ticks = []
            while len(ticks) < 3:
                frame = await recv_json(ws, timeout=30)
                if not frame.get("snapshot"):  # SPY's newest tick, if it has one, comes first
                    ticks.append(frame)
        assert "alphawire demo on" in demo.stderr()
    assert [t["seq"] for t in ticks] == [first["seq"] + i for i in (1, 2, 3)]
    for tick in ticks:
        assert (tick["type"], tick["channel"], tick["symbol"]) == (
            "market_data",
            "market_SPY",
            "SPY",
        )
        data = tick["data"]
        assert isinstance(data["price"], float) and data["price"] > 0
        assert data["bid"] < data["ask"]
        assert data["simulated"] is True


def test_tail_stops_on_sigint_even_when_started_with_sigint_ignored(
    hub: RunningHub, env: dict[str, str]
) -> None:
    """A tail started from a script's background (SIGINT inherited as ignored) still stops
    on SIGINT with status 0."""
    import subprocess
    import sys

    proc = subprocess.Popen(
        [
            "/bin/sh",
            "-c",
            # `trap '' INT` is how a shell hands an ignored SIGINT to what it starts.
            f"trap '' INT; exec {sys.executable} -m alphawire tail market_SPY --json --url {hub.url}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert orjson.loads(proc.stdout.readline())["type"] == "subscribed"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)  # reaps it and closes both pipes
