"""ApeWisdom: ticker mention counts aggregated from Reddit and 4chan, keyless.

``{base_url}/api/v1.0/filter/{filter}/page/{page}`` answers::

    {"count": 1000, "pages": 10, "currentPage": 1,
     "results": [{"rank": 1, "ticker": "GME", "name": "GameStop", "mentions": "482",
                  "upvotes": "3907", "rank_24h_ago": "3", "mentions_24h_ago": "211"}, ...]}

with up to 100 results a page, counts over the last 24 hours, and numbers that are sometimes
JSON strings (read either way). ``filter`` is ``all-stocks`` (the stock subreddits together),
``wallstreetbets``, ``stocks``, ``options``, ``4chan``... Polled all day (posts do not keep
market hours).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import Field

from alphawire.sources.base import BadPayload, SourceContext
from alphawire.sources.options import Duration, HttpOptions
from alphawire.sources.polling import HttpPollingSource
from alphawire.sources.records import Mentions, Record

BASE_URL = "https://apewisdom.io"


class ApeWisdomOptions(HttpOptions):
    """``[sources.apewisdom]``: the top ``pages`` × 100 tickers of ``filter``."""

    filter: str = Field(default="all-stocks", pattern=r"^[A-Za-z0-9_-]{1,40}$")
    pages: int = Field(default=1, ge=1, le=10)
    watchlist_only: bool = False
    base_url: str = BASE_URL
    interval: Duration = Field(default=600.0, ge=60.0)


class ApeWisdomSource(HttpPollingSource[ApeWisdomOptions]):
    """Mentions, upvotes and rank per ticker from ApeWisdom, every ten minutes by default."""

    name = "apewisdom"
    produces = frozenset({"mentions"})
    gate = "always"

    async def poll(self, ctx: SourceContext) -> Sequence[Record]:
        """Read ``pages`` pages (stopping at the last one) and emit a record per ticker."""
        now = ctx.clock.now()
        base = self.options.base_url.rstrip("/")
        wanted = set(ctx.watchlist) if self.options.watchlist_only else None
        records: list[Record] = []
        for page in range(1, self.options.pages + 1):
            url = f"{base}/api/v1.0/filter/{self.options.filter}/page/{page}"
            response = await self.http.get(url, expect="json", conditional=False)
            if response is None:
                break
            rows, pages = self.parse(response.content, now)
            records.extend(r for r in rows if wanted is None or r.symbol in wanted)
            if page >= pages:
                break
        return records

    def parse(self, body: bytes, now: datetime) -> tuple[list[Mentions], int]:
        """The page's records and the total page count; ``BadPayload`` naming the bad field."""
        try:
            document = json.loads(body)
        except ValueError as exc:
            raise BadPayload(f"{self.name}: not JSON (truncated?): {exc}") from None
        if not isinstance(document, dict) or not isinstance(document.get("results"), list):
            raise BadPayload(f"{self.name}: no results list in the response")
        out: list[Mentions] = []
        for i, row in enumerate(document["results"]):
            where = f"{self.name}: results[{i}]"
            if not isinstance(row, dict) or not isinstance(row.get("ticker"), str):
                raise BadPayload(f"{where}: no ticker")
            out.append(
                Mentions(
                    source=self.name,
                    symbol=row["ticker"].strip().upper(),
                    ts=now,
                    mentions=_count(row, "mentions", where, required=True) or 0,
                    upvotes=_count(row, "upvotes", where),
                    rank=_count(row, "rank", where),
                    mentions_24h_ago=_count(row, "mentions_24h_ago", where),
                )
            )
        pages = _count(document, "pages", self.name) or 1
        return out, pages


def _count(row: dict[str, Any], key: str, where: str, required: bool = False) -> int | None:
    value = row.get(key)
    if value is None or value == "":
        if required:
            raise BadPayload(f"{where}: {key} is missing")
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        raise BadPayload(f"{where}: {key} is {value!r}, not a count") from None


__all__ = ["BASE_URL", "ApeWisdomOptions", "ApeWisdomSource"]
