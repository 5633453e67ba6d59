"""The ASGI app uvicorn runs: WebSockets straight to their endpoint, everything else to FastAPI.

A WebSocket's coroutine stack lives as long as the socket. Routed through Starlette, every
open socket would keep about ten middleware and router frames, an exit stack and their
objects alive (about 5 KiB per connection, measured with tracemalloc), for nothing: the
hub's socket endpoints do their own Origin checks and error handling. So the gateway matches
``websocket`` scopes against the app's WebSocket routes itself, checks the Host header as
TrustedHostMiddleware would (the DNS-rebinding guard), and calls the endpoint directly.
HTTP requests and lifespan events go through FastAPI unchanged.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from starlette.routing import Match, WebSocketRoute

from alphawire import protocol
from alphawire.web.errors import websocket_not_found

logger = logging.getLogger("alphawire.ws")

Scope = dict[str, Any]


class Gateway:
    """Wraps the FastAPI app; ``state`` is the app's (the server's shutdown reads the node)."""

    def __init__(self, app: FastAPI, allowed_hosts: list[str]) -> None:
        self.app = app
        self.state = app.state
        self._hosts = [h.lower() for h in allowed_hosts]
        self._any_host = "*" in self._hosts
        self._routes: list[WebSocketRoute] | None = None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            routes = self._routes
            if routes is None:  # read once, after the app registered all its routes
                routes = self._routes = [
                    r for r in self.app.router.routes if isinstance(r, WebSocketRoute)
                ]
            for route in routes:
                match, child = route.matches(scope)
                if match is Match.FULL:
                    scope.update(child)
                    scope["app"] = self.app
                    if not self._any_host and not host_allowed(scope, self._hosts):
                        await _refuse_host(scope, receive, send)
                        return
                    await route.app(scope, receive, send)
                    return
            scope["app"] = self.app
            if not self._any_host and not host_allowed(scope, self._hosts):
                await _refuse_host(scope, receive, send)
                return
            await websocket_not_found(scope, receive, send)
            return
        await self.app(scope, receive, send)


def host_allowed(scope: Scope, patterns: list[str]) -> bool:
    """The Host header matches a pattern (``name`` or ``*.domain``), as in TrustedHost."""
    host = _host_of(scope).lower()
    if host.startswith("["):  # [::1]:8000
        end = host.find("]")
        host = host[: end + 1] if end != -1 else host
    else:
        host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if not host:
        return False
    for pattern in patterns:
        if host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:])):
            return True
    return False


async def _refuse_host(scope: Scope, receive: Any, send: Any) -> None:
    # Refused before the handshake (uvicorn answers HTTP 403), like a disallowed Origin.
    await receive()  # websocket.connect
    logger.warning("refused WebSocket for host %r", _host_of(scope)[:200])
    await send({"type": "websocket.close", "code": protocol.CLOSE_POLICY_VIOLATION})


def _host_of(scope: Scope) -> str:
    for key, value in scope.get("headers", ()):
        if key == b"host":
            return str(value.decode("latin-1"))
    return ""
