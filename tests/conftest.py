"""Shared fixtures: a real uvicorn hub on a free loopback port, and WebSocket client helpers."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import socket
import threading
from collections.abc import Awaitable, Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from alphawire.node import Node
from alphawire.settings import Settings
from alphawire.web.app import create_app
from alphawire.web.server import HubServer, uvicorn_config

T = TypeVar("T")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# -- workers, and tests that run alone ----------------------------------------------------------
# The whole suite runs on three pytest-xdist workers on two cores: most tests wait on sockets,
# subprocesses and timers (in one process the suite kept one core 39% busy, for 10 minutes).
# Each module runs on one worker, so that its module fixtures are built once. A run of named
# test files stays in one process, where starting workers would cost more than they save;
# `-n N` on the command line decides instead, and `-n0` keeps the whole suite in one process.
WORKERS = 3
_BY_HAND = ("-n", "--numprocesses", "--dist", "-d", "--tx", "--pdb", "--trace")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    if not config.pluginmanager.hasplugin("xdist") or config.getoption("collectonly"):
        return
    if hasattr(config, "workerinput"):  # a worker runs what it is sent
        return
    if any(arg.startswith(_BY_HAND) for arg in config.invocation_params.args):
        return
    named = config.args_source is pytest.Config.ArgsSource.ARGS and all(
        "::" in arg or Path(arg).is_file() for arg in config.args
    )
    if not named:
        config.option.numprocesses = WORKERS
        config.option.dist = "loadscope"


# A few tests load both cores on purpose (a thousand sockets, a stalled client among a
# hundred, the benchmark smoke runs), or fail when neighbours slow them down (a Redis outage
# outlasting the listener's retries, restart delays measured in real time), and are marked
# ``exclusive``: each holds a file lock exclusively while every other test holds it
# shared, so nothing runs beside them. A turnstile in front keeps a waiting exclusive test
# from being overtaken by the next shared holders.


class WorkerLock:
    """A readers-writer lock between the workers of one run (flock on two files)."""

    def __init__(self, folder: Path) -> None:
        self._turnstile = (folder / "alphawire-turnstile.lock").open("a+b")
        self._lock = (folder / "alphawire-exclusive.lock").open("a+b")

    @contextlib.contextmanager
    def hold(self, exclusive: bool) -> Iterator[None]:
        fcntl.flock(self._turnstile, fcntl.LOCK_EX)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        finally:
            fcntl.flock(self._turnstile, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(self._lock, fcntl.LOCK_UN)

    def close(self) -> None:
        self._turnstile.close()
        self._lock.close()


_WORKER_LOCK = pytest.StashKey[WorkerLock]()


def pytest_configure(config: pytest.Config) -> None:
    # A worker's basetemp is a folder of the run's own basetemp, shared by its workers only.
    if os.environ.get("PYTEST_XDIST_WORKER") and config.option.basetemp:
        config.stash[_WORKER_LOCK] = WorkerLock(Path(config.option.basetemp).parent)


def pytest_unconfigure(config: pytest.Config) -> None:
    lock = config.stash.get(_WORKER_LOCK, None)
    if lock is not None:
        lock.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    """Setup, call and teardown of each test under the workers' lock (outside its timeout)."""
    lock = item.config.stash.get(_WORKER_LOCK, None)
    if lock is None:  # one process: every test runs alone anyway
        return (yield)
    with lock.hold(exclusive=item.get_closest_marker("exclusive") is not None):
        return (yield)


def free_socket() -> socket.socket:
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets whose proto says TCP,
    # and without it every small HTTP response waits ~40 ms for delayed ACKs.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@dataclass
class RunningHub:
    """A hub served by uvicorn in a background thread with its own event loop."""

    url: str
    ws: str
    token: str
    node: Node
    server: HubServer
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread

    def call(self, coro: Awaitable[T], timeout: float = 30) -> T:
        """Run a coroutine on the hub's loop (the in-process API) and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]

    async def acall(self, coro: Awaitable[T]) -> T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))  # type: ignore[arg-type]

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.should_exit = True
            self.thread.join(15)


def start_hub(settings: Settings, port: int | None = None, node: Node | None = None) -> RunningHub:
    if port is None:
        sock = free_socket()
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
    port = sock.getsockname()[1]
    settings.port = port
    app = create_app(settings, node=node)
    config = uvicorn_config(app, settings)
    config.log_level = "warning"
    server = HubServer(config)
    loop_box: dict[str, asyncio.AbstractEventLoop] = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        loop_box["loop"] = loop
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.serve(sockets=[sock]))
        loop.close()

    thread = threading.Thread(target=run, name=f"hub-{port}", daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        if not thread.is_alive():
            raise RuntimeError("hub thread died during start-up")
        threading.Event().wait(0.01)
    else:
        raise RuntimeError("hub did not start")
    node: Node = app.state.node
    return RunningHub(
        url=f"http://127.0.0.1:{port}",
        ws=f"ws://127.0.0.1:{port}/api/v1",
        token=node.publish_token,
        node=node,
        server=server,
        loop=loop_box["loop"],
        thread=thread,
    )


@pytest.fixture
def hub_factory(tmp_path: Path) -> Iterator[Callable[..., RunningHub]]:
    started: list[RunningHub] = []

    def make(port: int | None = None, data_dir: Path | None = None, **overrides: Any) -> RunningHub:
        settings = Settings(
            data_dir=data_dir or tmp_path / f"hub{len(started)}",
            publish_token="test-token",
            **overrides,
        )
        hub = start_hub(settings, port)
        started.append(hub)
        return hub

    yield make
    for hub in started:
        hub.stop()


@pytest.fixture
def hub(hub_factory: Callable[..., RunningHub]) -> RunningHub:
    return hub_factory()


async def connect(url: str, **kw: Any) -> ClientConnection:
    # No client keepalive: a test client reading a thousand sockets from one process can be
    # tens of seconds behind, and the hub's pong waits behind the frames it has not read.
    kw.setdefault("ping_interval", None)
    return await websockets.connect(url, max_size=None, compression=None, open_timeout=10, **kw)


async def recv_json(ws: ClientConnection, timeout: float = 10) -> dict[str, Any]:
    raw = await asyncio.wait_for(ws.recv(), timeout)
    data: dict[str, Any] = orjson.loads(raw)
    return data


async def send_json(ws: ClientConnection, frame: Any) -> None:
    await ws.send(orjson.dumps(frame).decode())


def without_epoch(frame: dict[str, Any]) -> dict[str, Any]:
    """A subscribed frame without its (random) epoch, for comparisons."""
    assert isinstance(frame.get("epoch"), str), frame
    return {k: v for k, v in frame.items() if k != "epoch"}


async def wait_until(predicate: Callable[[], bool], timeout: float = 10) -> None:
    """Poll ``predicate`` until true; fails the test after ``timeout`` (a hang guard, not a speed limit)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


@dataclass
class HubProcess:
    """A hub started as its own process with ``alphawire serve`` (uses the second core)."""

    url: str
    ws: str
    token: str
    process: Any


@pytest.fixture
def hub_process(tmp_path: Path) -> Iterator[HubProcess]:
    import subprocess
    import sys

    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    token = "process-token"
    env = {**os.environ, "ALPHAWIRE_PUBLISH_TOKEN": token}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "alphawire",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "proc"),
            "--log-level",
            "warning",
            # Test clients read a thousand sockets from one process: a ping can sit behind
            # tens of seconds of their backlog.
            "--ping-timeout",
            "300",
        ],
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(proc, url)
        yield HubProcess(url, f"ws://127.0.0.1:{port}/api/v1", token, proc)
    finally:
        stop_process(proc)


def wait_healthy(proc: Any, url: str, attempts: int = 600) -> None:
    """Poll a hub process's /api/v1/health until it answers 200; fail if it exits first."""
    import time

    import httpx

    for _ in range(attempts):
        if proc.poll() is not None:
            raise RuntimeError(f"hub process exited with {proc.returncode}")
        try:
            if httpx.get(url + "/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError("hub process did not become healthy")


def stop_process(proc: Any) -> None:
    """SIGTERM, then SIGKILL after 15 s."""
    import subprocess

    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class RawClient:
    """A bare-socket WebSocket client: it reads only when told to and answers nothing by itself.

    Stands in for a stalled or unresponsive peer, which real client libraries never are.
    """

    def __init__(self, host: str, port: int, path: str, *, rcvbuf: int | None = None) -> None:
        import base64

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(10)
        self.sock.connect((host, port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        self._buf = b""
        while b"\r\n\r\n" not in self._buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed during handshake")
            self._buf += chunk
        head, _, self._buf = self._buf.partition(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise ConnectionError(head.decode(errors="replace"))

    def _read(self, n: int) -> bytes:
        while len(self._buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self._buf += chunk
        data, self._buf = self._buf[:n], self._buf[n:]
        return data

    def read_frame(self, timeout: float = 10) -> tuple[int, bytes]:
        """The next frame's opcode and payload (1 text, 8 close, 9 ping, 10 pong)."""
        import struct

        self.sock.settimeout(timeout)
        b0, b1 = self._read(2)
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", self._read(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", self._read(8))
        return b0 & 0x0F, self._read(n)

    def send_frame(self, opcode: int, payload: bytes) -> None:
        import struct

        mask = os.urandom(4)
        n = len(payload)
        head = bytes((0x80 | opcode,))
        if n < 126:
            head += bytes((0x80 | n,))
        elif n < 65536:
            head += bytes((0x80 | 126,)) + struct.pack("!H", n)
        else:
            head += bytes((0x80 | 127,)) + struct.pack("!Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def close(self) -> None:
        self.sock.close()
