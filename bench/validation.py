"""What validating one message costs (issue #15's checks: sizes, empty alerts, error texts).

    .venv/bin/python -m bench.validation                 # best of 7 runs of 20,000 each
    .venv/bin/python -m bench.validation --baseline REV   # and the same at a git revision

``messages.validate`` is on every publish's path (HTTP, producer socket, the Python API). This
times it for a tick with four sizes (``bid_size``, ``ask_size``, ``last_size``, ``volume``), an
alert, and a refused message (the path that builds the user-facing error text), in
microseconds per call, best of ``--runs`` (the machine is shared: the minimum is the least
disturbed). With ``--baseline``, ``src/alphawire/messages.py`` of that revision is loaded from
git beside the current one and timed the same way.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import subprocess
import sys
import tempfile
import timeit
from pathlib import Path
from types import ModuleType
from typing import Any

from alphawire import messages

TICK = {
    "type": "market_data",
    "symbol": "SPY",
    "data": {
        "price": 598.12,
        "bid": 598.11,
        "ask": 598.13,
        "bid_size": 300,
        "ask_size": 500,
        "last_size": 100,
        "volume": 18400,
        "change": 1.02,
        "change_pct": 0.171,
        "vwap": 597.8,
    },
}
ALERT = {
    "type": "alert",
    "alert_type": "dark_pool",
    "source": "dp_checker",
    "symbol": "SPY",
    "content": "2M @ 598",
    "severity": "high",
}
REFUSED = {"type": "alert", "alert_typ": "dark_pool", "source": "dp", "content": "x"}


def per_call(module: ModuleType, message: dict[str, Any], number: int) -> float:
    """Microseconds per ``module.validate(message)`` over ``number`` calls."""
    refused = module.ValidationError

    def once() -> None:
        with contextlib.suppress(refused):
            module.validate(message)

    return timeit.timeit(once, number=number) / number * 1e6


def load_revision(rev: str) -> ModuleType:
    """``alphawire/messages.py`` as it was at ``rev``, imported under another name."""
    source = subprocess.run(
        ["git", "show", f"{rev}:src/alphawire/messages.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "messages_baseline.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("messages_baseline", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["messages_baseline"] = module
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--number", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--baseline", default=None, help="a git revision to compare with")
    args = parser.parse_args(argv)
    modules = [("current", messages)]
    if args.baseline:
        modules.append((args.baseline, load_revision(args.baseline)))
    # Rounds interleave the revisions, so that a busy spell of the shared machine weighs on
    # both alike; each figure is the best round.
    best = {name: [float("inf")] * 3 for name, _ in modules}
    for _ in range(args.runs):
        for name, module in modules:
            for i, message in enumerate((TICK, ALERT, REFUSED)):
                best[name][i] = min(best[name][i], per_call(module, message, args.number))
    print(f"{'messages.py':<14} {'tick (4 sizes)':>15} {'alert':>9} {'refused':>9}  (us per call)")
    for name, _ in modules:
        tick, alert, refused = best[name]
        print(f"{name[:14]:<14} {tick:>15.2f} {alert:>9.2f} {refused:>9.2f}")


if __name__ == "__main__":
    main()
