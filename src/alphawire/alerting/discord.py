"""Discord webhooks: payloads repaired to Discord's documented limits, and a client that keeps
to Discord's rate limits.

``build_payloads`` turns alert text and an embed into execute-webhook bodies that Discord
accepts; ``DiscordClient.send`` posts one of them and says what happened as a ``SendResult``
(it never raises for anything Discord, a proxy or the network does). Webhook tokens are
secrets: every log line and error names a webhook by ``redact(url)`` only.

Sources: Discord's developer documentation (Execute Webhook, Embed Limits, Rate Limits,
Usernames and Nicknames, JSON error codes) and its OpenAPI spec; the documentation wins where
they differ. Lengths are counted in code points, as Discord counts them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import time
import unicodedata
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx

from alphawire import __version__

logger = logging.getLogger("alphawire.alerting.discord")

# Discord's documented limits (characters are code points).
CONTENT_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELDS_LIMIT = 25
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
AUTHOR_LIMIT = 256
EMBED_TOTAL_LIMIT = 6000
USERNAME_LIMIT = 80
URL_LIMIT = 2048
COLOR_MAX = 0xFFFFFF
MENTION_IDS_LIMIT = 100

DEFAULT_USERNAME = "alphawire"
DEFAULT_USER_AGENT = f"DiscordBot (https://github.com/alphawire/alphawire, {__version__})"
DEFAULT_MAX_PARTS = 20
TRUNCATED = "… [truncated]"
EMPTY_CONTENT = "(empty alert)"
BLANK = "\u200b"  # what Discord shows as an empty field name or value
MENTION_TYPES = ("roles", "users", "everyone")
FORBIDDEN_IN_USERNAME = ("discord", "clyde")
RESERVED_USERNAMES = ("everyone", "here", "system message")

# Error codes from Discord's JSON error code table.
CODE_UNKNOWN_WEBHOOK = 10015
CODE_INVALID_FORM_BODY = 50035

Kind = Literal["sent", "rate_limited", "retry", "fatal"]

_SNOWFLAKE = re.compile(r"(0|[1-9][0-9]{0,19})")
_WEBHOOK_PATH = re.compile(r"(?P<prefix>.*/webhooks/)(?P<id>[0-9]{1,20})/(?P<token>[^/?#]+)")
_TOKEN_IN_TEXT = re.compile(r"(/webhooks/[0-9]{1,20}/)[^/?#\s\"'<>]+")
_DROPPED_CATEGORIES = {"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"}


# -- payload repair -------------------------------------------------------------------------


def build_payloads(
    content: str,
    embed: Mapping[str, Any] | None = None,
    *,
    username: str | None = None,
    avatar_url: str | None = None,
    allowed_mentions: Mapping[str, Any] | None = None,
    max_parts: int = DEFAULT_MAX_PARTS,
) -> list[dict[str, Any]]:
    """Execute-webhook bodies for one alert, repaired to Discord's limits; send them in order.

    The result is deterministic (same input, same output) and never empty. The rules:

    - Content over 2000 characters is split into continuation messages, each ending in
      ``"\\n(i/n)"``; splits fall after the last newline, else the last space, in the second
      half of a part, else at the limit (never before a combining mark). Past ``max_parts``
      messages the last part ends with ``"… [truncated N more characters]"``.
    - Content that is empty, only whitespace or not a string is left out; with no embed
      either, the content is ``"(empty alert)"``.
    - The embed goes on the last message. Only keys Discord lets webhooks set are kept:
      ``title``, ``description``, ``url``, ``timestamp``, ``color``, ``footer`` (``text``,
      ``icon_url``), ``image`` and ``thumbnail`` (``url``), ``author`` (``name``, ``url``,
      ``icon_url``) and ``fields`` (``name``, ``value``, ``inline``); the rest is dropped
      (``type``, ``provider`` and ``video`` included, which Discord ignores for webhooks).
    - Texts must be strings (numbers are written out; lone surrogates, which JSON cannot
      carry, become U+FFFD here and in the content); blank ones are dropped, except field
      names and values, which become a zero-width space. A footer without text, an author
      without a name and an image or thumbnail without a URL are dropped. URLs must be
      http(s) with a host, at most 2048 characters. ``timestamp`` must be ISO 8601 (or a
      datetime) and is sent in UTC. ``color`` must be an integer 0..0xFFFFFF or a
      ``"#RRGGBB"``/``"0xRRGGBB"`` string; anything else is dropped. An embed left with
      nothing to show is dropped.
    - Texts over their limit (title and author name 256, description 4096, field name 256,
      field value 1024, footer 2048) are cut and end in ``"… [truncated]"``. Over 25 fields,
      the first 24 are kept and the 25th says how many were left out.
    - Over 6000 characters in all (title, description, field names and values, footer text,
      author name), the embed is cut in reading order (author name, title, description,
      fields, footer): the text where the limit falls ends in ``"… [truncated]"`` and
      everything after it is dropped.
    - ``username`` loses control, zero-width and other non-rendering characters, has
      whitespace runs collapsed and is cut to 80 characters; if it is then empty, contains
      "discord" or "clyde" (any case, after NFKC), or is "everyone", "here" or "system
      message", it becomes ``"alphawire"``. An invalid ``avatar_url`` is dropped.
    - ``allowed_mentions`` defaults to ``{"parse": []}`` (alert text pings nobody). A given
      one keeps only ``parse`` types roles/users/everyone, up to 100 snowflake ``users`` and
      ``roles`` and a boolean ``replied_user``; a type listed both in ``parse`` and by IDs
      (which Discord rejects) keeps the narrower ID list.
    """
    if max_parts < 1:
        raise ValueError(f"max_parts must be at least 1, got {max_parts}")
    text = _valid_unicode(content) if isinstance(content, str) else ""
    repaired = repair_embed(embed) if embed is not None else None
    if not text.strip():
        parts = [] if repaired is not None else [EMPTY_CONTENT]
    else:
        parts = _split_content(text, max_parts)
    common: dict[str, Any] = {}
    name = repair_username(username)
    if name is not None:
        common["username"] = name
    avatar = _url(avatar_url)
    if avatar is not None:
        common["avatar_url"] = avatar
    common["allowed_mentions"] = repair_allowed_mentions(allowed_mentions)
    payloads = [{"content": part, **common} for part in parts] or [dict(common)]
    if repaired is not None:
        payloads[-1]["embeds"] = [repaired]
    return payloads


def _part_marker(index: int, count: int) -> str:
    return f"\n({index}/{count})"


def _split_content(text: str, max_parts: int) -> list[str]:
    if len(text) <= CONTENT_LIMIT:
        return [text]
    digits = 1
    while True:
        widest = 10**digits - 1
        chunks = _chunks(text, CONTENT_LIMIT - len(_part_marker(widest, widest)), max_parts)
        if len(str(len(chunks))) <= digits:
            break
        digits = len(str(len(chunks)))
    return [chunk + _part_marker(i, len(chunks)) for i, chunk in enumerate(chunks, 1)]


def _chunks(text: str, room: int, max_parts: int) -> list[str]:
    chunks: list[str] = []
    start = 0
    while start < len(text):
        if len(chunks) == max_parts - 1 and len(text) - start > room:
            # The last part allowed: keep what fits and say how much is left out.
            keep = room - len(_content_truncation(len(text)))
            chunks.append(
                text[start : start + keep] + _content_truncation(len(text) - start - keep)
            )
            break
        end = _split_point(text, start, room)
        chunks.append(text[start:end])
        start = end
    return chunks


def _content_truncation(omitted: int) -> str:
    return f"… [truncated {omitted} more characters]"


def _split_point(text: str, start: int, room: int) -> int:
    end = start + room
    if end >= len(text):
        return len(text)
    window = text[start:end]
    for separator in ("\n", " "):
        at = window.rfind(separator)
        if at >= room // 2:
            return start + at + 1
    # A hard cut: do not strand a combining mark or joiner at the start of the next part.
    cut = end
    while cut > start + room // 2 and _joins_previous(text[cut]):
        cut -= 1
    return cut


def _joins_previous(char: str) -> bool:
    return bool(unicodedata.combining(char)) or char in "\u200d\ufe0e\ufe0f"


def _valid_unicode(text: str) -> str:
    """``text`` with lone surrogates (which JSON cannot carry as UTF-8) replaced by U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)
    return text


def _text(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        return None
    return _valid_unicode(value)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else _cut(text, limit)


def _cut(text: str, limit: int) -> str:
    """``text`` shortened to end in the truncation marker, ``limit`` characters at most."""
    return text[: limit - len(TRUNCATED)] + TRUNCATED


def _url(value: Any) -> str | None:
    if not isinstance(value, str) or not value or len(value) > URL_LIMIT:
        return None
    if any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return value


def _timestamp(value: Any) -> str | None:
    try:
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, str):
            moment = datetime.fromisoformat(value)
        else:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat()
    except (ValueError, OverflowError):
        return None


def _color(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        digits = value.strip().lower().removeprefix("#").removeprefix("0x")
        if not re.fullmatch(r"[0-9a-f]{6}", digits):
            return None
        value = int(digits, 16)
    if isinstance(value, int) and 0 <= value <= COLOR_MAX:
        return value
    return None


def _media(value: Any) -> dict[str, str] | None:
    url = _url(value.get("url")) if isinstance(value, Mapping) else None
    return {"url": url} if url is not None else None


def repair_embed(embed: Mapping[str, Any]) -> dict[str, Any] | None:
    """One embed repaired to the rules of ``build_payloads``; None when nothing is left."""
    if not isinstance(embed, Mapping):
        return None
    out: dict[str, Any] = {}
    author = embed.get("author")
    if isinstance(author, Mapping) and (name := _text(author.get("name"))) is not None:
        out["author"] = {"name": _clip(name, AUTHOR_LIMIT)}
        for key in ("url", "icon_url"):
            if (link := _url(author.get(key))) is not None:
                out["author"][key] = link
    for key, limit in (("title", TITLE_LIMIT), ("description", DESCRIPTION_LIMIT)):
        if (text := _text(embed.get(key))) is not None:
            out[key] = _clip(text, limit)
    if (link := _url(embed.get("url"))) is not None:
        out["url"] = link
    fields = _fields(embed.get("fields"))
    if fields:
        out["fields"] = fields
    footer = embed.get("footer")
    if isinstance(footer, Mapping) and (text := _text(footer.get("text"))) is not None:
        out["footer"] = {"text": _clip(text, FOOTER_LIMIT)}
        if (link := _url(footer.get("icon_url"))) is not None:
            out["footer"]["icon_url"] = link
    for key in ("image", "thumbnail"):
        if (media := _media(embed.get(key))) is not None:
            out[key] = media
    if (moment := _timestamp(embed.get("timestamp"))) is not None:
        out["timestamp"] = moment
    if (color := _color(embed.get("color"))) is not None:
        out["color"] = color
    visible = ("author", "title", "description", "fields", "footer", "image", "thumbnail")
    if not any(key in out for key in visible):
        return None
    _fit_total(out)
    return out


def _fields(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list | tuple):
        return []
    fields: list[dict[str, Any]] = []
    for item in value:
        if not isinstance(item, Mapping):
            continue
        name, text = _text(item.get("name")), _text(item.get("value"))
        if name is None and text is None:
            continue
        field: dict[str, Any] = {
            "name": _clip(name or BLANK, FIELD_NAME_LIMIT),
            "value": _clip(text or BLANK, FIELD_VALUE_LIMIT),
        }
        if isinstance(item.get("inline"), bool):
            field["inline"] = item["inline"]
        fields.append(field)
    if len(fields) > FIELDS_LIMIT:
        left_out = len(fields) - (FIELDS_LIMIT - 1)
        fields = fields[: FIELDS_LIMIT - 1]
        fields.append({"name": TRUNCATED, "value": f"{left_out} more fields not shown"})
    return fields


def embed_size(embed: Mapping[str, Any]) -> int:
    """The characters Discord counts towards the 6000 limit in one embed."""
    size = len(embed.get("title") or "") + len(embed.get("description") or "")
    size += len((embed.get("author") or {}).get("name") or "")
    size += len((embed.get("footer") or {}).get("text") or "")
    for field in embed.get("fields") or ():
        size += len(field.get("name") or "") + len(field.get("value") or "")
    return size


def _fit_total(embed: dict[str, Any]) -> None:
    if embed_size(embed) <= EMBED_TOTAL_LIMIT:
        return
    # Author name, title and description fit within their own limits (4608 at most), so the
    # cut falls in the fields or the footer. A cut text keeps one character and the marker.
    reserve = len(TRUNCATED) + 1
    used = embed_size(
        {key: embed[key] for key in ("author", "title", "description") if key in embed}
    )
    fields: list[dict[str, Any]] = embed.get("fields", [])
    for index, field in enumerate(fields):
        size = len(field["name"]) + len(field["value"])
        if used + size > EMBED_TOTAL_LIMIT - reserve:
            room = EMBED_TOTAL_LIMIT - used
            if room - len(field["name"]) >= reserve:
                field["value"] = _cut(
                    field["value"], min(FIELD_VALUE_LIMIT, room - len(field["name"]))
                )
            else:
                field["name"] = _cut(field["name"], min(FIELD_NAME_LIMIT, room - 1))
                field["value"] = "…"
            del fields[index + 1 :]
            embed.pop("footer", None)
            return
        used += size
    footer = embed["footer"]  # the only text left: the total was over the limit
    footer["text"] = _cut(footer["text"], min(FOOTER_LIMIT, EMBED_TOTAL_LIMIT - used))


def repair_username(username: str | None) -> str | None:
    """A webhook username Discord accepts (see ``build_payloads``); None keeps the default."""
    if username is None:
        return None
    kept = "".join(
        ch for ch in str(username) if unicodedata.category(ch) not in _DROPPED_CATEGORIES
    )
    name = " ".join(kept.split())[:USERNAME_LIMIT].rstrip()
    folded = unicodedata.normalize("NFKC", name).casefold()
    if not name or folded in RESERVED_USERNAMES:
        return DEFAULT_USERNAME
    if any(word in folded for word in FORBIDDEN_IN_USERNAME):
        return DEFAULT_USERNAME
    return name


def repair_allowed_mentions(value: Mapping[str, Any] | None) -> dict[str, Any]:
    """An allowed-mentions object Discord accepts; none given means no pings at all."""
    if not isinstance(value, Mapping):
        return {"parse": []}
    parse: list[str] = []
    if isinstance(value.get("parse"), list | tuple):
        for kind in value["parse"]:
            if kind in MENTION_TYPES and kind not in parse:
                parse.append(kind)
    out: dict[str, Any] = {"parse": parse}
    for key in ("users", "roles"):
        ids = _snowflakes(value.get(key))
        if ids:
            out[key] = ids
            if key in parse:
                parse.remove(key)
    if isinstance(value.get("replied_user"), bool):
        out["replied_user"] = value["replied_user"]
    return out


def _snowflakes(value: Any) -> list[str]:
    if not isinstance(value, list | tuple):
        return []
    ids: list[str] = []
    for item in value:
        text = str(item) if isinstance(item, int) and not isinstance(item, bool) else item
        if isinstance(text, str) and _is_snowflake(text) and text not in ids:
            ids.append(text)
    return ids[:MENTION_IDS_LIMIT]


def _is_snowflake(text: str) -> bool:
    return bool(_SNOWFLAKE.fullmatch(text)) and int(text) < 2**64


# -- webhook URLs ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Webhook:
    url: str
    webhook_id: str
    token: str


def _parse_webhook(url: str) -> _Webhook | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    match = _WEBHOOK_PATH.fullmatch(parts.path)
    if parts.scheme not in ("http", "https") or not parts.hostname or match is None:
        return None
    return _Webhook(url, match["id"], match["token"])


def redact(url: str) -> str:
    """``url`` safe to log: scheme, host, path up to the webhook id, the token as ``***``.

    Credentials, query and fragment are dropped; a URL that is not a webhook URL keeps only
    its scheme and host.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "***"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    match = _WEBHOOK_PATH.fullmatch(parts.path)
    path = f"{match['prefix']}{match['id']}/***" if match else "/***"
    return urlunsplit((parts.scheme, netloc, path, "", ""))


def _scrub(text: str, token: str) -> str:
    text = _TOKEN_IN_TEXT.sub(r"\1***", text)
    return text.replace(token, "***") if token else text


class _RedactWebhookTokens(logging.Filter):
    """Rewrites log records that carry a webhook URL (httpx logs every request URL)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is the logging module's problem, not ours
            return True
        if "/webhooks/" in message:
            record.msg = _TOKEN_IN_TEXT.sub(r"\1***", message)
            record.args = None
        return True


def _guard_httpx_logs() -> None:
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactWebhookTokens) for f in httpx_logger.filters):
        httpx_logger.addFilter(_RedactWebhookTokens())


# -- the client -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendResult:
    """What one ``DiscordClient.send`` came to; ``error`` never holds a webhook token.

    ``kind`` is one of:

    - ``sent``: 2xx; ``message_id`` is the new message's id when Discord returned it.
    - ``rate_limited``: a 429, or a send held back without a request (``status`` None);
      try again after ``retry_after`` seconds without counting an attempt. ``is_global``
      when every webhook is held.
    - ``retry``: 5xx, 408, a timeout, a network failure, or a 401/403 page that is not
      Discord's JSON; try again with backoff. A timed-out request may still have been
      delivered (webhooks have no idempotency key).
    - ``fatal``: sending this payload again cannot work (400, other 4xx; ``code`` is
      Discord's JSON error code, e.g. 50035). ``disable_webhook`` when the webhook is gone
      (404, 10015 Unknown Webhook) or refused (Discord's 401/403): stop using it.
    """

    kind: Kind
    status: int | None = None
    message_id: str | None = None
    retry_after: float | None = None
    is_global: bool = False
    error: str = ""
    disable_webhook: bool = False
    code: int | None = None


@dataclass(slots=True)
class _Bucket:
    remaining: int | None = None
    reset_at: float = 0.0


class DiscordClient:
    """Executes Discord webhooks, waiting as Discord's rate-limit headers require.

    - Per bucket, keyed by webhook id and ``X-RateLimit-Bucket``: once ``Remaining`` is 0 the
      next request to that webhook waits ``Reset-After`` seconds. Requests to one webhook go
      one at a time, in call order; different webhooks go concurrently.
    - A 429 is returned as ``rate_limited`` and remembered: a global one holds every webhook,
      a per-route one holds its bucket, until ``retry_after`` has passed.
    - Invalid requests (401, 403, and 429 unless ``X-RateLimit-Scope: shared``) are counted
      over the last ``invalid_window`` seconds. Discord bans an IP for a while at
      ``invalid_limit`` (10,000 per 10 minutes); at ``invalid_pause_fraction`` of it this
      client stops sending until the window has room again.
    - A wait longer than ``max_wait`` seconds is not slept through: ``send`` returns
      ``rate_limited`` at once with the time left, and the caller schedules the retry.

    ``clock`` must advance in seconds alongside the event loop (waits are ``asyncio.sleep``).
    One instance belongs to one event loop. An ``http`` client passed in stays the caller's
    to close; the one created otherwise is closed by ``aclose``.
    """

    def __init__(
        self,
        http: httpx.AsyncClient | None = None,
        *,
        user_agent: str = DEFAULT_USER_AGENT,
        timeout: float = 10.0,
        invalid_limit: int = 10_000,
        invalid_window: float = 600.0,
        invalid_pause_fraction: float = 0.5,
        max_wait: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        if invalid_limit < 1:
            raise ValueError(f"invalid_limit must be at least 1, got {invalid_limit}")
        if invalid_window <= 0:
            raise ValueError(f"invalid_window must be positive, got {invalid_window}")
        if not 0 < invalid_pause_fraction <= 1:
            raise ValueError(
                f"invalid_pause_fraction must be in (0, 1], got {invalid_pause_fraction}"
            )
        if max_wait < 0:
            raise ValueError(f"max_wait must not be negative, got {max_wait}")
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient()
        self._user_agent = user_agent
        self._timeout = timeout
        self._invalid_limit = invalid_limit
        self._invalid_window = invalid_window
        self._invalid_threshold = max(1, math.floor(invalid_limit * invalid_pause_fraction))
        self._max_wait = max_wait
        self._clock = clock
        self._locks: dict[str, asyncio.Lock] = {}
        self._route_bucket: dict[str, str] = {}
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._global_until = 0.0
        # Bounded in practice: sending stops once it holds ``_invalid_threshold`` entries.
        self._invalid: deque[float] = deque()
        self._counts = {"sent": 0, "rate_limited": 0, "retries": 0, "fatal": 0, "held": 0}
        _guard_httpx_logs()

    async def __aenter__(self) -> DiscordClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if this instance created it."""
        if self._owns_http:
            await self._http.aclose()

    async def send(
        self, webhook_url: str, payload: Mapping[str, Any], *, thread_id: str | None = None
    ) -> SendResult:
        """Execute the webhook with ``payload`` (``?wait=true``) and say how it went."""
        webhook = _parse_webhook(webhook_url)
        if webhook is None:
            error = f"not a Discord webhook URL: {redact(webhook_url)}"
            return self._finish(webhook_url, SendResult("fatal", error=error, disable_webhook=True))
        if thread_id is not None and not _is_snowflake(thread_id):
            error = f"thread_id must be a snowflake (digits), got {thread_id!r}"
            return self._finish(webhook_url, SendResult("fatal", error=error))
        try:
            body = json.dumps(payload, ensure_ascii=False, allow_nan=False).encode()
        except (TypeError, ValueError) as exc:
            error = f"payload is not JSON: {_scrub(str(exc), webhook.token)}"
            return self._finish(webhook_url, SendResult("fatal", error=error))
        lock = self._locks.setdefault(webhook.webhook_id, asyncio.Lock())
        async with lock:
            held = await self._wait_turn(webhook.webhook_id)
            result = held or await self._post(webhook, body, thread_id)
        return self._finish(webhook_url, result)

    def paused(self) -> bool:
        """Whether every send is held (invalid-request budget or a global rate limit)."""
        return self._paused_until() is not None

    def stats(self) -> dict[str, Any]:
        """Counts of outcomes, invalid requests in the window, and until when sends are held.

        ``held`` counts sends answered ``rate_limited`` without a request; ``paused_until``
        is a ``clock`` time, or None.
        """
        now = self._clock()
        self._prune_invalid(now)
        return {
            **self._counts,
            "invalid_requests_in_window": len(self._invalid),
            "invalid_pause_threshold": self._invalid_threshold,
            "paused_until": self._paused_until(),
        }

    def _paused_until(self) -> float | None:
        now = self._clock()
        until = max(self._invalid_until(now) or 0.0, self._global_until)
        return until if until > now else None

    def _prune_invalid(self, now: float) -> None:
        while self._invalid and self._invalid[0] <= now - self._invalid_window:
            self._invalid.popleft()

    def _invalid_until(self, now: float) -> float | None:
        self._prune_invalid(now)
        excess = len(self._invalid) - self._invalid_threshold
        if excess < 0:
            return None
        # Below the threshold again once this many of the oldest have left the window.
        return self._invalid[excess] + self._invalid_window

    async def _wait_turn(self, webhook_id: str) -> SendResult | None:
        while True:
            now = self._clock()
            invalid_until = self._invalid_until(now)
            if invalid_until is not None:
                error = (
                    f"holding all sends: {len(self._invalid)} invalid requests (401/403/429) "
                    f"in the last {self._invalid_window:g}s reached the pause threshold "
                    f"{self._invalid_threshold} (Discord bans at {self._invalid_limit})"
                )
                return SendResult(
                    "rate_limited", retry_after=invalid_until - now, is_global=True, error=error
                )
            global_wait = self._global_until - now
            bucket = self._buckets.get((webhook_id, self._route_bucket.get(webhook_id, "")))
            bucket_wait = 0.0
            if bucket is not None and bucket.remaining is not None and bucket.remaining <= 0:
                bucket_wait = bucket.reset_at - now
            wait = max(global_wait, bucket_wait)
            if wait <= 0:
                return None
            is_global = global_wait >= bucket_wait
            if wait > self._max_wait:
                scope = "global rate limit" if is_global else "rate limit bucket exhausted"
                error = f"{scope}: {wait:.3f}s left, over max_wait {self._max_wait:g}s"
                return SendResult(
                    "rate_limited", retry_after=wait, is_global=is_global, error=error
                )
            await asyncio.sleep(wait)

    async def _post(self, webhook: _Webhook, body: bytes, thread_id: str | None) -> SendResult:
        params = {"wait": "true"}
        if thread_id is not None:
            params["thread_id"] = thread_id
        headers = {"User-Agent": self._user_agent, "Content-Type": "application/json"}
        try:
            response = await self._http.post(
                webhook.url,
                content=body,
                params=params,
                headers=headers,
                timeout=httpx.Timeout(self._timeout),
            )
        except httpx.TimeoutException as exc:
            error = f"timed out after {self._timeout:g}s ({type(exc).__name__})"
            return SendResult("retry", error=error)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            error = f"network error: {type(exc).__name__}: {_scrub(str(exc), webhook.token)}"
            return SendResult("retry", error=error)
        now = self._clock()
        self._learn(webhook.webhook_id, response.headers, now)
        return self._outcome(webhook, response, now)

    def _learn(self, webhook_id: str, headers: httpx.Headers, now: float) -> None:
        bucket_name = headers.get("x-ratelimit-bucket")
        if bucket_name:
            self._route_bucket[webhook_id] = bucket_name
        remaining = _number(headers.get("x-ratelimit-remaining"))
        reset_after = _number(headers.get("x-ratelimit-reset-after"))
        if reset_after is None and (reset := _number(headers.get("x-ratelimit-reset"))):
            reset_after = max(0.0, reset - time.time())
        if remaining is None and reset_after is None:
            return
        key = (webhook_id, self._route_bucket.get(webhook_id, ""))
        bucket = self._buckets.setdefault(key, _Bucket())
        bucket.remaining = int(remaining) if remaining is not None else None
        bucket.reset_at = now + (reset_after or 0.0)

    def _outcome(self, webhook: _Webhook, response: httpx.Response, now: float) -> SendResult:
        status = response.status_code
        data = _json_object(response)
        code = data.get("code") if isinstance(data.get("code"), int) else None
        if 200 <= status < 300:
            message_id = data.get("id")
            return SendResult(
                "sent",
                status=status,
                message_id=message_id if isinstance(message_id, str) else None,
            )
        error = _describe(response, data, webhook.token)
        if status == 429:
            return self._rate_limited(webhook.webhook_id, response, data, now, error)
        if status in (401, 403):
            self._invalid.append(now)
            if not data:
                # Not Discord's verdict on the webhook but a proxy's or a firewall's page:
                # retrying is worth it (the invalid-request budget bounds the cost).
                return SendResult("retry", status=status, error=error)
            return SendResult("fatal", status=status, error=error, disable_webhook=True, code=code)
        if status == 404:
            return SendResult("fatal", status=status, error=error, disable_webhook=True, code=code)
        if status == 408 or status >= 500:
            return SendResult("retry", status=status, error=error, code=code)
        return SendResult("fatal", status=status, error=error, code=code)

    def _rate_limited(
        self,
        webhook_id: str,
        response: httpx.Response,
        data: dict[str, Any],
        now: float,
        error: str,
    ) -> SendResult:
        headers = response.headers
        retry_after = _number(data.get("retry_after"))
        for header in ("retry-after", "x-ratelimit-reset-after"):
            if retry_after is None:
                retry_after = _number(headers.get(header))
        retry_after = max(0.0, retry_after if retry_after is not None else 1.0)
        scope = headers.get("x-ratelimit-scope", "").lower()
        is_global = (
            data.get("global") is True
            or headers.get("x-ratelimit-global", "").lower() == "true"
            or scope == "global"
        )
        if is_global:
            self._global_until = max(self._global_until, now + retry_after)
        else:
            key = (webhook_id, self._route_bucket.get(webhook_id, ""))
            bucket = self._buckets.setdefault(key, _Bucket())
            bucket.remaining = 0
            bucket.reset_at = max(bucket.reset_at, now + retry_after)
        if scope != "shared":
            self._invalid.append(now)
        code = data.get("code") if isinstance(data.get("code"), int) else None
        return SendResult(
            "rate_limited",
            status=429,
            retry_after=retry_after,
            is_global=is_global,
            error=f"{error}; retry after {retry_after:.3f}s",
            code=code,
        )

    def _finish(self, webhook_url: str, result: SendResult) -> SendResult:
        where = redact(webhook_url)
        if result.kind == "sent":
            self._counts["sent"] += 1
            logger.debug("discord webhook %s: sent message %s", where, result.message_id)
        elif result.kind == "rate_limited":
            self._counts["rate_limited" if result.status == 429 else "held"] += 1
            logger.info("discord webhook %s: %s", where, result.error)
        elif result.kind == "retry":
            self._counts["retries"] += 1
            logger.warning("discord webhook %s: will retry: %s", where, result.error)
        else:
            self._counts["fatal"] += 1
            disabled = " (webhook should be disabled)" if result.disable_webhook else ""
            logger.warning("discord webhook %s: failed%s: %s", where, disabled, result.error)
        return result


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _json_object(response: httpx.Response) -> dict[str, Any]:
    if "json" not in response.headers.get("content-type", ""):
        return {}
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _describe(response: httpx.Response, data: dict[str, Any], token: str) -> str:
    """A one-line summary of an error answer: status, Discord's message and code, field errors."""
    status = response.status_code
    if not data:
        kind = response.headers.get("content-type", "no content type").split(";")[0]
        return _scrub(f"{status} {response.reason_phrase} (non-JSON body: {kind})", token)
    text = f"{status} {data.get('message', response.reason_phrase)}"
    if isinstance(data.get("code"), int):
        text += f" (code {data['code']})"
    problems = _form_errors(data.get("errors"), "")
    if problems:
        more = f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""
        text += ": " + "; ".join(problems[:5]) + more
    return _scrub(text[:1000], token)


def _form_errors(tree: Any, path: str) -> list[str]:
    """Discord's nested ``errors`` object flattened to ``"embeds.0.title: message"`` lines."""
    if not isinstance(tree, dict):
        return []
    found: list[str] = []
    for entry in tree.get("_errors", []) if isinstance(tree.get("_errors"), list) else []:
        if isinstance(entry, dict):
            found.append(f"{path or 'body'}: {entry.get('message', entry.get('code', '?'))}")
    for key, sub in tree.items():
        if key != "_errors":
            found += _form_errors(sub, f"{path}.{key}" if path else str(key))
    return found
