"""The public surface of alphawire.analytics and what it is allowed to import."""

from __future__ import annotations

import subprocess
import sys
import types

import alphawire.analytics as analytics


def test_all_is_sorted_and_complete() -> None:
    """__all__ is sorted (constants, classes, functions: ruff's RUF022 order), names only real
    attributes, and lists every public name the package defines."""

    def group(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert analytics.__all__ == sorted(analytics.__all__, key=group)
    assert all(hasattr(analytics, name) for name in analytics.__all__)
    public = {
        n
        for n, v in vars(analytics).items()
        if not n.startswith("_") and not isinstance(v, types.ModuleType)
    }
    assert public == set(analytics.__all__)


def test_imports_nothing_from_the_hub_web_or_sources() -> None:
    """Importing analytics in a fresh interpreter loads no hub, web, source or web-framework module, nor scipy or VADER yet."""
    code = (
        "import sys, alphawire.analytics\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('fastapi', 'starlette', 'uvicorn')\n"
        "       or m.startswith(('alphawire.hub', 'alphawire.web', 'alphawire.sources', 'alphawire.brokers'))]\n"
        "print(','.join(sorted(bad)))\n"
        "print(','.join(sorted(m for m in ('scipy', 'vaderSentiment', 'requests') if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    forbidden, heavy = out.stdout.split("\n")[:2]
    assert forbidden == ""
    # scipy and VADER load on first use, so the sources importing the parsers start fast
    assert heavy == ""
