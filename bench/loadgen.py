"""Load-generator processes (subscribers, publisher), each driven by the runner over a pipe.

Every process runs one event loop (uvloop when installed) and answers one command at a
time: ``{"cmd": name, "args": {...}}`` in, a dict out (``{"error": ...}`` on failure).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import os
import random
import re
import time
from array import array
from collections.abc import Coroutine
from multiprocessing.connection import Connection
from typing import Any

from bench.procfs import raise_nofile
from bench.wsclient import (
    HttpConnection,
    Producer,
    Stats,
    Subscriber,
    open_producer,
    open_subscriber,
)

FAKE_ID = b"01JD4X7N3QK8V2M5R9T6W1Y0ZB"
FAKE_TIMESTAMP = b"2025-11-26T14:30:00.123456Z"
TS_DIGITS = 19  # room for a CLOCK_MONOTONIC ns reading when sizing messages
_ACCEPTED = re.compile(rb'"accepted":(\d+)')


# -- messages ------------------------------------------------------------------------------------


def _fields(kind: str, channel: str, pad: int) -> bytes:
    """A message's own fields (no braces), with ``%d`` slots for zts and zst."""
    filler = b"x" * pad
    if kind == "market":
        symbol = channel.removeprefix("market_").encode()
        return (
            b'"type":"market_data","symbol":"' + symbol + b'","data":{"price":598.21,'
            b'"bid":598.2,"ask":598.22,"bid_size":300,"ask_size":500,"volume":18234567,'
            b'"zts":%d,"zst":%d,"pad":"' + filler + b'"}'
        )
    if kind == "agent":
        agent = channel.removeprefix("agent_").encode()
        return (
            b'"type":"agent_insight","agent":"' + agent + b'","insight":{"regime":"risk_on",'
            b'"zts":%d,"zst":%d,"pad":"' + filler + b'"}'
        )
    return (
        b'"type":"alert","alert_type":"bench","source":"bench","symbol":"SPY",'
        b'"content":"bench alert","embed":{"zts":%d,"zst":%d,"pad":"' + filler + b'"},'
        b'"severity":"info"'
    )


def _delivered_overhead(channel: str) -> int:
    """Bytes a hub adds around the fields: channel, seq, id and timestamp."""
    head = b'{"channel":"%s","seq":%d,"id":"%s",' % (channel.encode(), 100000, FAKE_ID)
    tail = b',"timestamp":"%s"}' % FAKE_TIMESTAMP
    return len(head) + len(tail)


def _pad_for(kind: str, channel: str, size: int) -> int:
    base = len(_fields(kind, channel, 0)) - 4 + TS_DIGITS + 2 + _delivered_overhead(channel)
    return max(0, size - base)


def hub_template(kind: str, channel: str, size: int) -> bytes:
    """One alphawire publish message: ``%d`` slots for zts and zst."""
    return b"{" + _fields(kind, channel, _pad_for(kind, channel, size)) + b"}"


def peer_template(kind: str, channel: str, size: int) -> bytes:
    """The frame a peer delivers as is: the hub's delivered shape, slots for seq, zts, zst."""
    fields = _fields(kind, channel, _pad_for(kind, channel, size))
    return (
        b'{"channel":"'
        + channel.encode()
        + b'","seq":%d,"id":"'
        + FAKE_ID
        + b'",'
        + fields
        + b',"timestamp":"'
        + FAKE_TIMESTAMP
        + b'"}'
    )


def _pct(values: array[int], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6


# -- the process frame ---------------------------------------------------------------------------


def _pin(core: int | None) -> None:
    if core is not None and hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {core})


def _run(coro: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(coro)
    else:
        uvloop.run(coro)


class _Worker:
    """Reads commands from the pipe on the event loop; runs ``cmd_<name>`` for each."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._tasks: set[asyncio.Task[None]] = set()
        self._done: asyncio.Future[None] | None = None

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        self._done = loop.create_future()
        loop.add_reader(self.conn.fileno(), self._readable)
        await self._done
        loop.remove_reader(self.conn.fileno())

    def _readable(self) -> None:
        while self.conn.poll():
            try:
                msg = self.conn.recv()
            except EOFError:
                if self._done is not None and not self._done.done():
                    self._done.set_result(None)
                return
            task = asyncio.ensure_future(self._dispatch(msg))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _dispatch(self, msg: dict[str, Any]) -> None:
        try:
            reply = await getattr(self, "cmd_" + msg["cmd"])(**msg.get("args", {}))
        except Exception as exc:
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        # The loop's reader made the pipe non-blocking; a large reply must not fail with EAGAIN.
        os.set_blocking(self.conn.fileno(), True)
        self.conn.send(reply)

    async def cmd_exit(self) -> dict[str, Any]:
        assert self._done is not None
        asyncio.get_running_loop().call_later(0.05, self._done.set_result, None)
        return {"ok": True}

    async def cmd_cpu(self) -> dict[str, Any]:
        return {"cpu": time.process_time()}


# -- subscribers ---------------------------------------------------------------------------------


class SubscriberWorker(_Worker):
    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self.stats = Stats()
        self.clients: list[Subscriber] = []
        self.special: dict[str, tuple[Subscriber, Stats]] = {}

    async def cmd_connect(
        self,
        host: str,
        port: int,
        groups: list[tuple[str, str, int]],
        mode: str,
        snapshot_check: bool = False,
        concurrency: int = 256,
        timeout: float = 60.0,
    ) -> dict[str, Any]:
        """Open ``count`` subscribers for each (path, channel, count); wait until subscribed."""
        sem = asyncio.Semaphore(concurrency)
        errors: dict[str, int] = {}
        started = time.monotonic()

        async def one(path: str, channel: str) -> None:
            async with sem:
                try:
                    client = await open_subscriber(
                        host,
                        port,
                        path,
                        mode,
                        channel,
                        self.stats,
                        snapshot_check=snapshot_check,
                        timeout=timeout,
                    )
                except (OSError, TimeoutError) as exc:
                    key = f"{type(exc).__name__}: {exc}"[:160]
                    errors[key] = errors.get(key, 0) + 1
                else:
                    self.clients.append(client)

        before = len(self.clients)
        await asyncio.gather(
            *(one(path, channel) for path, channel, count in groups for _ in range(count))
        )
        return {
            "connected": len(self.clients) - before,
            "failed": sum(errors.values()),
            "errors": errors,
            "seconds": time.monotonic() - started,
        }

    async def cmd_stall(
        self, host: str, port: int, path: str, channel: str, mode: str, rcvbuf: int, name: str
    ) -> dict[str, Any]:
        """A subscriber with a tiny receive buffer that stops reading once subscribed."""
        stats = Stats()
        client = await open_subscriber(
            host, port, path, mode, channel, stats, stall=True, rcvbuf=rcvbuf
        )
        self.special[name] = (client, stats)
        return {"ok": True}

    async def cmd_resume(self, name: str, wait: float) -> dict[str, Any]:
        """Let a stalled client read again; report what it gets within ``wait`` seconds."""
        client, stats = self.special[name]
        stats.frames_after_resume = 0
        bytes_before = client.received_bytes
        was_closed = client.closed
        if not client.closed and client.transport is not None:
            client.transport.resume_reading()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await client.gone.wait()
        out = {
            "closed_before_resume": was_closed,
            "closed": client.closed,
            "frames": stats.frames_after_resume,
            "bytes": client.received_bytes - bytes_before,
            "closes": dict(stats.closes),
        }
        client.close()
        return out

    async def cmd_counts(self, steps: list[int]) -> dict[str, Any]:
        got = self.stats.steps
        return {"counts": {k: (got[k].count if k in got else 0) for k in steps}}

    async def cmd_collect(self, steps: list[int]) -> dict[str, Any]:
        out: dict[int, dict[str, Any]] = {}
        for k in steps:
            s = self.stats.steps.pop(k, None)
            if s is not None:
                out[k] = {
                    "count": s.count,
                    "bytes": s.bytes,
                    "first": s.first,
                    "last": s.last,
                    "lat": s.lat.tobytes(),
                }
        return {"steps": out}

    async def cmd_info(self) -> dict[str, Any]:
        s = self.stats
        return {
            "cpu": time.process_time(),
            "open": s.open,
            "clients": len(self.clients),
            "control": s.control,
            "snapshots": s.snapshots,
            "closes": dict(s.closes),
        }

    async def cmd_close_all(self, wait: float = 5.0) -> dict[str, Any]:
        for client in self.clients:
            client.close()
        for client, _ in self.special.values():
            client.close()
            if client.transport is not None:
                client.transport.abort()
        waiting = [asyncio.ensure_future(c.gone.wait()) for c in self.clients if not c.closed]
        if waiting:
            _, pending = await asyncio.wait(waiting, timeout=wait)
            for task in pending:
                task.cancel()
        for client in self.clients:
            if not client.closed and client.transport is not None:
                client.transport.abort()
        self.clients.clear()
        self.special.clear()
        self.stats = Stats()
        return {"ok": True}


def subscriber_main(conn: Connection, core: int | None) -> None:
    _pin(core)
    raise_nofile()
    _run(SubscriberWorker(conn).serve())


# -- publisher -----------------------------------------------------------------------------------


class PublisherWorker(_Worker):
    """Publishes on a schedule, through alphawire's HTTP batch API or a peer's producer socket."""

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self.target = ""
        self.host = "127.0.0.1"
        self.port = 0
        self.token = ""
        self.pool: asyncio.Queue[HttpConnection] | None = None
        self.http: list[HttpConnection] = []
        self.producer: Producer | None = None
        self.seq: dict[bytes, int] = {}

    async def cmd_setup(
        self,
        target: str,
        host: str,
        port: int,
        path: str = "",
        token: str = "",
        connections: int = 8,
    ) -> dict[str, Any]:
        await self._teardown()
        self.target, self.host, self.port, self.token = target, host, port, token
        self.seq = {}
        if target == "alphawire":
            self.pool = asyncio.Queue()
            for _ in range(connections):
                conn = await HttpConnection.open(host, port)
                self.http.append(conn)
                self.pool.put_nowait(conn)
        else:
            self.producer = await open_producer(host, port, path)
        return {"ok": True}

    async def _teardown(self) -> None:
        for conn in self.http:
            conn.close()
        self.http = []
        self.pool = None
        if self.producer is not None and self.producer.transport is not None:
            self.producer.transport.close()
        self.producer = None

    async def cmd_teardown(self) -> dict[str, Any]:
        await self._teardown()
        return {"ok": True}

    async def cmd_run(
        self,
        rate: float,
        duration: float,
        step: int,
        channels: list[str],
        kind: str,
        size: int,
        weights: list[float] | None = None,
        seed: int = 1,
        max_batch: int = 1000,
    ) -> dict[str, Any]:
        """Publish ``rate`` messages/s for ``duration`` s; messages due together go as one batch.

        Each message carries its *scheduled* CLOCK_MONOTONIC time, so a publish that is held
        up (timer slop, every HTTP connection busy, a server that stops reading) counts in
        the latency instead of being hidden (no coordinated omission). ``lag`` is how late
        each batch was handed to the socket against that schedule.
        """
        total = max(1, round(rate * duration))
        rnd = random.Random(seed * 1000 + step)
        if weights:
            picks = rnd.choices(range(len(channels)), weights=weights, k=total)
        else:
            picks = [i % len(channels) for i in range(total)]
        hub = self.target == "alphawire"
        templates = [
            hub_template(kind, ch, size) if hub else peer_template(kind, ch, size)
            for ch in channels
        ]
        names = [ch.encode() for ch in channels]
        per_channel = [0] * len(channels)
        lags: array[int] = array("q")
        state = {"errors": 0, "error_sample": "", "backlog_max": 0}
        inflight: set[asyncio.Task[None]] = set()
        t0_ns = time.monotonic_ns()
        t0 = t0_ns / 1e9
        gap_ns = 1e9 / rate
        i = 0
        while i < total:
            now = time.monotonic()
            due = min(total, int((now - t0) * rate) + 1)
            if due <= i:
                await asyncio.sleep(max(0.0, t0 + i / rate - now))
                continue
            j = min(due, i + max_batch)
            batch = [(picks[k], t0_ns + int(k * gap_ns)) for k in range(i, j)]
            if hub:
                assert self.pool is not None
                conn = await self.pool.get()
                task = asyncio.ensure_future(
                    self._post(conn, batch, templates, step, lags, per_channel, state)
                )
                inflight.add(task)
                task.add_done_callback(inflight.discard)
            else:
                self._send(batch, templates, names, step, lags, per_channel, state)
            i = j
        if inflight:
            await asyncio.gather(*inflight)
        return {
            "published": sum(per_channel),
            "per_channel": per_channel,
            "t0": t0_ns,
            "end": time.monotonic_ns(),
            "lag_p50_ms": _pct(lags, 0.50),
            "lag_p99_ms": _pct(lags, 0.99),
            "lag_max_ms": max(lags) / 1e6 if lags else 0.0,
            "errors": state["errors"],
            "error_sample": state["error_sample"],
            "producer_backlog_max": state["backlog_max"],
        }

    async def _post(
        self,
        conn: HttpConnection,
        batch: list[tuple[int, int]],
        templates: list[bytes],
        step: int,
        lags: array[int],
        per_channel: list[int],
        state: dict[str, Any],
    ) -> None:
        assert self.pool is not None
        try:
            lags.append(time.monotonic_ns() - batch[0][1])
            body = (
                b'{"messages":[' + b",".join(templates[c] % (ts, step) for c, ts in batch) + b"]}"
            )
            headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
            try:
                if conn.broken():
                    raise ConnectionResetError("closed while idle")
                status, data = await conn.post("/api/v1/publish", body, headers)
            except (OSError, RuntimeError, asyncio.IncompleteReadError):
                # The server closed a keep-alive connection that sat idle (between steps,
                # or while the runner waited for the machine to calm down): reopen, retry.
                conn.close()
                conn = await HttpConnection.open(self.host, self.port)
                self.http.append(conn)
                status, data = await conn.post("/api/v1/publish", body, headers)
            if status == 202:
                for c, _ in batch:
                    per_channel[c] += 1
            else:
                state["errors"] += 1
                state["error_sample"] = f"{status} {data[:200]!r}"
        finally:
            self.pool.put_nowait(conn)

    def _send(
        self,
        batch: list[tuple[int, int]],
        templates: list[bytes],
        names: list[bytes],
        step: int,
        lags: array[int],
        per_channel: list[int],
        state: dict[str, Any],
    ) -> None:
        producer = self.producer
        assert producer is not None
        if producer.lost:
            state["errors"] += 1
            state["error_sample"] = "producer socket lost"
            return
        lags.append(time.monotonic_ns() - batch[0][1])
        seq = self.seq
        lines = []
        for c, ts in batch:
            name = names[c]
            n = seq.get(name, 0) + 1
            seq[name] = n
            lines.append(name + b" " + templates[c] % (n, ts, step))
            per_channel[c] += 1
        producer.send(b"\n".join(lines))
        state["backlog_max"] = max(state["backlog_max"], producer.backlog())

    async def cmd_flood(
        self, duration: float, connections: int, batch: int, symbols: int, size: int
    ) -> dict[str, Any]:
        """POST batches back to back on ``connections`` sockets for ``duration`` s (no pacing)."""
        conns = [await HttpConnection.open(self.host, self.port) for _ in range(connections)]
        channels = [f"market_F{i:03d}" for i in range(symbols)]
        templates = [hub_template("market", ch, size) for ch in channels]
        body = (
            b'{"messages":['
            + b",".join(templates[i % symbols] % (0, 0) for i in range(batch))
            + b"]}"
        )
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        state = {"accepted": 0, "requests": 0, "errors": 0, "error_sample": ""}
        lat: array[int] = array("q")
        start = time.monotonic()
        stop_at = start + duration

        async def loop(conn: HttpConnection) -> None:
            while time.monotonic() < stop_at:
                t = time.monotonic_ns()
                status, data = await conn.post("/api/v1/publish", body, headers)
                lat.append(time.monotonic_ns() - t)
                state["requests"] += 1
                m = _ACCEPTED.search(data, 0, 64)
                if status == 202 and m is not None:
                    state["accepted"] += int(m.group(1))
                else:
                    state["errors"] += 1
                    state["error_sample"] = f"{status} {data[:200]!r}"

        cpu0 = time.process_time()
        await asyncio.gather(*(loop(c) for c in conns))
        elapsed = time.monotonic() - start
        for c in conns:
            c.close()
        return {
            **state,
            "seconds": elapsed,
            "body_bytes": len(body),
            "req_p50_ms": _pct(lat, 0.5),
            "req_p99_ms": _pct(lat, 0.99),
            "client_cpu": time.process_time() - cpu0,
        }


def publisher_main(conn: Connection, core: int | None) -> None:
    _pin(core)
    raise_nofile()
    _run(PublisherWorker(conn).serve())


# -- the runner's side ---------------------------------------------------------------------------


class WorkerHandle:
    """A load-generator process and its pipe, as the runner sees it."""

    def __init__(self, name: str, target: Any, core: int | None) -> None:
        ctx = mp.get_context("spawn")
        self.name = name
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=target, args=(child, core), name=name, daemon=True)
        self.proc.start()
        child.close()

    @property
    def pid(self) -> int:
        assert self.proc.pid is not None
        return self.proc.pid

    def send(self, cmd: str, **args: Any) -> None:
        self.conn.send({"cmd": cmd, "args": args})

    def recv(self, timeout: float = 120.0) -> dict[str, Any]:
        if not self.conn.poll(timeout):
            raise TimeoutError(f"{self.name}: no answer within {timeout:g}s")
        reply: dict[str, Any] = self.conn.recv()
        if "error" in reply:
            raise RuntimeError(f"{self.name}: {reply['error']}")
        return reply

    def call(self, cmd: str, timeout: float = 120.0, **args: Any) -> dict[str, Any]:
        self.send(cmd, **args)
        return self.recv(timeout)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.call("exit", timeout=5)
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)
