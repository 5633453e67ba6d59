"""The in-memory broker: one process, no I/O, sequence numbers in a dict."""

from __future__ import annotations

from collections.abc import Sequence

from alphawire.brokers.base import DeliverFn


def _discard(channel: str, seq: int, body: bytes) -> None:
    return None


class MemoryBroker:
    """Broker for a single hub process: publishing delivers synchronously to the local hub."""

    def __init__(self) -> None:
        self._seq: dict[str, int] = {}
        self._subscribed: set[str] = set()
        self._deliver: DeliverFn = _discard

    async def start(self, deliver: DeliverFn) -> None:
        self._deliver = deliver

    async def stop(self) -> None:
        self._deliver = _discard

    async def publish(self, items: Sequence[tuple[str, bytes]]) -> list[int]:
        # No await inside: a publish is atomic with respect to subscribe(), which is what
        # makes the "subscribed" frame's seq exact.
        seqs: list[int] = []
        seq_of = self._seq
        subscribed = self._subscribed
        deliver = self._deliver
        for channel, body in items:
            seq = seq_of.get(channel, 0) + 1
            seq_of[channel] = seq
            seqs.append(seq)
            if channel in subscribed:
                deliver(channel, seq, body)
        return seqs

    async def subscribe(self, channel: str) -> int:
        self._subscribed.add(channel)
        return self._seq.get(channel, 0)

    async def unsubscribe(self, channel: str) -> None:
        self._subscribed.discard(channel)

    async def last_seq(self, channel: str) -> int:
        return self._seq.get(channel, 0)
