"""The dashboard as the hub's client: restarts, stalled tabs, history resets and tokens."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from playwright.sync_api import expect
from tests.browser import Dashboard, browser, dashboard, wait_live  # noqa: F401  (fixtures)
from tests.conftest import RunningHub

pytestmark = pytest.mark.browser
SECRET = "dashboard-test-secret-of-32-bytes!!"


def alert(n: int, tag: str = "a") -> dict[str, Any]:
    return {
        "type": "alert",
        "alert_type": "test",
        "source": "recovery-test",
        "symbol": "SPY",
        "content": f"{tag}-{n}",
    }


def feed_ids(page: Any) -> list[str]:
    """The alert ids the feed shows, top to bottom."""
    ids: list[str] = page.locator("#w-alerts .alert").evaluate_all(
        "rows => rows.map(r => r.dataset.id)"
    )
    return ids


def restart(board: Dashboard, hub_factory: Callable[..., RunningHub], **kw: Any) -> None:
    """Stop the hub gracefully and start it again on the same port with the same data."""
    old = board.hub
    port = int(old.url.rsplit(":", 1)[1])
    data_dir = old.node.settings.data_dir
    old.stop()
    board.hub = hub_factory(port=port, data_dir=data_dir, **kw)


def test_hub_restart_keeps_every_alert_exactly_once(
    dashboard: Dashboard, hub_factory: Callable[..., RunningHub]
) -> None:
    """Alerts before, during and after a graceful restart each appear once, newest first."""
    page, watch = dashboard.open()
    published = [r["id"] for r in dashboard.publish(*[alert(i) for i in range(5)])]
    expect(page.locator("#w-alerts .alert")).to_have_count(5)
    restart(dashboard, hub_factory, demo=True, demo_interval=0.2)
    # Published at once: the page is still backing off, so it gets these through recovery.
    published += [r["id"] for r in dashboard.publish(*[alert(i, "b") for i in range(5)])]
    expect(page.locator("#w-alerts .alert")).to_have_count(10)
    wait_live(page)
    published += [r["id"] for r in dashboard.publish(*[alert(i, "c") for i in range(3)])]
    expect(page.locator("#w-alerts .alert")).to_have_count(13)
    ids = feed_ids(page)
    assert len(set(ids)) == len(ids) == 13
    assert ids == sorted(published, reverse=True)
    status = page.evaluate("window.alphawire.hub.status")
    assert status["reconnects"] >= 1 and status["lost"] == 0
    watch.console_errors = [e for e in watch.console_errors if "WebSocket" not in e]
    watch.clean()


def test_history_reset_is_reported_and_new_alerts_still_show(
    dashboard: Dashboard, hub_factory: Callable[..., RunningHub]
) -> None:
    """After a restart without the snapshot (epoch changed) new alerts, whose seqs start
    again at 1, still show, and the feed says history was reset."""
    page, watch = dashboard.open()
    dashboard.publish(*[alert(i) for i in range(3)])
    expect(page.locator("#w-alerts .alert")).to_have_count(3)
    data_dir = dashboard.hub.node.settings.data_dir
    port = int(dashboard.hub.url.rsplit(":", 1)[1])
    dashboard.hub.stop()
    (data_dir / "memory-broker.snapshot").unlink()  # as after a crash
    dashboard.hub = hub_factory(port=port, data_dir=data_dir)
    wait_live(page)
    expect(page.locator("#w-alerts .gap-note")).to_contain_text("history was reset")
    dashboard.publish(*[alert(i, "new") for i in range(2)])
    expect(page.locator("#w-alerts .alert")).to_have_count(5)
    assert page.locator("#w-alerts .alert").first.inner_text().count("new-1") == 1
    watch.console_errors = [e for e in watch.console_errors if "WebSocket" not in e]
    watch.clean()


def test_a_stalled_tab_does_not_hold_up_another(dashboard: Dashboard) -> None:
    """A tab frozen in the debugger while 1,200 alerts go out: the other tab shows them all;
    once resumed, the frozen one catches up with each alert once (newest 500 kept)."""
    stalled, stalled_watch = dashboard.open()
    healthy, healthy_watch = dashboard.open()
    cdp = stalled.context.new_cdp_session(stalled)
    cdp.send("Debugger.enable")
    cdp.send("Debugger.pause")
    published: list[str] = []
    for batch in range(6):
        published += [
            r["id"] for r in dashboard.publish(*[alert(batch * 200 + i) for i in range(200)])
        ]
    newest = sorted(published, reverse=True)[:500]
    expect(healthy.locator("#w-alerts .alert")).to_have_count(500)
    assert feed_ids(healthy) == newest
    assert healthy.evaluate("window.alphawire.hub.status.received") >= 1200
    cdp.send("Debugger.resume")
    expect(stalled.locator("#w-alerts .alert")).to_have_count(500)
    stalled.wait_for_function(
        "n => document.querySelector('#w-alerts .alert').textContent.includes(n)",
        arg="a-1199",
    )
    assert feed_ids(stalled) == newest
    healthy_watch.clean()
    stalled_watch.console_errors = [e for e in stalled_watch.console_errors if "WebSocket" not in e]
    stalled_watch.clean()


def make_token(patterns: list[str], expires_in: float = 3600) -> str:
    return jwt.encode(
        {"exp": time.time() + expires_in, "channels": patterns}, SECRET, algorithm="HS256"
    )


def test_token_mode_asks_for_a_subscribe_token_and_keeps_it_for_the_tab_only(
    browser: Any, hub_factory: Callable[..., RunningHub]
) -> None:
    """A token hub makes the page ask; a wrong token (the publish token) is refused and not
    kept; a valid subscribe token connects and lives in sessionStorage, never localStorage."""
    hub = hub_factory(subscribe_auth="token", jwt_secret=SECRET)
    board = Dashboard(hub, browser)
    try:
        page, watch = board.open(wait=False)
        dialog = page.locator("#token-dialog")
        expect(dialog).to_be_visible()
        expect(page.locator(".pill")).to_have_text("token required")
        dialog.locator("input[name=token]").fill(hub.token)  # the publish token
        dialog.get_by_role("button", name="Connect").click()
        expect(dialog).to_be_visible()  # refused again
        assert page.evaluate("sessionStorage.getItem('alphawire.subscribeToken')") is None
        dialog.locator("input[name=token]").fill(make_token(["*"]))
        dialog.get_by_role("button", name="Connect").click()
        wait_live(page)
        board.publish(alert(1, "tok"))
        expect(page.locator("#w-alerts .alert")).to_have_count(1)
        stored = page.evaluate("JSON.stringify(localStorage)")
        assert "ey" not in stored and hub.token not in stored
        assert page.evaluate("sessionStorage.getItem('alphawire.subscribeToken')").startswith("ey")
        # Refused tokens make the hub close the socket and answer 401: those are logged.
        watch.console_errors = [e for e in watch.console_errors if "401" not in e]
        watch.clean()
    finally:
        board.close()


def test_token_from_the_url_is_used_and_removed_from_the_address_bar(
    browser: Any, hub_factory: Callable[..., RunningHub]
) -> None:
    """?token= connects at once, then disappears from the URL (history and Referer safe)."""
    hub = hub_factory(subscribe_auth="token", jwt_secret=SECRET)
    board = Dashboard(hub, browser)
    try:
        page, watch = board.open(f"?symbol=NVDA&token={make_token(['*'])}")
        assert "token" not in page.url and page.url.endswith("?symbol=NVDA")
        board.publish(alert(1, "url"))
        expect(page.locator("#w-alerts .alert")).to_have_count(1)
        assert page.locator("#token-dialog").count() == 0
        watch.clean()
    finally:
        board.close()


def test_a_token_sent_to_an_open_hub_is_dropped(dashboard: Dashboard) -> None:
    """On a hub that needs no token, a ?token= is sent once, answered 'not required', and
    never stored (it might be a publish token pasted by mistake)."""
    page, watch = dashboard.open("?token=test-token")
    page.wait_for_function("() => window.alphawire.hub.token === null")
    assert page.evaluate("sessionStorage.getItem('alphawire.subscribeToken')") is None
    watch.clean()


def test_channels_a_token_does_not_allow_show_the_error_state(
    browser: Any, hub_factory: Callable[..., RunningHub]
) -> None:
    """With a token for alerts and market data only, the agent widgets show the error state
    with the hub's reason, while the allowed widgets work."""
    hub = hub_factory(subscribe_auth="token", jwt_secret=SECRET)
    board = Dashboard(hub, browser)
    try:
        page, watch = board.open(f"?token={make_token(['unified', 'market_*'])}")
        gamma = page.locator("#w-gamma")
        expect(gamma).to_have_attribute("data-state", "error")
        assert "agent_gamma" in gamma.locator(".state-msg").inner_text()
        assert "does not allow" in gamma.locator(".state-msg").inner_text()
        expect(gamma.locator(".state-badge")).to_have_text("error")
        board.publish(alert(1, "allowed"))
        expect(page.locator("#w-alerts .alert")).to_have_count(1)
        # The refused history reads are 403s in the console: expected here.
        watch.console_errors = [e for e in watch.console_errors if "403" not in e]
        watch.clean()
    finally:
        board.close()
