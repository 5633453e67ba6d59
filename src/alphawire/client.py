"""Python clients: a subscription, and publishers over HTTP and over the producer WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, NoReturn
from urllib.parse import quote

import httpx
import orjson
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from alphawire.errors import ClientError, ServerRejected

DEFAULT_URL = "http://127.0.0.1:8000"


def ws_url(base: str, path: str) -> str:
    """``http(s)://host`` → ``ws(s)://host`` + ``path``."""
    base = base.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base[len("https://") :]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://") :]
    return base + path


# Close codes after which reconnecting cannot help: the request itself is refused.
_FATAL_CLOSES = frozenset({1003, 1008, 1009, 4001, 4002, 4003})


class _Dropped(Exception):
    """The connection closed (not refused) before every channel was subscribed."""


def _closed_before_subscribed(ws: ClientConnection, exc: ConnectionClosed) -> NoReturn:
    """A refusal (bad token, bad frame) is the caller's to fix: ClientError. Anything else (a
    hub going away, a dropped link) is retried: _Dropped."""
    code = ws.close_code
    message = f"hub closed the subscription with {code}: {ws.close_reason or exc}"
    if code in _FATAL_CLOSES:
        raise ClientError(message) from None
    raise _Dropped(message) from None


SUBSCRIBE_TIMEOUT = 10.0  # seconds to wait for the hub's "subscribed" answers


class Subscription:
    """Live messages of one or more channels over ``/api/v1/ws``, resumed across reconnects.

    ``async with Subscription(["market_SPY", "unified"]) as sub: async for msg in sub: ...``
    yields delivered messages as dicts. When the connection drops (network, hub restart, a
    slow-consumer close), it reconnects with jittered exponential backoff and resumes each
    channel from the last ``seq`` it yielded, so nothing is lost or repeated. A gap the hub
    cannot fill is yielded as a ``{"type": "recovery", "recovered": false, ...}`` frame, never
    hidden. Other control frames (``subscribed``, ``pong``) are yielded only with
    ``control=True``. A refusal (bad token, forbidden channel) raises ClientError.

    ``batch=True`` subscribes in batch mode: the hub sends each channel's messages of one
    event-loop turn (or of ``linger_ms``) as one JSON-array frame, which costs both ends less
    at high rates; the iterator still yields one message at a time.
    """

    def __init__(
        self,
        channels: Iterable[str],
        *,
        url: str = DEFAULT_URL,
        token: str | None = None,
        control: bool = False,
        reconnect: bool = True,
        since: Mapping[str, int] | None = None,
        epoch: str | None = None,
        max_backoff: float = 10.0,
        batch: bool = False,
        linger_ms: int = 0,
        on_retry: Callable[[int, float, BaseException], None] | None = None,
        on_disconnect: Callable[[int | None, str], None] | None = None,
    ) -> None:
        self.channels = list(channels)
        # Told of each failed connection attempt: (attempt, seconds until the next, error).
        self.on_retry = on_retry
        # Told when an open connection drops and a reconnect begins: (close code, reason).
        self.on_disconnect = on_disconnect
        self.batch = batch
        self.linger_ms = linger_ms
        self.url = url
        self.token = token
        self.include_control = control
        self.reconnect = reconnect
        self.last_seq: dict[str, int] = dict(since or {})
        self.epoch = epoch
        self.max_backoff = max_backoff
        self.reconnects = 0
        self._ws: ClientConnection | None = None
        self._closed = False
        self._early: list[dict[str, Any]] = []  # frames read while waiting for "subscribed"

    async def __aenter__(self) -> Subscription:
        await self._connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        self._closed = True
        if self._ws is not None:
            await self._ws.close()
            self._ws = None

    async def _connect(self) -> None:
        """Connect, authenticate, subscribe and wait for every "subscribed"; a connection
        that fails or is closed (not refused) on the way is retried with backoff."""
        attempt = 0
        while True:
            try:
                self._ws = await websockets.connect(
                    ws_url(self.url, "/api/v1/ws"), max_size=None, compression=None, open_timeout=10
                )
                await self._subscribe(self._ws)
                return
            except (
                OSError,
                TimeoutError,
                websockets.InvalidStatus,
                websockets.InvalidHandshake,
                _Dropped,
            ) as exc:
                ws, self._ws = self._ws, None
                self._early.clear()  # what a dropped attempt said is not the caller's
                if ws is not None:
                    await ws.close()
                if not self.reconnect or self._closed:
                    if isinstance(exc, _Dropped):
                        raise ClientError(str(exc)) from None
                    raise
                attempt += 1
                delay = _backoff(attempt, self.max_backoff)
                if self.on_retry is not None:
                    self.on_retry(attempt, delay, exc)
                await asyncio.sleep(delay)
            except BaseException:
                ws, self._ws = self._ws, None
                if ws is not None:
                    await ws.close()
                raise

    async def _subscribe(self, ws: ClientConnection) -> None:
        frame: dict[str, Any] = {"action": "subscribe", "channels": self.channels}
        if self.batch:
            frame["batch"] = True
            frame["linger_ms"] = self.linger_ms
        if self.last_seq:
            frame["since"] = self.last_seq
            frame["epoch"] = self.epoch
        try:
            if self.token is not None:
                await ws.send(orjson.dumps({"action": "auth", "token": self.token}).decode())
            await ws.send(orjson.dumps(frame).decode())
        except ConnectionClosed as exc:
            _closed_before_subscribed(ws, exc)
        await self._await_subscribed(ws)

    async def _await_subscribed(self, ws: ClientConnection) -> None:
        """Read until every channel is acknowledged, so that a caller who publishes right
        after ``__aenter__`` is sure to receive it. Frames that come meanwhile are kept for
        the iterator; an error frame or a close raises ClientError."""
        waiting = len(self.channels)
        try:
            while waiting:
                raw = await asyncio.wait_for(ws.recv(), SUBSCRIBE_TIMEOUT)
                data = orjson.loads(raw)
                for frame in data if isinstance(data, list) else (data,):
                    kind = frame.get("type")
                    if kind == "subscribed":
                        waiting -= 1
                    elif kind == "error" and self.include_control:
                        waiting -= 1  # yielded to the caller, who asked for control frames
                    elif kind == "error":
                        raise ClientError(f"hub error {frame.get('code')}: {frame.get('message')}")
                    self._early.append(frame)
        except ConnectionClosed as exc:
            _closed_before_subscribed(ws, exc)
        except TimeoutError:
            raise ClientError(
                f"no 'subscribed' answer within {SUBSCRIBE_TIMEOUT:g} s for {self.channels}"
            ) from None

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[dict[str, Any]]:
        if self._ws is None:
            if self._closed:
                return  # closed by the caller: nothing more to read
            raise ClientError("Subscription is not open: use 'async with Subscription(...)'")
        while not self._closed:
            ws = self._ws
            assert ws is not None
            early, self._early = self._early, []
            for frame in early:
                if self._accept(frame):
                    yield frame
            try:
                async for raw in ws:
                    data = orjson.loads(raw)
                    for frame in data if isinstance(data, list) else (data,):
                        if self._accept(frame):
                            yield frame
            except ConnectionClosed:
                pass
            if self._closed:
                return
            received = ws.close_code
            if received in _FATAL_CLOSES or not self.reconnect:
                reason = ws.close_reason or ""
                if received in _FATAL_CLOSES:
                    raise ClientError(f"hub closed the subscription with {received}: {reason}")
                return
            self.reconnects += 1
            if self.on_disconnect is not None:
                self.on_disconnect(received, ws.close_reason or "")
            await asyncio.sleep(_backoff(1, self.max_backoff) if received == 1001 else 0.05)
            await self._connect()

    def _accept(self, frame: dict[str, Any]) -> bool:
        """Track positions; True when the frame is for the caller."""
        kind = frame.get("type")
        channel = frame.get("channel")
        if kind == "subscribed" and isinstance(channel, str):
            self.epoch = frame.get("epoch", self.epoch)
            if not frame.get("recovered"):
                # A fresh subscription, or one whose gap is reported by a recovery frame:
                # the live stream starts after the hub's current seq.
                self.last_seq[channel] = frame["seq"]
            return self.include_control
        if kind == "recovery":
            return True
        if kind == "error":
            if self.include_control:
                return True
            raise ClientError(f"hub error {frame.get('code')}: {frame.get('message')}")
        if isinstance(channel, str) and isinstance(frame.get("seq"), int):
            if kind == "skipped":
                return self.include_control
            seq = frame["seq"]
            if frame.get("snapshot"):
                self.last_seq[channel] = max(self.last_seq.get(channel, 0), seq)
                return True
            if seq <= self.last_seq.get(channel, 0):
                return False  # already yielded before a reconnect
            self.last_seq[channel] = seq
            return True
        return self.include_control


def _publish_token(token: str | None) -> str:
    """The token given, else ALPHAWIRE_PUBLISH_TOKEN, else the hub's token file on this machine."""
    if not token:
        from alphawire.settings import read_token_file

        token = os.environ.get("ALPHAWIRE_PUBLISH_TOKEN") or read_token_file()
    if not token:
        raise ClientError(
            "no publish token: pass token=, set ALPHAWIRE_PUBLISH_TOKEN, "
            "or run on the hub's machine"
        )
    return token


def _backoff(attempt: int, cap: float) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, 0.1 * 2**attempt)]."""
    return random.uniform(0, min(cap, 0.1 * 2**attempt))


class PublisherClient:
    """Publishes to a hub over HTTP with its publish token; async, one connection pool."""

    def __init__(
        self, url: str = DEFAULT_URL, token: str | None = None, *, timeout: float = 10.0
    ) -> None:
        token = _publish_token(token)
        self._http = httpx.AsyncClient(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=timeout,
        )

    async def __aenter__(self) -> PublisherClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _post(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        content = orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)
        response = await self._http.post(path, content=content)
        try:
            data: dict[str, Any] = response.json()
        except ValueError:
            data = {"raw": response.text}
        if response.status_code != 202:
            raise ServerRejected(response.status_code, data)
        return data

    async def publish_alert(self, **fields: Any) -> dict[str, Any]:
        return await self._post("/api/v1/alerts", _clean(fields))

    async def publish_signal(self, signal: Mapping[str, Any], **fields: Any) -> dict[str, Any]:
        return await self._post("/api/v1/signals", _clean({"signal": signal, **fields}))

    async def publish_market_data(
        self, symbol: str, data: Mapping[str, Any], **fields: Any
    ) -> dict[str, Any]:
        return await self._post(
            f"/api/v1/market/{quote(symbol, safe='')}", _clean({"data": data, **fields})
        )

    async def publish_agent_insight(
        self, agent: str, insight: Mapping[str, Any], **fields: Any
    ) -> dict[str, Any]:
        return await self._post(
            f"/api/v1/agents/{quote(agent, safe='')}/insights",
            _clean({"insight": insight, **fields}),
        )

    async def publish_narrative(
        self, narrative: Mapping[str, Any], **fields: Any
    ) -> dict[str, Any]:
        return await self._post("/api/v1/narrative", _clean({"narrative": narrative, **fields}))

    async def publish_many(self, batch: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Publish up to 1000 messages (each with its ``type``) all-or-nothing."""
        return await self._post("/api/v1/publish", {"messages": list(batch)})


def _clean(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


# Error codes of the producer socket → the HTTP status the same refusal has over HTTP.
_PRODUCER_STATUS = {
    "invalid_message": 422,
    "invalid_json": 400,
    "invalid_frame": 400,
    "unknown_action": 400,
    "unavailable": 503,
    "outbox_full": 503,
}


class StreamPublisher:
    """Publishes over the producer WebSocket ``/api/v1/ws/publish``: one socket, acks awaited.

    ``async with StreamPublisher(token=...) as pub: result = await pub.publish({...})``.
    ``publish`` returns the message's result (``id``, ``type``, ``channels``, ``seq``) and
    ``publish_many`` the batch's ``{"accepted", "results"}``, as over HTTP. Calls from several
    tasks are pipelined on the socket; at most ``window`` frames await their acks at once (the
    others wait for room). A refused frame raises ServerRejected with the HTTP status of the
    same refusal (422 invalid message, 400 bad frame, 503 unavailable or outbox full) and the
    error frame as body; the socket stays usable. If the socket closes, frames still awaiting
    their acks raise ClientError: they may have been published, so retry them with the same
    ``idempotency_key``.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        token: str | None = None,
        *,
        window: int = 256,
        timeout: float = 10.0,
    ) -> None:
        token = _publish_token(token)
        self.url = url
        self._token = token
        self.timeout = timeout
        self._window = asyncio.Semaphore(window)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._next_ref = 0
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._gone: ClientError | None = None

    async def __aenter__(self) -> StreamPublisher:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def connect(self) -> None:
        self._ws = await websockets.connect(
            ws_url(self.url, "/api/v1/ws/publish"),
            additional_headers={"Authorization": f"Bearer {self._token}"},
            max_size=None,
            compression=None,
            open_timeout=self.timeout,
        )
        self._gone = None
        self._reader = asyncio.create_task(self._read(self._ws))

    async def aclose(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await self._reader
        self._ws = self._reader = None

    async def publish(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """Publish one message (with its ``type``); its result once the hub acked it."""
        ack = await self._request(dict(message))
        result: dict[str, Any] = ack["results"][0]
        return result

    async def publish_many(self, batch: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Publish up to 1000 messages (each with its ``type``) all-or-nothing."""
        ack = await self._request({"messages": list(batch)})
        return {"accepted": ack["accepted"], "results": ack["results"]}

    async def _request(self, frame: dict[str, Any]) -> dict[str, Any]:
        async with self._window:
            ws = self._ws
            if ws is None or self._gone is not None:
                raise self._gone or ClientError(
                    "StreamPublisher is not open: use 'async with StreamPublisher(...)'"
                )
            ref = self._next_ref
            self._next_ref += 1
            future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            self._pending[ref] = future
            frame["ref"] = ref
            with contextlib.suppress(ConnectionClosed):  # the reader fails the future then
                await ws.send(orjson.dumps(frame, option=orjson.OPT_NON_STR_KEYS).decode())
            reply = await future
        if reply.get("type") == "error":
            raise ServerRejected(_PRODUCER_STATUS.get(str(reply.get("code")), 400), reply)
        return reply

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                reply: dict[str, Any] = orjson.loads(raw)
                future = self._pending.pop(reply.get("ref"), None)  # type: ignore[arg-type]
                if future is not None and not future.done():
                    future.set_result(reply)
        except ConnectionClosed:
            pass
        left = len(self._pending)
        self._gone = ClientError(
            f"producer socket closed with {ws.close_code}: {ws.close_reason or ''}"
            + (
                f"; {left} frame(s) unacknowledged (they may have been published: "
                "retry with the same idempotency_key)"
                if left
                else ""
            )
        )
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(self._gone)
