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
import contextlib
import importlib
import json
import logging
import math
import re
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx

from alphawire import __version__
from alphawire.alerting.payloads import (
    BLANK,
    CONTENT_LIMIT,
    DEFAULT_USERNAME,
    EMBED_TOTAL_LIMIT,
    EMPTY_CONTENT,
    TRUNCATED,
    build_payloads,
    embed_size,
    is_snowflake,
    repair_allowed_mentions,
    repair_embed,
    repair_username,
)

# The payload helpers are part of this module's public API, re-exported.
__all__ = [
    "BLANK",
    "CODE_INVALID_FORM_BODY",
    "CODE_UNKNOWN_WEBHOOK",
    "CONTENT_LIMIT",
    "DEFAULT_USERNAME",
    "DEFAULT_USER_AGENT",
    "EMBED_TOTAL_LIMIT",
    "EMPTY_CONTENT",
    "TRUNCATED",
    "DiscordClient",
    "SendResult",
    "build_payloads",
    "embed_size",
    "redact",
    "repair_allowed_mentions",
    "repair_embed",
    "repair_username",
]

logger = logging.getLogger("alphawire.alerting.discord")

DEFAULT_USER_AGENT = f"DiscordBot (https://github.com/alphawire/alphawire, {__version__})"
# Error codes from Discord's JSON error code table.
CODE_UNKNOWN_WEBHOOK = 10015
CODE_INVALID_FORM_BODY = 50035
Kind = Literal["sent", "rate_limited", "retry", "fatal"]
_WEBHOOK_PATH = re.compile(r"(?P<prefix>.*/webhooks/)(?P<id>[0-9]{1,20})/(?P<token>[^/?#]+)")
_TOKEN_IN_TEXT = re.compile(r"(/webhooks/[0-9]{1,20}/)[^/?#\s\"'<>]+")


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


def _preload_transport() -> None:
    """Import now what httpx's transport imports on its first request.

    That is about 20 ms of CPU (anyio's asyncio backend, h11, sniffio) that would otherwise
    run on the dispatcher's thread in the middle of the first alerts, holding the GIL while
    a monitor thread is sending them (with ``start_in_thread`` or in the hub's process).
    """
    for name in ("anyio._backends._asyncio", "httpcore._backends.anyio", "h11", "sniffio"):
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


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
        _preload_transport()

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
        if thread_id is not None and not is_snowflake(thread_id):
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
