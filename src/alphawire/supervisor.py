"""Background tasks that never die silently: logged, restarted with capped backoff, reported.

One ``Supervisor`` runs every background task of a node: the alert dispatchers, the Redis
listener and canary, the sources, the agents, the simulator. A task is a coroutine factory;
when its coroutine raises, the crash is logged (with its traceback, unless its type is one
the task declared as expected, such as a lost connection), counted, and the task started
again after a jittered delay that doubles up to a cap. A task that ran well for a minute
starts its backoff again from the beginning.

Health: a task is unhealthy while it waits to restart, and the supervisor as a whole is
unhealthy while any task is, or while one *flaps*: ``FLAP_CRASHES`` crashes within
``FLAP_WINDOW`` seconds, even if it is running right now. ``status()`` is what
``/api/v1/health``, ``/api/v1/ws/stats`` and ``/metrics`` show.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger("alphawire.supervisor")

FLAP_CRASHES = 3
FLAP_WINDOW = 300.0  # seconds
HEALTHY_RUN = 60.0  # seconds of running that reset the backoff


@dataclass
class TaskState:
    """What users see of one supervised task."""

    name: str
    state: str = "running"  # running | restarting | finished | stopped
    restarts: int = 0
    last_error: str | None = None
    last_error_at: float | None = None  # unix time
    started_at: float = field(default_factory=time.time)  # last (re)start, unix time
    next_restart_at: float | None = None
    crashes: deque[float] = field(default_factory=lambda: deque(maxlen=FLAP_CRASHES))

    def flapping(self, now: float) -> bool:
        return len(self.crashes) >= FLAP_CRASHES and now - self.crashes[0] < FLAP_WINDOW

    def healthy(self, now: float) -> bool:
        return self.state in ("running", "finished", "stopped") and not self.flapping(now)

    def as_json(self, now: float) -> dict[str, Any]:
        return {
            "state": self.state,
            "restarts": self.restarts,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "started_at": self.started_at,
            "next_restart_at": self.next_restart_at,
            "flapping": self.flapping(now),
            "healthy": self.healthy(now),
        }


class Supervisor:
    """Runs named coroutines; a crash is logged and the task restarted with capped backoff."""

    def __init__(self, *, initial_backoff: float = 0.5, max_backoff: float = 30.0) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._state: dict[str, TaskState] = {}
        self._initial = initial_backoff
        self._max_backoff = max_backoff

    def start(
        self,
        name: str,
        factory: Callable[[], Awaitable[None]],
        *,
        initial_backoff: float | None = None,
        max_backoff: float | None = None,
        expected: tuple[type[BaseException], ...] = (),
        on_crash: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Run ``factory()`` as task ``name`` (a name already running is an error).

        ``expected`` exception types are logged as one warning line, without traceback;
        ``on_crash`` is called with the exception before the restart delay (to mark a
        connection down, say).
        """
        running = self._tasks.get(name)
        if running is not None and not running.done():
            raise RuntimeError(f"a task named {name!r} is already running")
        self._state[name] = TaskState(name)
        self._tasks[name] = asyncio.get_running_loop().create_task(
            self._run(
                name,
                factory,
                self._initial if initial_backoff is None else initial_backoff,
                self._max_backoff if max_backoff is None else max_backoff,
                expected,
                on_crash,
            ),
            name=name,
        )

    async def _run(
        self,
        name: str,
        factory: Callable[[], Awaitable[None]],
        initial: float,
        cap: float,
        expected: tuple[type[BaseException], ...],
        on_crash: Callable[[BaseException], None] | None,
    ) -> None:
        state = self._state[name]
        delay = initial
        while True:
            started = time.monotonic()
            state.started_at = time.time()
            try:
                await factory()
                state.state = "finished"
                return
            except asyncio.CancelledError:
                state.state = "stopped"
                raise
            except Exception as exc:
                if time.monotonic() - started > HEALTHY_RUN:
                    delay = initial  # it ran well for a while: start the backoff again
                now = time.time()
                state.restarts += 1
                state.last_error = f"{type(exc).__name__}: {exc}"
                state.last_error_at = now
                state.crashes.append(now)
                wait = delay * random.uniform(0.5, 1.0)
                state.state = "restarting"
                state.next_restart_at = now + wait
                if on_crash is not None:
                    try:
                        on_crash(exc)
                    except Exception:
                        logger.exception("on_crash hook of task %s failed", name)
                if isinstance(exc, expected):
                    logger.warning("task %s: %s; restarting in %.1fs", name, state.last_error, wait)
                else:
                    logger.exception("task %s crashed; restarting in %.1fs", name, wait)
                await asyncio.sleep(wait)
                delay = min(delay * 2, cap)
                state.state = "running"
                state.next_restart_at = None

    def status(self) -> dict[str, dict[str, Any]]:
        now = time.time()
        return {name: s.as_json(now) for name, s in self._state.items()}

    def healthy(self) -> bool:
        now = time.time()
        return all(s.healthy(now) for s in self._state.values())

    def names(self) -> list[str]:
        return list(self._state)

    async def cancel(self, names: list[str]) -> None:
        """Stop the named tasks (and forget them), each awaited until it has ended."""
        tasks = [self._tasks.pop(n) for n in names if n in self._tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for name in names:
            self._state.pop(name, None)

    async def stop(self) -> None:
        """Stop every task, the most recently started first (reverse dependency order)."""
        for name in reversed(list(self._tasks)):
            task = self._tasks[name]
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._tasks.clear()
