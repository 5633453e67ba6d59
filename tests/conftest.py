"""Shared fixtures: a real uvicorn hub on a free loopback port, and WebSocket client helpers."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from alphawire.hub.node import Node
from alphawire.settings import Settings
from alphawire.web.app import create_app
from alphawire.web.server import HubServer, uvicorn_config

T = TypeVar("T")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
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
        self.server.should_exit = True
        self.thread.join(15)


def start_hub(settings: Settings) -> RunningHub:
    sock = free_socket()
    port = sock.getsockname()[1]
    settings.port = port
    app = create_app(settings)
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

    def make(**overrides: Any) -> RunningHub:
        settings = Settings(
            data_dir=tmp_path / f"hub{len(started)}", publish_token="test-token", **overrides
        )
        hub = start_hub(settings)
        started.append(hub)
        return hub

    yield make
    for hub in started:
        hub.stop()


@pytest.fixture
def hub(hub_factory: Callable[..., RunningHub]) -> RunningHub:
    return hub_factory()


async def connect(url: str, **kw: Any) -> ClientConnection:
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
    import time

    import httpx

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
        for _ in range(300):
            if proc.poll() is not None:
                raise RuntimeError(f"hub process exited with {proc.returncode}")
            try:
                if httpx.get(url + "/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        else:
            raise RuntimeError("hub process did not become healthy")
        yield HubProcess(url, f"ws://127.0.0.1:{port}/api/v1", token, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
