"""Outgoing frames, built once per channel message and shared by every connection."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Final

_TEXT_FIN: Final = 0x81  # FIN bit + text opcode


def ws_text_frame(payload: bytes) -> bytes:
    """An unmasked RFC 6455 text frame (server to client) carrying ``payload``."""
    n = len(payload)
    if n < 126:
        return bytes((_TEXT_FIN, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", _TEXT_FIN, 126, n) + payload
    return struct.pack("!BBQ", _TEXT_FIN, 127, n) + payload


class Outgoing:
    """One frame to send: its JSON payload, and its WebSocket framing made once.

    ``seq`` is set for channel messages (which count as delivered) and None for control
    frames; a batch frame (a JSON array of ``count`` consecutive messages of one channel)
    carries its first message's seq. ``market`` puts the frame in the conflatable lane.
    """

    __slots__ = ("channel", "count", "market", "payload", "seq", "wire")

    def __init__(
        self,
        payload: bytes,
        channel: str = "",
        seq: int | None = None,
        *,
        market: bool = False,
        count: int = 1,
    ) -> None:
        self.payload = payload
        self.channel = channel
        self.seq = seq
        self.market = market
        self.count = count
        # Framed at once: a channel message is written to many sockets, and a plain
        # attribute is cheaper on that path than a lazy property.
        self.wire = ws_text_frame(payload)

    @property
    def text(self) -> str:
        return self.payload.decode()

    def __len__(self) -> int:
        return len(self.payload)


def message_frame(channel: str, seq: int, body: bytes, *, snapshot: bool = False) -> Outgoing:
    """A channel message: ``channel`` and ``seq`` spliced in front of the sealed body.

    Channel names hold only ``[A-Za-z0-9_.^=-]``, so they need no JSON escaping.
    """
    head = b'{"channel":"%s","seq":%d,%s' % (
        channel.encode(),
        seq,
        b'"snapshot":true,' if snapshot else b"",
    )
    return Outgoing(head + body[1:], channel, seq, market=channel.startswith("market_"))


def control_frame(text: str) -> Outgoing:
    return Outgoing(text.encode())


def batch_frame(frames: Sequence[Outgoing]) -> Outgoing:
    """Consecutive message frames of one channel as one frame: a JSON array, in seq order."""
    first = frames[0]
    if len(frames) == 1:
        payload = b"[" + first.payload + b"]"
    else:
        payload = b"[" + b",".join([f.payload for f in frames]) + b"]"
    return Outgoing(payload, first.channel, first.seq, market=first.market, count=len(frames))
