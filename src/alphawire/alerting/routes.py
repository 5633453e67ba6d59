"""Which Discord webhooks an alert goes to: a TOML route table, first match (or continue).

```toml
[defaults]                      # applied to every route unless it sets its own
cooldown = 60                   # seconds: a repeat of the same dedup key is suppressed
username = "alphawire"

[[routes]]
name = "darkpool"
webhook_url_env = "DP_WEBHOOK"  # or webhook_url = "https://discord.com/api/webhooks/..."
match = { alert_type = ["dark_pool"], symbol = ["SPY", "QQQ"], severity = ["high", "critical"] }
continue = true                 # keep looking for more matching routes
thread_id = "123456789012345678"
mentions = "none"               # none | users | roles | everyone | a table of allowed_mentions
coalesce = "2s"                 # alerts due within 2 s go out as one message (default: off)
embed = "default"               # an alert without embed gets one from its fields; "off", or a
                                # template table (see embeds.py)

[[routes]]
name = "everything-else"        # no match table: matches every alert
webhook_url_env = "ALPHAWIRE_DISCORD_WEBHOOK_URL"
```

Match values are lists of case-insensitive glob patterns (``dp_*``); a key left out matches
anything; an alert without a symbol or severity matches only patterns that are ``*``.
"""

from __future__ import annotations

import fnmatch
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from alphawire.alerting.embeds import EmbedTemplate, embed_template
from alphawire.errors import ValidationError, refuse_unknown_keys

MATCH_KEYS = ("alert_type", "symbol", "severity", "source", "session")
# ``session``: whether the NYSE regular session is open at the alert's time (its timestamp,
# else when it was accepted), from the exchange calendar the sources and agents share.
SESSION_VALUES = ("regular", "closed")
MENTION_POLICIES: dict[str, dict[str, Any]] = {
    "none": {"parse": []},
    "users": {"parse": ["users"]},
    "roles": {"parse": ["roles"]},
    "everyone": {"parse": ["users", "roles", "everyone"]},
}
DEFAULT_COOLDOWN = 60.0
_ROUTE_KEYS = {
    "name",
    "webhook_url",
    "webhook_url_env",
    "match",
    "continue",
    "username",
    "avatar_url",
    "thread_id",
    "mentions",
    "cooldown",
    "coalesce",
    "enabled",
    "embed",
}
COALESCE_MAX = 300.0  # seconds
_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s)")


@dataclass(frozen=True)
class Route:
    """One Discord destination and the alerts it takes."""

    name: str
    webhook_url: str
    match: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    keep_going: bool = False
    username: str | None = None
    avatar_url: str | None = None
    thread_id: str | None = None
    allowed_mentions: Mapping[str, Any] = field(default_factory=lambda: {"parse": []})
    cooldown: float = DEFAULT_COOLDOWN
    coalesce: float = 0.0  # seconds; alerts due within it go out as one message (0: off)
    # The embed an alert without one gets (see embeds.py); None: bare content.
    embed: EmbedTemplate | None = field(default_factory=EmbedTemplate)

    @property
    def destination(self) -> str:
        return f"discord:{self.name}"

    def matches(self, alert: Mapping[str, Any]) -> bool:
        for key, patterns in self.match.items():
            value = market_session(alert.get("timestamp")) if key == "session" else alert.get(key)
            text = "" if value is None else str(value).lower()
            if not any(fnmatch.fnmatchcase(text, p) for p in patterns):
                return False
        return True


@dataclass(frozen=True)
class RouteTable:
    """Routes in order; ``select`` applies first-match-unless-continue."""

    routes: tuple[Route, ...] = ()

    def select(self, alert: Mapping[str, Any]) -> list[Route]:
        chosen: list[Route] = []
        for route in self.routes:
            if route.matches(alert):
                chosen.append(route)
                if not route.keep_going:
                    break
        return chosen

    def get(self, name: str) -> Route | None:
        return next((r for r in self.routes if r.name == name), None)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RouteTable:
        """One catch-all route from ``ALPHAWIRE_DISCORD_WEBHOOK_URL``, or none."""
        env = os.environ if environ is None else environ
        url = env.get("ALPHAWIRE_DISCORD_WEBHOOK_URL")
        where = "ALPHAWIRE_DISCORD_WEBHOOK_URL (route default)"
        return cls((Route("default", _check_url(url, where)),) if url else ())

    @classmethod
    def from_toml(cls, path: Path, environ: Mapping[str, str] | None = None) -> RouteTable:
        """Load a route table; every problem is reported with the route and key it is in."""
        try:
            doc = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ValidationError(f"cannot read alert routes {path}: {exc}") from None
        return cls.from_mapping(doc, str(path), environ)

    @classmethod
    def from_mapping(
        cls,
        doc: Mapping[str, Any],
        source: str,
        environ: Mapping[str, str] | None = None,
        *,
        prefix: str = "",
    ) -> RouteTable:
        """A route table from parsed TOML (``defaults`` and ``routes``); errors start with
        ``source`` and name tables with ``prefix`` (``alphawire.toml``, ``alerts.``)."""
        env = os.environ if environ is None else environ
        defaults = doc.get("defaults", {})
        if not isinstance(defaults, dict):
            raise ValidationError(f"{source}: [{prefix}defaults] must be a table")
        raw_routes = doc.get("routes", [])
        if not isinstance(raw_routes, list) or not raw_routes:
            raise ValidationError(f"{source}: expected one or more [[{prefix}routes]] tables")
        routes: list[Route] = []
        for i, raw in enumerate(raw_routes):
            if not isinstance(raw, dict):
                raise ValidationError(f"{source}: {prefix}routes[{i}] must be a table")
            merged = {**defaults, **raw}
            routes.append(_route(merged, f"{source}: {prefix}routes[{i}]", env))
        names = [r.name for r in routes]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValidationError(
                f"{source}: route names must be unique; repeated: {', '.join(dupes)}"
            )
        return cls(
            tuple(r for r, raw in zip(routes, raw_routes, strict=True) if raw.get("enabled", True))
        )


def route_from_dict(raw: Mapping[str, Any]) -> Route:
    """A Route from ``dataclasses.asdict(route)`` after a JSON round trip (worker processes
    get their routes that way): tuples and the embed template rebuilt."""
    embed = raw.get("embed")
    template: EmbedTemplate | None = None
    if "embed" not in raw:  # written before routes had templates: the default
        template = EmbedTemplate()
    elif isinstance(embed, Mapping):
        template = EmbedTemplate(**{**embed, "fields": tuple(embed["fields"])})
    match = {k: tuple(v) for k, v in raw.get("match", {}).items()}
    return Route(**{**raw, "match": match, "embed": template})


def _route(raw: dict[str, Any], where: str, env: Mapping[str, str]) -> Route:
    refuse_unknown_keys(where, raw, sorted(_ROUTE_KEYS))
    name = raw.get("name")
    if not isinstance(name, str) or not name or not name.replace("-", "_").isidentifier():
        raise ValidationError(f"{where}: name must be a word of letters, digits, - and _")
    where = f"{where} ({name})"
    url = raw.get("webhook_url")
    if url is None and raw.get("webhook_url_env"):
        url = env.get(str(raw["webhook_url_env"]))
        if not url:
            raise ValidationError(
                f"{where}: environment variable {raw['webhook_url_env']} is not set"
            )
    if not isinstance(url, str):
        raise ValidationError(f"{where}: set webhook_url or webhook_url_env")
    match = raw.get("match", {})
    if not isinstance(match, dict):
        raise ValidationError(f"{where}: match must be a table")
    refuse_unknown_keys(where, match, MATCH_KEYS, "match key")
    patterns: dict[str, tuple[str, ...]] = {}
    for key, value in match.items():
        values = [value] if isinstance(value, str) else value
        if (
            not isinstance(values, list)
            or not values
            or not all(isinstance(v, str) for v in values)
        ):
            raise ValidationError(f"{where}: match.{key} must be a string or a list of strings")
        patterns[key] = tuple(v.lower() for v in values)
        if key == "session" and not set(patterns[key]) <= set(SESSION_VALUES):
            raise ValidationError(
                f"{where}: match.session must be {' or '.join(SESSION_VALUES)} "
                f"(the NYSE regular session open or closed at the alert's time), "
                f"not {', '.join(repr(v) for v in values)}"
            )
    mentions = raw.get("mentions", "none")
    if isinstance(mentions, str):
        if mentions not in MENTION_POLICIES:
            raise ValidationError(
                f"{where}: mentions must be one of {', '.join(MENTION_POLICIES)} or a table"
            )
        allowed = MENTION_POLICIES[mentions]
    elif isinstance(mentions, dict):
        allowed = mentions
    else:
        raise ValidationError(f"{where}: mentions must be a string or a table")
    cooldown = raw.get("cooldown", DEFAULT_COOLDOWN)
    if not isinstance(cooldown, int | float) or cooldown < 0:
        raise ValidationError(f"{where}: cooldown must be a number of seconds >= 0")
    coalesce = _seconds(raw.get("coalesce", 0), f"{where}: coalesce")
    thread_id = raw.get("thread_id")
    if thread_id is not None and not str(thread_id).isdigit():
        raise ValidationError(f"{where}: thread_id must be a Discord snowflake (digits)")
    return Route(
        name=name,
        webhook_url=_check_url(url, where),
        match=patterns,
        keep_going=bool(raw.get("continue", False)),
        username=raw.get("username"),
        avatar_url=raw.get("avatar_url"),
        thread_id=str(thread_id) if thread_id is not None else None,
        allowed_mentions=allowed,
        cooldown=float(cooldown),
        coalesce=coalesce,
        embed=embed_template(raw.get("embed"), where),
    )


def _seconds(value: Any, where: str) -> float:
    """A duration: a number of seconds, or a string such as ``"2s"`` or ``"500ms"``."""
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.fullmatch(value.strip())):
        seconds = float(match[1]) / (1000 if match[2] == "ms" else 1)
    if seconds is None or not 0 <= seconds <= COALESCE_MAX:
        raise ValidationError(
            f"{where} must be seconds from 0 to {COALESCE_MAX:g} (a number, or a string "
            f'such as "2s" or "500ms"), got {value!r}'
        )
    return seconds


WEBHOOK_FORM = "https://discord.com/api/webhooks/{id}/{token}"
DISCORD_HOSTS = frozenset(
    f"{sub}{domain}"
    for sub in ("", "ptb.", "canary.")
    for domain in ("discord.com", "discordapp.com")
)
# A stand-in for Discord on this machine (a test double, a local relay) may use http.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_WEBHOOK_PATH = re.compile(r"/api(?:/v[0-9]{1,2})?/webhooks/[0-9]{1,20}/[A-Za-z0-9_-]{1,100}")
_LOOPBACK_PATH = re.compile(r"/api(?:/v[0-9]{1,2})?/webhooks/[0-9]{1,20}/[^/?#\s]{1,100}")


def check_webhook_url(url: str, where: str) -> str:
    """``url`` if it has the form of a Discord webhook URL, else a ValidationError.

    The form: ``https://discord.com/api/webhooks/{id}/{token}`` (also ``discordapp.com``,
    ``ptb.`` and ``canary.``, an ``/api/v{n}`` version, a query such as ``?thread_id=``), or
    the same path on a loopback host over http or https. The error names the route and the
    expected form, and never shows the token.
    """
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        parts, host, port = None, "", None
    problem = None
    if parts is None or parts.scheme not in ("https", "http") or not host:
        problem = "it is not an http(s) URL"
    elif host in LOOPBACK_HOSTS:
        if not _LOOPBACK_PATH.fullmatch(parts.path.rstrip("/")):
            problem = "its path is not /api/webhooks/{id}/{token}"
    elif host not in DISCORD_HOSTS:
        problem = f"{host[:64]!r} is not Discord's host"
    elif parts.scheme != "https" or port not in (None, 443) or parts.username is not None:
        problem = "Discord webhooks are https on the default port, without credentials"
    elif not _WEBHOOK_PATH.fullmatch(parts.path.rstrip("/")):
        problem = "its path is not /api/webhooks/{id}/{token} (id: digits)"
    if problem is not None:
        raise ValidationError(
            f"{where}: the webhook URL is not a Discord webhook URL ({problem}); expected "
            f"{WEBHOOK_FORM} (discordapp.com, ptb. and canary. work too): in Discord, "
            "channel settings > Integrations > Webhooks > Copy Webhook URL"
        )
    return url.strip()


def _check_url(url: str, where: str) -> str:
    return check_webhook_url(url, where)


def market_session(timestamp: Any) -> str:
    """``"regular"`` when the NYSE regular session is open at ``timestamp`` (an ISO-8601
    string or a datetime; now when None), else ``"closed"`` (nights, weekends, holidays and
    the afternoon of a half day)."""
    from alphawire.calendar import default_calendar

    if isinstance(timestamp, datetime):
        when = timestamp
    elif isinstance(timestamp, str):
        when = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    else:
        when = datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return "regular" if default_calendar().is_open(when) else "closed"
