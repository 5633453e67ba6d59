"""A local stand-in for the keyless market-data vendors (CBOE, FINRA, FRED, ApeWisdom).

A real uvicorn server on a free loopback port serves the hand-written fixtures of
``tests/fixtures/sources`` under the vendors' own paths, the way the vendors serve them:

- files with an ``ETag`` and ``Last-Modified``, answering ``304 Not Modified`` to a matching
  ``If-None-Match`` (what the CDNs in front of CBOE, FINRA and FRED do);
- a path it has no file for: ``404`` with an HTML body (what CDNs send);
- scripted answers, consumed in order before the file: ``429`` with ``Retry-After``, ``403``
  with an HTML error page, ``200`` with an HTML page instead of CSV, a file cut short, a slow
  answer (``delay``), any status.

Every request is recorded (method, path, query, headers, body) so tests can check what a
source asked for (conditional headers, the Query API's JSON body).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import socket
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

FIXTURES = Path(__file__).parent / "fixtures" / "sources"
LAST_MODIFIED = format_datetime(datetime(2025, 12, 1, 23, 0, tzinfo=UTC), usegmt=True)
HTML_ERROR = (
    b"<!DOCTYPE html><html><head><title>Access Denied</title></head>"
    b"<body><h1>Access Denied</h1><p>Reference #18.2f</p></body></html>"
)

# The vendors' paths and the fixture each serves (FRED's one path is told apart by ``id``).
FILES = {
    "/api/global/delayed_quotes/options/SPY.json": "cboe/SPY.json",
    "/api/global/delayed_quotes/options/_SPX.json": "cboe/_SPX.json",
    "/equity/regsho/daily/CNMSshvol20251201.txt": "finra/CNMSshvol20251201.txt",
    "/equity/regsho/daily/CNMSshvol20251128.txt": "finra/CNMSshvol20251128.txt",
    "/equity/regsho/daily/CNMSshvol20251126.txt": "finra/CNMSshvol20251126.txt",
    "/equity/regsho/daily/CNMSshvol20251125.txt": "finra/CNMSshvol20251125.txt",
    "/data/group/otcMarket/name/consolidatedShortInterest": "finra/consolidatedShortInterest.json",
    "/graph/fredgraph.csv?id=DGS3MO": "fred/DGS3MO.csv",
    "/graph/fredgraph.csv?id=DGS6MO": "fred/DGS6MO.csv",
    "/graph/fredgraph.csv?id=DGS1": "fred/DGS1.csv",
    "/graph/fredgraph.csv?id=DGS2": "fred/DGS2.csv",
    "/graph/fredgraph.csv?id=DGS5": "fred/DGS5.csv",
    "/graph/fredgraph.csv?id=DGS10": "fred/DGS10.csv",
    "/graph/fredgraph.csv?id=DGS30": "fred/DGS30.csv",
    "/graph/fredgraph.csv?id=VIXCLS": "fred/VIXCLS.csv",
    "/api/v1.0/filter/all-stocks/page/1": "apewisdom/all-stocks-page-1.json",
    "/api/v1.0/filter/all-stocks/page/2": "apewisdom/all-stocks-page-2.json",
}


@dataclass
class Reply:
    """One scripted answer."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/plain"
    delay: float = 0.0  # seconds before answering (a slow vendor)
    file: str | None = None  # serve this fixture (path under FIXTURES) instead of ``body``
    cut: int | None = None  # serve only the first ``cut`` bytes of ``file`` (truncated)

    @classmethod
    def rate_limited(cls, retry_after: str = "2") -> Reply:
        """HTTP 429 with ``Retry-After`` (seconds or an HTTP date)."""
        return cls(
            429,
            b'{"message":"Too Many Requests"}',
            {"Retry-After": retry_after},
            "application/json",
        )

    @classmethod
    def forbidden(cls) -> Reply:
        """HTTP 403 with the HTML page a CDN's firewall sends."""
        return cls(403, HTML_ERROR, content_type="text/html; charset=utf-8")

    @classmethod
    def html_page(cls) -> Reply:
        """HTTP 200 with an HTML page where data was expected (captcha, maintenance)."""
        return cls(200, HTML_ERROR, content_type="text/html; charset=utf-8")

    @classmethod
    def truncated(cls, file: str, cut: int) -> Reply:
        """The fixture ``file`` cut after ``cut`` bytes (a dropped connection mid-download)."""
        return cls(200, file=file, cut=cut)


@dataclass
class Seen:
    """A request the fake received."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    key: str  # the path, with ``?id=`` for FRED


class FakeVendors:
    """The server: ``url`` is its base; ``script`` queues answers for a path."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self._scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self.files: dict[str, Path] = {path: FIXTURES / name for path, name in FILES.items()}
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def script(self, path: str, *replies: Reply) -> None:
        """Answer the next requests to ``path`` (``/graph/fredgraph.csv?id=DGS10`` for one
        FRED series) with ``replies``, in order, then as usual."""
        self._scripts[path].extend(replies)

    def serve(self, path: str, fixture: str) -> None:
        """Serve the fixture ``fixture`` (relative to FIXTURES) at ``path`` from now on."""
        self.files[path] = FIXTURES / fixture

    def seen(self, path: str) -> list[Seen]:
        """The requests received for ``path`` (with ``?id=`` for FRED, as in ``script``)."""
        return [r for r in self.requests if r.key == path or r.path == path]

    async def _handle(self, request: Request) -> Response:
        path = request.url.path
        series = request.query_params.get("id")
        path = f"{path}?id={series}" if series else path
        self.requests.append(
            Seen(
                request.method,
                request.url.path,
                request.url.query,
                dict(request.headers),
                await request.body(),
                path,
            )
        )
        script = self._scripts.get(path)
        reply = script.popleft() if script else None
        if reply is not None:
            if reply.delay:
                await asyncio.sleep(reply.delay)
            if reply.file is None:
                return Response(
                    reply.body, reply.status, reply.headers, media_type=reply.content_type
                )
            data = (FIXTURES / reply.file).read_bytes()[: reply.cut]
            return Response(data, reply.status, reply.headers, media_type=_media_type(reply.file))
        file = self.files.get(path)
        if file is None:
            return Response(
                HTML_ERROR.replace(b"Access Denied", b"Not Found"), 404, media_type="text/html"
            )
        data = file.read_bytes()
        etag = '"' + hashlib.sha1(data).hexdigest()[:16] + '"'
        headers = {"ETag": etag, "Last-Modified": LAST_MODIFIED}
        if request.headers.get("if-none-match") == etag:
            return Response(b"", 304, headers)
        return Response(data, 200, headers, media_type=_media_type(file.name))

    def start(self) -> FakeVendors:
        """Start the server in a background thread; returns when it accepts connections."""
        app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["GET", "POST"])])
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self._server = server
        self._thread = threading.Thread(
            target=lambda: asyncio.run(server.serve(sockets=[sock])),
            name="fake-vendors",
            daemon=True,
        )
        self._thread.start()
        for _ in range(1000):
            if server.started:
                return self
            threading.Event().wait(0.01)
        raise RuntimeError("fake vendors server did not start")

    def stop(self) -> None:
        """Stop the server and wait for its thread."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)


def _media_type(name: str) -> str:
    if name.endswith(".json"):
        return "application/json"
    if name.endswith(".csv"):
        return "text/csv"
    return "text/plain"


class RecordingContext:
    """A ``SourceContext`` for tests: a virtual clock, the NYSE calendar, emitted records kept."""

    def __init__(self, start: datetime, watchlist: tuple[str, ...] = ("SPY", "GME")) -> None:
        from alphawire.calendar import default_calendar
        from alphawire.clock import VirtualClock

        self.watchlist = watchlist
        self.clock = VirtualClock(start)
        self.calendar = default_calendar()
        self.records: list[Any] = []
        self.batches = 0

    async def emit(self, records: Sequence[Any]) -> None:
        self.batches += 1
        self.records.extend(records)

    def sleeping(self) -> bool:
        """True while some task waits on the virtual clock (the source finished its round)."""
        return bool(self.clock._sleepers)

    async def wait_sleeping(self) -> None:
        """Let the source run (real HTTP included) until it sleeps on the virtual clock."""
        for _ in range(3000):
            if self.sleeping():
                return
            await asyncio.sleep(0.005)
        raise AssertionError("the source never went back to sleep")

    async def wait_for(self, condition: Callable[[], bool]) -> None:
        """Let the source run until ``condition()`` holds (streams never sleep on the clock)."""
        for _ in range(3000):
            if condition():
                return
            await asyncio.sleep(0.005)
        raise AssertionError("the condition never held")

    async def step(self, seconds: float) -> None:
        """Move the virtual clock ``seconds`` on and wait until the source sleeps again."""
        await self.clock.advance(self.clock.now() + timedelta(seconds=seconds))
        await self.wait_sleeping()


async def run_until_sleeping(source: Any, ctx: RecordingContext) -> asyncio.Task[None]:
    """Start ``source.run(ctx)`` and return its task once the first round is over."""
    task = asyncio.create_task(source.run(ctx))
    await ctx.wait_sleeping()
    return task


async def stop(task: asyncio.Task[None]) -> None:
    """Cancel a source's task and check it ends by cancellation, not by an error."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert task.cancelled() or task.exception() is None
