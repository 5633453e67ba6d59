"""``AgentOptions``: the keys every ``[agents.NAME]`` table accepts (an agent subclasses it)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from alphawire.sources.options import Duration


class AgentOptions(BaseModel):
    """Keys every agent's ``[agents.NAME]`` table accepts (subclass it to add thresholds)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    cadence: Duration = Field(default=60.0, description="seconds between evaluations (or 5m)")
    intraday_only: bool = Field(
        default=False, description="skip cadence evaluations while the market is closed"
    )
    alerts: bool = Field(default=True, description="raise alerts (false: insights only)")
    alert_cooldown: Duration = Field(
        default=900.0, description="seconds before the same dedup key alerts again"
    )


__all__ = ["AgentOptions"]
