"""Python clients: a subscription (async iterator of messages) and a publisher over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx
import orjson
import websockets
from websockets.asyncio.client import ClientConnection

from alphawire.errors import ClientError, ServerRejected

DEFAULT_URL = "http://127.0.0.1:8000"


def ws_url(base: str, path: str) -> str:
    """``http(s)://host`` → ``ws(s)://host`` + ``path``."""
    base = base.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base[len("https://") :]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://") :]
    return base + path


class Subscription:
    """Live messages of one or more channels over ``/api/v1/ws``.

    ``async with Subscription(["market_SPY", "unified"]) as sub: async for msg in sub: ...``
    yields delivered messages as dicts; control frames (``subscribed``, ``pong``) are kept
    in ``last_seq`` and ``control`` rather than yielded, unless ``control=True``.
    """

    def __init__(
        self,
        channels: Iterable[str],
        *,
        url: str = DEFAULT_URL,
        control: bool = False,
    ) -> None:
        self.channels = list(channels)
        self.url = url
        self.include_control = control
        self.last_seq: dict[str, int] = {}
        self._ws: ClientConnection | None = None

    async def __aenter__(self) -> Subscription:
        self._ws = await websockets.connect(
            ws_url(self.url, "/api/v1/ws"), max_size=None, compression=None
        )
        await self._ws.send(
            orjson.dumps({"action": "subscribe", "channels": self.channels}).decode()
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
            self._ws = None

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[dict[str, Any]]:
        if self._ws is None:
            raise ClientError("Subscription is not open: use 'async with Subscription(...)'")
        async for raw in self._ws:
            frame: dict[str, Any] = orjson.loads(raw)
            kind = frame.get("type")
            if "seq" in frame and "channel" in frame:
                self.last_seq[frame["channel"]] = frame["seq"]
                if kind == "subscribed" and not self.include_control:
                    continue
                yield frame
            elif kind == "error" and not self.include_control:
                raise ClientError(f"hub error {frame.get('code')}: {frame.get('message')}")
            elif self.include_control:
                yield frame


class PublisherClient:
    """Publishes to a hub over HTTP with its publish token; async, one connection pool."""

    def __init__(
        self, url: str = DEFAULT_URL, token: str | None = None, *, timeout: float = 10.0
    ) -> None:
        if not token:
            from alphawire.settings import read_token_file

            token = read_token_file()
        if not token:
            raise ClientError(
                "no publish token: pass token=, set ALPHAWIRE_PUBLISH_TOKEN, "
                "or run on the hub's machine"
            )
        self._http = httpx.AsyncClient(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=timeout,
        )

    async def __aenter__(self) -> PublisherClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _post(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        content = orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)
        response = await self._http.post(path, content=content)
        try:
            data: dict[str, Any] = response.json()
        except ValueError:
            data = {"raw": response.text}
        if response.status_code != 202:
            raise ServerRejected(response.status_code, data)
        return data

    async def publish_alert(self, **fields: Any) -> dict[str, Any]:
        return await self._post("/api/v1/alerts", _clean(fields))

    async def publish_signal(self, signal: Mapping[str, Any], **fields: Any) -> dict[str, Any]:
        return await self._post("/api/v1/signals", _clean({"signal": signal, **fields}))

    async def publish_market_data(
        self, symbol: str, data: Mapping[str, Any], **fields: Any
    ) -> dict[str, Any]:
        return await self._post(f"/api/v1/market/{symbol}", _clean({"data": data, **fields}))

    async def publish_agent_insight(
        self, agent: str, insight: Mapping[str, Any], **fields: Any
    ) -> dict[str, Any]:
        return await self._post(
            f"/api/v1/agents/{agent}/insights", _clean({"insight": insight, **fields})
        )

    async def publish_narrative(
        self, narrative: Mapping[str, Any], **fields: Any
    ) -> dict[str, Any]:
        return await self._post("/api/v1/narrative", _clean({"narrative": narrative, **fields}))

    async def publish_many(self, batch: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Publish up to 1000 messages (each with its ``type``) all-or-nothing."""
        return await self._post("/api/v1/publish", {"messages": list(batch)})


def _clean(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}
