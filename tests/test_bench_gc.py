"""Smoke test of the garbage-collection pause benchmark (bench/gc_pause.py), so it never rots.

Two seconds of steady state with 200 connections against alphawire, its collector tuner on
and off. No pause length is asserted (performance is measured in bench/, not in tests): only
that collections were recorded and the output is well formed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from bench.gc_pause import nearest_rank, phase_of, summarise

ROOT = Path(__file__).resolve().parent.parent


def test_collections_fall_into_the_phase_they_started_in() -> None:
    """A collection is counted in the phase whose start it follows, per generation."""
    marks = {"burst": 10.0, "settle": 20.0, "warmup": 25.0, "steady": 30.0, "after": 60.0}
    assert phase_of(5.0, marks) == "startup"
    assert phase_of(10.0, marks) == "burst"
    assert phase_of(45.0, marks) == "steady"
    assert phase_of(61.0, marks) == "after"
    summary = summarise(
        [[12.0, 2, 150.0, 0, 149.0], [31.0, 0, 0.5, 3, 0.5], [32.0, 0, 1.5, 0, 0.2]], marks
    )
    assert summary["burst"]["2"] == {
        "count": 1,
        "p99_ms": 150.0,
        "max_ms": 150.0,
        "max_cpu_ms": 149.0,
        "max_of_cpu_ms": 149.0,
        "total_ms": 150.0,
    }
    assert summary["steady"]["0"]["max_cpu_ms"] == 0.2  # the longest pause was descheduled
    assert summary["steady"]["0"]["count"] == 2
    assert summary["steady"]["0"]["max_ms"] == 1.5
    assert summary["steady"]["2"]["count"] == 0


def test_p99_of_few_values_is_their_maximum() -> None:
    """With fewer than 100 pauses the nearest-rank p99 is the longest one."""
    assert nearest_rank([1.0, 2.0, 3.0], 0.99) == 3.0
    assert nearest_rank([float(i) for i in range(1, 201)], 0.99) == 198.0
    assert nearest_rank([], 0.99) == 0.0


# Collector pauses are measured on a server pinned to a core, its load on the other.
@pytest.mark.exclusive
@pytest.mark.timeout(180)
def test_gc_pause_smoke(tmp_path: Path) -> None:
    """A short run records collections in every phase it reports and delivers messages."""
    out = tmp_path / "gc.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.gc_pause",
            "--connections",
            "200",
            "--seconds",
            "2",
            "--settle",
            "1.5",
            "--warmup",
            "0.5",
            "--quiet-wait",
            "0",
            "--servers",
            "alphawire,alphawire_nocollector",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    results = json.loads(out.read_text())
    assert results["target_ms"] == 20.0
    assert results["machine"]["cores"] >= 1
    runs = {r["variant"]: r for r in results["runs"]}
    assert set(runs) == {"alphawire", "alphawire_nocollector"}
    for run in runs.values():
        assert run["connected"] == 200
        assert run["steady"]["published"] > 0
        assert run["steady"]["delivered_pct"] > 0
        phases = run["phases"]
        assert set(phases) >= {"startup", "burst", "settle", "warmup", "steady"}
        for gens in phases.values():
            assert set(gens) == {"0", "1", "2"}
            for g in gens.values():
                assert g["count"] >= 0 and 0 <= g["p99_ms"] <= g["max_ms"] <= g["total_ms"]
                assert 0 <= g["max_cpu_ms"] <= g["max_of_cpu_ms"]
        assert phases["burst"]["0"]["count"] > 0  # 200 handshakes allocate plenty
        recorded = sum(g["count"] for gens in phases.values() for g in gens.values())
        assert recorded > 0
        assert run["steady_max_pause_ms"] >= 0
        assert run["server_gc"]["tracked_unfrozen"] > 0
    assert runs["alphawire"]["freezes"], "the tuner froze the heap after the burst"
    assert not runs["alphawire_nocollector"]["freezes"]
    assert "| alphawire (collector tuner on) | 200 | 2 |" in proc.stdout
