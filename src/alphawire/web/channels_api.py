"""``GET /api/v1/channels``: which channels exist, their last seq and their subscribers here."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from alphawire import channels
from alphawire.web.requests import ORJSONResponse

router = APIRouter(prefix="/api/v1")

# A listing is for people and scripts looking around, not a data feed: bounded.
MAX_LISTED = 10_000


@router.get("/channels", summary="Channels with their last seq and subscriber count")
async def list_channels(request: Request) -> Response:
    """Every channel that has had a message or has a subscriber on this process, by name.

    ``last_seq`` is the channel's newest seq (0: nothing published yet), ``subscribers`` the
    connections subscribed to it on this hub process. At most 10,000 are listed
    (``truncated`` says when there were more).
    """
    node = request.app.state.node
    seqs: dict[str, int] = await node.broker.channels(MAX_LISTED + 1)
    counts: dict[str, int] = node.registry.channel_counts()
    names = set(seqs) | set(counts) | set(channels.FIXED_CHANNELS)
    listed = sorted(names)[:MAX_LISTED]
    rows: list[dict[str, Any]] = [
        {"channel": name, "last_seq": seqs.get(name, 0), "subscribers": counts.get(name, 0)}
        for name in listed
    ]
    return ORJSONResponse({"channels": rows, "truncated": len(names) > MAX_LISTED})


__all__ = ["router"]
