"""The dashboard's shipped files: no markup sinks, vendored libraries as documented, modules resolve."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from alphawire.web.dashboard import ASSETS

JS = sorted((ASSETS / "js").rglob("*.js"))
VENDOR = ASSETS / "vendor"


def test_no_code_of_the_dashboard_turns_text_into_markup() -> None:
    """No innerHTML, outerHTML, insertAdjacentHTML, document.write, eval or Function():
    producer text can only ever become text."""
    sinks = re.compile(
        r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function\(|srcdoc"
    )
    assert JS, "no modules found"
    for path in JS:
        found = sinks.findall(path.read_text())
        assert not found, f"{path.relative_to(ASSETS)} uses {found}"


def test_the_page_has_no_inline_script_or_style() -> None:
    """index.html loads one module and two stylesheets by URL: nothing inline for the CSP."""
    html = (ASSETS / "index.html").read_text()
    assert re.findall(r"<script[^>]*>", html) == [
        '<script type="module" src="/dashboard/js/app.js">'
    ]
    assert "<style" not in html and " style=" not in html
    assert not re.search(r"\son[a-z]+=", html)  # no inline event handlers
    assert "http://" not in html and "https://" not in html  # nothing from elsewhere


def test_every_relative_import_resolves_to_a_shipped_file() -> None:
    """Each `import ... from "./x.js"` names a file in the package (no build step to catch it)."""
    pattern = re.compile(r'(?:import|export)[^"\']*?from\s+"(\.[^"]+)"')
    for path in JS:
        for target in pattern.findall(path.read_text()):
            assert (path.parent / target).resolve().is_file(), f"{path.name} imports {target}"


def test_vendored_uplot_matches_its_table_row() -> None:
    """vendor/README.md names the version shipped; its files and licence are there, unmodified."""
    table = (VENDOR / "README.md").read_text()
    version = re.search(r"\| uPlot \| ([0-9.]+) \|", table)
    assert version is not None
    folder = VENDOR / f"uplot-{version.group(1)}"
    for name in ("uPlot.esm.js", "uPlot.min.css", "LICENSE"):
        assert (folder / name).is_file(), name
    assert "MIT License" in (folder / "LICENSE").read_text()
    assert f"uplot-{version.group(1)}/uPlot.esm.js" in (ASSETS / "js" / "charts.js").read_text()
    # The npm tarball's file, byte for byte (sha256 of uplot@1.6.32's dist/uPlot.esm.js).
    digest = hashlib.sha256((folder / "uPlot.esm.js").read_bytes()).hexdigest()
    assert digest == "5dd9b3281aa64b461b42d9945f6adb2649d346502b12281a9ae0d46599a80eba"


def test_the_contract_document_names_every_agent_channel_the_page_reads() -> None:
    """docs/dashboard.md and agents.js agree on the eight agent names."""
    agents = (ASSETS / "js" / "agents.js").read_text()
    names = re.search(r"AGENTS = \[([^\]]+)\]", agents)
    assert names is not None
    doc = (Path(__file__).resolve().parent.parent / "docs" / "dashboard.md").read_text()
    for name in re.findall(r'"(\w+)"', names.group(1)):
        assert f"`{name}`" in doc, name
        assert f"**{name}**" in doc, name
