"""bench.analytics: its three GEX implementations agree, and its simulated inputs are what it says."""

from __future__ import annotations

import pytest
from bench import analytics as bench

from alphawire.analytics import extract_tickers, gamma_exposure


def test_peers_compute_the_same_numbers_on_a_small_chain() -> None:
    """On a 240-line chain, pandas per-row and numpy per-spot find gamma_exposure's total and zero-gamma."""
    chain = bench.make_chain(expiries=4, lines=240, step=50.0)
    profile = gamma_exposure(chain, bench.SPOT)
    assert profile.zero_gamma is not None  # the chain is built to cross zero in range
    for peer in (bench.numpy_per_spot, bench.pandas_per_row):
        total, zero = peer(chain, bench.SPOT)
        assert total == pytest.approx(profile.total, rel=1e-9)
        assert zero == pytest.approx(profile.zero_gamma, abs=1e-5)


def test_full_chain_has_the_issue_shape() -> None:
    """The benchmark chain is 20,000 lines over 30 expiries, calls and puts."""
    chain = bench.make_chain()
    assert len(chain) == 20_000
    assert len({c["years"] for c in chain}) == 30
    assert {c["kind"] for c in chain} == {"call", "put"}


def test_posts_mention_universe_tickers() -> None:
    """Simulated posts draw their tickers from the universe, so extraction finds some in every post."""
    universe = bench.make_universe(size=500)
    posts = bench.make_posts(50, sorted(universe))
    assert all(extract_tickers(p, universe) for p in posts if "$" in p)
