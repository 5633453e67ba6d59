"""Smoke test of the benchmark harness (bench/): it runs and its results are well formed.

A few seconds of scenario A (one step) and scenario C against alphawire and the
``websockets`` peer (both installed by the project's own dependencies), 20 and 10
subscribers. No performance threshold is asserted: this only checks that the numbers are
there and that messages were delivered.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_step(step: dict[str, object]) -> None:
    for key in ("published", "expected", "delivered", "delivered_pct", "achieved_dps"):
        assert _number(step[key]), (key, step[key])
    assert isinstance(step["published"], int) and step["published"] > 0
    assert isinstance(step["delivered"], int) and step["delivered"] > 0
    for key in ("p50_ms", "p99_ms", "max_ms", "server_cpu_s", "loadgen_cpu"):
        assert _number(step[key]), (key, step[key])
    assert step["p50_ms"] <= step["p99_ms"] <= step["max_ms"]  # type: ignore[operator]
    assert isinstance(step["loadgen_saturated"], bool)


# The harness pins the server and the load generator to a core each.
@pytest.mark.exclusive
@pytest.mark.timeout(300)
def test_bench_smoke(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--smoke",
            "--servers",
            "alphawire,websockets",
            "--scenarios",
            "A,C",
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    (json_path,) = tmp_path.glob("*.json")
    (md_path,) = tmp_path.glob("*.md")
    results = json.loads(json_path.read_text())

    assert results["machine"]["cores"] >= 1
    assert results["machine"]["libraries"]["websockets"]
    for server in ("alphawire", "websockets"):
        a = results["scenarios"]["A"][server]
        assert "error" not in a, a.get("error")
        assert a["subscribers"] == 20
        assert len(a["steps"]) == 1
        _check_step(a["steps"][0])
        assert a["steps"][0]["frame_bytes"] > 100
        assert _number(a["headline_dps"])

        c = results["scenarios"]["C"][server]
        assert "error" not in c, c.get("error")
        assert c["subscribers"] == 10
        _check_step(c["baseline"])
        _check_step(c["stalled"])
        assert c["rss_samples"] and all(v > 0 for _, v in c["rss_samples"])
        assert _number(c["rss_slope_kib_s"])
        assert isinstance(c["outcome"], str) and c["outcome"]
        assert isinstance(c["stalled_client"]["frames"], int)

    # alphawire's own counters agree that it delivered what the clients counted (at least).
    stats = results["scenarios"]["A"]["alphawire"]["server_stats"]
    assert stats["delivered"] >= results["scenarios"]["A"]["alphawire"]["steps"][0]["delivered"]

    md = md_path.read_text()
    assert "### A. Fan-out ladder" in md
    assert "### C. One stalled client" in md
    assert "| alphawire |" in md
