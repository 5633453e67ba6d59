"""The Redis broker: one set of channels for many hub processes and machines.

- ``publish`` runs one Lua script per batch that, for each message, increments the
  channel's counter, appends the message to a capped stream (the history), keeps the newest
  tick of a market channel, and publishes ``epoch|seq|body`` on the channel's pub/sub
  channel: every process sees the same seq, in the same order.
- A process subscribes at Redis only to channels with local subscribers, on one pub/sub
  connection read by one listener task. A subscription counts only once Redis confirmed it.
- Faults: a publish against an unreachable Redis fails at once with ``BrokerUnavailable``
  (HTTP 503). The listener reconnects with capped backoff, resubscribes, and fills what it
  missed from the history; what the history no longer holds is reported to subscribers as a
  gap. Redis losing its data (flush, restart without persistence) shows up as a missing
  epoch key: a new epoch is made and every subscriber is told.
- A canary message through Redis every ``canary_interval`` seconds drives ``health()``: red
  while delivery through Redis is broken, whatever the TCP connection looks like.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Sequence
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from alphawire.brokers.base import DeliverFn, GapFn, HistoryPage, Retention
from alphawire.brokers.keys import Keys
from alphawire.errors import BrokerUnavailable
from alphawire.results import PublishResult
from alphawire.supervisor import Supervisor

logger = logging.getLogger("alphawire.broker.redis")

# KEYS: per message 4 names (seq key, stream key, latest key, pub/sub channel), then the
# epoch key, then this publish's "once" key. ARGV: per message 4 values (body, history length,
# market flag, unix time), then a fresh epoch to set if Redis has none, then a deadline (unix
# seconds): a script that runs after it (a Redis that was paused while the client gave up)
# publishes nothing, so a 503 "nothing was published" stays true. Returns {epoch, seq1, ...}
# or {"expired"}.
#
# The once key makes a run of the same publish idempotent: redis-py retries a command once on
# a connection error, and when the connection broke after Redis ran the script (the reply was
# lost) the retry would publish every message again. The first run stores its answer under the
# once key (for a minute); a second run returns it and publishes nothing. It is checked before
# the deadline, so a late retry of a publish that happened is not reported as refused.
_PUBLISH = """
local n = (#KEYS - 2) / 4
local once_key = KEYS[#KEYS]
local done = redis.call('GET', once_key)
if done then
  local out = {}
  for part in string.gmatch(done, '[^,]+') do
    out[#out + 1] = part
  end
  for i = 2, #out do
    out[i] = tonumber(out[i])
  end
  return out
end
local now = redis.call('TIME')
if tonumber(now[1]) + tonumber(now[2]) / 1000000 > tonumber(ARGV[#ARGV]) then
  return {'expired'}
end
local epoch_key = KEYS[#KEYS - 1]
local epoch = redis.call('GET', epoch_key)
if not epoch then
  epoch = ARGV[#ARGV - 1]
  redis.call('SET', epoch_key, epoch)
end
local out = {epoch}
for i = 0, n - 1 do
  local k = i * 4
  local seq = redis.call('INCR', KEYS[k + 1])
  redis.call('XADD', KEYS[k + 2], 'MAXLEN', ARGV[k + 2], '0-' .. seq,
             't', ARGV[k + 4], 'b', ARGV[k + 1])
  if ARGV[k + 3] == '1' then
    redis.call('SET', KEYS[k + 3], seq .. '|' .. ARGV[k + 1])
  end
  redis.call('PUBLISH', KEYS[k + 4], epoch .. '|' .. seq .. '|' .. ARGV[k + 1])
  out[i + 2] = seq
end
redis.call('SET', once_key, table.concat(out, ','), 'EX', 60)
return out
"""

_UNREACHABLE = (RedisError, OSError, asyncio.TimeoutError)


class RedisBroker:
    """Broker shared by every hub process connected to the same Redis (and key prefix)."""

    def __init__(
        self,
        url: str,
        *,
        retention: Retention | None = None,
        prefix: str = "alphawire",
        canary_interval: float = 2.0,
        timeout: float = 2.0,
        supervisor: Supervisor | None = None,
    ) -> None:
        self._url = url
        self._keys = Keys(prefix)
        self._retention = retention or Retention()
        self._timeout = timeout
        # One retry on connection errors: after a Redis restart the pool's idle connections
        # are dead, and each would otherwise fail one command. Timeouts are not retried (the
        # command may have run).
        self._redis: aioredis.Redis = aioredis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry_on_timeout=False,
            # Connection errors only (redis-py's default also retries timeouts, which would
            # double the time a paused Redis takes to be reported). A retried publish is
            # harmless: the script's once key (see _PUBLISH) keeps it from running twice.
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )
        # The listener's client has no retry: redis-py would reconnect and resubscribe a
        # broken pub/sub connection by itself, silently, and what was published meanwhile
        # would be lost. Our listener must see the break, to catch up from the history.
        self._listen_client: aioredis.Redis = aioredis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry_on_timeout=False,
            retry=Retry(NoBackoff(), 0),
        )
        self._script = self._redis.register_script(_PUBLISH)
        self._epoch = ""
        self._deliver: DeliverFn | None = None
        self._gap: GapFn | None = None
        self._channels: set[str] = set()  # subscribed here (wanted at Redis)
        self._last: dict[str, int] = {}  # newest seq delivered here, per channel
        self._confirm: dict[str, asyncio.Future[None]] = {}
        self._pubsub: Any = None
        self._connected = asyncio.Event()
        self._node_id = secrets.token_hex(6)
        self._canary_interval = canary_interval
        self._canary_sent = 0.0
        self._canary_seen = 0.0
        # The node's supervisor restarts the listener (a reconnect) and the canary; a broker
        # used on its own gets a private one.
        self._supervisor = supervisor
        self._task_names: list[str] = []
        self._state = "starting"
        self._last_error: str | None = None
        self.reconnects = 0

    @property
    def epoch(self) -> str:
        return self._epoch

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, deliver: DeliverFn, gap: GapFn | None = None) -> None:
        self._deliver = deliver
        self._gap = gap
        try:
            await self._read_epoch()
        except _UNREACHABLE as exc:  # start degraded; the listener keeps trying
            self._last_error = f"{type(exc).__name__}: {exc}"
            logger.warning("Redis unreachable at start (%s); retrying", self._last_error)
        if self._supervisor is None:
            self._supervisor = Supervisor()
        # A lost connection is the listener's expected failure: one warning line, a reconnect
        # after 0.1 s doubling to 5 s, and a catch-up from the history once back.
        self._supervisor.start(
            "redis:listener",
            self._listen,
            initial_backoff=0.1,
            max_backoff=5.0,
            expected=(RedisError, OSError, BrokerUnavailable, TimeoutError),
            on_crash=self._lost,
        )
        self._supervisor.start("redis:canary", self._canary)
        self._task_names = ["redis:listener", "redis:canary"]

    async def stop(self) -> None:
        if self._supervisor is not None:
            await self._supervisor.cancel(self._task_names)
        self._task_names = []
        if self._pubsub is not None:
            with contextlib.suppress(*_UNREACHABLE):
                await self._pubsub.aclose()
        with contextlib.suppress(*_UNREACHABLE):
            await self._redis.aclose()
        with contextlib.suppress(*_UNREACHABLE):
            await self._listen_client.aclose()

    async def _read_epoch(self) -> None:
        fresh = secrets.token_hex(8)
        await self._redis.set(self._keys.epoch, fresh, nx=True)
        value = _as_bytes(await self._redis.get(self._keys.epoch))
        self._adopt_epoch(value.decode() if value else fresh)

    def _adopt_epoch(self, epoch: str) -> None:
        """Switch to ``epoch``; if it replaces a known one, Redis lost data: tell subscribers."""
        old, self._epoch = self._epoch, epoch
        if old and old != epoch:
            logger.warning("Redis epoch changed (%s -> %s): its data was lost", old, epoch)
            lost = dict(self._last)
            # The new epoch's messages start at seq 1: catch-up delivers them from there.
            self._last = dict.fromkeys(lost, 0)
            if self._gap is not None:
                for channel, seq in lost.items():
                    self._gap(channel, seq, 0, "epoch_changed")

    # -- publishing --------------------------------------------------------------------------

    async def publish(self, items: Sequence[tuple[str, bytes]]) -> list[int]:
        if not items:
            return []
        keys, args = self._publish_call(items)
        try:
            out = await self._script(keys=keys, args=args)
        except _UNREACHABLE as exc:
            raise BrokerUnavailable(f"Redis unreachable: {type(exc).__name__}") from None
        first = out[0].decode() if isinstance(out[0], bytes) else str(out[0])
        if first == "expired":
            raise BrokerUnavailable("Redis answered too late (paused or overloaded)")
        epoch = first
        if epoch != self._epoch:
            self._adopt_epoch(epoch)
        return [int(s) for s in out[1:]]

    def _publish_call(self, items: Sequence[tuple[str, bytes]]) -> tuple[list[str], list[Any]]:
        """KEYS and ARGV of one run of the publish script (see _PUBLISH)."""
        keys: list[str] = []
        args: list[Any] = []
        now = f"{time.time():.3f}"
        for channel, body in items:
            k = self._keys
            keys += [k.seq(channel), k.history(channel), k.latest(channel), k.pubsub(channel)]
            limit = self._retention.for_channel(channel)
            args += [body, limit.messages, "1" if channel.startswith("market_") else "0", now]
        keys.append(self._keys.epoch)
        # Never our own epoch: after Redis lost its data that would restore a stale epoch.
        args.append(secrets.token_hex(8))
        # Half the timeout: Redis' clock and ours only need to agree within a second.
        args.append(f"{time.time() + self._timeout / 2:.3f}")
        keys.append(self._keys.once(secrets.token_hex(12)))
        return keys, args

    # -- subscriptions -----------------------------------------------------------------------

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)
        if not self._connected.is_set():
            try:  # just started, or reconnecting: give the listener a moment
                await asyncio.wait_for(self._connected.wait(), self._timeout)
            except TimeoutError:
                raise BrokerUnavailable("Redis unreachable: cannot subscribe now") from None
        future = self._confirm.get(channel)
        if future is None or future.done():
            future = self._confirm[channel] = asyncio.get_running_loop().create_future()
            try:
                await self._pubsub.subscribe(self._keys.pubsub(channel))
            except _UNREACHABLE as exc:
                raise BrokerUnavailable(f"Redis unreachable: {type(exc).__name__}") from None
        try:
            # Only a confirmed subscription guarantees that every later publish reaches us.
            await asyncio.wait_for(asyncio.shield(future), self._timeout * 2)
        except TimeoutError:
            raise BrokerUnavailable("Redis did not confirm the subscription") from None

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        self._last.pop(channel, None)
        self._confirm.pop(channel, None)
        if self._pubsub is not None and self._connected.is_set():
            with contextlib.suppress(*_UNREACHABLE):
                await self._pubsub.unsubscribe(self._keys.pubsub(channel))

    # -- reading -----------------------------------------------------------------------------

    async def last_seq(self, channel: str) -> int:
        try:
            value = await self._redis.get(self._keys.seq(channel))
        except _UNREACHABLE as exc:
            raise BrokerUnavailable(f"Redis unreachable: {type(exc).__name__}") from None
        return int(value) if value else 0

    async def channels(self, limit: int) -> dict[str, int]:
        head = self._keys.seq("")
        found: dict[str, int] = {}
        try:
            async for key in self._redis.scan_iter(match=head + "*", count=1000):
                name = key.decode() if isinstance(key, bytes) else str(key)
                found[name[len(head) :]] = 0
                if len(found) >= limit:
                    break
            names = list(found)
            values = await self._redis.mget([head + n for n in names]) if names else []
        except _UNREACHABLE as exc:
            raise BrokerUnavailable(f"Redis unreachable: {type(exc).__name__}") from None
        return {n: int(v or 0) for n, v in zip(names, values, strict=True)}

    async def history(
        self, channel: str, since: int | None, limit: int | None = None
    ) -> HistoryPage:
        keys = self._keys
        horizon = time.time() - self._retention.for_channel(channel).seconds
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.get(keys.seq(channel))
                if since is None:
                    pipe.xrevrange(keys.history(channel), "+", "-", count=limit or 100)
                else:
                    pipe.xrange(keys.history(channel), f"0-{since + 1}", "+", count=limit)
                pipe.xrange(keys.history(channel), "-", "+", count=1)
                raw_last, raw_entries, raw_first = await pipe.execute()
        except _UNREACHABLE as exc:
            raise BrokerUnavailable(f"Redis unreachable: {type(exc).__name__}") from None
        last = int(raw_last) if raw_last else 0
        rows = list(raw_entries)
        if since is None:
            rows.reverse()
        entries = [
            (_seq_of(entry_id), fields[b"b"])
            for entry_id, fields in rows
            if float(fields[b"t"]) >= horizon
        ]
        first = _seq_of(raw_first[0][0]) if raw_first else last + 1
        if rows and len(entries) < len(rows):
            # Some of the oldest are past the age limit: history effectively starts later.
            first = max(first, entries[0][0] if entries else last + 1)
        return HistoryPage(self._epoch, last, first, entries)

    async def latest(self, channel: str) -> tuple[int, bytes] | None:
        try:
            value = _as_bytes(await self._redis.get(self._keys.latest(channel)))
        except _UNREACHABLE as exc:
            raise BrokerUnavailable(f"Redis unreachable: {type(exc).__name__}") from None
        if not value:
            return None
        seq, _, body = value.partition(b"|")
        return int(seq), body

    # -- the listener ------------------------------------------------------------------------

    async def _listen(self) -> None:
        """Connect, subscribe, catch up, then deliver until the connection breaks (raising)."""
        await self._connect()
        await self._pump()

    def _lost(self, exc: BaseException) -> None:
        """The listener's connection broke: pending subscriptions fail, state says so."""
        self._connected.clear()
        self._state = "reconnecting"
        self._last_error = f"{type(exc).__name__}: {exc}"
        for future in self._confirm.values():
            if not future.done():
                future.set_exception(BrokerUnavailable("Redis connection lost"))
                future.exception()  # retrieved here: subscribe() reports it
        self._confirm.clear()
        self.reconnects += 1

    async def _connect(self) -> None:
        if self._pubsub is not None:
            with contextlib.suppress(*_UNREACHABLE):
                await self._pubsub.aclose()
        self._pubsub = self._listen_client.pubsub(ignore_subscribe_messages=False)
        await self._read_epoch()
        names = [self._keys.canary(self._node_id), *(self._keys.pubsub(c) for c in self._channels)]
        loop = asyncio.get_running_loop()
        for channel in self._channels:
            self._confirm[channel] = loop.create_future()
        await self._pubsub.subscribe(*names)
        self._connected.set()
        self._state = "connected"
        # What was published while we were away: fill from the history, report the rest.
        for channel in list(self._channels):
            await self._catch_up(channel, None)

    async def _pump(self) -> None:
        keys = self._keys
        while True:
            message = await self._pubsub.get_message(timeout=1.0)
            if message is None:
                continue
            name = message["channel"].decode()
            kind = message["type"]
            if kind == "subscribe":
                channel = keys.channel_of(name)
                future = self._confirm.get(channel) if channel else None
                if future is not None and not future.done():
                    future.set_result(None)
                continue
            if kind != "message":
                continue
            if name == keys.canary(self._node_id):
                self._canary_seen = time.monotonic()
                continue
            channel = keys.channel_of(name)
            if channel is None or channel not in self._channels:
                continue
            epoch, _, rest = message["data"].partition(b"|")
            seq_raw, _, body = rest.partition(b"|")
            if epoch.decode() != self._epoch:
                self._adopt_epoch(epoch.decode())
            await self._arrive(channel, int(seq_raw), body)

    async def _arrive(self, channel: str, seq: int, body: bytes) -> None:
        last = self._last.get(channel)
        if last is not None and seq <= last:
            return  # already delivered (a catch-up read it first)
        if last is not None and seq > last + 1:
            await self._catch_up(channel, seq - 1)
        self._last[channel] = seq
        assert self._deliver is not None
        self._deliver(channel, seq, body)

    async def _catch_up(self, channel: str, upto: int | None) -> None:
        """Deliver what this process missed on ``channel`` from the history, report the rest."""
        last = self._last.get(channel)
        if last is None:
            return  # nothing delivered here yet: new subscribers read history themselves
        page = await self.history(channel, last)
        end = page.last_seq if upto is None else upto
        if page.first_seq > last + 1:
            missing_to = min(end, page.first_seq - 1)
            if self._gap is not None:
                self._gap(channel, last, missing_to, "history_pruned")
            last = missing_to
        assert self._deliver is not None
        for seq, body in page.entries:
            if last < seq <= end:
                self._deliver(channel, seq, body)
                last = seq
        self._last[channel] = last

    # -- health ------------------------------------------------------------------------------

    async def _canary(self) -> None:
        while True:
            await asyncio.sleep(self._canary_interval)
            try:
                self._canary_sent = time.monotonic()
                await self._redis.publish(self._keys.canary(self._node_id), b"1")
                current = _as_bytes(await self._redis.get(self._keys.epoch))
                if current is None:
                    await self._read_epoch()  # Redis lost its data: a new epoch
                elif current.decode() != self._epoch:
                    self._adopt_epoch(current.decode())  # another process made the new one
            except _UNREACHABLE as exc:
                self._last_error = f"{type(exc).__name__}: {exc}"

    def idempotency_store(self, window: float) -> RedisIdempotency:
        """Idempotency keys shared by every process on this Redis."""
        return RedisIdempotency(self, window)

    def health(self) -> dict[str, object]:
        now = time.monotonic()
        # Healthy: the listener is connected and the canary made the round trip recently.
        fresh = now - self._canary_seen < self._canary_interval * 2.5
        starting = self._canary_sent == 0.0 and self._connected.is_set()
        ok = self._connected.is_set() and (fresh or starting)
        return {
            "ok": ok,
            "broker": "redis",
            "state": self._state,
            "canary_age_seconds": round(now - self._canary_seen, 3) if self._canary_seen else None,
            "reconnects": self.reconnects,
            "last_error": self._last_error,
            "epoch": self._epoch,
        }


class RedisIdempotency:
    """Idempotency keys kept in Redis, so a retry is recognised by whichever process gets it."""

    def __init__(self, broker: RedisBroker, window: float) -> None:
        self._broker = broker
        self._window = max(1, int(window))

    async def begin(self, key: str) -> PublishResult | None:
        redis = self._broker._redis
        name = self._broker._keys.idempotency(key)
        try:
            for _ in range(250):  # an in-flight first publish gets about 5 s to finish
                if await redis.set(name, b"pending", nx=True, ex=self._window):
                    return None
                value = _as_bytes(await redis.get(name))
                if value is not None and value != b"pending":
                    return PublishResult.from_json(orjson.loads(value))
                await asyncio.sleep(0.02)
        except _UNREACHABLE as exc:
            raise BrokerUnavailable(f"Redis unreachable: {type(exc).__name__}") from None
        raise BrokerUnavailable("an earlier publish with this idempotency key is still in flight")

    async def done(self, key: str, result: PublishResult) -> None:
        name = self._broker._keys.idempotency(key)
        with contextlib.suppress(*_UNREACHABLE):
            await self._broker._redis.set(name, orjson.dumps(result.as_json()), ex=self._window)

    async def fail(self, key: str) -> None:
        with contextlib.suppress(*_UNREACHABLE):
            await self._broker._redis.delete(self._broker._keys.idempotency(key))


def _as_bytes(value: bytes | str | None) -> bytes | None:
    # The client is built without decode_responses, so replies are bytes.
    return value.encode() if isinstance(value, str) else value


def _seq_of(entry_id: bytes) -> int:
    return int(entry_id.split(b"-", 1)[1])
