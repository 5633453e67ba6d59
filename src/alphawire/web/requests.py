"""What every HTTP endpoint needs of a request: the node, the error answer, the token checks.

Shared by all routers of the web layer (publishing, alerts, channels, sources, agents): one
publish-token check, one subscribe-token check, one error shape.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse, Response

from alphawire.auth import TokenExpired
from alphawire.errors import AuthError
from alphawire.node import Node


class ApiError(Exception):
    """An HTTP error answer: ``{"error": {"code", "message", "errors"?}}`` with ``status``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.headers = headers

    def response(self) -> Response:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors is not None:
            body["errors"] = self.errors
        return ORJSONResponse({"error": body}, status_code=self.status, headers=self.headers)


class ORJSONResponse(JSONResponse):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def node_of(request: Request) -> Node:
    """The node the app wraps."""
    node: Node = request.app.state.node
    return node


def authorize(request: Request) -> Node:
    """The node, once the request's ``Authorization: Bearer`` is the publish token (401 if not)."""
    node = node_of(request)
    header = request.headers.get("authorization")
    challenge = {"WWW-Authenticate": 'Bearer realm="alphawire publish"'}
    if not header:
        raise ApiError(
            401, "unauthorized", "missing Authorization: Bearer <publish token>", headers=challenge
        )
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401, "unauthorized", "Authorization must be 'Bearer <publish token>'", headers=challenge
        )
    if not node.publish_auth.allows(token):
        raise ApiError(401, "unauthorized", "wrong publish token", headers=challenge)
    return node


async def read_json(request: Request, limit: int) -> Any:
    """The JSON body, read up to ``limit`` bytes (413 past it, 400 when empty or not JSON)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(
            413,
            "request_too_large",
            f"request body of {declared} bytes exceeds the {limit}-byte limit",
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "request_too_large", f"request body exceeds the {limit}-byte limit")
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body.strip():
        raise ApiError(400, "empty_body", "request body is empty: send a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", f"request body is not valid JSON: {exc}") from None


def reader(request: Request, channel: str) -> Node:
    """Check a subscribe token (when the hub requires one) for reading ``channel``."""
    node = node_of(request)
    auth = node.subscribe_auth
    if not auth.required:
        return node
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else ""
    token = token or request.query_params.get("token", "")
    challenge = {"WWW-Authenticate": 'Bearer realm="alphawire subscribe"'}
    if not token:
        raise ApiError(
            401,
            "unauthorized",
            "subscribe token required: Authorization: Bearer <token>",
            headers=challenge,
        )
    try:
        grant = auth.verify(token)
    except TokenExpired:
        raise ApiError(401, "token_expired", "token expired", headers=challenge) from None
    except AuthError as exc:
        raise ApiError(401, "unauthorized", str(exc), headers=challenge) from None
    if not grant.allows(channel):
        raise ApiError(403, "forbidden", f"your token does not allow channel {channel}")
    return node


def int_param(
    request: Request, name: str, default: int | None, low: int, high: int | None
) -> int | None:
    """A query parameter as an integer within ``low..high`` (422 naming it otherwise)."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    # isascii: str.isdigit() also accepts digits such as "²" that int() refuses.
    valid = raw.isascii() and raw.isdigit() and len(raw) <= 18
    if not valid or int(raw) < low or (high is not None and int(raw) > high):
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        raise ApiError(
            422, "invalid_parameter", f"{name} must be an integer {bound}, got {raw[:20]!r}"
        )
    return int(raw)


__all__ = ["ApiError", "ORJSONResponse", "authorize", "int_param", "node_of", "read_json", "reader"]
