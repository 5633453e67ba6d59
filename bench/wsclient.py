"""The load generator's clients: raw-socket WebSocket subscribers, a producer socket, HTTP.

Subscribers parse only the frame header, then look for the send timestamp that the
publisher put in the payload (``"zts":<CLOCK_MONOTONIC ns>,"zst":<step>``) with one regex
search over the frame, without decoding JSON. Client frames are masked with an all-zero key
(valid under RFC 6455: the key is there for proxies, servers only XOR with it), so masking
costs nothing.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import socket
import struct
import time
from array import array
from typing import Any

MARK = re.compile(rb'"zts": ?(\d+), ?"zst": ?(\d+)')
SNAPSHOT = b'"snapshot":true'
ZERO_MASK = b"\x00\x00\x00\x00"
HEADER_END = b"\r\n\r\n"


def client_frame(payload: bytes, opcode: int = 1) -> bytes:
    """A masked (zero key) client frame."""
    n = len(payload)
    first = 0x80 | opcode
    if n < 126:
        head = bytes((first, 0x80 | n))
    elif n < 65536:
        head = struct.pack("!BBH", first, 0xFE, n)
    else:
        head = struct.pack("!BBQ", first, 0xFF, n)
    return head + ZERO_MASK + payload


def upgrade_request(host: str, port: int, path: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


class StepStats:
    """What one step's messages did at this worker: count, latencies (ns), bytes, times."""

    __slots__ = ("bytes", "count", "first", "last", "lat")

    def __init__(self, now: int) -> None:
        self.count = 0
        self.bytes = 0
        self.lat: array[int] = array("q")
        self.first = now
        self.last = now


class Stats:
    """Counters shared by every subscriber of one worker (or by one special client)."""

    def __init__(self) -> None:
        self.steps: dict[int, StepStats] = {}
        self.control = 0
        self.snapshots = 0
        self.closes: dict[str, int] = {}
        self.open = 0
        self.frames_after_resume = 0

    def close_event(self, what: str) -> None:
        self.closes[what] = self.closes.get(what, 0) + 1


class Subscriber(asyncio.Protocol):
    """One subscriber socket. ``mode`` is ``plain`` (the channel is in the URL and a
    ``subscribed`` frame confirms it) or ``socketio`` (Engine.IO v4 over WebSocket, then a
    ``join`` event)."""

    def __init__(
        self,
        stats: Stats,
        request: bytes,
        mode: str,
        channel: str,
        ready: asyncio.Future[None],
        *,
        snapshot_check: bool = False,
        stall: bool = False,
    ) -> None:
        self.stats = stats
        self.request = request
        self.mode = mode
        self.channel = channel
        self.ready = ready
        self.snapshot_check = snapshot_check
        self.stall = stall
        self.transport: asyncio.Transport | None = None
        self.upgraded = False
        self.buf = b""
        self.is_ready = False
        self.closed = False
        self.gone = asyncio.Event()
        self.close_seen = False
        self.received_bytes = 0

    # -- connection ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.gone.set()
        if self.is_ready:
            self.stats.open -= 1
        if not self.close_seen:
            self.stats.close_event("reset" if exc is not None else "eof")
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"lost before ready: {exc!r}"))

    def _set_ready(self) -> None:
        if self.is_ready:
            return
        self.is_ready = True
        self.stats.open += 1
        if not self.ready.done():
            self.ready.set_result(None)
        if self.stall and self.transport is not None:
            self.transport.pause_reading()

    def send_text(self, text: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(text))

    # -- frames ----------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        now = time.monotonic_ns()
        self.received_bytes += len(data)
        if not self.upgraded:
            self.buf += data
            end = self.buf.find(HEADER_END)
            if end < 0:
                if len(self.buf) > 65536:
                    self._fail("oversized handshake response")
                return
            head = self.buf[:end]
            if b" 101" not in head.split(b"\r\n", 1)[0]:
                self._fail(head.split(b"\r\n", 1)[0].decode("latin-1"))
                return
            self.upgraded = True
            data = self.buf[end + 4 :]
            self.buf = b""
            if not data:
                return
        buf = self.buf + data if self.buf else data
        pos = 0
        end = len(buf)
        stats = self.stats
        steps = stats.steps
        search = MARK.search
        finditer = MARK.finditer
        snapshot_check = self.snapshot_check
        while end - pos >= 2:
            b0 = buf[pos]
            ln = buf[pos + 1] & 0x7F
            h = pos + 2
            if ln == 126:
                if end - pos < 4:
                    break
                ln = (buf[pos + 2] << 8) | buf[pos + 3]
                h = pos + 4
            elif ln == 127:
                if end - pos < 10:
                    break
                ln = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                h = pos + 10
            stop = h + ln
            if stop > end:
                break
            op = b0 & 0x0F
            if op <= 2 and buf[h : h + 1] == b"[":
                # A batch frame (alphawire's batch mode): a JSON array of messages; the
                # snapshot tick on subscribe comes as an array of one.
                s = None
                if snapshot_check and buf.find(SNAPSHOT, h, h + 96) >= 0:
                    stats.snapshots += 1
                    pos = stop
                    continue
                for m in finditer(buf, h, stop):
                    step = int(m.group(2))
                    s = steps.get(step)
                    if s is None:
                        s = steps[step] = StepStats(now)
                    s.count += 1
                    s.last = now
                    s.lat.append(now - int(m.group(1)))
                if s is not None:
                    s.bytes += ln
                stats.frames_after_resume += 1
            elif op <= 2:
                m = search(buf, h, stop)
                if m is None:
                    self._control(buf[h:stop])
                elif snapshot_check and buf.find(SNAPSHOT, h, h + 96) >= 0:
                    stats.snapshots += 1
                else:
                    step = int(m.group(2))
                    s = steps.get(step)
                    if s is None:
                        s = steps[step] = StepStats(now)
                    s.count += 1
                    s.bytes += ln
                    s.last = now
                    s.lat.append(now - int(m.group(1)))
                stats.frames_after_resume += 1
            elif op == 8:
                self._on_close(buf[h:stop])
                return
            elif op == 9 and self.transport is not None:
                self.transport.write(client_frame(buf[h:stop], 0xA))
            pos = stop
        self.buf = buf[pos:] if pos < end else b""

    def _control(self, payload: bytes) -> None:
        self.stats.control += 1
        if self.mode == "socketio":
            if payload == b"2":  # Engine.IO ping
                self.send_text(b"3")
            elif payload[:1] == b"0":  # Engine.IO open: connect to the default namespace
                self.send_text(b"40")
            elif payload[:2] == b"40":  # namespace connected: join the room
                self.send_text(b'42["join","%s"]' % self.channel.encode())
            elif payload.startswith(b'42["subscribed"'):
                self._set_ready()
            return
        if not self.is_ready and b'"subscribed"' in payload:
            self._set_ready()

    def _on_close(self, payload: bytes) -> None:
        code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
        self.close_seen = True
        self.stats.close_event(str(code))
        if self.transport is not None:
            self.transport.write(client_frame(payload[:2], 0x8))
            self.transport.close()

    def _fail(self, why: str) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"handshake refused: {why}"))
        if self.transport is not None:
            self.transport.close()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(b"\x03\xe8", 0x8))
            self.transport.close()


async def open_subscriber(
    host: str,
    port: int,
    path: str,
    mode: str,
    channel: str,
    stats: Stats,
    *,
    snapshot_check: bool = False,
    stall: bool = False,
    rcvbuf: int | None = None,
    timeout: float = 30.0,
) -> Subscriber:
    """Connect, upgrade, subscribe; returns once the subscription is confirmed."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()
    proto = Subscriber(
        stats,
        upgrade_request(host, port, path),
        mode,
        channel,
        ready,
        snapshot_check=snapshot_check,
        stall=stall,
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if rcvbuf is not None:
            # Set before connect so that the advertised window starts (and stays) tiny.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        async with asyncio.timeout(timeout):
            await loop.sock_connect(sock, (host, port))
            await loop.create_connection(lambda: proto, sock=sock)
            await ready
    except BaseException:
        if proto.transport is not None:
            proto.transport.abort()
        else:
            sock.close()
        raise
    return proto


# -- producers ---------------------------------------------------------------------------------


class Producer(asyncio.Protocol):
    """A producer WebSocket: writes text frames, discards whatever the server sends."""

    def __init__(self, request: bytes, ready: asyncio.Future[None]) -> None:
        self.request = request
        self.ready = ready
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.upgraded = False
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        if self.upgraded:
            return
        self.buf += data
        end = self.buf.find(HEADER_END)
        if end < 0:
            return
        status = self.buf.split(b"\r\n", 1)[0]
        self.upgraded = True
        self.buf = b""
        if not self.ready.done():
            if b" 101" in status:
                self.ready.set_result(None)
            else:
                self.ready.set_exception(ConnectionError(status.decode("latin-1")))

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"producer lost: {exc!r}"))

    def send(self, payload: bytes) -> None:
        assert self.transport is not None
        self.transport.write(client_frame(payload))

    def backlog(self) -> int:
        return self.transport.get_write_buffer_size() if self.transport is not None else 0


async def open_producer(host: str, port: int, path: str) -> Producer:
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()
    proto = Producer(upgrade_request(host, port, path), ready)
    await loop.create_connection(lambda: proto, host, port)
    async with asyncio.timeout(10):
        await ready
    return proto


_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)


class HttpConnection:
    """One keep-alive HTTP/1.1 connection for POSTs (responses with Content-Length)."""

    def __init__(self, host: str, port: int, reader: Any, writer: Any) -> None:
        self.host = host
        self.port = port
        self.reader: asyncio.StreamReader = reader
        self.writer: asyncio.StreamWriter = writer

    @classmethod
    async def open(cls, host: str, port: int) -> HttpConnection:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 22)
        return cls(host, port, reader, writer)

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        head = [f"POST {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        head.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        raw = await self.reader.readuntil(HEADER_END)
        status = int(raw[9:12])
        m = _CONTENT_LENGTH.search(raw)
        length = int(m.group(1)) if m else 0
        data = await self.reader.readexactly(length) if length else b""
        return status, data

    def broken(self) -> bool:
        return self.writer.is_closing() or self.reader.at_eof()

    def close(self) -> None:
        self.writer.close()
