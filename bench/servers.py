"""The servers under test: how to start each one, reach it, and publish to it."""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.procfs import raise_nofile

PUBLISH_TOKEN = "bench-publish-token"
HOST = "127.0.0.1"


@dataclass(frozen=True)
class ServerSpec:
    name: str
    label: str
    module: str  # run as ``python -m module``
    needs: tuple[str, ...]  # importable modules it needs
    publish: str = "ws"  # "alphawire" (HTTP batch API) or "ws" (producer socket at /pub)
    mode: str = "plain"  # subscriber protocol: "plain" or "socketio"
    extra_args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    sub_query: str = ""  # appended to each subscriber's path (alphawire's batch mode)
    scenarios: str = "ABCD"  # the fan-out scenarios this server takes part in

    def available(self) -> str | None:
        """None when it can run here, else why not."""
        for mod in self.needs:
            if importlib.util.find_spec(mod) is None:
                return f"module {mod} not installed (pip install -e '.[bench]')"
        return None

    def sub_path(self, channel: str) -> str:
        if self.module == "alphawire":
            if channel.startswith("market_"):
                path = "/api/v1/ws/market/" + channel.removeprefix("market_")
            elif channel.startswith("agent_"):
                path = "/api/v1/ws/agents/" + channel.removeprefix("agent_")
            else:
                path = "/api/v1/ws/" + channel
            return path + self.sub_query
        if self.mode == "socketio":
            return "/socket.io/?EIO=4&transport=websocket"
        return "/ws/" + channel

    def argv(self, port: int, data_dir: str) -> list[str]:
        if self.module == "alphawire":
            return [
                sys.executable,
                "-m",
                "alphawire",
                "serve",
                "--port",
                str(port),
                "--data-dir",
                data_dir,
                "--log-level",
                "warning",
                "--ping-interval",
                "0",
            ]
        return [sys.executable, "-m", self.module, "--port", str(port), *self.extra_args]


ALPHAWIRE_ENV = {
    "ALPHAWIRE_PUBLISH_TOKEN": PUBLISH_TOKEN,
    # Every benchmark client comes from 127.0.0.1: lift the per-address and total caps
    # (defaults 1,000 and 10,000) so that scenarios B and D can open their connections.
    "ALPHAWIRE_MAX_CONNECTIONS_PER_IP": "1000000",
    "ALPHAWIRE_MAX_CONNECTIONS": "1000000",
}

SERVERS: dict[str, ServerSpec] = {
    s.name: s
    for s in (
        ServerSpec(
            "alphawire", "alphawire", "alphawire", ("alphawire",), "alphawire", env=ALPHAWIRE_ENV
        ),
        # The same hub, subscribers in batch mode with a 5 ms linger: one JSON-array frame per
        # channel per 5 ms window (opt-in; the seed format is one object per frame).
        ServerSpec(
            "alphawire_batch",
            "alphawire, batch mode (?batch=1&linger_ms=5)",
            "alphawire",
            ("alphawire",),
            "alphawire",
            env=ALPHAWIRE_ENV,
            sub_query="?batch=1&linger_ms=5",
            scenarios="AD",
        ),
        ServerSpec(
            "fastapi_naive",
            "FastAPI naive (send_json loop)",
            "bench.peers.fastapi_naive",
            ("fastapi",),
        ),
        ServerSpec(
            "fastapi_once",
            "FastAPI serialise-once (send_text loop)",
            "bench.peers.fastapi_serialize_once",
            ("fastapi",),
        ),
        ServerSpec(
            "fastapi_queue",
            "FastAPI bounded queue + writer task",
            "bench.peers.fastapi_queue",
            ("fastapi",),
        ),
        ServerSpec(
            "broadcaster",
            "broadcaster (memory) + Starlette",
            "bench.peers.broadcaster_starlette",
            ("broadcaster", "starlette"),
        ),
        ServerSpec(
            "socketio",
            "python-socketio (ASGI, uvicorn)",
            "bench.peers.socketio_asgi",
            ("socketio",),
            mode="socketio",
        ),
        ServerSpec(
            "websockets",
            "websockets broadcast()",
            "bench.peers.websockets_broadcast",
            ("websockets", "uvloop"),
        ),
        ServerSpec("picows", "picows", "bench.peers.picows_server", ("picows", "uvloop")),
    )
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when the runner dies (Linux prctl)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _preexec(core: int | None) -> Callable[[], None]:
    def setup() -> None:
        os.setsid()  # own process group: stopped as a group, never by name
        _die_with_parent()
        raise_nofile()
        if core is not None:
            os.sched_setaffinity(0, {core})

    return setup


class RunningServer:
    """A server process started for one scenario; ``stop()`` ends it (and only it)."""

    def __init__(
        self,
        spec: ServerSpec,
        core: int | None,
        log_dir: Path,
        tag: str,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.spec = spec
        self.port = free_port()
        self.data_dir = tempfile.mkdtemp(prefix="alphawire-bench-")
        self.log_path = log_dir / f"{spec.name}-{tag}.log"
        env = dict(os.environ)
        env.update(spec.env)
        env.update(extra_env or {})
        env["PYTHONUNBUFFERED"] = "1"
        cwd = Path(__file__).resolve().parent.parent
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(cwd), env.get("PYTHONPATH", "")]))
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            spec.argv(self.port, self.data_dir),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(cwd),
            preexec_fn=_preexec(core),
        )
        self.pid = self.proc.pid

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.spec.name} exited with {self.proc.returncode}: {self.log_tail()}"
                )
            with contextlib.suppress(OSError), socket.create_connection((HOST, self.port), 0.5):
                time.sleep(0.3)  # let the app finish its startup (lifespan) after bind
                return
            time.sleep(0.1)
        raise TimeoutError(f"{self.spec.name} did not listen on {self.port} in {timeout:g}s")

    def log_tail(self, n: int = 2000) -> str:
        try:
            return self.log_path.read_bytes()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._log.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)
