"""Values shared by the hub, the brokers and the alerting: what a publish did.

A neutral module (it imports nothing of alphawire) so that ``brokers`` and ``alerting`` need
not import ``hub``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alphawire.messages import AnyMessage


@dataclass(frozen=True, slots=True)
class PublishResult:
    """What a publish did: the message's id and the ``seq`` it got on each channel.

    An alert's result also says where it is going (``destinations``: ``hub``,
    ``discord:ROUTE``) and where a cooldown suppressed it; its ``seq`` is empty when the hub
    delivery is still queued behind older alerts (it is published in order, moments later).
    """

    id: str
    type: str
    seq: dict[str, int]
    duplicate: bool = False
    destinations: tuple[str, ...] = ()
    suppressed: tuple[str, ...] = ()

    @property
    def channels(self) -> list[str]:
        if not self.seq and self.type == "alert":
            return ["unified"]
        return list(self.seq)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PublishResult:
        return cls(
            str(data["id"]),
            str(data["type"]),
            {str(k): int(v) for k, v in data["seq"].items()},
            bool(data.get("duplicate", False)),
            tuple(data.get("destinations", ())),
            tuple(data.get("suppressed", ())),
        )

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "channels": self.channels,
            "seq": self.seq,
        }
        if self.type == "alert":
            out["destinations"] = list(self.destinations)
            out["suppressed"] = list(self.suppressed)
        if self.duplicate:
            out["duplicate"] = True
        return out


PublishValidated = Callable[
    ["Sequence[AnyMessage]", "Sequence[str | None] | None"], Awaitable[list[PublishResult]]
]
"""``publish(models, ids)``: publish validated messages to the hub (``ids`` keeps given ids)."""
