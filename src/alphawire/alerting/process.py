"""The delivery process, the parent's side: start it, wake it, restart it, share its counters.

The child's entry point is ``worker.py``; this module is what the AlertManager imports.

A monitor calling ``send_discord`` only commits to the outbox. A child process (``python -m
alphawire.alerting.worker``) opens the same outbox and runs the same dispatchers, so
delivering (about 1 ms of Python per Discord request) never holds the monitor's GIL. The
outbox's per-destination leases already keep two processes from delivering one destination.

A subprocess rather than ``multiprocessing`` (spawn): spawn imports the parent's ``__main__``
again in the child, so a monitor script without an ``if __name__ == "__main__"`` guard would
run twice; this child imports only alphawire, and gets its configuration as one JSON line on
stdin (webhook URLs and the hub token hold secrets: never in argv or the environment).

Parent to child, on the child's stdin after that line: wake bytes, written non-blocking
(``NEW`` after each commit wakes idle dispatchers, ``ALL`` after a replay wakes every one; a
full pipe means a wake is pending already). The child stops on EOF (its parent closed the
pipe, or died, SIGKILL included), when its parent's pid changes (a fork kept a copy of the
pipe open), and on SIGTERM; it ignores SIGINT (Ctrl-C is for the monitor, whose exit stops it).

Counters live in a block of 64-bit cells both processes map (a memfd, inherited): per
destination the ``Counters`` cells (the parent writes ``accepted`` and ``suppressed``, the
child the rest), then the child's Discord client counts, refreshed every 0.25 s.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import mmap
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import alphawire
from alphawire.alerting.dispatcher import COUNTER_FIELDS, Counters, RetryPolicy
from alphawire.alerting.routes import RouteTable

logger = logging.getLogger("alphawire.alerts")

NEW = b"n"
ALL = b"a"
# The Discord client's counts, after the destinations' cells; then paused_until (a float).
DISCORD_FIELDS = (
    "sent",
    "rate_limited",
    "retries",
    "fatal",
    "held",
    "invalid_requests_in_window",
    "invalid_pause_threshold",
)
# Loggers whose levels the child takes from its parent.
_LOGGERS = ("alphawire", "alphawire.alerts", "alphawire.alerting.discord", "httpx")
STOP_TIMEOUT = 5.0  # seconds close() waits for the child before terminating it
_RESTART_DELAY, _RESTART_DELAY_MAX = 0.5, 30.0


def worker_config(
    *,
    path: Path,
    synchronous: str,
    max_pending: int,
    policy: RetryPolicy,
    routes: RouteTable,
    hub_url: str | None,
    token: str | None,
    destinations: Sequence[str],
) -> dict[str, Any]:
    """Everything the child needs to run the same dispatchers, as JSON-ready values."""
    return {
        "path": str(path),
        "synchronous": synchronous,
        "max_pending": max_pending,
        "policy": [policy.base, policy.cap, policy.max_age],
        "routes": [dataclasses.asdict(route) for route in routes.routes],
        "hub_url": hub_url,
        "token": token,
        "destinations": list(destinations),
        "parent": os.getpid(),
        "log_levels": {name: logging.getLogger(name).getEffectiveLevel() for name in _LOGGERS},
    }


class Block:
    """The shared cells: ``Counters`` per destination, then the Discord client's stats."""

    def __init__(self, fd: int, destinations: Sequence[str]) -> None:
        width = len(COUNTER_FIELDS)
        self.size = 8 * (width * len(destinations) + len(DISCORD_FIELDS) + 1)
        self.map = mmap.mmap(fd, self.size)
        cells = memoryview(self.map).cast("q")
        self.counters = {
            name: Counters(cells[i * width : (i + 1) * width])
            for i, name in enumerate(destinations)
        }
        start = width * len(destinations)
        self._discord = cells[start : start + len(DISCORD_FIELDS)]
        self._paused = memoryview(self.map).cast("d")[start + len(DISCORD_FIELDS) :]

    def write_discord(self, stats: Mapping[str, Any]) -> None:
        for i, name in enumerate(DISCORD_FIELDS):
            self._discord[i] = int(stats.get(name) or 0)
        paused = stats.get("paused_until")
        self._paused[0] = float("nan") if paused is None else float(paused)

    def read_discord(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(zip(DISCORD_FIELDS, self._discord.tolist(), strict=True))
        paused = self._paused[0]
        out["paused_until"] = None if paused != paused else paused  # NaN: not paused
        return out


def _shared_fd(size: int) -> int:
    """A file descriptor for ``size`` bytes of shared memory a child can inherit."""
    create = getattr(os, "memfd_create", None)
    if create is not None:
        fd: int = create("alphawire-alert-counters", os.MFD_CLOEXEC)  # inherited only if passed
    else:
        handle, name = tempfile.mkstemp(prefix="alphawire-alert-counters-")
        os.unlink(name)
        fd = handle
    os.ftruncate(fd, size)
    return fd


class DeliveryProcess:
    """The parent's side of the delivery process: start, wake, restart when it dies, stop."""

    def __init__(self, config: dict[str, Any]) -> None:
        self._config = config
        names = config["destinations"]
        size = 8 * (len(COUNTER_FIELDS) * len(names) + len(DISCORD_FIELDS) + 1)
        self._fd = _shared_fd(size)
        self._block = Block(self._fd, names)
        self.counters = self._block.counters
        # Guards _proc and _wake_fd: a wake never writes to a descriptor being replaced.
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._wake_fd = -1
        self._closing = threading.Event()
        self._watcher: threading.Thread | None = None
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return None if proc is None else proc.pid

    def start(self) -> None:
        """Start the child (and a thread that restarts it, with backoff, if it dies)."""
        proc = self._spawn()
        with self._lock:
            self._proc, self._wake_fd = proc, _stdin_fd(proc)
        self._watcher = threading.Thread(
            target=self._watch, name="alphawire-alerts-watch", daemon=True
        )
        self._watcher.start()

    def wake(self, *, everyone: bool = False) -> None:
        """Tell the child there is something new; never blocks."""
        with self._lock:
            try:
                os.write(self._wake_fd, ALL if everyone else NEW)
            except BlockingIOError:
                pass  # the pipe is full: a wake is pending already
            except OSError:
                pass  # the child is gone or going: the watcher restarts it

    def discord_stats(self) -> dict[str, Any]:
        """The child's Discord client counts (as ``DiscordClient.stats``, up to 0.25 s old)."""
        return self._block.read_discord()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Close the child's pipe (it stops gracefully), then terminate it after ``timeout``."""
        with self._lock:
            self._closing.set()
            proc, self._wake_fd = self._proc, -1
        if proc is not None:
            _stop(proc, timeout)
        if self._watcher is not None:
            self._watcher.join(timeout)
        os.close(self._fd)

    def _spawn(self) -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        # The child imports the alphawire this process runs, wherever it came from.
        root = str(Path(alphawire.__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        proc = subprocess.Popen(
            [sys.executable, "-m", "alphawire.alerting.worker", str(self._fd)],
            stdin=subprocess.PIPE,
            # Not the monitor's stdout: a reader waiting for its EOF must not wait for us.
            stdout=subprocess.DEVNULL,
            pass_fds=(self._fd,),
            env=env,
        )
        assert proc.stdin is not None
        try:
            proc.stdin.write(json.dumps(self._config).encode() + b"\n")
            proc.stdin.flush()
        except OSError:  # it died already: the watcher sees it exit
            pass
        os.set_blocking(proc.stdin.fileno(), False)
        return proc

    def _watch(self) -> None:
        delay = _RESTART_DELAY
        while True:
            proc = self._proc
            assert proc is not None
            started = time.monotonic()
            code = proc.wait()
            if self._closing.is_set():
                return
            if time.monotonic() - started > 60:
                delay = _RESTART_DELAY
            logger.error(
                "the alert delivery process (pid %d) exited with status %s; restarting in %.1f s",
                proc.pid,
                code,
                delay,
            )
            if self._closing.wait(delay):
                return
            delay = min(2 * delay, _RESTART_DELAY_MAX)
            try:
                fresh = self._spawn()
            except OSError:
                logger.exception("cannot start the alert delivery process")
                continue
            with self._lock:
                closing = self._closing.is_set()
                if not closing:
                    self._proc, self._wake_fd = fresh, _stdin_fd(fresh)
            _close_stdin(proc)
            if closing:
                _stop(fresh, STOP_TIMEOUT)
                return
            self.restarts += 1


def _stdin_fd(proc: subprocess.Popen[bytes]) -> int:
    assert proc.stdin is not None
    return proc.stdin.fileno()


def _close_stdin(proc: subprocess.Popen[bytes]) -> None:
    if proc.stdin is not None:
        with contextlib.suppress(OSError):
            proc.stdin.close()


def _stop(proc: subprocess.Popen[bytes], timeout: float) -> None:
    _close_stdin(proc)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        logger.warning("the alert delivery process did not stop in %g s: terminating", timeout)
        proc.terminate()
        try:
            proc.wait(2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
