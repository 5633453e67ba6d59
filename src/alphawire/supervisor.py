"""Background tasks that never die silently: logged, restarted with capped backoff, reported."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger("alphawire.supervisor")


class Supervisor:
    """Runs named coroutines forever; a crash is logged and the task restarted with backoff."""

    def __init__(self, *, max_backoff: float = 30.0) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._state: dict[str, dict[str, Any]] = {}
        self._max_backoff = max_backoff

    def start(self, name: str, factory: Callable[[], Awaitable[None]]) -> None:
        self._state[name] = {"state": "running", "restarts": 0, "last_error": None}
        self._tasks[name] = asyncio.create_task(self._run(name, factory), name=name)

    async def _run(self, name: str, factory: Callable[[], Awaitable[None]]) -> None:
        state = self._state[name]
        delay = 0.5
        while True:
            started = time.monotonic()
            try:
                await factory()
                state["state"] = "finished"
                return
            except asyncio.CancelledError:
                state["state"] = "stopped"
                raise
            except Exception as exc:
                if time.monotonic() - started > 60:
                    delay = 0.5  # it ran well for a while: start the backoff again
                state["restarts"] += 1
                state["last_error"] = f"{type(exc).__name__}: {exc}"
                state["state"] = "restarting"
                logger.exception("task %s crashed; restarting in %.1fs", name, delay)
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, self._max_backoff)
                state["state"] = "running"

    def status(self) -> dict[str, dict[str, Any]]:
        return {name: dict(s) for name, s in self._state.items()}

    def healthy(self) -> bool:
        return all(s["state"] in ("running", "finished") for s in self._state.values())

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
