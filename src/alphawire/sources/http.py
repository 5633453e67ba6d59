"""How the vendor sources talk HTTP: status codes mapped to the ``SourceError`` tree, payload
sniffing, conditional requests, and redaction of anything secret from error text.

The mapping (every vendor source goes through ``HttpFetcher.get``):

- 200: the body, after checking it is the expected kind (an HTML page where CSV or JSON was
  expected is ``BadPayload``: vendors answer errors and captchas with HTML and status 200);
- 304 (our conditional request matched): ``None``, nothing new;
- 429: ``RateLimited`` with the ``Retry-After`` header in seconds (delta or HTTP date);
- 401, 403, 404, 410: ``SourceUnavailable`` naming the status and the (redacted) URL;
- any other status, a timeout or a transport error: ``SourceError`` (retried with backoff).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from alphawire.sources.base import BadPayload, RateLimited, SourceError, SourceUnavailable

Expect = Literal["json", "csv", "text"]
UNAVAILABLE_STATUSES = frozenset({401, 403, 404, 410})
# Query parameters whose values are credentials or signatures (signed CDN URLs, API keys).
_SECRET_PARAMS = re.compile(
    r"(?i)^(api[_-]?key|apikey|key|token|access[_-]?token|secret|client[_-]?secret|password|"
    r"sig|signature|x-amz-.*|x-goog-.*|auth.*)$"
)
_URL = re.compile(r"https?://[^\s'\"<>]+")
_BEARER = re.compile(r"(?i)(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
_CACHE_ENTRIES = 256  # validators kept for conditional requests; least recently used dropped


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with credentials removed: secret query values, URL user info, bearer tokens and
    every literal in ``secrets`` (the source's own keys) replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    text = _BEARER.sub(lambda m: f"{m.group(1)} ***", text)
    return _URL.sub(lambda m: _redact_url(m.group(0)), text)


def _redact_url(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = urlencode(
        [
            (k, "***" if _SECRET_PARAMS.match(k) else v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="*",
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """The ``Retry-After`` header as seconds from now: a delta (``"120"``) or an HTTP date;
    ``None`` when absent or unreadable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def looks_like_html(body: bytes, content_type: str) -> bool:
    """True for an HTML document (by its content type or its first bytes)."""
    if "html" in content_type.lower():
        return True
    head = body[:256].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body"))


class NotFound(SourceUnavailable):
    """HTTP 404/410: this resource is not there (a symbol without options, a file not posted)."""


class HttpFetcher:
    """GETs for one source through a shared ``httpx.AsyncClient``, with the mapping above and
    ``ETag``/``Last-Modified`` validators remembered per URL for conditional requests."""

    def __init__(
        self, client: httpx.AsyncClient, *, source: str, secrets: Iterable[str] = ()
    ) -> None:
        self.client = client
        self.source = source
        self.secrets = tuple(secrets)
        self._validators: OrderedDict[str, tuple[str | None, str | None]] = OrderedDict()

    async def get(
        self,
        url: str,
        *,
        expect: Expect,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        conditional: bool = True,
        method: Literal["GET", "POST"] = "GET",
        json_body: object = None,
    ) -> httpx.Response | None:
        """The response for ``url`` (``None`` on 304), or the ``SourceError`` its status means."""
        request_headers = dict(headers or {})
        key = url + ("?" + urlencode(sorted(params.items())) if params else "")
        if conditional and key in self._validators:
            etag, modified = self._validators[key]
            if etag:
                request_headers["If-None-Match"] = etag
            if modified:
                request_headers["If-Modified-Since"] = modified
        try:
            response = await self.client.request(
                method, url, params=params, headers=request_headers, json=json_body
            )
        except httpx.TimeoutException as exc:
            raise SourceError(
                self._say(f"timed out ({type(exc).__name__}) fetching {url}")
            ) from exc
        except httpx.HTTPError as exc:
            raise SourceError(self._say(f"{type(exc).__name__} fetching {url}: {exc}")) from exc
        status = response.status_code
        shown = str(response.request.url)
        if status == 304:
            return None
        if status == 429:
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            raise RateLimited(self._say(f"HTTP 429 Too Many Requests from {shown}"), wait)
        if status in UNAVAILABLE_STATUSES:
            phrase = response.reason_phrase or ""
            error = NotFound if status in (404, 410) else SourceUnavailable
            raise error(self._say(f"HTTP {status} {phrase} from {shown}".strip()))
        if status != 200:
            raise SourceError(self._say(f"HTTP {status} from {shown}"))
        body = response.content
        if looks_like_html(body, response.headers.get("Content-Type", "")) and expect != "text":
            raise BadPayload(self._say(f"an HTML page instead of {expect.upper()} from {shown}"))
        if not body.strip():
            raise BadPayload(self._say(f"an empty body from {shown}"))
        if conditional:
            etag = response.headers.get("ETag")
            modified = response.headers.get("Last-Modified")
            if etag or modified:
                self._validators[key] = (etag, modified)
                self._validators.move_to_end(key)
                while len(self._validators) > _CACHE_ENTRIES:
                    self._validators.popitem(last=False)
        return response

    def forget(self) -> None:
        """Drop every validator: a body that could not be used must be fetched whole next time,
        not answered with 304."""
        self._validators.clear()

    def _say(self, message: str) -> str:
        return redact(f"{self.source}: {message}", self.secrets)


__all__ = ["HttpFetcher", "NotFound", "looks_like_html", "redact", "retry_after_seconds"]
