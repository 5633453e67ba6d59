"""Every widget on the real agents' output: the simulated market and all nine built-in agents
in a real hub, the dashboard in Debian's chromium.

What each widget must show is read from the hub itself (its history of each channel), never
written into the test: the simulator and the agents decide the numbers, the page must show
them. The virtual clock moves only when the test plays it, so runs are deterministic.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from tests.browser import (  # noqa: F401  (fixtures)
    SCREENSHOTS,
    Dashboard,
    browser,
    wait_live,
)
from tests.conftest import free_socket, stop_process, wait_healthy
from tests.sim_hub import SimHub, start_sim_hub

from alphawire.agents.builtin import builtin_agents
from alphawire.sources.sim import DEFAULT_WATCHLIST

pytestmark = pytest.mark.browser
FOCUS = "NVDA"
WIDGETS = (
    "market",
    "alerts",
    "gamma",
    "narrative",
    "signals",
    "darkpool",
    "options",
    "squeeze",
    "reddit",
    "macro",
    "status",
)


@pytest.fixture
def sim(tmp_path: Path) -> Any:
    hub = start_sim_hub(tmp_path)
    try:
        yield hub
    finally:
        hub.hub.stop()


def money(value: float) -> str:
    """dom.js ``usd``: a compact dollar amount ($7.5M, $531.2K)."""
    magnitude = abs(value)
    for divisor, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if magnitude >= divisor:
            text = f"${magnitude / divisor:,.1f}{suffix}"
            break
    else:
        text = f"${magnitude:,.1f}"
    return ("−" if value < 0 else "") + text


def last(items: list[dict[str, Any]]) -> dict[str, Any]:
    assert items, "the agents published nothing here"
    return items[-1]


def wait_caught_up(page: Any, sim: SimHub) -> None:
    """Wait until the page has taken every message the hub holds on the channels its widgets
    read (its per-channel seq), then for two animation frames (widgets render on the next)."""
    channels = ["unified", "signals", "narrative"]
    channels += [f"agent_{name}" for name in builtin_agents()]
    channels += [f"market_{symbol}" for symbol in DEFAULT_WATCHLIST]
    latest = {}
    for channel in channels:
        held = sim.history(channel)
        if held:
            latest[channel] = held[-1]["seq"]
    page.wait_for_function(
        """latest => Object.entries(latest).every(([name, seq]) => {
             const ch = window.alphawire.hub.channels.get(name);
             return ch !== undefined && ch.seq !== null && ch.seq >= seq;
           })""",
        arg=latest,
    )
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def check_posts(page: Any, sim: SimHub, focus: str) -> None:
    """The Reddit widget's posts: the focused symbol's first (newest first), then others'
    (a symbol nobody posts about still shows the forums' tape)."""
    posts = page.locator("#w-reddit .posts li").all_inner_texts()
    assert posts, "no post shown"
    mine = sorted(
        last(sim.insights("reddit", focus))["evidence"],
        key=lambda e: datetime.fromisoformat(e["time"]),
        reverse=True,
    )
    for text, post in zip(posts, mine, strict=False):
        assert f"{post['source']} · {focus} · " in text and post["text"] in text, (text, post)
    if len(mine) < len(posts):
        assert f" · {focus} · " not in posts[len(mine)]


def check_widgets(page: Any, sim: SimHub) -> None:
    """Each widget shows what the hub holds: the latest insight of its agent (for the
    focused symbol or market-wide), the signals, the narratives, every alert once."""
    wait_caught_up(page, sim)
    for wid in WIDGETS:
        expect(page.locator(f"#w-{wid}")).to_have_attribute("data-state", "ready")

    # Market Overview: each tile's price is its symbol's last market_data.
    for symbol in DEFAULT_WATCHLIST:
        ticks = [m for m in sim.history(f"market_{symbol}") if m.get("type") == "market_data"]
        tile = page.locator(f'#w-market .tile[data-symbol="{symbol}"]')
        expect(tile.locator("[data-field=price]")).to_have_text(
            f"{last(ticks)['data']['price']:,.2f}"
        )
        expect(tile.locator(".tag.sim, .sim")).to_have_count(1)  # simulated data says so
        # Volume against the usual: the market agent's latest relative volume.
        rel = last(sim.insights("market", symbol))["metrics"]["rel_volume"]
        expect(tile.locator(".rvol")).to_have_text(f"{rel:.1f}× avg")

    # Gamma Tracker: the focused symbol's latest read, its strikes charted.
    gamma = last(sim.insights("gamma", FOCUS))
    widget = page.locator("#w-gamma")
    expect(widget.locator("[data-field=headline]")).to_have_text(gamma["headline"])
    label = widget.locator("[role=img]").get_attribute("aria-label") or ""
    metrics = gamma["metrics"]
    assert f"{len(metrics['by_strike'])} strikes" in label, label
    assert f"zero gamma {metrics['zero_gamma']:,.2f}" in label, label
    assert widget.locator("canvas").count() >= 1
    assert f"regime\n{metrics['regime']}" in widget.inner_text()

    # Dark Pool Flow: the focused symbol's blocks, newest first, and the watchlist's DIX.
    dark = last(sim.insights("darkpool", FOCUS))["metrics"]
    wide = last(sim.insights("darkpool", None))["metrics"]
    widget = page.locator("#w-darkpool")
    rows = widget.locator("tbody tr")
    expect(rows).to_have_count(min(50, len(dark["blocks"])))
    newest = max(dark["blocks"], key=lambda b: b["time"])
    assert rows.first.locator("td").nth(1).inner_text() == f"{newest['price']:,.2f}"
    assert f"DIX\n{wide['dix'] * 100:.1f}%" in widget.inner_text()

    # Squeeze Scanner: every scored symbol, highest score first.
    scored = {}
    for symbol in DEFAULT_WATCHLIST:
        found = sim.insights("squeeze", symbol)
        if found:
            scored[symbol] = found[-1]["metrics"]["squeeze_score"]
    order = sorted(scored, key=lambda s: (-scored[s], s))
    shown = page.locator("#w-squeeze tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.symbol)"
    )
    assert shown == order
    headers = page.locator("#w-squeeze thead th").all_inner_texts()
    assert headers[:5] == ["Symbol", "Score", "SI %", "DTC", "Borrow %"], headers
    assert "Float" in headers and "float shares" not in headers
    gme = last(sim.insights("squeeze", "GME"))["metrics"]["inputs"]
    row = page.locator('#w-squeeze tbody tr[data-symbol="GME"] td')
    cells = row.all_inner_texts()
    assert cells[headers.index("Float") - 1] == f"{gme['float_shares'] / 1e6:.1f}M", cells
    assert cells[headers.index("SI %") - 1] == f"{gme['short_interest_pct']:.1f}", cells
    leader = last(sim.insights("squeeze", None))
    expect(page.locator("#w-squeeze [data-field=headline]")).to_have_text(leader["headline"])

    # Options Flow: the focused symbol's unusual contracts and its premium by side.
    options = last(sim.insights("options", FOCUS))["metrics"]
    widget = page.locator("#w-options")
    expect(widget.locator("tbody tr")).to_have_count(len(options["unusual"]))
    premium = widget.locator(".premium").inner_text()
    assert money(options["premium"]["calls"]) in premium, premium
    assert money(options["premium"]["bearish"]) in premium, premium

    # Reddit Sentiment: the tickers by mentions, the most mentioned first.
    tickers = last(sim.insights("reddit", None))["metrics"]["tickers"]
    top = max(tickers, key=lambda t: t["mentions"])
    first = page.locator("#w-reddit tbody tr").first
    assert first.get_attribute("data-symbol") == top["symbol"]
    assert f"{top['mentions']:,}" in first.inner_text()
    check_posts(page, sim, FOCUS)

    # Macro Intelligence: curve, VIX regime, inflation and its trend.
    macro = last(sim.insights("macro", None))["metrics"]
    text = page.locator("#w-macro").inner_text()
    assert f"2s10s\n{macro['spread_2s10s']:.2f} pp" in text, text
    assert f"VIX\n{macro['vix']:.2f}" in text and f"regime\n{macro['vix_regime']}" in text
    assert f"curve\n{macro['curve_regime']}" in text
    assert f"3m10y\n{macro['spread_3m10y']:.2f} pp" in text
    curve = page.locator("#w-macro [role=img]").first.get_attribute("aria-label") or ""
    assert len(macro["curve"]) == 7, macro["curve"]  # 3M to 30Y
    for point in macro["curve"]:
        assert f"{point['tenor']} {point['yield']:.2f}%" in curve, curve
    assert macro["inflation"], "the simulated CPI history yields a year-over-year series"
    assert f"CPI YoY\n{macro['inflation_yoy']:.2f}%" in text, text
    assert macro["inflation_yoy"] == macro["inflation"][-1]["yoy"]
    change = macro["inflation_trend_pp"]
    sign = "+" if change > 0 else "−" if change < 0 else ""
    assert f"trend\n{macro['inflation_trend']} ({sign}{abs(change):.2f} pp, 3m)" in text, text

    # Narrative Brain: the latest market-wide and focused-symbol narratives, newest history.
    narratives = [m["narrative"] for m in sim.history("narrative") if m.get("type") == "narrative"]
    cards = page.locator("#w-narrative .narrative [data-field=headline]").all_inner_texts()
    assert last([n for n in narratives if n["symbol"] is None])["headline"] in cards
    assert last([n for n in narratives if n["symbol"] == FOCUS])["headline"] in cards

    # Signals Center: every signal the Signal agent issued.
    signals = [m for m in sim.history("signals") if m.get("type") == "signal"]
    rows = page.locator("#w-signals tbody tr")
    expect(rows).to_have_count(len(signals))
    newest_signal = last(signals)["signal"]
    row = page.locator(f'#w-signals tbody tr[data-id="{last(signals)["id"]}"]')
    assert row.locator(".action").inner_text() == newest_signal["action"].upper()
    assert f"{newest_signal['entry']:,.2f}" in row.inner_text()

    # Alerts feed: every alert on unified, each exactly once.
    alerts = [m for m in sim.history("unified") if m.get("type") == "alert"]
    feed = page.locator("#w-alerts .alert")
    expect(feed).to_have_count(len(alerts))
    ids = feed.evaluate_all("nodes => nodes.map(n => n.dataset.id)")
    assert sorted(ids) == sorted(m["id"] for m in alerts)
    # The agents' alerts come from simulated inputs, and each says so.
    assert all("SIMULATED" in m["embed"]["footer"]["text"] for m in alerts)
    expect(page.locator("#w-alerts .alert .meta .sim")).to_have_count(len(alerts))


def test_every_widget_renders_the_agents_output_from_the_simulator(
    browser: Any, sim: SimHub
) -> None:
    """A minute of the simulated session, then the page opens: every widget loads its
    initial state over REST and shows the agents' latest output."""
    sim.play(60)
    board = Dashboard(sim.hub, browser)
    try:
        page, watch = board.open(f"?symbol={FOCUS}")
        check_widgets(page, sim)
        # Focusing GME from the Reddit table: its own posts come first.
        page.locator('#w-reddit tbody tr[data-symbol="GME"] button').click()
        expect(page.locator(".focus-sym")).to_have_text("GME")
        assert last(sim.insights("reddit", "GME"))["evidence"], "GME has posts in the sim"
        check_posts(page, sim, "GME")
        watch.clean()
    finally:
        board.close()


def test_widgets_follow_the_simulated_session_live(browser: Any, sim: SimHub) -> None:
    """The page is open from the session's first moment: as the session plays, every widget
    follows from the live socket alone and ends showing exactly what the hub holds."""
    board = Dashboard(sim.hub, browser)
    try:
        page, watch = board.open(f"?symbol={FOCUS}")
        feed = page.locator("#w-alerts .alert")
        before = [m for m in sim.history("unified") if m.get("type") == "alert"]
        expect(feed).to_have_count(len(before))  # at most the start-up files' alerts
        sim.play(30)
        during = [m for m in sim.history("unified") if m.get("type") == "alert"]
        assert len(during) > len(before)
        expect(feed).to_have_count(len(during))
        sim.play(30)
        check_widgets(page, sim)
        status = page.evaluate("window.alphawire.hub.status")
        assert status["lost"] == 0 and status["duplicates"] == 0
        watch.clean()
    finally:
        board.close()


def test_screenshots_of_the_dashboard_and_each_widget(
    browser: Any, sim: SimHub, tmp_path: Path
) -> None:
    """Screenshots of the whole page (dark and light) and of every widget, showing the
    agents' output on the simulated session's first minutes.

    Written to docs/screenshots/ when ALPHAWIRE_SCREENSHOTS=1 (the README shows them), else to
    a temporary directory.
    """
    out = SCREENSHOTS if os.environ.get("ALPHAWIRE_SCREENSHOTS") == "1" else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    sim.play(90)
    board = Dashboard(sim.hub, browser)
    try:
        page, watch = board.open(f"?symbol={FOCUS}", width=1600, height=1250)
        for wid in WIDGETS:
            expect(page.locator(f"#w-{wid}")).to_have_attribute("data-state", "ready")
        files = [out / "dashboard-dark.png"]
        page.screenshot(path=files[0], full_page=True)
        for section in page.locator("#grid > section").all():
            files.append(out / f"widget-{section.get_attribute('data-widget')}.png")
            section.screenshot(path=files[-1])
        page.get_by_role("button", name="Theme").click()
        page.evaluate("window.scrollTo(0, 0)")
        expect(page.locator("html")).to_have_attribute("data-theme", "light")
        files.append(out / "dashboard-light.png")
        page.screenshot(path=files[-1])
        assert len(files) == 13
        for file in files:
            assert file.stat().st_size > 5_000, file  # a real picture, not a blank
        watch.clean()
    finally:
        board.close()


@pytest.fixture
def demo_process(tmp_path: Path) -> Iterator[str]:
    """``alphawire demo`` as a user starts it (``make demo``), ten times faster than real
    time, on a free port; its URL."""
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    command = [sys.executable, "-m", "alphawire", "demo", "--port", str(port)]
    command += ["--data-dir", str(tmp_path / "demo"), "--speed", "10", "--log-level", "warning"]
    proc = subprocess.Popen(command)
    try:
        wait_healthy(proc, f"http://127.0.0.1:{port}")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc)


def test_make_demo_fills_every_widget(browser: Any, demo_process: str) -> None:
    """The command behind ``make demo``: its page fills every widget from the simulated
    market and the agents by themselves, marks simulated data, and logs no error."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(demo_process + "/?symbol=NVDA")
        wait_live(page)
        for wid in WIDGETS:
            # A hang guard, not a speed limit: the scripted events are 5 s in at speed 10.
            expect(page.locator(f"#w-{wid}")).to_have_attribute(
                "data-state", "ready", timeout=60_000
            )
        tiles = page.locator("#w-market .tile")
        expect(tiles).to_have_count(len(DEFAULT_WATCHLIST))  # the hub's watchlist
        expect(page.locator("#w-market .tile .sim").first).to_be_visible()
        expect(page.locator("#w-alerts .alert .meta .sim").first).to_be_visible(timeout=60_000)
        assert errors == []
    finally:
        context.close()
