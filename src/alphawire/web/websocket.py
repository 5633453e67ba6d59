"""WebSocket endpoints: a raw ASGI session per socket, bridging client frames and the core."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from alphawire import channels, protocol
from alphawire.auth import OPEN, Grant, TokenExpired
from alphawire.errors import AuthError, BrokerUnavailable, ChannelError
from alphawire.hub.connection import Connection, Sink
from alphawire.hub.registry import BATCH_MAX_LINGER
from alphawire.node import Node
from alphawire.web.transport import EXTENSION, AsgiSink, TransportSink

logger = logging.getLogger("alphawire.ws")

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]


class Refused(Exception):
    """Close the socket with ``code`` and ``reason``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = _reason(reason)


class ChannelSocket:
    """ASGI app for one WebSocket route; ``initial`` maps path parameters to its channels."""

    def __init__(self, initial: Callable[[dict[str, str]], list[str]]) -> None:
        self._initial = initial

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        node: Node = scope["app"].state.node
        event = await receive()
        if event["type"] != "websocket.connect":  # pragma: no cover - ASGI guarantees it
            return
        # The header dict is a temporary: an open socket keeps no headers (idle memory).
        if not origin_checked(request_headers(scope), node.settings.allowed_origins, "WebSocket"):
            await send({"type": "websocket.close", "code": protocol.CLOSE_POLICY_VIOLATION})
            return
        # Nothing reads the headers after this point: an open socket need not keep them.
        scope["headers"] = []
        await send({"type": "websocket.accept"})
        try:
            query = {
                k: v[-1]
                for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()
            }
            initial = self._initial(scope.get("path_params", {}))
            since = _since(query.get("since"))
            epoch = query.get("epoch")
            batch = _batch_query(query)
        except ChannelError as exc:
            await _close(send, protocol.CLOSE_POLICY_VIOLATION, exc.rule)
            return
        except Refused as exc:
            await _close(send, exc.code, exc.reason)
            return
        session = Session(node, scope, receive, send)
        await session.run(initial, query.get("token"), since, epoch, batch)


class Session:
    """One open socket: subscriptions and limits here, frames out through the connection."""

    def __init__(self, node: Node, scope: Scope, receive: Receive, send: Send) -> None:
        self.node = node
        self.receive = receive
        self.send = send
        settings = node.settings
        self.conn = connection_for(
            node,
            scope,
            send,
            max_messages=settings.queue_max_messages,
            max_bytes=settings.queue_max_bytes,
        )
        self.grant: Grant | None = None if node.subscribe_auth.required else OPEN
        self._expiry: asyncio.TimerHandle | None = None
        self.fixed: tuple[str, ...] = ()  # the endpoint's own channels (per-channel endpoints)
        self._allowance = float(settings.client_frame_burst)
        self._last_frame = time.monotonic()

    async def run(
        self,
        initial: list[str],
        token: str | None,
        since: int | None,
        epoch: str | None,
        batch: float | None = None,
    ) -> None:
        registry = self.node.registry
        conn = self.conn
        if self.node.stopping:
            # Shutting down: a client reconnecting in the last moments would be subscribed,
            # then closed again; it is told at once and retries (against the next hub).
            await _close(self.send, protocol.CLOSE_GOING_AWAY, "server shutting down")
            return
        refused = over_limits(self.node, conn)
        if refused is not None:
            await _close(self.send, protocol.CLOSE_TRY_AGAIN_LATER, refused)
            return
        registry.attach(conn)
        self.fixed = tuple(initial)
        try:
            if self.grant is None:
                await self._authenticate(token)
            for channel in initial:
                assert self.grant is not None
                if not self.grant.allows(channel):
                    raise Refused(
                        protocol.CLOSE_FORBIDDEN, f"token does not allow channel {channel}"
                    )
                try:
                    await registry.subscribe(conn, channel, since=since, epoch=epoch, batch=batch)
                except BrokerUnavailable:
                    raise Refused(
                        protocol.CLOSE_TRY_AGAIN_LATER, "broker unavailable: reconnect shortly"
                    ) from None
            await self._read()
        except Refused as exc:
            conn.abort(exc.code, exc.reason)
            await self._drain_until_disconnect()
        finally:
            if self._expiry is not None:
                self._expiry.cancel()
            await registry.detach(conn)
            conn.discard()

    async def _drain_until_disconnect(self) -> None:
        while (await self.receive())["type"] != "websocket.disconnect":
            pass

    # -- authentication ----------------------------------------------------------------------

    async def _authenticate(self, token: str | None) -> None:
        if token is None:
            frame = await first_auth_frame(
                self.receive,
                self.node.settings.auth_timeout,
                "subscribe token required: ?token=...",
            )
            if frame is None:
                raise Refused(protocol.CLOSE_UNAUTHORIZED, "disconnected before auth")
            token = frame["token"]
        self._apply_token(token)

    def _apply_token(self, token: str) -> None:
        try:
            grant = self.node.subscribe_auth.verify(token)
        except TokenExpired:
            raise Refused(protocol.CLOSE_TOKEN_EXPIRED, "token expired") from None
        except AuthError as exc:
            raise Refused(protocol.CLOSE_UNAUTHORIZED, str(exc)) from None
        self.grant = grant
        if self._expiry is not None:
            self._expiry.cancel()
        left = self.node.subscribe_auth.seconds_left(grant)
        if left is not None:
            self._expiry = asyncio.get_running_loop().call_later(
                max(0.0, left), self.conn.abort, protocol.CLOSE_TOKEN_EXPIRED, "token expired"
            )

    async def _enforce_grant(self) -> None:
        """Drop subscriptions a refreshed token no longer allows."""
        grant = self.grant
        assert grant is not None
        for channel in sorted(self.conn.channels):
            if grant.allows(channel):
                continue
            if channel in self.fixed:
                raise Refused(protocol.CLOSE_FORBIDDEN, f"token does not allow channel {channel}")
            await self.node.registry.unsubscribe(self.conn, channel)
            self._error(
                protocol.ERR_FORBIDDEN,
                f"your token no longer allows channel {channel}",
                channel=channel,
            )

    # -- client frames -----------------------------------------------------------------------

    def _rate_ok(self) -> bool:
        """Token bucket: ``client_frames_per_second`` sustained, ``client_frame_burst`` at once."""
        settings = self.node.settings
        now = time.monotonic()
        self._allowance = min(
            float(settings.client_frame_burst),
            self._allowance + (now - self._last_frame) * settings.client_frames_per_second,
        )
        self._last_frame = now
        if self._allowance < 1.0:
            return False
        self._allowance -= 1.0
        return True

    async def _read(self) -> None:
        conn = self.conn
        max_frame = self.node.settings.max_frame_bytes
        while True:
            event = await self.receive()
            kind = event["type"]
            if kind == "websocket.disconnect":
                return
            if kind != "websocket.receive" or conn.is_closing:
                continue
            if not self._rate_ok():
                rate = self.node.settings.client_frames_per_second
                raise Refused(
                    protocol.CLOSE_RATE_LIMITED, f"over {rate:g} client frames per second"
                )
            text = event.get("text")
            if text is None:
                raise Refused(
                    protocol.CLOSE_UNSUPPORTED_DATA,
                    "binary frames are not supported: send JSON text frames",
                )
            if len(text) > max_frame and len(text.encode()) > max_frame:
                raise Refused(
                    protocol.CLOSE_MESSAGE_TOO_BIG, f"frame exceeds the {max_frame}-byte limit"
                )
            await self._handle(text)

    def _error(self, code: str, message: str, **extra: object) -> None:
        self.conn.push_control(protocol.error_frame(code, message, **extra))

    async def _handle(self, text: str) -> None:
        try:
            frame = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            self._error(protocol.ERR_INVALID_JSON, f"frame is not valid JSON: {exc}")
            return
        if not isinstance(frame, dict):
            self._error(
                protocol.ERR_INVALID_FRAME,
                'a client frame is a JSON object such as {"action":"ping"}',
            )
            return
        action = frame.get("action")
        if action == "ping":
            self.conn.push_control(protocol.PONG_FRAME)
        elif action == "subscribe":
            await self._subscribe(frame)
        elif action == "unsubscribe":
            await self._unsubscribe(frame)
        elif action == "auth":
            token = frame.get("token")
            if not isinstance(token, str):
                self._error(protocol.ERR_INVALID_FRAME, 'auth needs "token": a string')
                return
            if not self.node.subscribe_auth.required:
                # An open hub reads no tokens: a client that always sends one still works.
                self.conn.push_control('{"type":"authenticated","required":false}')
                return
            self._apply_token(token)  # a refreshed token extends the connection's life...
            await self._enforce_grant()  # ...and may narrow what it can read
            self.conn.push_control('{"type":"authenticated"}')
        elif action is None:
            self._error(
                protocol.ERR_INVALID_FRAME,
                f'a client frame needs "action": one of {", ".join(protocol.ACTIONS)}',
            )
        else:
            shown = action if isinstance(action, str) else orjson.dumps(action).decode()
            self._error(
                protocol.ERR_UNKNOWN_ACTION,
                f"unknown action {shown[:64]!r}: use one of {', '.join(protocol.ACTIONS)}",
            )

    def _channels_of(self, frame: dict[str, Any]) -> list[Any] | None:
        value = frame.get("channels")
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value:
            self._error(
                protocol.ERR_INVALID_FRAME,
                f'{frame.get("action")} needs "channels": a non-empty list of channel names',
            )
            return None
        return value

    def _recovery_of(self, frame: dict[str, Any]) -> tuple[dict[str, int], str | None] | None:
        raw_since = frame.get("since", {})
        epoch = frame.get("epoch")
        if not isinstance(raw_since, dict) or (epoch is not None and not isinstance(epoch, str)):
            self._error(
                protocol.ERR_INVALID_RECOVERY,
                '"since" must be an object of channel → seq and "epoch" a string',
            )
            return None
        since: dict[str, int] = {}
        for name, seq in raw_since.items():
            if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 2**63:
                self._error(
                    protocol.ERR_INVALID_RECOVERY, f"since[{name!r}] must be a non-negative integer"
                )
                return None
            try:
                since[channels.normalize_channel(name)] = seq
            except ChannelError as exc:
                self._error(protocol.ERR_INVALID_CHANNEL, str(exc), channel=name)
                return None
        return since, epoch

    def _batch_of(self, frame: dict[str, Any]) -> tuple[bool, float | None]:
        """(valid, linger): ``"batch": true`` and ``"linger_ms"`` of a subscribe frame."""
        batch = frame.get("batch", False)
        linger_ms = frame.get("linger_ms", 0)
        if not isinstance(batch, bool):
            self._error(protocol.ERR_INVALID_FRAME, '"batch" must be true or false')
            return False, None
        if not _valid_linger(linger_ms):
            self._error(protocol.ERR_INVALID_FRAME, LINGER_RULE)
            return False, None
        return True, (linger_ms / 1000 if batch else None)

    async def _subscribe(self, frame: dict[str, Any]) -> None:
        requested = self._channels_of(frame)
        recovery = self._recovery_of(frame)
        valid, batch = self._batch_of(frame)
        if requested is None or recovery is None or not valid:
            return
        since, epoch = recovery
        conn = self.conn
        grant = self.grant
        assert grant is not None
        limit = self.node.settings.max_channels_per_connection
        for raw in requested:
            try:
                channel = channels.normalize_channel(raw)
            except ChannelError as exc:
                self._error(
                    protocol.ERR_INVALID_CHANNEL,
                    str(exc),
                    channel=raw if isinstance(raw, str) else None,
                )
                continue
            if not grant.allows(channel):
                self._error(
                    protocol.ERR_FORBIDDEN,
                    f"your token does not allow channel {channel}",
                    channel=channel,
                )
                continue
            if channel not in conn.channels and len(conn.channels) >= limit:
                self._error(
                    protocol.ERR_TOO_MANY_CHANNELS,
                    f"a connection may take at most {limit} channels",
                    channel=channel,
                )
                continue
            try:
                await self.node.registry.subscribe(
                    conn, channel, since=since.get(channel), epoch=epoch, batch=batch
                )
            except BrokerUnavailable as exc:
                self._error(
                    protocol.ERR_UNAVAILABLE, f"{exc}: subscribe again shortly", channel=channel
                )

    async def _unsubscribe(self, frame: dict[str, Any]) -> None:
        requested = self._channels_of(frame)
        if requested is None:
            return
        for raw in requested:
            try:
                channel = channels.normalize_channel(raw)
            except ChannelError as exc:
                self._error(
                    protocol.ERR_INVALID_CHANNEL,
                    str(exc),
                    channel=raw if isinstance(raw, str) else None,
                )
                continue
            await self.node.registry.unsubscribe(self.conn, channel)
            self.conn.push_control(protocol.unsubscribed_frame(channel))


def connection_for(node: Node, scope: Scope, send: Send, **bounds: int) -> Connection:
    """The core's Connection for a socket: straight to the transport when the hub's protocol
    serves it (corked per loop turn), through ASGI ``send`` otherwise."""
    client = scope.get("client") or ("?", 0)
    proto = scope.get("extensions", {}).get(EXTENSION)
    sink: Sink = TransportSink(proto) if proto is not None else AsgiSink(send)
    return Connection(
        sink,
        node.stats,
        client=f"{client[0]}:{client[1]}",
        ip=str(client[0]),
        corker=node.registry.corker if proto is not None else None,
        **bounds,
    )


def over_limits(node: Node, conn: Connection) -> str | None:
    """Why ``conn`` may not join the hub now (close 1013), or None."""
    settings = node.settings
    registry = node.registry
    if registry.connection_count() >= settings.max_connections:
        return "too many connections to this hub"
    if registry.connections_from(conn.ip) >= settings.max_connections_per_ip:
        return "too many connections from your address"
    return None


async def first_auth_frame(
    receive: Receive, deadline: float, required: str
) -> dict[str, Any] | None:
    """The first client frame, which must be ``{"action":"auth","token":"..."}`` and arrive
    within ``deadline`` seconds; None if the peer disconnected first. Anything else closes
    the socket with 4001, the reason starting with ``required`` (how else to send a token)."""
    try:
        async with asyncio.timeout(deadline):
            event = await receive()
    except TimeoutError:
        raise Refused(protocol.CLOSE_UNAUTHORIZED, f"no auth frame within {deadline:g}s") from None
    if event["type"] == "websocket.disconnect":
        return None
    frame = _json_object(event.get("text"))
    if frame is None or frame.get("action") != "auth" or not isinstance(frame.get("token"), str):
        raise Refused(
            protocol.CLOSE_UNAUTHORIZED,
            f'{required} or a first frame {{"action":"auth","token":...}}',
        )
    return frame


def _json_object(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


LINGER_RULE = f'"linger_ms" must be an integer from 0 to {int(BATCH_MAX_LINGER * 1000)}'


def _valid_linger(value: object) -> bool:
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and 0 <= value <= BATCH_MAX_LINGER * 1000
    )


def _batch_query(query: dict[str, str]) -> float | None:
    """``?batch=1&linger_ms=N``: the initial channels in batch mode, or None."""
    raw = query.get("batch")
    raw_linger = query.get("linger_ms", "0")
    if raw is None or raw in ("0", "false"):
        if "linger_ms" in query:
            raise Refused(protocol.CLOSE_POLICY_VIOLATION, "linger_ms needs batch=1")
        return None
    if raw not in ("1", "true"):
        raise Refused(protocol.CLOSE_POLICY_VIOLATION, "batch must be 1 or 0")
    digits = raw_linger.isascii() and raw_linger.isdigit() and len(raw_linger) <= 6
    linger = int(raw_linger) if digits else -1
    if not _valid_linger(linger):
        raise Refused(protocol.CLOSE_POLICY_VIOLATION, LINGER_RULE.replace('"', ""))
    return linger / 1000


def _since(raw: str | None) -> int | None:
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        raise Refused(protocol.CLOSE_POLICY_VIOLATION, "since must be a non-negative integer")
    return int(raw)


def request_headers(scope: Scope) -> dict[str, str]:
    """The handshake's headers, names in lower case."""
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def origin_checked(headers: dict[str, str], allowed: tuple[str, ...], what: str) -> bool:
    """The Origin check, with a warning naming ``what`` was refused."""
    if _origin_allowed(headers, allowed):
        return True
    # Cross-site WebSocket hijacking: refuse before the handshake (HTTP 403).
    logger.warning("refused %s from origin %r", what, headers.get("origin", "")[:200])
    return False


def _origin_allowed(headers: dict[str, str], allowed: tuple[str, ...]) -> bool:
    origin = headers.get("origin")
    if origin is None or "*" in allowed:
        return True  # not a browser (browsers always send Origin on WebSocket upgrades)
    if origin.rstrip("/") in allowed:
        return True
    # Same origin: the page was served by this hub.
    return urlsplit(origin).netloc.lower() == headers.get("host", "").lower()


async def _close(send: Send, code: int, reason: str) -> None:
    await send({"type": "websocket.close", "code": code, "reason": _reason(reason)})


def _reason(text: str) -> str:
    # A close frame's reason must fit in 123 bytes of UTF-8 (RFC 6455 section 5.5).
    data = text.encode()
    if len(data) <= 123:
        return text
    return data[:120].decode(errors="ignore") + "..."


def routes() -> list[tuple[str, ChannelSocket]]:
    """The WebSocket routes under /api/v1 and the channels each starts with."""
    return [
        ("/ws/unified", ChannelSocket(lambda p: [channels.UNIFIED])),
        ("/ws/signals", ChannelSocket(lambda p: [channels.SIGNALS])),
        ("/ws/narrative", ChannelSocket(lambda p: [channels.NARRATIVE])),
        ("/ws/market/{symbol}", ChannelSocket(lambda p: [channels.market_channel(p["symbol"])])),
        (
            "/ws/agents/{agent_name}",
            ChannelSocket(lambda p: [channels.agent_channel(p["agent_name"])]),
        ),
        ("/ws", ChannelSocket(lambda p: [])),
    ]
