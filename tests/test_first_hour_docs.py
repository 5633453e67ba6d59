"""/docs and /redoc work offline (issue #15): every asset they load is served by the hub."""

from __future__ import annotations

import re

import httpx
import pytest
from tests.conftest import RunningHub

# What an HTML page makes a browser fetch: src= and href= attributes, and the URLs handed to
# Swagger UI (url: '...') and ReDoc (spec-url="...").
_LOADS = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']""")


def loaded_urls(html: str) -> list[str]:
    return [a or b for a, b in _LOADS.findall(html)]


@pytest.mark.parametrize(
    ("page", "scripts"),
    [("/docs", {"swagger-ui-bundle.js", "swagger-ui.css"}), ("/redoc", {"redoc.standalone.js"})],
)
def test_docs_pages_load_only_local_assets(hub: RunningHub, page: str, scripts: set[str]) -> None:
    """The page names no other host, and each asset it loads is served here (200, non-empty)."""
    with httpx.Client(base_url=hub.url, timeout=30) as http:
        response = http.get(page)
        assert response.status_code == 200
        html = response.text
        assert "cdn.jsdelivr" not in html and "googleapis" not in html
        assert "validator.swagger.io" not in html
        urls = loaded_urls(html)
        assert {u.rsplit("/", 1)[-1] for u in urls} >= scripts | {"openapi.json"}
        for url in urls:
            assert url.startswith("/") and not url.startswith("//"), url
            asset = http.get(url)
            assert asset.status_code == 200, url
            assert len(asset.content) > 100, url
        bundle = next(u for u in urls if u.endswith(".js"))
        assert (
            http.get(bundle)
            .headers["content-type"]
            .startswith(("application/javascript", "text/javascript"))
        )
