"""Subscribe tokens: JWTs carrying ``exp`` and the channel patterns their holder may read.

Publishing uses a separate static bearer token (see ``Settings.resolve_publish_token``):
a leaked dashboard token can read, never publish.
"""

from __future__ import annotations

import fnmatch
import hmac
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from alphawire.channels import normalize_channel
from alphawire.errors import AuthError, ChannelError

CHANNELS_CLAIM = "channels"
HMAC_ALGORITHMS = ("HS256",)
KEY_ALGORITHMS = ("RS256", "ES256")


class TokenExpired(AuthError):
    """The token's ``exp`` has passed."""


@dataclass(frozen=True, slots=True)
class Grant:
    """What a connection may read: channel patterns (``*`` wildcards) until ``expires_at``."""

    patterns: tuple[str, ...]
    expires_at: float | None = None

    def allows(self, channel: str) -> bool:
        # Symbols and agent names are case-insensitive, so patterns are too.
        name = channel.lower()
        return any(fnmatch.fnmatchcase(name, p.lower()) for p in self.patterns)


OPEN = Grant(("*",))


def _pattern(raw: object) -> str:
    if not isinstance(raw, str) or not raw:
        raise AuthError(f"the {CHANNELS_CLAIM!r} claim must be a list of channel patterns")
    if any(c in raw for c in "*?["):
        return raw
    try:
        return normalize_channel(raw)  # "market_spy" grants the canonical "market_SPY"
    except ChannelError as exc:
        raise AuthError(f"the token names an invalid channel: {exc.rule}") from None


class SubscribeAuth:
    """Checks subscribe tokens; ``required`` False means anyone may subscribe (loopback default)."""

    def __init__(
        self,
        *,
        required: bool,
        secret: str | None = None,
        public_key: str | None = None,
        leeway: float = 0.0,
    ) -> None:
        if required and not (secret or public_key):
            raise AuthError(
                "subscribe tokens are required but no key is configured: set "
                "ALPHAWIRE_JWT_SECRET (HS256) or ALPHAWIRE_JWT_PUBLIC_KEY_FILE (RS256/ES256), "
                "or --subscribe-auth open to let anyone subscribe"
            )
        self.required = required
        self._key: Any = public_key or secret
        self._algorithms = list(KEY_ALGORITHMS if public_key else HMAC_ALGORITHMS)
        self._leeway = leeway

    @classmethod
    def from_files(
        cls, *, required: bool, secret: str | None, public_key_file: Path | None
    ) -> SubscribeAuth:
        public_key = public_key_file.read_text() if public_key_file else None
        return cls(required=required, secret=secret, public_key=public_key)

    def verify(self, token: str) -> Grant:
        """The grant a token carries; raises TokenExpired or AuthError (never echoing the token)."""
        if not self._key:
            raise AuthError("this hub has no subscribe-token key configured")
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=self._algorithms,
                options={"require": ["exp"]},
                leeway=self._leeway,
            )
        except jwt.ExpiredSignatureError:
            raise TokenExpired("token expired") from None
        except jwt.MissingRequiredClaimError:
            raise AuthError("token has no exp claim") from None
        except jwt.InvalidTokenError as exc:
            raise AuthError(f"invalid token: {type(exc).__name__}") from None
        raw = claims.get(CHANNELS_CLAIM)
        if not isinstance(raw, list) or not raw:
            raise AuthError(f"token has no {CHANNELS_CLAIM!r} claim (a list of channel patterns)")
        return Grant(tuple(_pattern(p) for p in raw), float(claims["exp"]))

    def seconds_left(self, grant: Grant) -> float | None:
        if grant.expires_at is None:
            return None
        return grant.expires_at - time.time()


class PublishAuth:
    """The publish token check, one place for HTTP and the producer socket."""

    __slots__ = ("_token",)

    def __init__(self, token: str) -> None:
        self._token = token.encode()

    def allows(self, given: str | None) -> bool:
        """True when ``given`` is the publish token (constant time: it must not leak through
        timing)."""
        if not given:
            return False
        return hmac.compare_digest(given.strip().encode(), self._token)
