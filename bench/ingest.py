"""Scenario E's producer-socket load: frames pipelined into ``/api/v1/ws/publish``, acks counted.

A raw-socket client (no WebSocket library on the hot path): it keeps at most ``window``
frames unacknowledged, writes whatever the window allows in one write, and reads the hub's
replies by parsing only frame headers plus one regex for ``"accepted":n``. Replies come in
order, so the oldest send time of the window is the reply's round trip.
"""

from __future__ import annotations

import asyncio
import re
import struct
import time
from array import array
from collections import deque
from multiprocessing.connection import Connection
from typing import Any

from bench.loadgen import _pct, _pin, _run, _Worker, hub_template
from bench.procfs import raise_nofile
from bench.wsclient import HEADER_END, client_frame, upgrade_request

PATH = "/api/v1/ws/publish"
_ACCEPTED = re.compile(rb'"accepted":(\d+)')


class IngestProducer(asyncio.Protocol):
    """One producer socket: sends pre-framed frames within a window, counts acks and errors."""

    def __init__(self, request: bytes, ready: asyncio.Future[None]) -> None:
        self.request = request
        self.ready = ready
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.upgraded = False
        self.sent: deque[int] = deque()  # send times (ns) of unacknowledged frames
        self.accepted = 0
        self.acks = 0
        self.errors = 0
        self.error_sample = ""
        self.lat: array[int] = array("q")
        self.closed: str | None = None
        self.window_open = asyncio.Event()
        self.done = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = self.closed or f"lost: {exc!r}"
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(self.closed))
        self.window_open.set()
        self.done.set()

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.upgraded:
            end = self.buf.find(HEADER_END)
            if end < 0:
                return
            status = bytes(self.buf[: self.buf.find(b"\r\n")])
            del self.buf[: end + len(HEADER_END)]
            self.upgraded = True
            if b" 101" not in status:
                self.ready.set_exception(ConnectionError(status.decode("latin-1")))
                return
            self.ready.set_result(None)
        self._frames()

    def _frames(self) -> None:
        buf = self.buf
        pos = 0
        now = time.monotonic_ns()
        while len(buf) - pos >= 2:
            opcode = buf[pos] & 0x0F
            n = buf[pos + 1] & 0x7F
            head = 2
            if n == 126:
                if len(buf) - pos < 4:
                    break
                (n,) = struct.unpack_from("!H", buf, pos + 2)
                head = 4
            elif n == 127:
                if len(buf) - pos < 10:
                    break
                (n,) = struct.unpack_from("!Q", buf, pos + 2)
                head = 10
            if len(buf) - pos < head + n:
                break
            payload = bytes(buf[pos + head : pos + head + n])
            pos += head + n
            if opcode == 8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                self.closed = f"closed {code} {payload[2:].decode(errors='replace')}"
                continue
            if opcode != 1:
                continue
            if self.sent:
                self.lat.append(now - self.sent.popleft())
            m = _ACCEPTED.search(payload, 0, 64)
            if payload.startswith(b'{"type":"ack"') and m is not None:
                self.acks += 1
                self.accepted += int(m.group(1))
            else:
                self.errors += 1
                self.error_sample = payload[:200].decode(errors="replace")
        del buf[:pos]
        self.window_open.set()
        if not self.sent:
            self.done.set()

    def send_frames(self, wire: bytes, count: int) -> None:
        """Write ``count`` frames (already framed, concatenated in ``wire``) at once."""
        assert self.transport is not None
        now = time.monotonic_ns()
        self.sent.extend([now] * count)
        self.done.clear()
        self.transport.write(wire)


async def open_ingest(host: str, port: int, token: str) -> IngestProducer:
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()
    request = upgrade_request(host, port, PATH)
    request = request[:-2] + f"Authorization: Bearer {token}\r\n\r\n".encode()
    proto = IngestProducer(request, ready)
    await loop.create_connection(lambda: proto, host, port)
    async with asyncio.timeout(10):
        await ready
    return proto


class IngestWorker(_Worker):
    """Floods the producer socket on command (``flood_ws``)."""

    async def cmd_flood_ws(
        self,
        host: str,
        port: int,
        token: str,
        duration: float,
        batch: int,
        window: int,
        connections: int,
        symbols: int,
        size: int,
    ) -> dict[str, Any]:
        """Frames of ``batch`` market_data messages (1: one bare message per frame), at most
        ``window`` unacknowledged per socket, for ``duration`` s; then wait for the last acks."""
        channels = [f"market_F{i:03d}" for i in range(symbols)]
        templates = [hub_template("market", ch, size) % (0, 0) for ch in channels]
        if batch == 1:
            frames = [client_frame(t) for t in templates]  # one bare message per frame
        else:
            body = b",".join(templates[i % symbols] for i in range(batch))
            frames = [client_frame(b'{"messages":[' + body + b"]}")]
        # Any run of consecutive frames, as one bytes slice: frames rotate over the symbols.
        ring = b"".join(frames) * (window // len(frames) + 2)
        offsets = [0]
        for i in range(len(frames) * (window // len(frames) + 2)):
            offsets.append(offsets[-1] + len(frames[i % len(frames)]))
        producers = [await open_ingest(host, port, token) for _ in range(connections)]
        cpu0 = time.process_time()
        start = time.monotonic()
        stop_at = start + duration
        frames_sent = 0

        async def loop(p: IngestProducer) -> None:
            nonlocal frames_sent
            turn = 0
            while time.monotonic() < stop_at and p.closed is None:
                room = window - len(p.sent)
                if room <= 0:
                    p.window_open.clear()
                    await p.window_open.wait()
                    continue
                first = turn % len(frames)
                turn += room
                p.send_frames(ring[offsets[first] : offsets[first + room]], room)
                frames_sent += room
                p.window_open.clear()
                await p.window_open.wait()
            async with asyncio.timeout(60):
                await p.done.wait()

        await asyncio.gather(*(loop(p) for p in producers))
        elapsed = time.monotonic() - start
        cpu = time.process_time() - cpu0
        lat: array[int] = array("q")
        for p in producers:
            lat.extend(p.lat)
            assert p.transport is not None
            p.transport.close()
        return {
            "accepted": sum(p.accepted for p in producers),
            "frames": frames_sent,
            "acks": sum(p.acks for p in producers),
            "errors": sum(p.errors for p in producers),
            "error_sample": next((p.error_sample for p in producers if p.error_sample), ""),
            "closed": next((p.closed for p in producers if p.closed), None),
            "seconds": elapsed,
            "frame_bytes": len(frames[0]),
            "ack_p50_ms": _pct(lat, 0.5),
            "ack_p99_ms": _pct(lat, 0.99),
            "client_cpu": cpu,
        }


def ingest_main(conn: Connection, core: int | None) -> None:
    _pin(core)
    raise_nofile()
    _run(IngestWorker(conn).serve())
