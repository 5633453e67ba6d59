"""The collector tuner freezes the heap after bursts of connections, once they settle."""

from __future__ import annotations

import asyncio
import gc
import weakref
from typing import Any

import httpx
import pytest
from tests.conftest import connect, recv_json, wait_until

from alphawire.hub.collector import YOUNG_THRESHOLD, CollectorTuner
from alphawire.web.transport import HubWebSocketProtocol

pytestmark = pytest.mark.anyio


async def test_freezes_once_after_a_burst_settles() -> None:
    """A burst of connections leads to exactly one freeze, after the burst, not during it."""
    tuner = CollectorTuner(settle=0.05, every=3)
    try:
        for _ in range(5):
            tuner.connection_opened()
            await asyncio.sleep(0.01)
        assert tuner.freezes == 0  # still arriving
        await asyncio.sleep(0.2)
        assert tuner.freezes == 1
        assert tuner.stats()["frozen_objects"] > 0
        tuner.connection_opened()
        await asyncio.sleep(0.2)
        assert tuner.freezes == 1  # one more connection is not a burst
    finally:
        gc.unfreeze()


async def test_a_steady_trickle_of_connections_still_freezes() -> None:
    """Connections arriving faster than the settle time, without end, do not postpone the
    freeze forever: it runs at most ``max_wait`` after it was first due."""
    tuner = CollectorTuner(settle=0.1, every=3, max_wait=0.3)
    try:
        for _ in range(50):  # one every 0.02 s: never 0.1 s without an arrival
            tuner.connection_opened()
            await asyncio.sleep(0.02)
        assert tuner.freezes >= 2  # a purely debounced freeze would not have run once
    finally:
        gc.unfreeze()


async def test_a_freeze_waits_for_the_burst_when_it_settles_in_time() -> None:
    """A burst shorter than ``max_wait`` is frozen once, after its last connection."""
    tuner = CollectorTuner(settle=0.2, every=3, max_wait=10.0)
    try:
        for _ in range(10):
            tuner.connection_opened()
            await asyncio.sleep(0.01)
        assert tuner.freezes == 0
        await asyncio.sleep(0.5)
        assert tuner.freezes == 1
    finally:
        gc.unfreeze()


async def test_the_young_threshold_is_raised_while_running_and_put_back() -> None:
    before = gc.get_threshold()
    tuner = CollectorTuner()
    try:
        tuner.start()
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *before[1:])
        CollectorTuner().start()  # a second hub in the process leaves it as it is
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    finally:
        tuner.stop()
    assert gc.get_threshold() == before


def test_a_running_hub_has_the_raised_threshold(hub_factory: Any) -> None:
    before = gc.get_threshold()
    hub = hub_factory()
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    hub.stop()
    assert gc.get_threshold() == before


async def test_a_closed_connection_is_freed_without_the_cyclic_collector(hub_factory: Any) -> None:
    """The tuner freezes connections; the cyclic collector never frees frozen objects, so a
    closed connection must leave no reference cycle behind (else every reconnect leaks)."""
    hub = hub_factory()
    async with httpx.AsyncClient() as http:
        ws = await connect(hub.ws + "/ws/unified")
        assert (await recv_json(ws))["type"] == "subscribed"
        body = {"messages": [{"type": "signal", "signal": {"symbol": "SPY"}}] * 3}
        r = await http.post(hub.url + "/api/v1/publish", json=body, headers=hub.headers())
        assert r.status_code == 202
        for _ in range(3):
            assert (await recv_json(ws))["type"] == "signal"
    protos = [p for p in hub.server.server_state.connections if isinstance(p, HubWebSocketProtocol)]
    assert len(protos) == 1
    # The core's Connection holds its sink, which holds the protocol: the protocol freed
    # means the whole connection was.
    proto = weakref.ref(protos[0])
    del protos
    gc.freeze()  # from here on only reference counting can free what exists now
    try:
        await ws.close()
        await wait_until(lambda: hub.node.registry.connection_count() == 0)
        await wait_until(lambda: proto() is None)
    finally:
        gc.unfreeze()
