"""Idempotency across hub processes sharing a Redis."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import redis
from tests.test_brokers import redis_url

pytestmark = pytest.mark.anyio


async def test_a_retry_on_another_process_is_recognised(hub_factory: Any) -> None:
    """A retry with the same idempotency key sent to a second hub returns the first id."""
    url = redis_url().rsplit("/", 1)[0] + "/11"
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        a = hub_factory(broker_url=url)
        b = hub_factory(broker_url=url)
        body = {"alert_type": "dp", "source": "s", "content": "once", "idempotency_key": "retry-1"}
        tick = {"data": {"price": 1.0}, "idempotency_key": "tick-1"}
        async with httpx.AsyncClient(headers=a.headers()) as http:
            first = (await http.post(a.url + "/api/v1/market/SPY", json=tick)).json()
            again = (await http.post(b.url + "/api/v1/market/SPY", json=tick)).json()
            fresh = (
                await http.post(b.url + "/api/v1/market/SPY", json={"data": {"price": 2}})
            ).json()
            await http.post(a.url + "/api/v1/alerts", json=body)
        assert again["id"] == first["id"]
        assert again["duplicate"] is True
        assert again["seq"] == first["seq"] == {"market_SPY": 1}
        assert fresh["seq"] == {"market_SPY": 2}  # one seq for both processes: nothing doubled
    finally:
        client.flushdb()
        client.close()
