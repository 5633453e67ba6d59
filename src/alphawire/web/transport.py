"""The hub's WebSocket protocol for uvicorn, and the sinks connections write through.

ASGI gives an app ``send`` only: no way to write a pre-framed message, see a slow peer's
buffer, or cut off a peer that stopped reading. ``HubWebSocketProtocol`` is uvicorn's
sans-I/O protocol plus an ASGI scope extension (``alphawire.transport``) that hands the
session the protocol object itself, so that frames framed once per channel message are
written straight to the transport. It also spreads keepalive pings over the interval instead
of pinging every connection of a burst at the same instant, and keeps an idle connection lean:
a small inbox instead of an asyncio.Queue (three deques), an Event that allocates its waiter
list only when waited on, and the handshake's request and response dropped once accepted
(together about 6 KiB per connection, measured with tracemalloc).
"""

from __future__ import annotations

import asyncio
import collections
import random
from asyncio import BaseTransport
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request
from websockets.protocol import State

from alphawire.hub.frames import Outgoing

EXTENSION = "alphawire.transport"
TRANSPORT_HIGH_WATER = 256 * 1024  # bytes in the kernel-side write buffer before we queue
ABORT_GRACE = 5.0  # seconds a closed peer gets to read its close frame before it is cut off


class Inbox:
    """What uvicorn's protocol needs of its receive queue, without asyncio.Queue's deques.

    One consumer (the app's ``receive``). It stays short: uvicorn pauses reading after each
    received message until the app has taken it, so it holds a message and a disconnect at most.
    """

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> Any:
        while not self._items:
            # A cancelled get (a timeout around receive) loses nothing: items are only
            # taken after the wake-up.
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        return self._items.pop(0)

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)


_NO_WAITERS: Any = ()


class LeanEvent(asyncio.Event):
    """An asyncio.Event whose waiter deque (~600 bytes) is made on the first wait."""

    def __init__(self) -> None:
        super().__init__()
        self._waiters = _NO_WAITERS  # set() iterates it; wait() replaces it before appending

    async def wait(self) -> Literal[True]:
        if self._waiters is _NO_WAITERS and not self.is_set():
            self._waiters = collections.deque()
        return await super().wait()


class HubWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, exposed to the session and with spread pings."""

    _failed = False  # a protocol error was answered with a close frame

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = Inbox()  # type: ignore[assignment]
        self.writable = LeanEvent()
        self.writable.set()

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept" and self.handshake_complete:
            # Only the handshake reads these; an open socket need not keep its headers.
            # Cleared in place too: websockets' parser generator still refers to the request.
            self.request.headers.clear()
            self.response.headers.clear()
            self.request = self.response = None  # type: ignore[assignment]

    def connection_made(self, transport: BaseTransport) -> None:
        super().connection_made(transport)
        # Flow control at our own mark: pause_writing() clears ``writable`` above it.
        self.transport.set_write_buffer_limits(high=TRANSPORT_HIGH_WATER)

    # A closed connection must be freed by reference counting alone: the hub freezes the heap
    # after connection bursts (hub/collector.py), and the cyclic collector never looks at
    # frozen objects again, so a cycle left by a closed connection would leak it for good.
    # Two cycles are broken here: websockets' parser generator refers back to its protocol,
    # and the scope's extension refers back to this protocol.

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        parser = getattr(self.conn, "parser", None)
        if parser is not None:
            parser.close()  # no more input: finish the generator, dropping its frame

    def on_task_complete(self, task: asyncio.Task[None]) -> None:
        super().on_task_complete(task)
        scope: dict[str, Any] | None = getattr(self, "scope", None)
        if scope is not None:
            scope["extensions"].pop(EXTENSION, None)

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope: dict[str, Any] | None = getattr(self, "scope", None)
        if scope is not None and self.response.status_code == 101:
            scope["extensions"][EXTENSION] = self

    def data_received(self, data: bytes) -> None:
        if self._failed:
            return  # after a protocol error: discard input until the peer closes
        super().data_received(data)

    def handle_parser_exception(self) -> None:
        # uvicorn closes the transport at once, and a peer still sending then gets a reset
        # that destroys our close frame (1009, 1007...) before it reads it. Half-close
        # instead: send the close frame and our FIN, ignore input, and drop the link when
        # the peer's FIN comes (uvicorn's eof_received) or after a grace.
        assert self.conn.close_sent is not None
        self._failed = True
        code = self.conn.close_sent.code
        reason = self.conn.close_sent.reason
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        self.transport.write(b"".join(self.conn.data_to_send()))
        # websockets ends a failed server's output with EOF (RFC 6455 7.1.7: the server closes
        # the TCP connection first). Without our FIN a client waits out the whole grace to
        # learn that the connection is closed (websockets' clients wait for it).
        if self.conn.eof_sent and self.transport.can_write_eof():
            self.transport.write_eof()
        self.close_sent = True
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        if self.close_timer is None:
            self.close_timer = self.loop.call_later(ABORT_GRACE, self.transport.close)

    def start_keepalive(self) -> None:
        # The first ping of each connection falls at a random point of the interval, so
        # connections opened together are not all pinged (and their pongs handled) at once.
        if self.ping_interval is not None and self.ping_interval > 0:
            delay = random.uniform(0.0, self.ping_interval)
            self.ping_timer = self.loop.call_later(delay, self.send_keepalive_ping)


class TransportSink:
    """Writes pre-framed bytes straight to the transport (the fast path)."""

    __slots__ = ("_proto",)

    def __init__(self, proto: HubWebSocketProtocol) -> None:
        self._proto = proto

    @property
    def is_open(self) -> bool:
        p = self._proto
        return not (p.close_sent or p.disconnected)

    def writable(self) -> bool:
        p = self._proto
        return p.writable.is_set() and not (p.close_sent or p.disconnected)

    def write_bytes(self, data: bytes) -> None:
        p = self._proto
        if not (p.close_sent or p.disconnected):  # it may have closed since writable()
            p.transport.write(data)

    def try_write(self, frame: Outgoing) -> bool:
        p = self._proto
        if not p.writable.is_set():
            return False
        p.transport.write(frame.wire)
        return True

    async def write(self, frame: Outgoing) -> None:
        p = self._proto
        await p.writable.wait()
        if p.disconnected or p.close_sent:
            raise ConnectionResetError("peer gone")
        p.transport.write(frame.wire)

    def close(self, code: int, reason: str) -> None:
        p = self._proto
        if p.close_sent or p.disconnected:
            return
        if p.conn.state is not State.OPEN:
            # The peer's close frame came first (uvicorn answered it and is closing the
            # transport): there is nothing left to close, and websockets would refuse to.
            p.close_sent = True
            return
        p.conn.send_close(code, reason)
        p.transport.write(b"".join(p.conn.data_to_send()))
        p.close_sent = True
        p.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        if p.read_paused:
            p.read_paused = False
            p.transport.resume_reading()
        # A peer that reads answers our close and uvicorn closes the transport; one that
        # does not read would pin its buffer forever, so it is cut off after a grace period.
        if p.close_timer is not None:
            p.close_timer.cancel()
        p.close_timer = p.loop.call_later(ABORT_GRACE, p.transport.abort)


class AsgiSink:
    """Writes through ASGI ``send``, for servers without the hub's protocol (slower, no abort)."""

    __slots__ = ("_closer", "_open", "_send")

    def __init__(self, send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        self._send = send
        self._open = True
        self._closer: asyncio.Task[None] | None = None

    @property
    def is_open(self) -> bool:
        return self._open

    def writable(self) -> bool:
        return False  # every frame goes through the writer task and ASGI send

    def write_bytes(self, data: bytes) -> None:  # pragma: no cover - never writable
        raise RuntimeError("AsgiSink takes frames through write()")

    def try_write(self, frame: Outgoing) -> bool:
        return False

    async def write(self, frame: Outgoing) -> None:
        await self._send({"type": "websocket.send", "text": frame.text})

    def close(self, code: int, reason: str) -> None:
        if self._open:
            self._open = False
            self._closer = asyncio.ensure_future(
                self._send({"type": "websocket.close", "code": code, "reason": reason})
            )
            # The peer may be gone already; that is not worth a "never retrieved" warning.
            self._closer.add_done_callback(lambda t: t.cancelled() or t.exception())
