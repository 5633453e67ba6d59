"""The collector tuner freezes the heap after bursts of connections, once they settle."""

from __future__ import annotations

import asyncio
import gc

import pytest

from alphawire.hub.collector import CollectorTuner

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
