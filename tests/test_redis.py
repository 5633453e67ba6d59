"""Scale-out on Redis (issue #6): several hub processes, failover, Redis faults, --workers.

Every hub here is its own ``python -m alphawire serve`` process. Tests that only need a
working Redis use the shared one, on a dedicated DB (``$ALPHAWIRE_TEST_REDIS_DB``, default
13) that is flushed at the start and at the end, since the key prefix is not configurable.
Fault tests start their own ``redis-server`` on a free port, so they can kill, restart,
pause and flush it (``redis-server`` on the PATH or in /usr/bin). Under ``CI=true`` a
missing Redis or redis-server fails these tests; elsewhere they are skipped.

Tests marked ``xfail(strict=True, raises=...)`` reproduce a RedisBroker bug that is not
fixed yet (described in the docstring and the exception class; nothing else counts as the
expected failure); one turns into a failure (XPASS) as soon as its bug is fixed, so that
the marker gets removed. The six such bugs found while writing these tests are all fixed.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
import redis
import redis.asyncio as aioredis
from tests.conftest import IN_CI, connect, free_socket
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

pytestmark = [pytest.mark.anyio, pytest.mark.redis]
T = TypeVar("T")

TOKEN = "redis-test-token"
SHARED_DB = int(os.environ.get("ALPHAWIRE_TEST_REDIS_DB", "13"))
# The broker's canary runs every 2 s and health turns red when none came back for 5 s;
# guards below are hang guards sized well above that, never speed limits.
GUARD = 20.0
# Tests that stop Redis and wait for health to be green again run with nothing beside them:
# slowed by other tests, the outage outlasts three of the listener's reconnect attempts
# (0.1 s doubling), the listener counts as flapping and health stays red for FLAP_WINDOW.
OUTAGE = pytest.mark.exclusive


# -- bugs the xfail tests reproduce --------------------------------------------------------------


class GhostPublish(AssertionError):
    """A publish answered 503 "nothing was published" was published after all."""


class EpochRestored(AssertionError):
    """After Redis lost its data, a publish put the old epoch back: seq restarted silently."""


class StaleEpoch(AssertionError):
    """A hub keeps reporting an epoch that Redis no longer has."""


class StalePooledConnections(AssertionError):
    """Health is green again, yet publishes fail on connections to the Redis that died."""


class NewEpochMessagesLost(AssertionError):
    """A hub that reconnects after an epoch change drops what the new epoch already holds."""


# -- Redis ---------------------------------------------------------------------------------------


def _unavailable(why: str) -> None:
    if IN_CI:
        pytest.fail(f"{why} (CI=true: this must not be skipped)")
    pytest.skip(why)


# Two test runs on one machine (a developer's and an agent's, or two CI jobs) would flush
# each other's DB mid-test: a test holds this key (not under the hub's prefix) while it uses
# the DB, and the DB is emptied around the test except for it.
LOCK = b"alphawire-tests:lock"
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end"


def _empty(client: redis.Redis) -> None:
    """FLUSHDB, but keeping the lock."""
    for key in client.scan_iter(count=1000):
        if key != LOCK:
            client.delete(key)


@pytest.fixture
def shared_redis() -> Iterator[str]:
    """The shared Redis on a dedicated DB, held for this test and emptied before and after it."""
    base = urlsplit(os.environ.get("ALPHAWIRE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
    url = f"{base.scheme}://{base.netloc}/{SHARED_DB}"
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    token = uuid.uuid4().hex
    try:
        try:
            client.ping()
        except redis.RedisError as exc:
            _unavailable(f"Redis at {url} is unreachable: {exc}")
        deadline = time.monotonic() + 300  # a hang guard: another run's test ends long before
        while not client.set(LOCK, token, nx=True, ex=180):
            assert time.monotonic() < deadline, f"DB {SHARED_DB} stayed locked by another run"
            time.sleep(0.2)
        _empty(client)
        yield url
    finally:
        with contextlib.suppress(redis.RedisError):
            _empty(client)
            client.eval(_RELEASE, 1, LOCK, token)
        client.close()


def _free_port() -> int:
    sock = free_socket()
    port: int = sock.getsockname()[1]
    sock.close()
    return port


class OwnRedis:
    """A redis-server this test owns (no persistence): killed, restarted, paused at will."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None
        self.paused = False

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5, socket_timeout=1)
        try:
            for _ in range(200):
                with contextlib.suppress(redis.RedisError):
                    if client.ping():
                        return
                if self.proc.poll() is not None:
                    raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
                time.sleep(0.02)
            raise RuntimeError("redis-server did not answer PING")
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: Redis and everything it held are gone."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def pause(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)
        self.paused = False

    def client(self) -> aioredis.Redis:
        return aioredis.Redis(port=self.port, socket_connect_timeout=2, socket_timeout=5)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        if self.paused:
            self.resume()
        self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    """A private redis-server on a free port, for fault injection."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.access(binary, os.X_OK):
        _unavailable("redis-server is not installed")
    workdir = tmp_path / "redis"
    workdir.mkdir()
    server = OwnRedis(binary, workdir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


# -- hub processes -------------------------------------------------------------------------------


@dataclass
class Hub:
    """One ``alphawire serve`` process (its own session: stopped as a group, by its id)."""

    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    stopped: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/v1"

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log.read_bytes()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        self.stopped = sig == signal.SIGSTOP

    def kill(self) -> None:
        """SIGKILL the hub (and any worker of it)."""
        self.signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self) -> None:
        if self.stopped:
            self.signal(signal.SIGCONT)
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.proc.wait(10)
        # Workers of a --workers hub that outlived their parent.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)


class Cluster:
    """Starts hub processes on a broker URL; the fixture stops every one of them."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.hubs: list[Hub] = []
        self._logs: list[Any] = []

    def spawn(self, name: str, broker_url: str, args: tuple[str, ...] = ()) -> Hub:
        """Start ``alphawire serve`` on a free port in its own session (output to a log)."""
        port = _free_port()
        log = self.tmp_path / f"hub-{name}.log"
        out = open(log, "wb")  # noqa: SIM115 - closed by close()
        self._logs.append(out)
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "alphawire",
                "serve",
                "--port",
                str(port),
                "--broker",
                broker_url,
                "--data-dir",
                str(self.tmp_path / f"data-{name}"),
                "--log-level",
                "warning",
                *args,
            ],
            env={**os.environ, "ALPHAWIRE_PUBLISH_TOKEN": TOKEN, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        hub = Hub(name, port, proc, log)
        self.hubs.append(hub)
        return hub

    async def start(
        self, broker_url: str, names: str = "ABC", *, args: tuple[str, ...] = ()
    ) -> list[Hub]:
        """Start one hub per letter of ``names``, in parallel; wait until each is healthy."""
        started = [self.spawn(name, broker_url, args) for name in names]
        async with httpx.AsyncClient(timeout=2) as http:
            await wait_health(http, started, 200, timeout=60)
        return started

    def close(self) -> None:
        for hub in self.hubs:
            hub.terminate()
        for out in self._logs:
            out.close()
        for hub in self.hubs:
            print(f"--- hub {hub.name} (port {hub.port}) log tail ---\n{hub.log_tail()}")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """Hub processes, terminated (SIGTERM, then SIGKILL) whatever happens."""
    made = Cluster(tmp_path)
    try:
        yield made
    finally:
        made.close()


async def health(http: httpx.AsyncClient, hub: Hub) -> tuple[int, dict[str, Any]]:
    """GET /api/v1/health; a hub that does not answer within 10 s counts as hung."""
    try:
        r = await http.get(hub.url + "/api/v1/health", timeout=10)
    except httpx.TimeoutException:
        raise AssertionError(f"hub {hub.name} hangs: /api/v1/health did not answer") from None
    body: dict[str, Any] = r.json()
    return r.status_code, body


async def wait_health(
    http: httpx.AsyncClient, hubs: list[Hub], status: int, timeout: float = GUARD
) -> list[dict[str, Any]]:
    """Poll every hub's health until each answers ``status`` (a hang guard, not a speed limit)."""
    deadline = time.monotonic() + timeout
    bodies: list[dict[str, Any]] = []
    for hub in hubs:
        while True:
            if hub.proc.poll() is not None:
                raise AssertionError(
                    f"hub {hub.name} exited with {hub.proc.returncode}:\n{hub.log_tail()}"
                )
            try:
                code, body = await health(http, hub)
            except httpx.TransportError:
                code, body = 0, {}
            if code == status:
                bodies.append(body)
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"hub {hub.name}: health never became {status}: {body}")
            await asyncio.sleep(0.1)
    return bodies


async def wait_canaries(http: httpx.AsyncClient, hubs: list[Hub]) -> None:
    """Wait until every hub's broker has had a canary round trip (steady state)."""
    for hub in hubs:
        deadline = time.monotonic() + GUARD
        while (await health(http, hub))[1]["broker_health"]["canary_age_seconds"] is None:
            assert time.monotonic() < deadline, f"hub {hub.name}: no canary came back"
            await asyncio.sleep(0.1)


async def recv(ws: ClientConnection, timeout: float = 10) -> dict[str, Any]:
    """The next frame as JSON. asyncio.timeout, not wait_for: on Python 3.11, wait_for can
    swallow a cancellation that races a completed recv, and a cancelled loop would spin on."""
    async with asyncio.timeout(timeout):
        raw = await ws.recv()
    data: dict[str, Any] = orjson.loads(raw)
    return data


async def all_of(*coros: Coroutine[Any, Any, T]) -> list[T]:
    """Run concurrently; if one fails the others are cancelled (their finally blocks run)."""
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(c) for c in coros]
    return [t.result() for t in tasks]


async def until(predicate: Callable[[], bool], what: str, timeout: float = GUARD) -> None:
    """Wait until ``predicate()``; a hang guard, never a speed assertion."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


# -- publishing ----------------------------------------------------------------------------------


def signals(tag: str, start: int, n: int) -> list[dict[str, Any]]:
    """Signals (routed to ``signals`` and ``unified``), each marked ``tag:<i>``."""
    return [
        {"type": "signal", "signal": {"symbol": "SPY", "tag": f"{tag}:{start + i}"}}
        for i in range(n)
    ]


def ticks(tag: str, start: int, n: int) -> list[dict[str, Any]]:
    """Ticks on ``market_SPY``, each marked ``tag:<i>``."""
    return [
        {
            "type": "market_data",
            "symbol": "SPY",
            "data": {"price": 500 + (start + i) / 100, "tag": f"{tag}:{start + i}"},
        }
        for i in range(n)
    ]


def tag_of(frame: dict[str, Any]) -> str:
    body = frame.get("signal") or frame.get("data") or {}
    tag: str = body["tag"]
    return tag


@dataclass
class Published:
    """What one POST /api/v1/publish did."""

    hub: str
    status: int
    tags: list[str]
    results: list[dict[str, Any]] = field(default_factory=list)
    code: str | None = None
    phase: str = ""
    seconds: float = 0.0

    def seqs(self, channel: str) -> dict[int, tuple[str, str]]:
        """seq -> (id, tag) of this batch's messages on ``channel``."""
        return {
            r["seq"][channel]: (r["id"], tag)
            for r, tag in zip(self.results, self.tags, strict=True)
            if channel in r["seq"]
        }


async def post(
    http: httpx.AsyncClient, hub: Hub, batch: list[dict[str, Any]], phase: str = ""
) -> Published:
    """Publish a batch; a request that gets no answer within 20 s is a hang (fails the test)."""
    tags = [tag_of(m) for m in batch]
    start = time.monotonic()
    try:
        r = await http.post(
            hub.url + "/api/v1/publish",
            json={"messages": batch},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=20,
        )
    except httpx.TimeoutException:
        raise AssertionError(f"publish through hub {hub.name} hangs") from None
    out = Published(hub.name, r.status_code, tags, phase=phase, seconds=time.monotonic() - start)
    body = r.json()
    if r.status_code == 202:
        out.results = body["results"]
    else:
        out.code = body.get("error", {}).get("code")
    return out


async def post_accepted(
    http: httpx.AsyncClient, hub: Hub, batch: list[dict[str, Any]]
) -> Published:
    """Publish, retrying a 503 a few times (the Retry-After a real publisher honours)."""
    for _ in range(5):
        out = await post(http, hub, batch)
        if out.status != 503:
            break
        await asyncio.sleep(0.2)
    assert out.status == 202, out
    return out


def seq_map(batches: list[Published], channel: str) -> dict[int, tuple[str, str]]:
    """seq -> (id, tag) over the accepted batches; seqs must be unique."""
    out: dict[int, tuple[str, str]] = {}
    for batch in batches:
        if batch.status == 202:
            mine = batch.seqs(channel)
            assert not set(mine) & set(out), "a seq was given twice"
            out.update(mine)
    return out


# -- subscribers ---------------------------------------------------------------------------------


class Sub:
    """A raw WebSocket subscriber that records every frame it receives, in order."""

    def __init__(self, ws: ClientConnection, ack: dict[str, Any], name: str) -> None:
        self.ws = ws
        self.ack = ack
        self.name = name
        self.frames: list[dict[str, Any]] = []
        self.closed: ConnectionClosed | None = None
        self.ended = asyncio.Event()
        self.open_until_closed: bool | None = None  # still open when the test closed it
        self._task = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, url: str, name: str = "", *, again: list[int] | None = None) -> Sub:
        """Connect and read the ``subscribed`` frame; with ``again``, a close with 1013 (try
        again later) is retried, as clients do, and counted there."""
        for _ in range(100):
            ws = await connect(url)
            try:
                ack = await recv(ws)
            except ConnectionClosed as exc:
                await ws.close()
                if again is None or exc.rcvd is None or exc.rcvd.code != 1013:
                    raise
                again.append(1)
                await asyncio.sleep(0.1)
                continue
            except BaseException:
                await ws.close()
                raise
            assert ack["type"] == "subscribed", ack
            return cls(ws, ack, name or url)
        raise AssertionError(f"{url}: still refused with 1013 after 100 tries")

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self.frames.append(orjson.loads(raw))
        except ConnectionClosed as exc:
            self.closed = exc
        finally:
            self.ended.set()

    @property
    def epoch(self) -> str:
        epoch: str = self.ack["epoch"]
        return epoch

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Channel messages (frames with an id), optionally of one channel."""
        return [f for f in self.frames if "id" in f and channel in (None, f["channel"])]

    def controls(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if "id" not in f and f.get("type") == kind]

    def seqs(self, channel: str | None = None) -> list[int]:
        return [f["seq"] for f in self.messages(channel)]

    def after(self, frame: dict[str, Any]) -> list[dict[str, Any]]:
        """The channel messages that came after ``frame``."""
        return [f for f in self.frames[self.frames.index(frame) + 1 :] if "id" in f]

    async def close(self) -> None:
        if self.open_until_closed is None:
            self.open_until_closed = not self.ended.is_set()
        with contextlib.suppress(Exception):
            await self.ws.close()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@contextlib.asynccontextmanager
async def subscribers() -> AsyncIterator[list[Sub]]:
    """A list to put Subs in; every one of them is closed on the way out."""
    subs: list[Sub] = []
    try:
        yield subs
    finally:
        await asyncio.gather(*(s.close() for s in subs))


def check_stream(sub: Sub, channel: str, expected: dict[int, tuple[str, str]]) -> None:
    """``sub`` got exactly seq 1..N on ``channel``, in order, each the message published there."""
    got = sub.messages(channel)
    seqs = [f["seq"] for f in got]
    assert seqs == list(range(1, len(expected) + 1)), f"{sub.name}: gaps, dups or disorder"
    assert [(f["id"], tag_of(f)) for f in got] == [expected[s] for s in seqs], sub.name


# -- 1. several processes: one order, one seq ----------------------------------------------------


async def test_three_processes_deliver_one_order_with_identical_seqs(
    shared_redis: str, cluster: Cluster
) -> None:
    """What B and C publish reaches subscribers on A, B and C in order, gap-free, with equal seqs."""
    a, b, c = await cluster.start(shared_redis, "ABC")
    per_batch, batches = 100, 10  # per producer: 2 x 10 x 100 = 2,000 per channel
    total = 2 * per_batch * batches
    async with subscribers() as subs, httpx.AsyncClient() as http:
        for hub in (a, b, c):
            subs.append(await Sub.open(hub.ws + "/ws/unified", f"{hub.name}/unified"))
            subs.append(await Sub.open(hub.ws + "/ws/market/SPY", f"{hub.name}/market_SPY"))
        assert all(s.ack["seq"] == 0 for s in subs)

        async def producer(first: int, offset: int) -> list[Published]:
            done = []
            for k in range(batches):
                hub = (b, c)[(first + k) % 2]  # batches alternate between B and C
                start = offset + k * per_batch
                # Signals and ticks interleaved in one batch: one Lua script, two channels.
                mixed = [
                    m
                    for pair in zip(
                        signals(f"p{first}", start, per_batch),
                        ticks(f"p{first}", start, per_batch),
                        strict=True,
                    )
                    for m in pair
                ]
                done.append(await post(http, hub, mixed))
                assert done[-1].status == 202, done[-1]
            return done

        # Two producers at once, each alternating between B and C: Redis decides one order
        # and every process follows it.
        first, second = await all_of(producer(0, 0), producer(1, 10_000))
        published = first + second
        expected = {ch: seq_map(published, ch) for ch in ("unified", "market_SPY")}
        assert all(len(m) == total for m in expected.values())
        await until(
            lambda: all(len(s.messages()) >= total for s in subs), "every message everywhere"
        )
    for sub in subs:
        channel = "unified" if sub.name.endswith("unified") else "market_SPY"
        check_stream(sub, channel, expected[channel])
        assert sub.controls("recovery") == [] and sub.controls("skipped") == []
        assert sub.open_until_closed
    # The same message id has the same seq on every process (check_stream compared each
    # subscriber with the publish results; here directly across the processes too).
    for channel in ("unified", "market_SPY"):
        views = [
            [(f["seq"], f["id"]) for f in s.messages(channel)]
            for s in subs
            if s.name.endswith(channel)
        ]
        assert views[0] == views[1] == views[2]
    # Each producer's own messages kept their order.
    for batch_list in (first, second):
        own = [r["seq"]["unified"] for p in batch_list for r in p.results if "unified" in r["seq"]]
        assert own == sorted(own)
    assert len({s.epoch for s in subs}) == 1


# -- 2. failover to another process ---------------------------------------------------------------


async def test_client_resumes_on_another_process_exactly_once(
    shared_redis: str, cluster: Cluster
) -> None:
    """Clients that lose their hub (SIGKILL, or their own close) resume on B with since/epoch: each message once."""
    a, b, c = await cluster.start(shared_redis, "ABC")
    published: list[Published] = []
    moved = {"killed": asyncio.Event(), "closed": asyncio.Event()}
    finished = asyncio.Event()
    ready = {"killed": asyncio.Event(), "closed": asyncio.Event()}
    minimum = 3000

    async def producer(http: httpx.AsyncClient) -> None:
        for event in ready.values():
            await event.wait()  # both clients subscribed before the first message
        n = 0
        for hub in itertools.cycle((b, c)):
            if n >= minimum and all(e.is_set() for e in moved.values()):
                break
            assert n < 50_000, "the clients never moved"
            batch = await post(http, hub, signals(hub.name, n, 20))
            assert batch.status == 202, batch
            published.append(batch)
            n += 20
            await asyncio.sleep(0.005)
        finished.set()

    def newest_published() -> int:
        return max((r["seq"]["unified"] for p in published for r in p.results), default=0)

    async def client(first: Hub, switch_at: int, lose: str) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        ws = await connect(first.ws + "/ws/unified")
        try:
            ack = await recv(ws)
            assert ack["seq"] == 0, ack
            epoch = ack["epoch"]
            ready[lose].set()
            while len(got) < switch_at:
                got.append(await recv(ws))
            if lose == "killed":
                a.kill()  # mid-stream: whatever A already sent is still read below
                with contextlib.suppress(ConnectionClosed):
                    while True:
                        got.append(await recv(ws))
        finally:
            # "closed": the client drops its connection (no close handshake), as a client
            # whose network went away does; "killed": the socket is already dead.
            ws.transport.abort()
            await ws.close()
        last = got[-1]["seq"]
        ws = await connect(f"{b.ws}/ws/unified?since={last}&epoch={epoch}")
        try:
            ack = await recv(ws)
            assert ack["type"] == "subscribed" and ack["recovered"] is True, ack
            moved[lose].set()
            deadline = time.monotonic() + 45  # a hang guard
            while not (finished.is_set() and got[-1]["seq"] >= newest_published()):
                assert time.monotonic() < deadline, f"{lose}: stuck at {got[-1]}"
                with contextlib.suppress(TimeoutError):
                    got.append(await recv(ws, timeout=1))
        finally:
            await ws.close()
        return got

    async with httpx.AsyncClient() as http, asyncio.timeout(60):
        killed, closed, _ = await all_of(
            client(a, 500, "killed"), client(c, 1000, "closed"), producer(http)
        )
    assert a.proc.returncode == -signal.SIGKILL
    expected = seq_map(published, "unified")
    for got in (killed, closed):
        assert all("id" in f for f in got), [f for f in got if "id" not in f]
        seqs = [f["seq"] for f in got]
        assert seqs == list(range(1, len(expected) + 1))
        assert [(f["id"], tag_of(f)) for f in got] == [expected[s] for s in seqs]


# -- 3. faults on a Redis the test owns ----------------------------------------------------------


async def test_listener_reconnect_catches_up_then_reports_pruned_history(
    own_redis: OwnRedis, cluster: Cluster
) -> None:
    """A hub whose Redis subscription broke fills what it missed from history; beyond it, a gap report."""
    (a, b) = await cluster.start(own_redis.url, "AB", args=("--history", "unified=20/3600"))
    rc = own_redis.client()
    async with subscribers() as subs, httpx.AsyncClient() as http:
        try:
            sub = await Sub.open(a.ws + "/ws/unified", "A")
            subs.append(sub)
            batches = [await post(http, b, signals("live", 0, 10))]

            async def miss(batch: list[dict[str, Any]]) -> None:
                # A is frozen while its pub/sub connection is cut and B publishes: A can only
                # learn of these messages from the history, once it runs and reconnects.
                a.signal(signal.SIGSTOP)
                try:
                    await rc.client_kill_filter(_type="pubsub")
                    batches.append(await post(http, b, batch))
                finally:
                    a.signal(signal.SIGCONT)

            await miss(signals("covered", 0, 15))  # within the 20 kept: caught up
            await until(lambda: len(sub.messages()) == 25, "the caught-up messages")
            assert sub.controls("recovery") == []
            await miss(signals("pruned", 0, 100))  # 80 of them are no longer kept
            await until(lambda: sub.controls("recovery") != [], "the gap report")
            batches.append(await post(http, b, signals("after", 0, 5)))
            await until(lambda: sub.seqs()[-1:] == [130], "the live stream after the gap")
        finally:
            await rc.aclose()
    assert all(p.status == 202 for p in batches)
    expected = seq_map(batches, "unified")
    (gap,) = sub.controls("recovery")
    assert gap == {
        "type": "recovery",
        "channel": "unified",
        "recovered": False,
        "reason": "history_pruned",
        "since": 25,
        "seq": 105,
        "epoch": sub.epoch,
    }
    got = sub.messages()
    assert [f["seq"] for f in got] == [*range(1, 26), *range(106, 131)]
    assert [(f["id"], tag_of(f)) for f in got] == [expected[f["seq"]] for f in got]
    # The report comes exactly where the lost messages would have been.
    assert sub.frames.index(gap) == 25


@OUTAGE
async def test_redis_killed_and_restarted_while_publishing(
    own_redis: OwnRedis, cluster: Cluster
) -> None:
    """Redis SIGKILLed and restarted: 503 not 500, health red then green, sockets survive, epoch change told."""
    hubs = await cluster.start(own_redis.url, "AB")
    records: list[Published] = []
    stop, hold, idle = asyncio.Event(), asyncio.Event(), asyncio.Event()
    phase = {"now": "old"}

    async def producer(http: httpx.AsyncClient) -> None:
        for n, hub in enumerate(itertools.cycle(hubs)):
            if stop.is_set():
                return
            if hold.is_set():
                idle.set()
                await asyncio.sleep(0.02)
                continue
            idle.clear()
            records.append(await post(http, hub, signals("r", n * 5, 5), phase["now"]))
            await asyncio.sleep(0.02)

    def count(status: int, since: int = 0) -> int:
        return sum(r.status == status for r in records[since:])

    async with subscribers() as subs, httpx.AsyncClient() as http:
        for hub in hubs:
            subs.append(await Sub.open(hub.ws + "/ws/unified", hub.name))
        old_epoch = subs[0].epoch
        task = asyncio.create_task(producer(http))
        try:
            await until(lambda: count(202) >= 10, "publishing before the outage")
            own_redis.kill()
            killed_at = len(records)
            await wait_health(http, hubs, 503)
            await until(lambda: count(503, killed_at) >= 5, "publishes during the outage")
            # Publishing pauses around the restart and resumes once every hub is green:
            # a publish reaching the empty Redis before the hubs notice it would bring the
            # old epoch back (see test_publish_right_after_flush_gets_a_new_epoch).
            hold.set()
            await until(idle.is_set, "the producer to pause")
            own_redis.start()
            after = await wait_health(http, hubs, 200)
            phase["now"] = "new"
            resumed_at = len(records)
            hold.clear()
            await until(lambda: count(202, resumed_at) >= 10, "publishing after the outage")
            stop.set()
            await task
            new = seq_map([r for r in records if r.phase == "new"], "unified")
            await until(
                lambda: all(
                    s.controls("recovery") and len(s.after(s.controls("recovery")[0])) >= len(new)
                    for s in subs
                ),
                "the new epoch's messages",
            )
            # A client that resumes with the old epoch is told that it changed.
            ws = await connect(
                f"{hubs[1].ws}/ws/unified?since={subs[0].seqs()[0]}&epoch={old_epoch}"
            )
            try:
                resumed = [await recv(ws), await recv(ws)]
            finally:
                await ws.close()
        finally:
            stop.set()
            await asyncio.gather(task, return_exceptions=True)

    print(
        "publishes (phase, status, count):",
        sorted(collections.Counter((r.phase, r.status) for r in records).items()),
        "recovery frames:",
        [s.controls("recovery") for s in subs],
    )
    assert all(h.proc.poll() is None for h in hubs), "a hub process died"
    assert {r.status for r in records} <= {202, 503}, {r.status for r in records}
    assert {r.code for r in records if r.status == 503} == {"broker_unavailable"}
    new_epoch = after[0]["epoch"]
    assert new_epoch != old_epoch and after[1]["epoch"] == new_epoch
    old = seq_map([r for r in records if r.phase == "old"], "unified")
    new = seq_map([r for r in records if r.phase == "new"], "unified")
    failed = [r for r in records if r.status == 503]
    for sub in subs:
        assert sub.open_until_closed, f"{sub.name}: the socket opened before the outage closed"
        (notice,) = sub.controls("recovery")
        assert notice["reason"] == "epoch_changed" and notice["recovered"] is False
        assert notice["epoch"] == new_epoch
        cut = sub.frames.index(notice)
        before = [f for f in sub.frames[:cut] if "id" in f]
        later = [f for f in sub.frames[cut:] if "id" in f]
        # Before the outage: 1..k in order, then the notice says "lost after k".
        assert [f["seq"] for f in before] == list(range(1, len(before) + 1))
        assert notice["since"] == len(before)
        for f in before:
            if f["seq"] in old:  # else a batch that got 503 but ran (checked whole below)
                assert (f["id"], tag_of(f)) == old[f["seq"]]
        # After: every message accepted in the new epoch, 1..m, nothing else.
        assert [f["seq"] for f in later] == list(range(1, len(new) + 1))
        assert [(f["id"], tag_of(f)) for f in later] == [new[f["seq"]] for f in later]
        # Never half a batch.
        seen = {tag_of(f) for f in before}
        for r in failed:
            assert len(seen & set(r.tags)) in (0, len(r.tags)), r
    assert resumed[0]["type"] == "subscribed" and resumed[0]["recovered"] is False
    assert resumed[1]["type"] == "recovery" and resumed[1]["reason"] == "epoch_changed"


@OUTAGE
async def test_hub_reconnecting_after_epoch_change_delivers_new_epoch_from_start(
    own_redis: OwnRedis, cluster: Cluster
) -> None:
    """A hub that comes back after others started a new epoch delivers it from seq 1 (bug: drops it).

    brokers/redis.py _adopt_epoch clears ``_last``, so the _catch_up in _connect returns at
    once ("nothing delivered here yet") and messages the new epoch got before this process
    resubscribed are skipped although the history holds them; the recovery frame says only
    ``seq: 0``, so the client cannot know.
    """
    a, b = await cluster.start(own_redis.url, "AB")
    async with subscribers() as subs, httpx.AsyncClient() as http:
        sub = await Sub.open(a.ws + "/ws/unified", "A")
        subs.append(sub)
        assert (await post(http, b, signals("old", 0, 30))).status == 202
        await until(lambda: len(sub.messages()) == 30, "the old epoch's messages")
        own_redis.kill()
        await wait_health(http, [a, b], 503)
        a.signal(signal.SIGSTOP)  # A sleeps through the restart; B goes on
        try:
            own_redis.start()
            await wait_health(http, [b], 200)
            # Retried: the first publish after the restart can fail on a pooled connection
            # to the dead Redis (see test_publishes_right_after_redis_returns_succeed).
            early = await post_accepted(http, b, signals("early", 0, 10))
        finally:
            a.signal(signal.SIGCONT)
        await wait_health(http, [a], 200)
        late = await post(http, b, signals("late", 0, 10))
        assert late.status == 202, late
        await until(lambda: sub.seqs()[-1] == 20, "the live messages after A came back")
    (notice,) = sub.controls("recovery")
    assert notice["reason"] == "epoch_changed"
    later = [f for f in sub.frames[sub.frames.index(notice) :] if "id" in f]
    expected = seq_map([early, late], "unified")
    if [f["seq"] for f in later] != list(range(1, 21)):
        raise NewEpochMessagesLost(
            f"after the recovery frame {notice} A delivered seqs {[f['seq'] for f in later]}; "
            "1..10 of the new epoch are in Redis' history but were never delivered"
        )
    assert [(f["id"], tag_of(f)) for f in later] == [expected[f["seq"]] for f in later]


async def test_flushall_yields_new_epoch_and_seq_restarts(
    own_redis: OwnRedis, cluster: Cluster
) -> None:
    """FLUSHALL: a canary finds the epoch gone and makes a new one; subscribers are told; seq restarts at 1."""
    a, b = await cluster.start(own_redis.url, "AB")
    rc = own_redis.client()
    async with subscribers() as subs, httpx.AsyncClient() as http:
        try:
            sub = await Sub.open(a.ws + "/ws/unified", "A")
            subs.append(sub)
            assert (await post(http, b, signals("old", 0, 30))).status == 202
            await until(lambda: len(sub.messages()) == 30, "the old epoch's messages")
            old_epoch = sub.epoch
            await rc.flushall()
            seen: dict[str, str] = {}
            deadline = time.monotonic() + GUARD
            while old_epoch == seen.get("A", old_epoch) == seen.get("B", old_epoch):
                assert time.monotonic() < deadline, f"no hub noticed the flush: {seen}"
                await asyncio.sleep(0.1)
                seen = {h.name: (await health(http, h))[1]["epoch"] for h in (a, b)}
            stored = (await rc.get("alphawire:epoch") or b"").decode()
            assert stored in seen.values() and stored != old_epoch
            new = await post(http, b, signals("new", 0, 10))
            assert new.status == 202, new
            await until(lambda: sub.seqs()[-1:] == [10], "the new epoch's messages")
            after = {h.name: (await health(http, h))[1]["epoch"] for h in (a, b)}
        finally:
            await rc.aclose()
    assert after == {"A": stored, "B": stored}
    assert [r["seq"]["unified"] for r in new.results] == list(range(1, 11))
    (notice,) = sub.controls("recovery")
    assert notice == {
        "type": "recovery",
        "channel": "unified",
        "recovered": False,
        "reason": "epoch_changed",
        "since": 30,
        "seq": 0,
        "epoch": stored,
    }
    later = sub.after(notice)
    assert [f["seq"] for f in later] == list(range(1, 11))
    assert [(f["id"], tag_of(f)) for f in later] == [new.seqs("unified")[f["seq"]] for f in later]


async def test_every_hub_notices_lost_data_without_publishing(
    own_redis: OwnRedis, cluster: Cluster
) -> None:
    """After FLUSHALL every hub reports the new epoch (bug: only the first canary's hub does).

    brokers/redis.py _canary only checks that the epoch key *exists*; once one hub made a
    new epoch, the others keep serving the old one until they happen to publish or receive a
    message. Meanwhile such a hub answers a resume with the old epoch as recovered, replaying
    the new epoch's history as if it continued the old stream.
    """
    a, b = await cluster.start(own_redis.url, "AB")
    rc = own_redis.client()
    async with httpx.AsyncClient() as http:
        try:
            assert (await post(http, b, signals("old", 0, 30))).status == 202
            old_epoch = (await health(http, a))[1]["epoch"]
            await rc.flushall()
            seen: dict[str, str] = {}
            deadline = time.monotonic() + GUARD
            while old_epoch == seen.get("A", old_epoch) == seen.get("B", old_epoch):
                assert time.monotonic() < deadline, f"no hub noticed the flush: {seen}"
                await asyncio.sleep(0.1)
                seen = {h.name: (await health(http, h))[1]["epoch"] for h in (a, b)}
            # Two and a half more canary intervals for the other hub (it never comes).
            deadline = time.monotonic() + 5
            while old_epoch in seen.values() and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                seen = {h.name: (await health(http, h))[1]["epoch"] for h in (a, b)}
            stale = [h for h in (a, b) if seen[h.name] == old_epoch]
            if stale:
                fresh = next(h for h in (a, b) if h not in stale)
                assert (await post(http, fresh, signals("new", 0, 40))).status == 202
                ws = await connect(f"{stale[0].ws}/ws/unified?since=30&epoch={old_epoch}")
                try:
                    ack = await recv(ws)
                    replay = [await recv(ws) for _ in range(10)]
                finally:
                    await ws.close()
        finally:
            await rc.aclose()
    if stale:
        raise StaleEpoch(
            f"hub {stale[0].name} still reports epoch {old_epoch} (hubs: {seen}); resuming "
            f"there with since=30 and the old epoch answers recovered={ack.get('recovered')} "
            f"and replays seqs {[f.get('seq') for f in replay]} of the new epoch "
            f"({sorted({tag_of(f) for f in replay if 'id' in f})[:2]}...)"
        )


async def test_publish_right_after_flush_gets_a_new_epoch(
    own_redis: OwnRedis, cluster: Cluster
) -> None:
    """A publish that is the first write after Redis lost its data starts a new epoch (bug: old one restored).

    brokers/redis.py publish() passes ``self._epoch`` (the old epoch) as the value the Lua
    script sets when the epoch key is missing, so the old epoch comes back while every seq
    restarts at 1. No process ever sees an epoch change, and RedisBroker._arrive drops the
    new seq 1..N as "already delivered" (seq <= _last): subscribers silently miss them.
    """
    a, b = await cluster.start(own_redis.url, "AB")
    rc = own_redis.client()
    canaries = rc.pubsub()
    async with subscribers() as subs, httpx.AsyncClient() as http:
        try:
            sub = await Sub.open(a.ws + "/ws/unified", "A")
            subs.append(sub)
            assert (await post(http, b, signals("old", 0, 30))).status == 202
            await until(lambda: len(sub.messages()) == 30, "the old epoch's messages")
            old_epoch = sub.epoch
            # Flush between two canaries of each hub (they run every 2 s and would notice
            # the missing epoch key first), so that the publish is the first write.
            await canaries.psubscribe("alphawire:canary:*")
            seen: dict[bytes, float] = {}
            deadline = time.monotonic() + GUARD
            while True:
                assert time.monotonic() < deadline, f"canaries seen: {seen}"
                msg = await canaries.get_message(ignore_subscribe_messages=True, timeout=0.02)
                if msg is not None:
                    seen[msg["channel"]] = time.monotonic()
                now = time.monotonic()
                if len(seen) == 2 and all(0.15 < now - t < 1.3 for t in seen.values()):
                    break
            await rc.flushall()
            new = await post(http, b, signals("new", 0, 10))
            assert new.status == 202, new
            assert [r["seq"]["unified"] for r in new.results] == list(range(1, 11))
            with contextlib.suppress(AssertionError):  # two canary intervals at most
                await until(lambda: sub.controls("recovery") != [], "an epoch change", 4)
            epochs = {h.name: (await health(http, h))[1]["epoch"] for h in (a, b)}
            stored = await rc.get("alphawire:epoch")
        finally:
            await canaries.aclose()
            await rc.aclose()
    if stored == old_epoch.encode() or old_epoch in epochs.values():
        raise EpochRestored(
            f"Redis lost its data, yet the epoch is still {old_epoch} (hubs: {epochs}, "
            f"Redis: {stored!r}) while seq restarted at 1; subscriber on A got "
            f"{len(sub.messages())} messages (seq {sub.seqs()[-1]} last), no recovery frame"
        )
    (notice,) = sub.controls("recovery")
    assert notice["reason"] == "epoch_changed"
    await until(lambda: sub.seqs()[-1:] == [10], "the new epoch's messages")


@OUTAGE
async def test_paused_redis_turns_health_red_and_publishes_fail_fast(
    own_redis: OwnRedis, cluster: Cluster
) -> None:
    """Redis SIGSTOPped: publishes answer 503 (no hang), health red, then green; nothing lost after."""
    hubs = await cluster.start(own_redis.url, "AB")
    accepted: list[Published] = []
    async with subscribers() as subs, httpx.AsyncClient() as http:
        for hub in hubs:
            subs.append(await Sub.open(hub.ws + "/ws/unified", hub.name))
        for k in range(4):
            accepted.append(await post(http, hubs[k % 2], signals("before", k * 5, 5)))
        await until(lambda: all(len(s.messages()) == 20 for s in subs), "the first messages")
        await wait_canaries(http, hubs)  # else health is red at the first canary already
        own_redis.pause()
        try:
            during = await all_of(
                *(post(http, h, signals(f"paused-{h.name}", 0, 3)) for h in hubs),
                wait_health(http, hubs, 503),
            )
        finally:
            own_redis.resume()
        await wait_health(http, hubs, 200)
        for k in range(4):
            accepted.append(await post(http, hubs[k % 2], signals("after", k * 5, 5)))
        assert all(p.status == 202 for p in accepted), accepted
        last = max(seq_map(accepted, "unified"))
        await until(lambda: all(s.seqs()[-1:] == [last] for s in subs), "the later messages")
    refused = during[:2]
    print("publishes during the pause:", [(p.status, round(p.seconds, 2)) for p in refused])
    assert [(p.status, p.code) for p in refused] == [(503, "broker_unavailable")] * 2
    expected = seq_map(accepted, "unified")
    for sub in subs:
        assert sub.open_until_closed
        assert sub.controls("recovery") == []
        got = sub.messages()
        assert [f["seq"] for f in got] == list(range(1, last + 1))
        for f in got:
            if f["seq"] in expected:  # else a 503'd batch that ran on resume (see below)
                assert (f["id"], tag_of(f)) == expected[f["seq"]]
    assert all(h.proc.poll() is None for h in hubs)


@OUTAGE
async def test_publish_refused_while_redis_paused_is_never_published(
    own_redis: OwnRedis, cluster: Cluster
) -> None:
    """A publish answered 503 "nothing was published" stays unpublished (bug: it runs on resume).

    brokers/redis.py publish() maps a socket timeout to BrokerUnavailable, but the EVALSHA
    was already written to Redis' socket: a paused (or slow) Redis runs it when it resumes.
    The 503 body (web/app.py broker_down) says "nothing was published".
    """
    (b,) = await cluster.start(own_redis.url, "B")
    async with subscribers() as subs, httpx.AsyncClient() as http:
        sub = await Sub.open(b.ws + "/ws/unified", "B")
        subs.append(sub)
        assert (await post(http, b, signals("before", 0, 5))).status == 202
        own_redis.pause()
        try:
            refused = await post(http, b, signals("ghost", 0, 3))
        finally:
            own_redis.resume()
        assert (refused.status, refused.code) == (503, "broker_unavailable"), refused
        await wait_health(http, [b], 200)
        fence = await post(http, b, signals("after", 0, 5))
        assert fence.status == 202, fence
        await until(lambda: sub.seqs()[-1:] == [max(fence.seqs("unified"))], "the fence")
        history = (await http.get(b.url + "/api/v1/history/unified?since=0&limit=1000")).json()
    stored = [(m["seq"], tag_of(m)) for m in history["messages"] if "ghost" in tag_of(m)]
    delivered = [(m["seq"], tag_of(m)) for m in sub.messages() if "ghost" in tag_of(m)]
    if stored or delivered:
        raise GhostPublish(
            f"refused with 503, then published: in history {stored}, delivered {delivered}"
        )


@OUTAGE
async def test_publishes_right_after_redis_returns_succeed(
    own_redis: OwnRedis, cluster: Cluster
) -> None:
    """Once health is green after a Redis restart, publishes succeed (was: pooled dead connections 503).

    brokers/redis.py keeps one client (and connection pool) for publishing and reading; the
    listener reconnects its own pub/sub connection, but the idle pooled connections still
    point at the dead Redis, and each one fails the next command that uses it. The one retry
    configured in RedisBroker.__init__ never happens: it is a ``redis.retry.Retry`` (the
    synchronous class), whose call_with_retry returns the coroutine without awaiting it, so
    the asyncio client's error escapes it; ``redis.asyncio.retry.Retry`` makes this pass.
    """
    (b,) = await cluster.start(own_redis.url, "B")
    async with httpx.AsyncClient() as http:
        # Concurrent publishes: the hub's pool holds several connections, as under load.
        before = await all_of(*(post(http, b, signals(f"c{i}", 0, 200)) for i in range(8)))
        assert all(p.status == 202 for p in before), before
        own_redis.kill()
        await wait_health(http, [b], 503)
        own_redis.start()
        await wait_health(http, [b], 200)
        after = await all_of(*(post(http, b, signals(f"d{i}", 0, 200)) for i in range(8)))
    refused = [p for p in after if p.status != 202]
    if refused:
        raise StalePooledConnections(
            f"{len(refused)} of 8 publishes got {sorted({(p.status, p.code) for p in refused})} "
            "with health green"
        )


async def test_subscribe_right_after_start_waits_for_the_listener(shared_redis: str) -> None:
    """A subscription made as soon as the broker started succeeds (bug: refused, so clients get 1013).

    brokers/redis.py start() returns before the listener task has connected, and subscribe()
    raises BrokerUnavailable at once while ``_connected`` is unset. A ``--workers`` worker
    serves the shared socket as soon as its app started: its first clients are closed with
    1013 although Redis is fine.
    """
    from alphawire.brokers.redis import RedisBroker

    broker = RedisBroker(shared_redis, prefix=f"test-{uuid.uuid4().hex[:12]}")
    await broker.start(lambda c, s, b: None)
    try:
        await broker.subscribe("unified")
    finally:
        await broker.stop()


async def test_a_retried_publish_script_publishes_nothing_twice(shared_redis: str) -> None:
    """The publish script run twice with the same arguments (redis-py's one retry after a
    connection broke once Redis had run it, the reply lost) publishes once: the second run
    answers the first run's seqs; the counters, history and pub/sub saw one publish. A run
    after the deadline still answers a publish that happened, not "expired"."""
    from alphawire.brokers.redis import RedisBroker

    delivered: list[tuple[str, int]] = []
    broker = RedisBroker(shared_redis, prefix=f"test-{uuid.uuid4().hex[:12]}")
    await broker.start(lambda c, s, b: delivered.append((c, s)))
    try:
        await broker.subscribe("unified")
        keys, args = broker._publish_call([("unified", b'{"n":1}'), ("signals", b'{"n":1}')])
        first = await broker._script(keys=keys, args=args)
        again = await broker._script(keys=keys, args=args)
        assert again == first and [int(x) for x in first[1:]] == [1, 1]
        args[-1] = "0"  # a deadline long past
        assert await broker._script(keys=keys, args=args) == first
        assert await broker.last_seq("unified") == 1 and await broker.last_seq("signals") == 1
        page = await broker.history("unified", 0)
        assert [seq for seq, _ in page.entries] == [1]
        assert await broker.publish([("unified", b'{"n":2}')]) == [2]
        await until(lambda: delivered == [("unified", 1), ("unified", 2)], "two deliveries")
    finally:
        await broker.stop()


# -- 4. serve --workers N on one port ------------------------------------------------------------


def _connections_per_worker(master: int, port: int) -> dict[int, int]:
    """Established TCP connections to ``port`` held by each child of ``master`` (from /proc)."""
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                    children.append(int(entry))
    established: set[str] = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        if parts[3] == "01" and int(parts[1].split(":")[1], 16) == port:
            established.add(parts[9])
    out: dict[int, int] = {}
    for pid in children:
        inodes = set()
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if link.startswith("socket:["):
                        inodes.add(link[8:-1])
        out[pid] = len(inodes & established)
    return out


async def test_workers_on_one_port_deliver_everything_to_every_client(
    shared_redis: str, cluster: Cluster
) -> None:
    """serve --workers 3: 300 clients on one port, spread over the workers, each get all N in seq order."""
    (hub,) = await cluster.start(shared_redis, "W", args=("--workers", "3"))
    clients, total = 300, 200
    async with subscribers() as subs, httpx.AsyncClient() as http:
        gate = asyncio.Semaphore(50)
        # A worker can accept sockets before its Redis listener is connected, and refuses
        # subscriptions with 1013 until then: retried here as a client would (see report).
        refused: list[int] = []

        async def one(i: int) -> None:
            async with gate:
                sub = await Sub.open(hub.ws + "/ws/unified", f"client{i}", again=refused)
                subs.append(sub)

        await all_of(*(one(i) for i in range(clients)))
        spread = _connections_per_worker(hub.proc.pid, hub.port)
        print("connections per worker:", spread, "refused with 1013 and retried:", len(refused))
        published = [await post(http, hub, signals("w", k * 50, 50)) for k in range(total // 50)]
        assert all(p.status == 202 for p in published), published
        expected = seq_map(published, "unified")
        await until(lambda: all(len(s.messages()) >= total for s in subs), "every delivery")
        codes = [(await health(http, hub))[0] for _ in range(10)]
    assert sum(spread.values()) == clients, spread
    assert sum(n > 0 for n in spread.values()) >= 2, f"all clients on one worker: {spread}"
    for sub in subs:
        check_stream(sub, "unified", expected)
        assert sub.open_until_closed
    assert codes == [200] * 10
