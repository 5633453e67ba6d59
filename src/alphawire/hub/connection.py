"""One subscriber's socket as the core sees it: a bounded outgoing queue and its writer."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from alphawire.hub.stats import Stats

SendFn = Callable[[dict[str, Any]], Awaitable[None]]
"""An ASGI-style ``send``: takes ``{"type": "websocket.send", "text": ...}``."""

DEFAULT_MAX_MESSAGES = 2048
DEFAULT_MAX_BYTES = 1 << 20  # 1 MiB of frames waiting per connection


class Connection:
    """A subscriber connection whose frames are written by its own task, never the publisher's.

    ``push`` never blocks and never awaits: it appends to a queue bounded by message count and
    by bytes and wakes the writer. A frame that does not fit is dropped for this connection
    only and counted in ``Stats.dropped`` (the delivery-guarantee work replaces dropping with
    conflation or a slow-consumer close).
    """

    __slots__ = (
        "_closing",
        "_queue",
        "_queued_bytes",
        "_send",
        "_stats",
        "_wakeup",
        "channels",
        "client",
        "max_bytes",
        "max_messages",
    )

    def __init__(
        self,
        send: SendFn,
        stats: Stats,
        *,
        client: str = "",
        max_messages: int = DEFAULT_MAX_MESSAGES,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self._send = send
        self._stats = stats
        self._queue: deque[tuple[str, bool]] = deque()
        self._queued_bytes = 0
        self._wakeup = asyncio.Event()
        self._closing: tuple[int, str] | None = None
        self.channels: set[str] = set()
        self.client = client
        self.max_messages = max_messages
        self.max_bytes = max_bytes

    @property
    def is_closing(self) -> bool:
        return self._closing is not None

    @property
    def queued(self) -> int:
        return len(self._queue)

    def push(self, frame: str, *, message: bool = True) -> bool:
        """Queue ``frame`` for this socket; False (and counted as dropped) when it does not fit.

        Control frames (``message=False``: acknowledgements, pongs, errors) are always queued,
        since a client sends them at its own pace and each is answered once.
        """
        if self._closing is not None:
            return False
        if message and (
            len(self._queue) >= self.max_messages
            or self._queued_bytes + len(frame) > self.max_bytes
        ):
            self._stats.dropped += 1
            return False
        self._queue.append((frame, message))
        self._queued_bytes += len(frame)
        self._wakeup.set()
        return True

    def close(self, code: int, reason: str) -> None:
        """Ask the writer to send what is queued, then close the socket with ``code``."""
        if self._closing is None:
            self._closing = (code, reason)
            self._wakeup.set()

    async def run_writer(self) -> None:
        """Drain the queue to the socket until closed; returns when the socket is done."""
        queue = self._queue
        send = self._send
        stats = self._stats
        wakeup = self._wakeup
        while True:
            while queue:
                frame, message = queue.popleft()
                self._queued_bytes -= len(frame)
                await send({"type": "websocket.send", "text": frame})
                if message:
                    stats.delivered += 1
            if self._closing is not None:
                code, reason = self._closing
                await send({"type": "websocket.close", "code": code, "reason": reason})
                return
            wakeup.clear()
            await wakeup.wait()
