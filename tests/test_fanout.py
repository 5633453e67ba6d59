"""Fan-out at scale: many subscribers each receive every message, in order, with no gap."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest
from tests.conftest import HubProcess, connect, recv_json

# A million deliveries between two processes: it needs both cores to itself.
pytestmark = [pytest.mark.anyio, pytest.mark.exclusive]

SUBSCRIBERS = 1000
MESSAGES = 1000


async def test_1000_subscribers_each_get_all_1000_messages(hub_process: HubProcess) -> None:
    """1,000 concurrent subscribers on one channel each receive all 1,000 messages, seq 1..1000."""
    sockets = []
    for i in range(SUBSCRIBERS):
        path = "/ws/market/SPY" if i % 2 else "/ws"
        ws = await connect(hub_process.ws + path)
        if path == "/ws":
            await ws.send('{"action":"subscribe","channels":["market_SPY"]}')
        sockets.append(ws)
    for ws in sockets:
        assert (await recv_json(ws))["type"] == "subscribed"

    async def drain(ws: object) -> list[int]:
        seqs = []
        while len(seqs) < MESSAGES:
            frame = orjson.loads(await asyncio.wait_for(ws.recv(), 60))  # type: ignore[attr-defined]
            assert frame["channel"] == "market_SPY"
            seqs.append(frame["seq"])
        return seqs

    try:
        await _run(hub_process, sockets, drain)
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


async def _run(hub_process: HubProcess, sockets: list[Any], drain: Any) -> None:
    readers = [asyncio.create_task(drain(ws)) for ws in sockets]
    batch = [
        {"type": "market_data", "symbol": "SPY", "data": {"price": 500 + i / 100, "volume": i}}
        for i in range(MESSAGES)
    ]
    headers = {"Authorization": f"Bearer {hub_process.token}"}
    async with httpx.AsyncClient(base_url=hub_process.url, headers=headers, timeout=60) as http:
        response = await http.post("/api/v1/publish", json={"messages": batch})
        assert response.status_code == 202
        results = await asyncio.gather(*readers)
        expected = list(range(1, MESSAGES + 1))
        assert all(seqs == expected for seqs in results)
        stats = (await http.get("/api/v1/ws/stats")).json()
    assert stats["delivered"] == SUBSCRIBERS * MESSAGES
    assert stats["dropped"] == 0
    assert stats["published"]["market_data"] == MESSAGES
    assert stats["channels"] == {"market_SPY": SUBSCRIBERS}
