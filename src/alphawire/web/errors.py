"""One error shape for every HTTP answer: ``{"error": {"code", "message", ...}}``.

The API's own errors (``requests.ApiError``) have it; this module gives it to what Starlette
answers by itself (an unknown path, a method a route does not take, FastAPI's request
validation), and to a WebSocket handshake on a path with no endpoint, which is answered
with HTTP 404 naming the endpoints that exist (rather than the bare 403 Starlette sends,
which looks exactly like an Origin refusal).
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.routing import WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("alphawire.http")

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    422: "invalid_request",
}


def error_body(code: str, message: str, **extra: Any) -> bytes:
    """The JSON of an error answer."""
    return orjson.dumps({"error": {"code": code, "message": message, **extra}})


def did_you_mean(path: str, known: Iterable[str]) -> str | None:
    """The known path closest to ``path``, when one is close."""
    found = difflib.get_close_matches(path, list(known), n=1, cutoff=0.75)
    return found[0] if found else None


def _paths(app: Any, kind: str) -> list[str]:
    paths: list[str] = []
    if kind == "http" and hasattr(app, "openapi"):
        # Included routers are not flattened into app.routes: the documented paths are.
        paths.extend(app.openapi().get("paths", {}))
    for route in getattr(app, "routes", ()):
        path = getattr(route, "path", None)
        is_ws = isinstance(route, WebSocketRoute)
        if isinstance(path, str) and (is_ws == (kind == "websocket")) and path not in paths:
            paths.append(path)
    return paths


def install_error_handlers(app: FastAPI) -> None:
    """Give Starlette's and FastAPI's own errors the API's error shape."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        status = exc.status_code
        code = _CODES.get(status, "error")
        path = request.url.path
        if status == 404:
            message = f"no endpoint {request.method} {path}"
            near = did_you_mean(path, _paths(request.app, "http"))
            if near is not None:
                message += f"; did you mean {near}?"
            message += "; every endpoint is listed at /docs"
        elif status == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            message = f"{request.method} is not allowed on {path}; allowed: {allowed or 'none'}"
        else:
            message = str(exc.detail)
        return Response(
            error_body(code, message),
            status_code=status,
            headers=exc.headers,
            media_type="application/json",
        )

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        # Starlette still logs the traceback (and re-raises for the server to log); the
        # client gets the usual shape, without internals.
        return Response(
            error_body(
                "internal_error",
                f"the hub failed while answering {request.method} {request.url.path}; "
                "the hub's log has the details",
            ),
            status_code=500,
            media_type="application/json",
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {
                "loc": list(err.get("loc", ())),
                "field": ".".join(str(p) for p in err.get("loc", ())[1:]) or None,
                "message": err.get("msg", ""),
                "type": err.get("type", ""),
            }
            for err in exc.errors()
        ]
        first = errors[0] if errors else {"field": None, "message": "invalid request"}
        message = f"{first['field'] or 'request'}: {first['message']}"
        return Response(
            error_body("invalid_request", message, errors=errors),
            status_code=422,
            media_type="application/json",
        )


async def websocket_not_found(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer a WebSocket handshake on an unknown path: HTTP 404 naming the endpoints."""
    await receive()  # websocket.connect
    path = str(scope.get("path", ""))
    app = scope.get("app")
    endpoints = _paths(app, "websocket")
    message = f"no WebSocket endpoint at {path[:200]}"
    near = did_you_mean(path, endpoints)
    if near is not None:
        message += f"; did you mean {near}?"
    logger.warning("WebSocket handshake for unknown path %r: 404", path[:200])
    body = error_body("not_found", message, endpoints=endpoints)
    if "websocket.http.response" in scope.get("extensions", {}):
        await send(
            {
                "type": "websocket.http.response.start",
                "status": 404,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "websocket.http.response.body", "body": body})
        return
    await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})


class HostGuard(TrustedHostMiddleware):
    """Starlette's Host allow-list (the DNS-rebinding guard), answering in the error shape.

    Starlette refuses a Host with a plain-text "Invalid host header"; the refusal is the
    middleware's own answer when the request never reached the app, and is rewritten here.
    """

    def __init__(
        self,
        app: ASGIApp,
        allowed_hosts: Sequence[str] | None = None,
        www_redirect: bool = True,
    ) -> None:
        super().__init__(app, allowed_hosts=allowed_hosts, www_redirect=www_redirect)
        inner = self.app

        async def reached(scope: Scope, receive: Receive, send: Send) -> None:
            scope["alphawire.host_ok"] = True
            await inner(scope, receive, send)

        self.app = reached

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        refused = False

        async def answer(message: Message) -> None:
            nonlocal refused
            if message["type"] == "http.response.start" and not scope.get("alphawire.host_ok"):
                refused = True
                host = next((v for k, v in scope.get("headers", ()) if k == b"host"), b"")
                body = error_body(
                    "invalid_host",
                    f"this hub does not serve the Host {host.decode('latin-1')[:100]!r}; "
                    "allow it with --allowed-hosts",
                )
                await send(
                    {
                        "type": "http.response.start",
                        "status": message["status"],
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
            if not refused:
                await send(message)

        await super().__call__(scope, receive, answer)
