"""PriceCrossAgent: raises one alert each time a symbol's price crosses a level.

It reads the bus (``market_{SYMBOL}``) through an in-process subscription and publishes
through the node's one publish path, so its alert reaches WebSocket subscribers and the
Discord routes like any other. The whole agent is this file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from alphawire.agents.base import AgentContext


class PriceCrossOptions(BaseModel):
    """``[agents.price_cross]`` keys."""

    model_config = ConfigDict(extra="forbid")

    symbol: str = Field(default="SPY", description="the symbol to watch")
    level: float = Field(gt=0, description="the price whose crossing raises an alert")
    severity: str = "high"


class PriceCrossAgent:
    """Alerts when the last price moves from one side of ``level`` to the other."""

    Options = PriceCrossOptions
    name = "price_cross"

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.options = PriceCrossOptions.model_validate(dict(options))

    async def run(self, ctx: AgentContext) -> None:
        symbol, level = self.options.symbol.upper(), self.options.level
        side: bool | None = None  # above the level?
        async with ctx.subscribe([f"market_{symbol}"]) as ticks:
            async for tick in ticks:
                price = tick.get("data", {}).get("price")
                if tick.get("type") != "market_data" or price is None:
                    continue
                above = price > level
                if side is not None and above != side:
                    direction = "above" if above else "below"
                    await ctx.publish_alert(
                        alert_type="price_cross",
                        source=f"agent:{self.name}",
                        symbol=symbol,
                        severity=self.options.severity,
                        content=f"{symbol} crossed {direction} {level:g} at {price:g}",
                        # One alert per crossing, even if the tick is delivered again.
                        idempotency_key=f"{self.name}:{symbol}:{tick['seq']}",
                    )
                side = above
