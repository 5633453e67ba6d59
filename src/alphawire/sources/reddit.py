"""Reddit through PRAW (the ``reddit`` extra) with the user's own app: new posts of chosen
subreddits as ``SocialPost`` records.

Reddit requires an OAuth app (https://www.reddit.com/prefs/apps, type "script") and a
descriptive User-Agent; since 2023 unauthenticated and scraped access is refused (403). The
credentials are read from the environment (``REDDIT_CLIENT_ID``, ``REDDIT_CLIENT_SECRET`` by
default; the variable names are options, the secrets never are), and the client runs
read-only (application-only OAuth).

Each round reads ``subreddit("a+b").new(limit=...)`` on a worker thread (PRAW is blocking)
and emits posts not seen before, oldest first. PRAW's documented exceptions map onto the
source errors: ``prawcore.exceptions.TooManyRequests`` -> ``RateLimited`` (its
``retry_after``); ``Forbidden``, ``NotFound``, ``Redirect`` (a subreddit that does not
exist), ``OAuthException`` and a 401 ``ResponseException`` -> ``SourceUnavailable``.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from alphawire.sources.base import RateLimited, SourceContext, SourceUnavailable
from alphawire.sources.options import Duration, SourceOptions
from alphawire.sources.polling import PollingSource
from alphawire.sources.records import Record, SocialPost

INSTALL_HINT = "praw is not installed: pip install 'alphawire[reddit]'"
SEEN_LIMIT = 5000  # post ids remembered to skip repeats; the oldest are forgotten first
TEXT_LIMIT = 10_000  # characters of a post's body kept


class RedditOptions(SourceOptions):
    """``[sources.reddit]``: new posts of ``subreddits`` every ``interval``."""

    subreddits: list[str] = Field(
        default_factory=lambda: ["wallstreetbets", "stocks", "options"], min_length=1
    )
    limit: int = Field(default=100, ge=1, le=1000, description="posts per round")
    interval: Duration = Field(default=60.0, ge=30.0)
    client_id_env: str = "REDDIT_CLIENT_ID"
    client_secret_env: str = "REDDIT_CLIENT_SECRET"
    user_agent: str = Field(
        default="alphawire:market-intelligence:v0.1 (self-hosted)",
        min_length=10,
        description="Reddit asks for '<platform>:<app id>:<version> (by /u/<user>)'",
    )


class RedditSource(PollingSource):
    """New Reddit posts through PRAW with the user's own app credentials."""

    name = "reddit"
    produces = frozenset({"post"})
    gate = "always"
    uses_http = False  # PRAW has its own HTTP client

    def __init__(
        self,
        options: RedditOptions,
        reddit: Callable[..., Any] | None = None,
        environ: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        env = os.environ if environ is None else environ
        self.client_id = env.get(options.client_id_env, "")
        self.client_secret = env.get(options.client_secret_env, "")
        super().__init__(
            interval=options.interval, secrets=(self.client_id, self.client_secret), **kwargs
        )
        self.options = options
        self._factory = reddit  # praw.Reddit unless a test hands in its stand-in
        self._reddit: Any = None
        self._seen: OrderedDict[str, None] = OrderedDict()

    def _connect(self) -> Any:
        if self._reddit is not None:
            return self._reddit
        missing = [
            name
            for name, value in (
                (self.options.client_id_env, self.client_id),
                (self.options.client_secret_env, self.client_secret),
            )
            if not value
        ]
        if missing:
            raise SourceUnavailable(
                f"{self.name}: {' and '.join(missing)} not set: create a 'script' app at "
                "https://www.reddit.com/prefs/apps and export its id and secret"
            )
        factory = self._factory
        if factory is None:
            try:
                factory = importlib.import_module("praw").Reddit
            except ImportError:
                raise SourceUnavailable(f"{self.name}: {INSTALL_HINT}") from None
        self._reddit = factory(
            client_id=self.client_id,
            client_secret=self.client_secret,
            user_agent=self.options.user_agent,
            check_for_async=False,  # PRAW is only ever called from a worker thread here
        )
        self._reddit.read_only = True
        return self._reddit

    async def poll(self, ctx: SourceContext) -> Sequence[Record]:
        """New posts since the last round, oldest first."""
        reddit = self._connect()
        names = "+".join(self.options.subreddits)
        try:
            posts = await asyncio.to_thread(
                lambda: list(reddit.subreddit(names).new(limit=self.options.limit))
            )
        except Exception as exc:
            raise _translate(exc, self.name) from None
        now = ctx.clock.now()
        records: list[Record] = []
        for post in sorted(posts, key=lambda p: float(p.created_utc)):
            if post.id in self._seen:
                continue
            self._seen[post.id] = None
            author = getattr(post.author, "name", None) or "[deleted]"
            records.append(
                SocialPost(
                    source=self.name,
                    symbol=None,
                    ts=datetime.fromtimestamp(float(post.created_utc), UTC),
                    id=str(post.id),
                    community=str(post.subreddit.display_name),
                    author=str(author),
                    title=str(post.title),
                    text=str(post.selftext or "")[:TEXT_LIMIT],
                    score=int(post.score or 0),
                )
            )
        while len(self._seen) > SEEN_LIMIT:
            self._seen.popitem(last=False)
        self._status.detail["read_at"] = now.isoformat()
        return records


def _translate(exc: Exception, name: str) -> Exception:
    """PRAW's exception as a source error (by class name: prawcore is optional)."""
    kind = type(exc).__name__
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if kind == "TooManyRequests" or status == 429:
        raw = getattr(exc, "retry_after", None)
        try:
            wait = float(raw) if raw is not None else None
        except ValueError:
            wait = None
        return RateLimited(f"{name}: Reddit rate limit (429)", wait)
    if kind in (
        "Forbidden",
        "NotFound",
        "Redirect",
        "OAuthException",
        "InvalidToken",
    ) or status in (
        401,
        403,
        404,
    ):
        return SourceUnavailable(
            f"{name}: Reddit refused: {kind}{f' (HTTP {status})' if status else ''}: {exc}"
        )
    return exc


__all__ = ["RedditOptions", "RedditSource"]
