"""The dashboard: static ES modules and CSS shipped in the package, served by the hub at ``/``.

No build step and no CDN: ``web/dashboard/`` holds the page, its modules, its stylesheet and
the vendored libraries, and the hub serves them as files. Every dashboard response carries a
Content-Security-Policy without inline scripts or styles, so even a rendering bug that let
producer text into the DOM as markup could not run it (the page itself only ever sets
``textContent``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

ASSETS = Path(__file__).with_name("dashboard")
ASSET_PREFIX = "/dashboard"

# 'self' covers the page's own ws:// and wss:// origin in CSP Level 3 browsers; nothing else
# may be loaded, framed, posted to or used as a base URL.
CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    # The page may be opened with ?token=: no Referer may carry it elsewhere.
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class DashboardFiles(StaticFiles):
    """Starlette's static files (path checks, ETags, ranges) with the dashboard's headers."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers.update(SECURITY_HEADERS)
        # Assets are small and change with the package: revalidate (ETag) rather than guess.
        response.headers["Cache-Control"] = "no-cache"
        return response

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(SECURITY_HEADERS)
        return response


def page() -> Response:
    """The dashboard's HTML document (its modules do the rest)."""
    response = FileResponse(ASSETS / "index.html", media_type="text/html; charset=utf-8")
    response.headers.update(SECURITY_HEADERS)
    response.headers["Cache-Control"] = "no-cache"
    return response


def install(app: FastAPI) -> None:
    """Serve the page at ``/`` and its assets under ``/dashboard/``."""

    @app.get("/", include_in_schema=False)
    async def dashboard_page() -> Response:
        return page()

    app.mount(ASSET_PREFIX, DashboardFiles(directory=ASSETS), name="dashboard")


__all__ = ["ASSETS", "CSP", "SECURITY_HEADERS", "install", "page"]
