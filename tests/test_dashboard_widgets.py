"""Every widget against a real hub: empty before agents speak, then real published data."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import expect
from tests.browser import (  # noqa: F401  (fixtures)
    SCREENSHOTS,
    Dashboard,
    browser,
    dashboard,
)
from tests.browser_samples import HOSTILE, insight, sample_messages

pytestmark = pytest.mark.browser
AGENT_WIDGETS = ("gamma", "darkpool", "squeeze", "options", "reddit", "macro")


def test_agent_widgets_say_what_they_wait_for_before_any_insight(dashboard: Dashboard) -> None:
    """With no agent running, each agent widget is empty and names the channel it reads."""
    page, watch = dashboard.open("?symbol=NVDA")
    for wid in (*AGENT_WIDGETS, "narrative", "signals", "alerts"):
        widget = page.locator(f"#w-{wid}")
        expect(widget).to_have_attribute("data-state", "empty")
        assert "channel" in widget.locator(".state-msg").inner_text(), wid
    assert "agent_gamma" in page.locator("#w-gamma .state-msg").inner_text()
    watch.clean()


def test_a_widget_shows_loading_until_its_history_answers(dashboard: Dashboard) -> None:
    """While GET /api/v1/history/unified is held back the alerts feed says Loading; when it
    answers, the feed settles (empty here) and the other widgets never waited for it."""
    held: list[Any] = []
    page, watch = dashboard.open(
        wait=False, routes={"**/api/v1/history/unified*": lambda route: held.append(route)}
    )
    feed = page.locator("#w-alerts")
    expect(feed).to_have_attribute("data-state", "loading")
    expect(feed.locator(".state-msg")).to_have_text("Loading…")
    expect(page.locator("#w-market")).to_have_attribute("data-state", "ready")
    assert len(held) == 1
    held[0].continue_()
    expect(feed).to_have_attribute("data-state", "empty")
    watch.clean()


def test_every_widget_renders_published_data(dashboard: Dashboard) -> None:
    """One message per agent, a signal, narratives and an alert: each widget shows its numbers."""
    page, watch = dashboard.open("?symbol=NVDA")
    dashboard.publish(*sample_messages("NVDA", 142.0))
    for wid in (*AGENT_WIDGETS, "narrative", "signals", "alerts", "market"):
        expect(page.locator(f"#w-{wid}")).to_have_attribute("data-state", "ready")

    gamma = page.locator("#w-gamma")
    expect(gamma.locator(".subject")).to_have_text("NVDA")
    assert gamma.locator(".insight-head .sim").is_visible()  # simulated inputs say so
    assert "regime positive" in gamma.inner_text().replace("\n", " ")
    assert gamma.locator("canvas").count() >= 1  # the uPlot bar chart
    assert "zero gamma 139.00" in gamma.locator(".aria-chart, [role=img]").get_attribute(
        "aria-label"
    ).replace("zero gamma", "zero gamma")

    darkpool = page.locator("#w-darkpool")
    assert darkpool.locator("tbody tr").count() == 2
    text = darkpool.inner_text()
    assert "DIX\n44.1%" in text and "58.0%" in text
    assert darkpool.locator("tbody tr").first.locator("td").nth(4).inner_text() == "buy"

    squeeze = page.locator("#w-squeeze")
    symbols = squeeze.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.symbol)")
    assert symbols == ["NVDA", "GME", "AMC"]  # by score, highest first
    squeeze.locator("th[data-key=squeeze_score] button").click()
    expect(squeeze.locator("th[data-key=squeeze_score]")).to_have_attribute(
        "aria-sort", "ascending"
    )
    symbols = squeeze.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.symbol)")
    assert symbols == ["AMC", "GME", "NVDA"]
    squeeze.locator("input[type=number]").fill("50")
    expect(squeeze.locator("tbody tr")).to_have_count(2)

    options = page.locator("#w-options")
    assert options.locator("tbody tr").count() == 2
    assert "SWEEP" in options.inner_text()
    assert "$5.4M" in options.locator(".premium").inner_text()

    reddit = page.locator("#w-reddit")
    first = reddit.locator("tbody tr").first
    assert first.get_attribute("data-symbol") == "NVDA"
    assert "812" in first.inner_text() and "3.4×" in first.inner_text()
    assert "NVDA to the moon, 150C yolo" in reddit.locator(".posts").inner_text()

    macro = page.locator("#w-macro").inner_text()
    for fragment in ("0.19 pp", "16.80", "falling", "4.33%", "normal"):
        assert fragment in macro, fragment

    narrative = page.locator("#w-narrative")
    assert "Risk-on tape with dealers pinning the index" in narrative.inner_text()
    assert "NVDA: calls chase, dark pools sell" in narrative.inner_text()
    assert "short volume up while calls are bought" in narrative.inner_text()

    signals = page.locator("#w-signals")
    row = signals.locator("tbody tr").first
    assert row.locator(".action").inner_text() == "BUY"
    assert "74%" in row.inner_text() and "150.00" in row.inner_text()
    assert "65% hit (31/48)" in signals.locator("[data-field=record]").inner_text()

    alert = page.locator("#w-alerts .alert").first
    assert "250K NVDA block at 141.60" in alert.inner_text()
    assert "Dark pool block" in alert.locator("[data-field=embed]").inner_text()
    assert "sev-high" in (alert.get_attribute("class") or "")

    tile = page.locator('#w-market .tile[data-symbol="NVDA"] .rvol')
    expect(tile).to_have_text("1.8× avg")
    watch.clean()


def test_a_new_insight_replaces_the_shown_one_and_focus_switches_widgets(
    dashboard: Dashboard,
) -> None:
    """Publishing a newer gamma insight updates the widget; focusing another symbol follows
    (and an agent named GammaAgent, on agent_gammaagent, counts as the gamma agent)."""
    page, watch = dashboard.open("?symbol=NVDA")
    dashboard.publish(*sample_messages("NVDA", 142.0))
    gamma = page.locator("#w-gamma")
    expect(gamma.locator("[data-field=headline]")).to_have_text(
        "NVDA dealers long gamma above 139.00"
    )
    newer = sample_messages("NVDA", 150.0)[0]
    newer["insight"]["headline"] = "NVDA flipped to short gamma"
    newer["insight"]["metrics"]["regime"] = "negative"
    dashboard.publish(newer)
    expect(gamma.locator("[data-field=headline]")).to_have_text("NVDA flipped to short gamma")
    assert "regime negative" in gamma.inner_text().replace("\n", " ")

    page.locator("#w-squeeze tbody tr[data-symbol=GME] button").click()
    expect(page.locator(".focus-sym")).to_have_text("GME")
    expect(gamma).to_have_attribute("data-state", "empty")
    assert "for GME" in gamma.locator(".state-msg").inner_text()
    class_style = sample_messages("GME", 24.0)[0]
    class_style["agent"] = "GammaAgent"  # channel agent_gammaagent: read as well
    dashboard.publish(class_style)
    expect(gamma).to_have_attribute("data-state", "ready")
    expect(gamma.locator(".subject")).to_have_text("GME")
    watch.clean()


def test_alert_filters_live_region_and_delivery_state(dashboard: Dashboard) -> None:
    """Filters narrow the feed, new alerts are announced, and Delivery shows the outbox state."""
    page, watch = dashboard.open()
    dashboard.publish(
        {
            "type": "alert",
            "alert_type": "gamma_flip",
            "source": "t",
            "symbol": "SPY",
            "content": "flip",
            "severity": "critical",
        },
        {
            "type": "alert",
            "alert_type": "dark_pool",
            "source": "t",
            "symbol": "QQQ",
            "content": "block",
            "severity": "low",
        },
        {
            "type": "alert",
            "alert_type": "dark_pool",
            "source": "t",
            "symbol": "SPY",
            "content": "plain",
        },
    )
    alerts = page.locator("#w-alerts .alert")
    expect(alerts).to_have_count(3)
    expect(page.locator("#announce, #announce-urgent")).not_to_have_text(["", ""])
    feed = page.locator("#w-alerts")
    feed.locator("select").nth(1).select_option("medium")
    expect(alerts).to_have_count(1)
    assert "flip" in alerts.first.inner_text()
    feed.locator("select").nth(1).select_option("info")
    feed.locator("select").first.select_option("dark_pool")
    expect(alerts).to_have_count(2)
    feed.locator("input[type=search]").fill("QQQ")
    expect(alerts).to_have_count(1)
    alerts.first.get_by_role("button", name="Delivery state").click()
    expect(alerts.first.locator(".delivery")).to_contain_text("hub: sent")
    watch.clean()


# Stands in for the browser's notification and audio output, recording what the page asks.
NOTIFY_SPY = """
window.__notified = [];
window.__tones = 0;
window.Notification = class {
  constructor(title, options) { window.__notified.push([title, options && options.body]); }
  static get permission() { return "granted"; }
  static requestPermission() { return Promise.resolve("granted"); }
};
const createOscillator = AudioContext.prototype.createOscillator;
AudioContext.prototype.createOscillator = function () {
  window.__tones += 1;
  return createOscillator.call(this);
};
"""


def test_desktop_notifications_and_sound_are_opt_in_and_remembered(dashboard: Dashboard) -> None:
    """Nothing is notified or played until opted in; then every alert notifies, only high
    and critical ones sound, and the choice survives a reload."""
    page, watch = dashboard.open(init_script=NOTIFY_SPY)
    feed = page.locator("#w-alerts")
    dashboard.publish(
        {
            "type": "alert",
            "alert_type": "t",
            "source": "s",
            "content": "before",
            "severity": "critical",
        }
    )
    expect(feed.locator(".alert")).to_have_count(1)
    assert page.evaluate("[window.__notified.length, window.__tones]") == [0, 0]
    feed.get_by_label("desktop").check()
    feed.get_by_label("sound").check()
    dashboard.publish(
        {
            "type": "alert",
            "alert_type": "t",
            "source": "s",
            "symbol": "SPY",
            "content": "loud",
            "severity": "high",
        },
        {"type": "alert", "alert_type": "t", "source": "s", "content": "quiet", "severity": "low"},
    )
    expect(feed.locator(".alert")).to_have_count(3)
    page.wait_for_function("() => window.__notified.length === 2")
    assert page.evaluate("window.__notified") == [["t SPY", "loud"], ["t", "quiet"]]
    assert page.evaluate("window.__tones") == 1
    page.reload()
    page.wait_for_function("() => window.alphawire && window.alphawire.hub.status.state === 'live'")
    assert feed.get_by_label("desktop").is_checked() and feed.get_by_label("sound").is_checked()
    watch.clean()


def test_hostile_content_renders_as_text(dashboard: Dashboard) -> None:
    """HTML in alerts, embeds, narratives, insights, posts and signals shows literally, inert."""
    page, watch = dashboard.open("?symbol=NVDA")
    evil = HOSTILE + "<script>alert(2)</script>"
    messages = sample_messages("NVDA", 142.0)
    for message in messages:
        if message["type"] == "agent_insight":
            message["insight"]["headline"] = evil
            message["insight"]["summary"] = evil
            message["insight"]["evidence"] = [
                {"source": evil, "value": evil, "time": "2026-12-04T15:00:00Z", "text": evil}
            ]
        elif message["type"] == "narrative":
            message["narrative"].update(
                headline=evil,
                drivers=[evil],
                conflicts=[{"agents": [evil], "text": evil}],
                watch=[evil],
            )
        elif message["type"] == "signal":
            message["signal"]["rationale"] = evil
            message["signal"]["timeframe"] = "<b>1d</b>"
        elif message["type"] == "alert":
            message.update(content=evil, source=evil, alert_type="x<b>y</b>")
            message["embed"] = {
                "title": evil,
                "description": evil,
                "fields": [{"name": evil, "value": evil}],
                "footer": {"text": evil},
            }
    dashboard.publish(*messages)
    expect(page.locator("#w-alerts .alert")).to_have_count(1)
    expect(page.locator("#w-narrative")).to_have_attribute("data-state", "ready")
    expect(page.locator("#w-reddit")).to_have_attribute("data-state", "ready")
    alert = page.locator("#w-alerts .alert").first
    assert alert.locator("[data-field=content]").inner_text() == evil
    assert evil in alert.locator("[data-field=embed]").inner_text()
    assert alert.locator(".efooter").inner_text() == evil
    assert "x<b>y</b>" in alert.inner_text()
    assert evil in page.locator("#w-narrative").inner_text()
    assert evil in page.locator("#w-gamma [data-field=summary]").inner_text()
    assert evil in page.locator("#w-reddit").inner_text()
    assert evil in page.locator("#w-signals tbody").inner_text()
    # Nothing became an element: no img, no script, no <b> outside the page's own markup.
    assert page.locator("img").count() == 0
    assert page.locator("b").count() == 0
    assert page.locator("body script").count() == 0
    watch.clean()  # no dialog fired, no console error


def test_layout_and_theme_are_remembered(dashboard: Dashboard) -> None:
    """Hiding, moving and resizing widgets and the theme survive a reload; reset restores."""
    page, watch = dashboard.open()
    page.get_by_role("button", name="Hide: Macro Intelligence").click()
    expect(page.locator("#w-macro")).to_be_hidden()
    page.get_by_role("button", name="Change width: Alerts").click()
    width = page.locator("#w-alerts").get_attribute("data-w")
    page.get_by_role("button", name="Move earlier: Alerts").click()
    order = page.locator("#grid > section").evaluate_all("s => s.map(x => x.dataset.widget)")
    assert order[:2] == ["alerts", "market"]
    page.get_by_role("button", name="Theme").click()
    theme = page.locator("html").get_attribute("data-theme")
    page.reload()
    page.wait_for_function("() => window.alphawire && window.alphawire.hub.status.state === 'live'")
    expect(page.locator("#w-macro")).to_be_hidden()
    assert page.locator("#w-alerts").get_attribute("data-w") == width
    assert page.locator("#grid > section").first.get_attribute("data-widget") == "alerts"
    assert page.locator("html").get_attribute("data-theme") == theme
    page.locator(".menu summary").click()
    page.get_by_role("button", name="Reset layout").click()
    expect(page.locator("#w-macro")).to_be_visible()
    assert page.locator("#grid > section").first.get_attribute("data-widget") == "market"
    watch.clean()


def test_keyboard_reaches_tiles_and_focus_box(dashboard: Dashboard) -> None:
    """'/' jumps to the focus box; Tab reaches a tile; Enter on it focuses that symbol."""
    page, watch = dashboard.open("?symbol=SPY")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.name") == "focus"
    page.keyboard.type("tsla")
    page.keyboard.press("Enter")
    expect(page.locator(".focus-sym")).to_have_text("TSLA")
    page.locator('#w-market .tile[data-symbol="QQQ"] .tile-main').focus()
    page.keyboard.press("Enter")
    expect(page.locator(".focus-sym")).to_have_text("QQQ")
    # Tabbing from the top reaches the skip link first, then the focus box.
    page.reload()
    page.wait_for_function("() => window.alphawire && window.alphawire.hub.status.state === 'live'")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "focus"
    watch.clean()


def test_widgets_go_stale_when_the_hub_goes_away(dashboard: Dashboard) -> None:
    """Stopping the hub marks data widgets stale (badge) and the pill reconnecting."""
    page, watch = dashboard.open("?symbol=NVDA")
    dashboard.publish(*sample_messages("NVDA", 142.0))
    expect(page.locator("#w-gamma")).to_have_attribute("data-state", "ready")
    dashboard.hub.stop()
    expect(page.locator("#w-gamma")).to_have_attribute("data-state", "stale")
    expect(page.locator("#w-gamma .state-badge")).to_have_text("stale: disconnected")
    expect(page.locator("#w-market")).to_have_attribute("data-state", "stale")
    expect(page.locator(".pill")).to_contain_text("reconnecting")
    # The page's reconnect attempts fail while the hub is down: that is expected, not a bug.
    watch.console_errors = [
        e
        for e in watch.console_errors
        if "WebSocket" not in e and "ERR_CONNECTION_REFUSED" not in e
    ]
    watch.clean()


def test_a_single_day_of_history_spans_two_days_not_years(dashboard: Dashboard) -> None:
    """One short-ratio point (a user's first FINRA file): the chart's time axis is centred
    on that day, one day either side, where uPlot alone would stretch it over 1,000 days."""
    page, watch = dashboard.open("?symbol=NVDA")
    dashboard.publish(
        insight(
            "darkpool",
            {
                "symbol": "NVDA",
                "stance": "neutral",
                "score": 0,
                "confidence": 0.3,
                "headline": "NVDA: one day of short volume",
                "metrics": {
                    "short_ratio": 0.42,
                    "short_ratio_history": [{"date": "2026-12-03", "ratio": 0.42}],
                },
            },
        )
    )
    expect(page.locator("#w-darkpool")).to_have_attribute("data-state", "ready")
    page.wait_for_function("() => window.alphawire.widgets.get('darkpool').chart.plot !== null")
    x = page.evaluate(
        "() => { const s = window.alphawire.widgets.get('darkpool').chart.plot.scales.x;"
        " return [s.min, s.max]; }"
    )
    day = datetime(2026, 12, 3, tzinfo=UTC).timestamp()
    assert x == [day - 86_400, day + 86_400]
    watch.clean()
