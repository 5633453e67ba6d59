"""The in-memory broker: one process, no I/O on the hot path, bounded history per channel.

On a graceful stop it writes its sequence numbers and history to a snapshot file (when given
one) and reads it back on the next start, keeping its epoch: clients recover across a planned
restart. After a crash there is no snapshot, so the epoch changes and clients are told their
gap cannot be filled.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import secrets
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path

import orjson

from alphawire.brokers.base import DeliverFn, GapFn, HistoryPage, Limit, Retention

logger = logging.getLogger("alphawire.broker")


def _discard(channel: str, seq: int, body: bytes) -> None:
    return None


class _History:
    """One channel's recent messages: contiguous seqs, bounded by count and age."""

    __slots__ = ("entries", "limit")

    def __init__(self, limit: Limit) -> None:
        self.limit = limit
        self.entries: deque[tuple[int, float, bytes]] = deque(maxlen=limit.messages)

    def prune(self, now: float) -> None:
        horizon = now - self.limit.seconds
        entries = self.entries
        while entries and entries[0][1] < horizon:
            entries.popleft()

    def first_seq(self, last_seq: int) -> int:
        return self.entries[0][0] if self.entries else last_seq + 1


class MemoryBroker:
    """Broker for a single hub process: publishing delivers synchronously to the local hub."""

    def __init__(
        self, *, retention: Retention | None = None, snapshot_path: Path | None = None
    ) -> None:
        self._retention = retention or Retention()
        self._snapshot_path = snapshot_path
        self._seq: dict[str, int] = {}
        self._history: dict[str, _History] = {}
        self._latest: dict[str, tuple[int, bytes]] = {}
        self._subscribed: set[str] = set()
        self._deliver: DeliverFn = _discard
        self._epoch = secrets.token_hex(8)

    @property
    def epoch(self) -> str:
        return self._epoch

    async def start(self, deliver: DeliverFn, gap: GapFn | None = None) -> None:
        self._load_snapshot()
        self._deliver = deliver  # one process, nothing in between: no gap can happen

    async def stop(self) -> None:
        self._deliver = _discard
        self._save_snapshot()

    async def publish(self, items: Sequence[tuple[str, bytes]]) -> list[int]:
        # No await inside: a publish is atomic with respect to subscribe() and history(),
        # which is what makes "subscribed" seqs and recovery replays gap-free.
        seqs: list[int] = []
        seq_of = self._seq
        subscribed = self._subscribed
        deliver = self._deliver
        now = time.time()
        for channel, body in items:
            seq = seq_of.get(channel, 0) + 1
            seq_of[channel] = seq
            seqs.append(seq)
            history = self._history.get(channel)
            if history is None:
                history = self._history[channel] = _History(self._retention.for_channel(channel))
            history.entries.append((seq, now, body))
            if channel.startswith("market_"):
                self._latest[channel] = (seq, body)
            if channel in subscribed:
                deliver(channel, seq, body)
        return seqs

    async def subscribe(self, channel: str) -> None:
        self._subscribed.add(channel)

    async def unsubscribe(self, channel: str) -> None:
        self._subscribed.discard(channel)

    async def last_seq(self, channel: str) -> int:
        return self._seq.get(channel, 0)

    async def channels(self, limit: int) -> dict[str, int]:
        return dict(itertools.islice(self._seq.items(), limit))

    async def history(
        self, channel: str, since: int | None, limit: int | None = None
    ) -> HistoryPage:
        last = self._seq.get(channel, 0)
        history = self._history.get(channel)
        if history is None:
            return HistoryPage(self._epoch, last, last + 1, [])
        history.prune(time.time())
        first = history.first_seq(last)
        entries = history.entries
        if since is None:
            start = max(0, len(entries) - (limit or len(entries)))
        else:
            start = max(0, since + 1 - first)
        stop = len(entries) if limit is None else min(len(entries), start + limit)
        page = [(seq, body) for seq, _, body in itertools.islice(entries, start, stop)]
        return HistoryPage(self._epoch, last, first, page)

    async def latest(self, channel: str) -> tuple[int, bytes] | None:
        return self._latest.get(channel)

    def health(self) -> dict[str, object]:
        return {"ok": True, "broker": "memory"}

    # -- snapshot across a graceful restart --------------------------------------------------

    def _save_snapshot(self) -> None:
        path = self._snapshot_path
        if path is None:
            return
        data = {
            "epoch": self._epoch,
            "seq": self._seq,
            "history": {
                ch: [[seq, ts, body.decode()] for seq, ts, body in h.entries]
                for ch, h in self._history.items()
            },
            "latest": {ch: [seq, body.decode()] for ch, (seq, body) in self._latest.items()},
        }
        tmp = path.with_suffix(".tmp")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(orjson.dumps(data))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    def _load_snapshot(self) -> None:
        path = self._snapshot_path
        if path is None or not path.exists():
            return
        try:
            data = orjson.loads(path.read_bytes())
            self._epoch = data["epoch"]
            self._seq = {ch: int(seq) for ch, seq in data["seq"].items()}
            for ch, rows in data["history"].items():
                history = _History(self._retention.for_channel(ch))
                history.entries.extend(
                    (int(seq), float(ts), body.encode()) for seq, ts, body in rows
                )
                self._history[ch] = history
            self._latest = {
                ch: (int(seq), body.encode()) for ch, (seq, body) in data["latest"].items()
            }
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("ignoring unreadable broker snapshot %s: %s", path, exc)
            self._seq, self._history, self._latest = {}, {}, {}
            self._epoch = secrets.token_hex(8)
        finally:
            # Consumed once: after a later crash the stale snapshot must not resurrect an
            # epoch whose newer messages were lost.
            with contextlib.suppress(OSError):
                path.unlink()
        logger.info("restored %d channels from %s (epoch %s)", len(self._seq), path, self._epoch)
