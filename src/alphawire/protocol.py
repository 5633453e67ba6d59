"""The WebSocket protocol's named constants: close codes, error codes, client actions.

Documented for users in README.md ("Close codes and error codes"); keep the two in step.
"""

from __future__ import annotations

from typing import Final

import orjson

# RFC 6455 close codes ------------------------------------------------------------------------
CLOSE_NORMAL: Final = 1000
CLOSE_GOING_AWAY: Final = 1001  # the hub is shutting down: reconnect later
CLOSE_UNSUPPORTED_DATA: Final = 1003  # a binary frame: the protocol is JSON text
CLOSE_POLICY_VIOLATION: Final = 1008  # a symbol or agent name that breaks the naming rules
CLOSE_MESSAGE_TOO_BIG: Final = 1009  # a client frame over the frame limit (64 KiB)
CLOSE_INTERNAL_ERROR: Final = 1011  # also: no pong within the ping deadline
CLOSE_TRY_AGAIN_LATER: Final = 1013  # connection limits reached, or the broker is unreachable

# Application close codes (4000-4999) --------------------------------------------------------
CLOSE_UNAUTHORIZED: Final = 4001  # no valid subscribe token (or, producer socket: publish token)
CLOSE_TOKEN_EXPIRED: Final = 4002  # the token's exp has passed (at connect or later)
CLOSE_FORBIDDEN: Final = 4003  # a per-channel endpoint whose channel the token does not allow
CLOSE_SLOW_CONSUMER: Final = 4008  # the client could not keep up: reconnect with since
CLOSE_RATE_LIMITED: Final = 4029  # the client sent frames faster than allowed

# Error codes in {"type": "error", "code": ..., "message": ...} frames -----------------------
ERR_INVALID_JSON: Final = "invalid_json"
ERR_INVALID_FRAME: Final = "invalid_frame"
ERR_UNKNOWN_ACTION: Final = "unknown_action"
ERR_INVALID_CHANNEL: Final = "invalid_channel"
ERR_TOO_MANY_CHANNELS: Final = "too_many_channels"
ERR_FORBIDDEN: Final = "forbidden"
ERR_INVALID_RECOVERY: Final = "invalid_recovery"
ERR_UNAVAILABLE: Final = "unavailable"  # the broker (Redis) is unreachable right now
# Producer socket (/api/v1/ws/publish) only: the frame's messages were not published.
ERR_INVALID_MESSAGE: Final = "invalid_message"  # a message breaks its schema (errors name it)
ERR_OUTBOX_FULL: Final = "outbox_full"  # the alert outbox is at its bound: retry later

# Client actions ------------------------------------------------------------------------------
ACTIONS: Final = ("subscribe", "unsubscribe", "ping", "auth")
PRODUCER_ACTIONS: Final = ("auth", "ping")  # on the producer socket, beside message frames

PONG_FRAME: Final = '{"type":"pong"}'


def error_frame(code: str, message: str, **extra: object) -> str:
    """An ``error`` frame; the socket stays open."""
    return orjson.dumps({"type": "error", "code": code, "message": message, **extra}).decode()


def unsubscribed_frame(channel: str) -> str:
    return f'{{"type":"unsubscribed","channel":"{channel}"}}'
