"""One stalled client among many: the others get everything and the hub's memory stays bounded."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import HubProcess, RawClient

from alphawire.client import Subscription

# A million deliveries between two processes, at a steady rate: both cores to itself.
pytestmark = [pytest.mark.anyio, pytest.mark.exclusive]

CLIENTS = 100
MESSAGES = 10_000
RSS_GROWTH_BOUND_MIB = 64  # stated in README ("Delivery guarantees"); history alone is ~6 MiB


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def test_stalled_client_leaves_others_complete_and_memory_bounded(
    hub_process: HubProcess,
) -> None:
    """A client that stops reading while 100 others receive 10,000 alerts: all 100 complete, RSS bounded."""
    port = int(hub_process.url.rsplit(":", 1)[1])
    stalled = RawClient("127.0.0.1", port, "/api/v1/ws/unified", rcvbuf=4096)
    received: list[list[int]] = [[] for _ in range(CLIENTS)]
    ready = asyncio.Event()
    subscribed = 0
    reconnects: list[int] = []

    async def consume(i: int) -> None:
        nonlocal subscribed
        async with Subscription(["unified"], url=hub_process.url, control=True) as sub:
            async for frame in sub:
                if frame["type"] == "subscribed":
                    subscribed += 1
                    if subscribed == CLIENTS:
                        ready.set()
                    continue
                assert frame["type"] == "alert", frame
                received[i].append(frame["seq"])
                if len(received[i]) == MESSAGES:
                    reconnects.append(sub.reconnects)
                    return

    tasks = [asyncio.create_task(consume(i)) for i in range(CLIENTS)]
    await asyncio.wait_for(ready.wait(), 60)
    before = rss_mib(hub_process.process.pid)
    headers = {"Authorization": f"Bearer {hub_process.token}"}
    peak = before
    async with httpx.AsyncClient(base_url=hub_process.url, headers=headers, timeout=60) as http:
        # A steady rate (about 600 alerts/s, 60,000 deliveries/s at most) that the test's own
        # clients can follow, so that only the stalled client falls behind.
        for start in range(0, MESSAGES, 30):
            batch: list[dict[str, Any]] = [
                {
                    "type": "alert",
                    "alert_type": "flow",
                    "source": "iso",
                    "content": f"#{start + j} " + "x" * 300,
                }
                # Exactly MESSAGES in all: a client that leaves after its last one with more
                # than 16 unread stops reading, and its close waits out websockets' 10 s
                # close_timeout (websockets#1555).
                for j in range(min(30, MESSAGES - start))
            ]
            response = await http.post("/api/v1/publish", json={"messages": batch})
            assert response.status_code == 202
            peak = max(peak, rss_mib(hub_process.process.pid))
            await asyncio.sleep(0.05)
        await asyncio.wait_for(asyncio.gather(*tasks), 120)
        stats = (await http.get("/api/v1/ws/stats")).json()
    stalled.close()
    expected = list(range(1, MESSAGES + 1))
    assert all(seqs == expected for seqs in received)
    assert stats["slow_consumers"] >= 1  # the stalled client was cut off
    assert peak - before < RSS_GROWTH_BOUND_MIB, (before, peak)
    print(f"RSS before {before:.1f} MiB, peak {peak:.1f} MiB; reconnects {sum(reconnects)}")
