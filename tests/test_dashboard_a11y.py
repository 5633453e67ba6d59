"""Readable and reachable: text contrast in both themes, landmarks and live regions, responsive grid."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from tests.browser import Dashboard, browser, dashboard  # noqa: F401  (fixtures)
from tests.browser_samples import sample_messages

pytestmark = pytest.mark.browser

# WCAG 2 contrast of every visible text element against the background it sits on.
CONTRAST = """
() => {
  const rgb = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const c = [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const background = (el) => {
    for (let n = el; n; n = n.parentElement) {
      const c = rgb(getComputedStyle(n).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const worst = [];
  for (const el of document.querySelectorAll("#grid *, #topbar *")) {
    if (!el.childNodes.length || ![...el.childNodes].some((n) => n.nodeType === 3 && n.data.trim())) continue;
    if (!el.checkVisibility()) continue;
    const fg = rgb(getComputedStyle(el).color).slice(0, 3);
    const [a, b] = [lum(fg), lum(background(el))].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    if (ratio < 4.5) worst.push([el.className || el.tagName, el.textContent.slice(0, 30), Math.round(ratio * 100) / 100]);
  }
  return worst;
}
"""


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_text_contrast_is_at_least_4_5_to_1(dashboard: Dashboard, theme: str) -> None:
    """Every text element with data in it, both themes: contrast ratio ≥ 4.5 (WCAG AA)."""
    page, watch = dashboard.open("?symbol=NVDA", theme=theme)
    assert page.locator("html").get_attribute("data-theme") == theme
    dashboard.publish(*sample_messages("NVDA", 142.0))
    for wid in ("gamma", "alerts", "signals", "reddit", "squeeze", "narrative"):
        expect(page.locator(f"#w-{wid}")).to_have_attribute("data-state", "ready")
    assert page.evaluate(CONTRAST) == []
    watch.clean()


def test_landmarks_live_regions_and_labels(dashboard: Dashboard) -> None:
    """One main landmark, labelled widget regions, polite and assertive live regions, and an
    accessible name on every button."""
    page, watch = dashboard.open()
    assert page.locator("main#grid").count() == 1
    assert page.get_by_role("region").count() == 11  # sections named by their headings
    assert page.locator("#announce").get_attribute("aria-live") == "polite"
    assert page.locator("#announce-urgent").get_attribute("aria-live") == "assertive"
    unnamed = page.evaluate(
        "() => [...document.querySelectorAll('button')].filter(b => !(b.getAttribute('aria-label') || b.textContent.trim())).length"
    )
    assert unnamed == 0
    watch.clean()


def test_layout_stacks_on_a_narrow_screen_and_spreads_on_a_wide_one(dashboard: Dashboard) -> None:
    """Under 760 px every widget takes the full width; at 2560 px several share a row."""
    page, watch = dashboard.open(width=700, height=900)
    widths = page.locator("#grid > section:not([hidden])").evaluate_all(
        "s => s.map(x => x.getBoundingClientRect().width)"
    )
    assert min(widths) > 650
    page.set_viewport_size({"width": 2560, "height": 1400})
    page.wait_for_timeout(100)
    lefts = page.locator("#grid > section:not([hidden])").evaluate_all(
        "s => s.map(x => Math.round(x.getBoundingClientRect().left))"
    )
    assert len(set(lefts)) >= 3  # three columns of widgets side by side
    watch.clean()
