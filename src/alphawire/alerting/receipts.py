"""What accepting an alert answers: its receipt, and a retry's (the first publish's result)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class AlertReceipt:
    """What accepting an alert did: its id, where it is going, where it was suppressed, and
    where it is held (a disabled destination)."""

    id: str
    destinations: tuple[str, ...]
    suppressed: tuple[str, ...] = ()
    seq: Mapping[str, int] = field(default_factory=dict)
    duplicate: bool = False
    # Destinations that are disabled (their webhook is gone): the alert waits there until
    # the destination is enabled again (``alphawire alerts enable ROUTE``).
    held: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "type": "alert",
            "channels": list(self.seq) or ["unified"],
            "seq": dict(self.seq),
            "destinations": list(self.destinations),
            "suppressed": list(self.suppressed),
            "held": list(self.held),
        }
        if self.duplicate:
            out["duplicate"] = True
        return out


def fill_duplicates(receipts: list[AlertReceipt]) -> list[AlertReceipt]:
    """A duplicate of an alert accepted in the same call gets that alert's receipt."""
    first = {r.id: r for r in receipts if not r.duplicate}
    return [
        AlertReceipt(r.id, f.destinations, f.suppressed, f.seq, duplicate=True, held=f.held)
        if r.duplicate and (f := first.get(r.id)) is not None
        else r
        for r in receipts
    ]
