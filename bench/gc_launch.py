"""Run a benchmark server under a ``gc.callbacks`` hook that records every collection.

    python -m bench.gc_launch --out FILE [--no-collector] -- MODULE [ARGS...]

runs ``python -m MODULE ARGS...`` (the same entry point as the fan-out benchmark's server)
after installing the hook, so production code is not changed. On SIGUSR1, and at exit, it
writes FILE (JSON, atomically): every collection's CLOCK_MONOTONIC start, generation and
duration, the collector's own statistics, and the tracked objects a full collection would
walk, counted by type; on SIGUSR2 it also times a full collection and counts the frozen
objects that had become garbage (see ``audit``). ``--no-collector`` turns off alphawire's ``CollectorTuner`` (no
``gc.freeze()`` after connection bursts) to show what it buys.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import json
import os
import runpy
import signal
import sys
import time
from array import array
from collections import Counter
from types import FrameType
from typing import Any

# The records live in arrays of C numbers: appending to them allocates no object that the
# collector tracks, so recording does not itself make collections more frequent or longer.
_starts = array("d")  # time.monotonic() when the collection started
_durations = array("d")  # seconds, perf_counter between "start" and "stop"
# CPU seconds of the collecting thread over the same span: a pause much longer than its CPU
# time was the process waiting for the core (other load on the machine), not the collector.
_cpu = array("d")
_generations = array("b")
_collected = array("q")
_freezes = array("d")  # time.monotonic() of each gc.freeze()
_began = [0.0, 0.0]


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _starts.append(time.monotonic())
        _began[1] = time.thread_time()
        _began[0] = time.perf_counter()
        return
    _durations.append(time.perf_counter() - _began[0])
    _cpu.append(time.thread_time() - _began[1])
    _generations.append(info["generation"])
    _collected.append(info["collected"])


def _record_freezes() -> None:
    real = gc.freeze

    def freeze() -> None:
        _freezes.append(time.monotonic())
        real()

    gc.freeze = freeze


def _disable_collector() -> None:
    """alphawire without its collector tuning: CPython's default collector settings."""
    from alphawire.hub import collector

    def nothing(self: object, *args: object, **kwargs: object) -> None:
        return None

    tuner = collector.CollectorTuner
    tuner.connection_opened = nothing  # type: ignore[method-assign]
    if hasattr(tuner, "start"):  # the raised young-generation threshold, too
        tuner.start = nothing  # type: ignore[attr-defined]


def _collector_max_wait(seconds: float) -> None:
    """alphawire's tuner with another ``max_wait`` (``inf``: the purely debounced freeze)."""
    from alphawire.hub import collector

    defaults = collector.CollectorTuner.__init__.__kwdefaults__
    if defaults is None or "max_wait" not in defaults:
        raise SystemExit("this CollectorTuner has no max_wait")
    defaults["max_wait"] = seconds


def snapshot(types: int = 25) -> dict[str, Any]:
    """The records so far and the collector's state (counting objects takes a moment)."""
    n = len(_durations)
    objects = gc.get_objects()  # generations 0-2: what a full collection walks (not frozen)
    by_type = Counter(type(o).__qualname__ for o in objects)
    tracked = len(objects)
    del objects
    return {
        "pid": os.getpid(),
        "time": time.monotonic(),
        "collections": [
            [
                _starts[i],
                _generations[i],
                round(_durations[i] * 1e3, 4),
                _collected[i],
                round(_cpu[i] * 1e3, 4),
            ]
            for i in range(n)
        ],
        "freezes": list(_freezes),
        "gc_stats": gc.get_stats(),
        "thresholds": list(gc.get_threshold()),
        "counts": list(gc.get_count()),
        "frozen": gc.get_freeze_count(),
        "tracked_unfrozen": tracked,
        "top_types": by_type.most_common(types),
    }


def audit() -> dict[str, Any]:
    """What a full collection costs now, and how much of the frozen heap had become garbage.

    First a full collection as the steady state would run it (frozen objects skipped): its
    duration is the pause the next automatic one would cause. Then unfreeze and collect
    again: frozen objects are never collected, so a connection that was frozen and then
    closed stays in memory if its objects form reference cycles; this counts them. Changes
    the heap: the last thing run.
    """
    began = time.perf_counter()
    collected = gc.collect()
    full_ms = (time.perf_counter() - began) * 1e3
    frozen = gc.get_freeze_count()
    gc.unfreeze()
    gc.set_debug(gc.DEBUG_SAVEALL)  # keep what it finds in gc.garbage, to count it by type
    began = time.perf_counter()
    frozen_garbage = gc.collect()
    unfrozen_ms = (time.perf_counter() - began) * 1e3
    gc.set_debug(0)
    garbage_types = Counter(type(o).__qualname__ for o in gc.garbage).most_common(25)
    gc.garbage.clear()
    return {
        "full_collection_ms": round(full_ms, 3),
        "full_collection_collected": collected,
        "frozen_before": frozen,
        "frozen_garbage": frozen_garbage,
        "frozen_garbage_types": garbage_types,
        "unfrozen_full_collection_ms": round(unfrozen_ms, 3),
        "tracked_after": len(gc.get_objects()),
    }


def _dump(path: str, with_audit: bool = False) -> None:
    data = snapshot()
    if with_audit:
        data["audit"] = audit()
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.gc_launch", description=__doc__)
    ap.add_argument("--out", required=True, help="JSON file written on SIGUSR1 and at exit")
    ap.add_argument("--no-collector", action="store_true", help="disable alphawire's tuner")
    ap.add_argument("--collector-max-wait", type=float, help="alphawire's tuner max_wait (s)")
    ap.add_argument("module")
    ap.add_argument("args", nargs=argparse.REMAINDER)
    ns = ap.parse_args()
    if ns.no_collector:
        _disable_collector()
    if ns.collector_max_wait is not None:
        _collector_max_wait(ns.collector_max_wait)
    _record_freezes()
    gc.callbacks.append(_on_gc)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        _dump(ns.out, with_audit=signum == signal.SIGUSR2)

    def at_exit() -> None:
        with contextlib.suppress(Exception):
            _dump(ns.out)

    signal.signal(signal.SIGUSR1, on_signal)
    signal.signal(signal.SIGUSR2, on_signal)
    atexit.register(at_exit)
    sys.argv = [ns.module, *ns.args]
    runpy.run_module(ns.module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
