"""The producer WebSocket ``/api/v1/ws/publish``: publishing over one socket, a reply per frame.

The same publish token, messages, batches, validation and results as ``POST /api/v1/publish``
(README, "Publishing over a WebSocket"):

- Authentication: ``Authorization: Bearer <publish token>`` on the handshake, or a first
  frame ``{"action":"auth","token":...}`` within ``auth_timeout``; otherwise close 4001 and
  nothing is published. Never in the URL: the publish token does not expire, and URLs end up
  in proxy and access logs.
- A frame is one message (with ``type``), or ``{"messages": [...]}`` (all or nothing, at most
  ``max_batch``), or ``{"action": "auth" | "ping"}``; each may carry a ``ref`` (string or
  integer) that its reply echoes. Every frame gets exactly one reply, in order: ``ack`` (the
  HTTP batch's results), ``error`` (nothing from that frame was published; the socket stays
  open), ``authenticated`` or ``pong``.
- Backpressure: one frame at a time. The next frame is read only after the previous one is
  published and its reply handed to the socket (which waits while the socket's send buffer
  is full), and uvicorn stops reading from the TCP socket while a frame waits for us. A
  producer faster than the hub is slowed down by TCP; nothing is buffered without bound.
- Limits: once authenticated, a frame may be as large as an HTTP publish body
  (``max_request_bytes``; before, the subscribers' 64 KiB), close 1009 over it; binary frames
  close with 1003. No per-frame rate limit: the token holder is trusted as much as over HTTP.
  The socket counts as a connection (limits, stats) and gets 1001 when the hub shuts down.
- A frame whose reply the producer did not get may have been published: it retries with the
  same ``idempotency_key``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Final
from urllib.parse import parse_qs

import orjson

from alphawire import messages, protocol
from alphawire.alerting.outbox import OutboxFull
from alphawire.errors import BrokerUnavailable, ValidationError
from alphawire.node import Node
from alphawire.web.transport import EXTENSION, HubWebSocketProtocol
from alphawire.web.websocket import (
    Receive,
    Refused,
    Scope,
    Send,
    connection_for,
    first_auth_frame,
    origin_checked,
    over_limits,
    request_headers,
)

logger = logging.getLogger("alphawire.ws")

PATH: Final = "/ws/publish"  # under /api/v1
MAX_REF_CHARS: Final = 256
RETRY_AFTER: Final = {protocol.ERR_UNAVAILABLE: 2, protocol.ERR_OUTBOX_FULL: 5}  # as HTTP 503s
_FRAME_SHAPES: Final = (
    'a frame is one message with "type", {"messages": [...]}, '
    'or {"action": "auth" | "ping"}, each with an optional "ref"'
)


class ProducerSocket:
    """ASGI app of ``/api/v1/ws/publish``: token-authenticated publishing, acked per frame."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        node: Node = scope["app"].state.node
        event = await receive()
        if event["type"] != "websocket.connect":  # pragma: no cover - ASGI guarantees it
            return
        headers = request_headers(scope)
        if not origin_checked(headers, node.settings.allowed_origins, "producer socket"):
            await send({"type": "websocket.close", "code": protocol.CLOSE_POLICY_VIOLATION})
            return
        await send({"type": "websocket.accept"})
        await ProducerSession(node, scope, receive, send).run(headers)


class ProducerSession:
    """One producer socket: authenticates, then publishes its frames one at a time."""

    def __init__(self, node: Node, scope: Scope, receive: Receive, send: Send) -> None:
        self.node = node
        self.receive = receive
        self.send = send
        self.query = scope.get("query_string", b"")
        self.proto: HubWebSocketProtocol | None = scope.get("extensions", {}).get(EXTENSION)
        # The connection puts the socket in the registry (connection limits, stats, 1001 at
        # shutdown) and writes the replies: those of frames handled in one loop turn go out
        # in one write (pipelined single-message frames would otherwise cost a send() each).
        self.conn = connection_for(node, scope, send)

    async def run(self, headers: dict[str, str]) -> None:
        registry = self.node.registry
        conn = self.conn
        refused = over_limits(self.node, conn)
        if refused is not None:
            await self._close(protocol.CLOSE_TRY_AGAIN_LATER, refused)
            return
        registry.attach(conn)
        stats = self.node.stats
        stats.publish_connections += 1
        try:
            if await self._authenticate(headers):
                await self._read()
        except Refused as exc:
            conn.abort(exc.code, exc.reason)  # a close frame from the peer first: nothing to do
            await self._drain_until_disconnect()
        finally:
            stats.publish_connections -= 1
            await registry.detach(conn)
            conn.discard()

    async def _close(self, code: int, reason: str) -> None:
        await self.send(
            {"type": "websocket.close", "code": code, "reason": Refused(code, reason).reason}
        )

    async def _drain_until_disconnect(self) -> None:
        # Frames already received behind a refused one are discarded, never published.
        while (await self.receive())["type"] != "websocket.disconnect":
            pass

    # -- authentication ----------------------------------------------------------------------

    async def _authenticate(self, headers: dict[str, str]) -> bool:
        """True once the publish token is proven; False if the peer left first."""
        if "token" in parse_qs(self.query.decode("latin-1"), keep_blank_values=True):
            raise Refused(
                protocol.CLOSE_UNAUTHORIZED,
                "the publish token is not accepted in the URL: "
                "send Authorization: Bearer or an auth frame",
            )
        header = headers.get("authorization")
        if header is not None:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Refused(
                    protocol.CLOSE_UNAUTHORIZED, "Authorization must be 'Bearer <publish token>'"
                )
            self._check(token.strip())
            # No await since the handshake: no frame has been parsed yet under the old limit.
            self._raise_frame_limit()
            return True
        frame = await first_auth_frame(
            self.receive,
            self.node.settings.auth_timeout,
            "publish token required: Authorization: Bearer <token>",
        )
        if frame is None:
            return False
        self._check(frame["token"])
        self._raise_frame_limit()  # frames that came with the auth frame may be parsed already
        ref = frame.get("ref")
        await self._reply(_frame("authenticated", ref if _valid_ref(ref) else None))
        return True

    def _raise_frame_limit(self) -> None:
        """uvicorn's frame limit is the subscribers' (64 KiB); an authenticated producer's
        frame may be as large as an HTTP publish body. Unauthenticated peers never get it:
        over HTTP too, a body is read only after its token is checked."""
        if self.proto is not None:
            self.proto.conn.max_message_size = self.node.settings.max_request_bytes

    def _check(self, token: str) -> None:
        if not self.node.publish_auth.allows(token):
            raise Refused(protocol.CLOSE_UNAUTHORIZED, "wrong publish token")

    # -- frames ------------------------------------------------------------------------------

    async def _read(self) -> None:
        limit = self.node.settings.max_request_bytes
        while True:
            event = await self.receive()
            kind = event["type"]
            if kind == "websocket.disconnect":
                return
            if kind != "websocket.receive" or self._closing():
                continue  # closing: nothing more is published; the disconnect follows
            text = event.get("text")
            if text is None:
                raise Refused(
                    protocol.CLOSE_UNSUPPORTED_DATA,
                    "binary frames are not supported: send JSON text frames",
                )
            if len(text) > limit and len(text.encode()) > limit:
                raise Refused(
                    protocol.CLOSE_MESSAGE_TOO_BIG, f"frame exceeds the {limit}-byte limit"
                )
            await self._reply(await self._handle(text))

    def _closing(self) -> bool:
        proto = self.proto
        if proto is not None and (proto.close_sent or proto.disconnected):
            return True
        return self.conn.is_closing

    async def _reply(self, text: str) -> None:
        """Send a reply, then wait until the socket can take more: while the peer does not
        read its replies, no further frame is read (backpressure)."""
        proto = self.proto
        if proto is None:  # a server without the hub's protocol: plain ASGI send
            with contextlib.suppress(OSError, RuntimeError):  # the peer left, or closing
                await self.send({"type": "websocket.send", "text": text})
            return
        conn = self.conn
        conn.push_control(text)
        while (conn.queued or not proto.writable.is_set()) and not self._closing():
            await proto.writable.wait()
            await asyncio.sleep(0)  # the connection's writer drains what it queued

    async def _handle(self, text: str) -> str:
        """Publish what one frame holds; the reply to send."""
        try:
            frame = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            return _error(None, protocol.ERR_INVALID_JSON, f"frame is not valid JSON: {exc}")
        if not isinstance(frame, dict):
            return _error(None, protocol.ERR_INVALID_FRAME, _FRAME_SHAPES)
        ref = frame.pop("ref", None)
        if not _valid_ref(ref):
            return _error(
                None,
                protocol.ERR_INVALID_FRAME,
                f'"ref" must be a string of up to {MAX_REF_CHARS} characters or an integer',
            )
        if "action" in frame:
            return self._action(frame, ref)
        try:
            if "messages" in frame:
                models = self._batch(frame)
            elif "type" in frame:
                models = [messages.validate(frame)]
            else:
                return _error(ref, protocol.ERR_INVALID_FRAME, _FRAME_SHAPES)
        except ValidationError as exc:
            return _error(ref, protocol.ERR_INVALID_MESSAGE, exc.message, errors=exc.errors)
        try:
            results = await self.node.publish_models(models)
        except BrokerUnavailable as exc:
            return _error(ref, protocol.ERR_UNAVAILABLE, f"{exc}; nothing was published")
        except OutboxFull as exc:
            return _error(ref, protocol.ERR_OUTBOX_FULL, str(exc))
        except Exception:
            logger.exception("publishing a producer frame failed")
            raise Refused(protocol.CLOSE_INTERNAL_ERROR, "internal error") from None
        body = {"type": "ack", "ref": ref, "accepted": len(results), "results": results}
        return orjson.dumps(body).decode()

    def _batch(self, frame: dict[str, Any]) -> list[messages.AnyMessage]:
        unknown = sorted(set(frame) - {"messages"})
        if unknown:
            raise ValidationError(
                f'unknown field(s) {", ".join(unknown)}: a batch frame is {{"messages": [...]}}',
                [
                    {"loc": [k], "field": k, "message": "unknown field", "type": "extra_forbidden"}
                    for k in unknown
                ],
            )
        return messages.validate_batch(frame["messages"], self.node.settings.max_batch)

    def _action(self, frame: dict[str, Any], ref: object) -> str:
        action = frame.get("action")
        if action == "ping":
            return _frame("pong", ref)
        if action == "auth":
            token = frame.get("token")
            if not isinstance(token, str):
                return _error(ref, protocol.ERR_INVALID_FRAME, 'auth needs "token": a string')
            self._check(token)  # a wrong token closes the socket, as at the start
            return _frame("authenticated", ref)
        shown = action if isinstance(action, str) else orjson.dumps(action).decode()
        return _error(
            ref,
            protocol.ERR_UNKNOWN_ACTION,
            f"unknown action {shown[:64]!r}: use one of {', '.join(protocol.PRODUCER_ACTIONS)}",
        )


def _valid_ref(ref: object) -> bool:
    if ref is None or (isinstance(ref, int) and not isinstance(ref, bool)):
        return True
    return isinstance(ref, str) and len(ref) <= MAX_REF_CHARS


def _frame(kind: str, ref: object) -> str:
    return orjson.dumps({"type": kind, "ref": ref}).decode()


def _error(ref: object, code: str, message: str, **extra: object) -> str:
    retry = RETRY_AFTER.get(code)
    if retry is not None:
        extra["retry_after"] = retry
    body = {"type": "error", "ref": ref, "code": code, "message": message, **extra}
    return orjson.dumps(body).decode()
