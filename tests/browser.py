"""Browser fixtures: Playwright (Python) driving Debian's chromium against a real hub.

The browser is the system's ``chromium`` (``make browser`` installs it with apt when missing);
Playwright never downloads one. Without chromium or playwright the tests skip with the
reason, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import atexit
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import IN_CI, RunningHub

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Timers and rAF of background pages keep running: several pages share one browser.
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def chromium_path() -> str | None:
    """The chromium executable: ``ALPHAWIRE_CHROMIUM``, else ``chromium`` on PATH."""
    configured = os.environ.get("ALPHAWIRE_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: browser tests must run; `make browser` installs it)")
    pytest.skip(reason)


_RUNTIME: dict[str, Any] = {}


def _stop_browser() -> None:
    instance = _RUNTIME.pop("browser", None)
    runtime = _RUNTIME.pop("playwright", None)
    if instance is not None:
        instance.close()
    if runtime is not None:
        runtime.stop()


def shared_browser() -> Any:
    """The process's one chromium (Playwright's sync API allows one runtime per thread, and
    each test module imports the fixture), started on first use and closed at exit."""
    if "browser" not in _RUNTIME:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            _unavailable("playwright is not installed (pip install -e '.[dev]')")
        executable = chromium_path()
        if executable is None:
            _unavailable("chromium not found: run `make browser` (apt-get install chromium)")
        runtime = sync_playwright().start()
        _RUNTIME["playwright"] = runtime
        _RUNTIME["browser"] = runtime.chromium.launch(
            executable_path=executable, args=CHROMIUM_FLAGS
        )
        atexit.register(_stop_browser)
    return _RUNTIME["browser"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One chromium per test module (pages and contexts are per test).

    Stopped at the end of the module: Playwright's sync API keeps an event loop running in
    this thread while it is started, and every asyncio test after it would fail with
    "Cannot run the event loop while another loop is running"."""
    yield shared_browser()
    _stop_browser()


@dataclass
class PageWatch:
    """What a page said: console errors, page errors and dialogs (none are allowed)."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def clean(self) -> None:
        assert self.console_errors == [], self.console_errors
        assert self.page_errors == [], self.page_errors
        assert self.dialogs == [], self.dialogs


@dataclass
class Dashboard:
    """A hub with its dashboard open in one or more pages."""

    hub: RunningHub
    browser: Any
    pages: list[tuple[Any, Any, PageWatch]] = field(default_factory=list)

    def open(
        self,
        query: str = "",
        *,
        width: int = 1600,
        height: int = 1000,
        theme: str | None = None,
        wait: bool = True,
        init_script: str | None = None,
        routes: dict[str, Callable[[Any], None]] | None = None,
    ) -> tuple[Any, PageWatch]:
        """Open the dashboard in a fresh context; wait until its socket is live."""
        context = self.browser.new_context(
            viewport={"width": width, "height": height},
            color_scheme="light" if theme == "light" else "dark",
        )
        page = context.new_page()
        if init_script is not None:
            page.add_init_script(init_script)
        for pattern, handler in (routes or {}).items():
            page.route(pattern, handler)
        watch = PageWatch()
        page.on(
            "console",
            lambda m: watch.console_errors.append(m.text) if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: watch.page_errors.append(str(e)))

        def on_dialog(dialog: Any) -> None:
            watch.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        self.pages.append((context, page, watch))
        page.goto(self.hub.url + "/" + query)
        if wait:
            wait_live(page)
        return page, watch

    def publish(self, *messages: dict[str, Any]) -> list[dict[str, Any]]:
        """Publish messages through ``POST /api/v1/publish``; their results."""
        response = httpx.post(
            self.hub.url + "/api/v1/publish",
            json={"messages": list(messages)},
            headers=self.hub.headers(),
            timeout=10,
        )
        assert response.status_code == 202, response.text
        results: list[dict[str, Any]] = response.json()["results"]
        return results

    def close(self) -> None:
        for context, _, _ in self.pages:
            context.close()
        self.pages.clear()


def wait_live(page: Any, timeout: float = 15_000) -> None:
    """Wait until the page's hub connection is live (every subscription answered)."""
    page.wait_for_function(
        "() => window.alphawire && window.alphawire.hub.status.state === 'live'", timeout=timeout
    )


@pytest.fixture
def dashboard(browser: Any, hub_factory: Callable[..., RunningHub]) -> Iterator[Dashboard]:
    """A hub running the demo's simulated market, and a way to open its dashboard."""
    hub = hub_factory(demo=True, demo_interval=0.2)
    board = Dashboard(hub, browser)
    try:
        yield board
    finally:
        board.close()
