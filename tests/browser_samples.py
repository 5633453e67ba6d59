"""Sample hub messages for the dashboard tests: one per widget, shaped as docs/dashboard.md's
contract (the agents' insights, a signal, narratives, an alert)."""

from __future__ import annotations

from typing import Any

# -- sample agent output, shaped as docs/dashboard.md's contract ----------------------------------

HOSTILE = "<img src=x onerror=alert(1)>"


def insight(agent: str, body: dict[str, Any], timestamp: str | None = None) -> dict[str, Any]:
    """An ``agent_insight`` message for ``POST /api/v1/publish``."""
    message: dict[str, Any] = {"type": "agent_insight", "agent": agent, "insight": body}
    if timestamp:
        message["timestamp"] = timestamp
    return message


def _common(
    symbol: str | None, stance: str, score: float, headline: str, **extra: Any
) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "stance": stance,
        "score": score,
        "confidence": 0.72,
        "headline": headline,
        "summary": f"{headline} (sample data for the dashboard tests).",
        "as_of": "2026-12-04T15:30:00Z",
        "simulated": True,
        "evidence": [
            {"source": "sample", "value": 1, "time": "2026-12-04T15:29:00Z", "text": "fixture"}
        ],
        **extra,
    }


def sample_messages(symbol: str = "NVDA", spot: float = 142.0) -> list[dict[str, Any]]:
    """One message for every agent widget, the narrative and the signals center."""
    strikes = [round(spot - 10 + 2.5 * i, 2) for i in range(9)]
    gex = [-4.1e8, -2.6e8, -1.2e8, -0.3e8, 0.9e8, 2.2e8, 3.4e8, 1.8e8, 0.6e8]
    return [
        insight(
            "gamma",
            _common(
                symbol,
                "bullish",
                0.4,
                f"{symbol} dealers long gamma above {spot - 3:.2f}",
                metrics={
                    "spot": spot,
                    "total_gex": sum(gex),
                    "by_strike": [
                        {"strike": k, "gex": g} for k, g in zip(strikes, gex, strict=True)
                    ],
                    "call_wall": strikes[6],
                    "put_wall": strikes[0],
                    "zero_gamma": spot - 3,
                    "regime": "positive",
                },
                levels={"call_wall": strikes[6], "put_wall": strikes[0], "zero_gamma": spot - 3},
            ),
        ),
        insight(
            "darkpool",
            _common(
                symbol,
                "bearish",
                -0.3,
                f"{symbol} short volume ratio at a 20-day high",
                metrics={
                    "blocks": [
                        {
                            "time": "2026-12-04T15:20:00Z",
                            "price": spot - 0.4,
                            "size": 250_000,
                            "notional": 250_000 * (spot - 0.4),
                            "side": "sell",
                        },
                        {
                            "time": "2026-12-04T15:25:00Z",
                            "price": spot + 0.1,
                            "size": 120_000,
                            "notional": 120_000 * (spot + 0.1),
                            "side": "buy",
                        },
                    ],
                    "short_ratio": 0.58,
                    "short_ratio_z": 2.3,
                    "short_ratio_history": [
                        {"date": f"2026-11-{d:02d}", "ratio": 0.45 + d / 300} for d in range(10, 30)
                    ],
                },
            ),
        ),
        insight(
            "darkpool",
            _common(
                None,
                "neutral",
                0.0,
                "DIX at 44.1% across the watchlist",
                metrics={
                    "dix": 0.441,
                    "dix_history": [
                        {"date": f"2026-11-{d:02d}", "value": 0.42 + d / 1000}
                        for d in range(10, 30)
                    ],
                },
            ),
        ),
        *[
            insight(
                "squeeze",
                _common(
                    s,
                    "bullish",
                    0.2,
                    f"{s} squeeze setup",
                    metrics={
                        "squeeze_score": score,
                        "inputs": {
                            "short_interest_pct": si,
                            "days_to_cover": dtc,
                            "borrow_fee_pct": fee,
                        },
                    },
                ),
            )
            for s, score, si, dtc, fee in (
                (symbol, 82, 24.5, 6.1, 35.0),
                ("GME", 64, 18.0, 3.2, 12.0),
                ("AMC", 41, 15.2, 2.0, 8.5),
            )
        ],
        insight(
            "options",
            _common(
                symbol,
                "bullish",
                0.5,
                f"{symbol} call sweeps at the ask",
                metrics={
                    "unusual": [
                        {
                            "time": "2026-12-04T15:10:00Z",
                            "contract": f"{symbol} 2026-12-19 150C",
                            "expiry": "2026-12-19",
                            "strike": 150,
                            "right": "call",
                            "side": "ask",
                            "sentiment": "bullish",
                            "size": 4200,
                            "premium": 1_890_000,
                            "volume": 9000,
                            "open_interest": 3100,
                            "sweep": True,
                        },
                        {
                            "time": "2026-12-04T15:12:00Z",
                            "contract": f"{symbol} 2026-12-19 130P",
                            "expiry": "2026-12-19",
                            "strike": 130,
                            "right": "put",
                            "side": "bid",
                            "sentiment": "bullish",
                            "size": 1500,
                            "premium": 310_000,
                            "volume": 2500,
                            "open_interest": 8000,
                            "sweep": False,
                        },
                    ],
                    "premium": {
                        "calls": 5_400_000,
                        "puts": 1_200_000,
                        "bullish": 5_100_000,
                        "bearish": 1_500_000,
                    },
                },
            ),
        ),
        insight(
            "reddit",
            _common(
                None,
                "bullish",
                0.3,
                "Retail chatter concentrates on NVDA and GME",
                metrics={
                    "tickers": [
                        {
                            "symbol": symbol,
                            "mentions": 812,
                            "velocity": 3.4,
                            "sentiment": 0.41,
                            "call_put_ratio": 2.8,
                        },
                        {
                            "symbol": "GME",
                            "mentions": 455,
                            "velocity": 1.2,
                            "sentiment": -0.12,
                            "call_put_ratio": 1.1,
                        },
                        {
                            "symbol": "TSLA",
                            "mentions": 301,
                            "velocity": 0.8,
                            "sentiment": 0.05,
                            "call_put_ratio": 1.6,
                        },
                    ]
                },
                evidence=[
                    {
                        "source": "r/wallstreetbets",
                        "value": 812,
                        "time": "2026-12-04T15:00:00Z",
                        "text": f"{symbol} to the moon, 150C yolo",
                    },
                ],
            ),
        ),
        insight(
            "macro",
            _common(
                None,
                "neutral",
                -0.1,
                "Curve re-steepening; VIX normal",
                metrics={
                    "curve": [
                        {"tenor": "3M", "years": 0.25, "yield": 4.31},
                        {"tenor": "2Y", "years": 2, "yield": 4.05},
                        {"tenor": "5Y", "years": 5, "yield": 4.02},
                        {"tenor": "10Y", "years": 10, "yield": 4.24},
                        {"tenor": "30Y", "years": 30, "yield": 4.49},
                    ],
                    "spread_2s10s": 0.19,
                    "curve_regime": "normal",
                    "vix": 16.8,
                    "vix_regime": "normal",
                    "inflation": [
                        {"date": f"2026-{m:02d}-01", "yoy": 3.1 - m * 0.05} for m in range(1, 11)
                    ],
                    "inflation_trend": "falling",
                    "fed_funds": 4.33,
                },
            ),
        ),
        insight(
            "market",
            _common(
                symbol,
                "bullish",
                0.3,
                f"{symbol} trending up on heavy volume",
                metrics={"rel_volume": 1.8, "trend": "up"},
            ),
        ),
        insight(
            "signal",
            _common(
                None,
                "neutral",
                0.0,
                "Signal record",
                metrics={
                    "record": {
                        "signals": 50,
                        "hits": 31,
                        "stops": 12,
                        "expired": 5,
                        "open": 2,
                        "hit_rate": 31 / 48,
                    }
                },
            ),
        ),
        {
            "type": "signal",
            "signal": {
                "symbol": symbol,
                "action": "buy",
                "confidence": 0.74,
                "entry": spot,
                "stop": spot - 4,
                "target": spot + 8,
                "timeframe": "1d",
                "rationale": "gamma positive, call sweeps, retail velocity 3.4x",
            },
        },
        {
            "type": "narrative",
            "narrative": {
                "symbol": None,
                "headline": "Risk-on tape with dealers pinning the index",
                "stance": "bullish",
                "confidence": 0.66,
                "drivers": [
                    {"agent": "gamma", "text": "positive gamma regime"},
                    "falling inflation",
                ],
                "conflicts": [
                    {
                        "agents": ["darkpool", "options"],
                        "text": "short volume up while calls are bought",
                    }
                ],
                "watch": ["CPI on Thursday", f"{symbol} 150 call wall"],
                "insights_used": [{"agent": "gamma", "symbol": symbol, "id": "x"}],
            },
        },
        {
            "type": "narrative",
            "narrative": {
                "symbol": symbol,
                "headline": f"{symbol}: calls chase, dark pools sell",
                "stance": "neutral",
                "confidence": 0.55,
                "drivers": ["options flow"],
                "conflicts": [],
                "watch": [f"{symbol} zero gamma at {spot - 3:.2f}"],
                "insights_used": ["gamma:NVDA"],
            },
        },
        {
            "type": "alert",
            "alert_type": "dark_pool",
            "source": "sample",
            "symbol": symbol,
            "content": f"250K {symbol} block at {spot - 0.4:.2f}",
            "severity": "high",
            "embed": {
                "title": "Dark pool block",
                "description": "Sell side",
                "fields": [{"name": "size", "value": "250,000"}],
            },
        },
    ]
