"""Command line: run the scenarios against the servers, write bench/results/<stamp>.{json,md}.

.venv/bin/python -m bench                 # everything, default parameters (~10 min)
.venv/bin/python -m bench --quick         # reduced parameters (~3 min)
.venv/bin/python -m bench --servers alphawire,websockets --scenarios A,C
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report
from bench.procfs import machine_info, raise_nofile, source_state
from bench.scenarios import (
    Harness,
    Params,
    profile_alphawire,
    scenario_a,
    scenario_b,
    scenario_c,
    scenario_d,
    scenario_e,
)
from bench.servers import SERVERS

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = {"A": scenario_a, "B": scenario_b, "C": scenario_c, "D": scenario_d}


def _ints(text: str) -> list[int]:
    return [int(float(x)) for x in text.split(",") if x.strip()]


def _pairs(text: str) -> list[tuple[int, int]]:
    """``100:8,1:256`` -> [(100, 8), (1, 256)]."""
    out = []
    for item in text.split(","):
        first, _, second = item.strip().partition(":")
        out.append((int(first), int(second)))
    return out


def build_params(argv: list[str] | None = None) -> tuple[Params, argparse.Namespace]:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    ap.add_argument("--servers", default=",".join(SERVERS), help="comma-separated server names")
    ap.add_argument("--scenarios", default="A,B,C,D,E", help="comma-separated: A,B,C,D,E")
    ap.add_argument("--quick", action="store_true", help="reduced parameters (a few minutes)")
    ap.add_argument("--smoke", action="store_true", help="tiny parameters (seconds; for tests)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--no-profile", action="store_true", help="skip the py-spy profile")
    ap.add_argument("--update-docs", action="store_true", help="rewrite docs/performance.md")
    ap.add_argument(
        "--merge-into",
        type=Path,
        help="an earlier results .json: replace its entries for the scenarios and servers run "
        "now (to redo what other load disturbed), rewrite it and its .md",
    )
    ap.add_argument("--server-core", type=int, help="core the server is pinned to (default 0)")
    ap.add_argument(
        "--load-cores", type=_ints, help="cores for the load generator, e.g. 1,2,3 (default 1)"
    )
    ap.add_argument("--workers", type=int, help="subscriber processes (default: one per load core)")
    ap.add_argument("--size", type=int, help="message size in bytes as delivered (A, D, E)")
    ap.add_argument("--a-subs", type=int)
    ap.add_argument("--a-rates", type=_ints, help="deliveries/s per step, e.g. 5000,10000")
    ap.add_argument("--a-duration", type=float)
    ap.add_argument("--b-conns", type=int)
    ap.add_argument("--c-subs", type=int)
    ap.add_argument("--c-rate", type=float, help="messages/s")
    ap.add_argument("--c-size", type=int)
    ap.add_argument("--c-base", type=float, help="seconds without the stalled client")
    ap.add_argument("--c-stall", type=float, help="seconds with the stalled client")
    ap.add_argument("--c-kind", choices=["agent", "alert"], help="what C publishes")
    ap.add_argument("--d-subs", type=int)
    ap.add_argument("--d-channels", type=int)
    ap.add_argument("--d-rates", type=_ints)
    ap.add_argument("--d-duration", type=float)
    ap.add_argument("--e-duration", type=float)
    ap.add_argument(
        "--e-ws-runs",
        type=_pairs,
        help="producer-socket runs as batch:window pairs, e.g. 100:8,1:256",
    )
    ap.add_argument("--e-ws-connections", type=int, help="producer sockets per E run")
    ap.add_argument("--drain", type=float)
    ap.add_argument(
        "--quiet-wait", type=float, help="max seconds to wait for other load to pass (default 45)"
    )
    ap.add_argument("--retries", type=int, help="times a step disturbed by other load is redone")
    args = ap.parse_args(argv)

    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = [s for s in servers if s not in SERVERS]
    if unknown:
        ap.error(f"unknown server(s) {unknown}; known: {', '.join(SERVERS)}")
    scenarios = [s.strip().upper() for s in args.scenarios.split(",") if s.strip()]
    p = Params(servers=servers, scenarios=scenarios)
    if args.quick:
        p.mode = "quick"
        p.a_rates = [5000, 20000, 80000]
        p.a_duration = 2.0
        p.b_conns = 2000
        p.c_base, p.c_stall = 2.0, 10.0
        p.d_subs, p.d_channels, p.d_rates, p.d_duration = 2000, 200, [20000], 2.0
        p.e_duration = 3.0
        p.profile_duration = 4.0
        p.drain = 3.0
    if args.smoke:
        p.mode = "smoke"
        p.a_subs, p.a_rates, p.a_duration = 20, [2000], 1.0
        p.b_conns = 50
        p.c_subs, p.c_base, p.c_stall, p.c_rate, p.c_skip = 10, 1.0, 2.0, 200.0, 0.5
        p.d_subs, p.d_channels, p.d_rates, p.d_duration = 40, 8, [2000], 1.0
        p.e_duration, p.e_batch = 1.0, 100
        p.drain = 2.0
        p.profile = False
        p.quiet_wait = 0.0
        p.retries = 0
    for name in (
        "server_core",
        "load_cores",
        "workers",
        "size",
        "a_subs",
        "a_rates",
        "a_duration",
        "b_conns",
        "c_subs",
        "c_rate",
        "c_size",
        "c_base",
        "c_stall",
        "c_kind",
        "d_subs",
        "d_channels",
        "d_rates",
        "d_duration",
        "e_duration",
        "e_ws_runs",
        "e_ws_connections",
        "drain",
        "quiet_wait",
        "retries",
    ):
        value = getattr(args, name)
        if value is not None:
            setattr(p, name, value)
    if args.no_profile:
        p.profile = False
    return p, args


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # run the finally blocks: servers and workers are stopped


def main(argv: list[str] | None = None) -> int:
    p, args = build_params(argv)
    signal.signal(signal.SIGTERM, _terminate)
    raise_nofile()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir: Path = args.out
    out_dir.mkdir(parents=True, exist_ok=True)
    log_dir = out_dir / f"{stamp}.logs.tmp"
    log_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    results: dict[str, Any] = {
        "run_id": stamp,
        "started_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": p.mode,
        "params": {k: v for k, v in vars(p).items()},
        "machine": machine_info(),
        "source": source_state(str(ROOT)),
        "servers": {},
        "scenarios": {s: {} for s in p.scenarios},
    }
    runnable = []
    for name in p.servers:
        spec = SERVERS[name]
        why = spec.available()
        results["servers"][name] = {"label": spec.label, "available": why is None, "reason": why}
        if why is None:
            runnable.append(spec)
        else:
            log(f"skipping {name}: {why}")
    h = Harness(p, log_dir)
    results["pinning"] = h.pinning()
    try:
        for scenario in p.scenarios:
            if scenario == "E":
                if "alphawire" in [s.name for s in runnable]:
                    quiet = h.wait_quiet()
                    log(f"E: alphawire publish ingestion (machine: {quiet})")
                    res = _guard(lambda: scenario_e(h, SERVERS["alphawire"]))
                    res["machine_load_before"] = quiet
                    results["scenarios"]["E"]["alphawire"] = res
                continue
            fn = SCENARIOS[scenario]
            for spec in runnable:
                if scenario not in spec.scenarios:
                    continue
                quiet = h.wait_quiet()
                log(f"{scenario}: {spec.name} (machine: {quiet})")
                res = _guard(lambda fn=fn, spec=spec: fn(h, spec))  # type: ignore[misc]
                res["machine_load_before"] = quiet
                results["scenarios"][scenario][spec.name] = res
                log(f"{scenario}: {spec.name}: {report.one_line(scenario, res)}")
        a_hub = results["scenarios"].get("A", {}).get("alphawire")
        if p.profile and a_hub and "steps" in a_hub and a_hub["steps"]:
            dps = a_hub.get("saturated_at") or a_hub["steps"][-1]["target_dps"]
            log(f"profile: alphawire at {dps} deliveries/s")
            results["profile"] = _guard(
                lambda: profile_alphawire(h, SERVERS["alphawire"], dps, log_dir)
            )
    finally:
        h.close()
    results["duration_s"] = round(time.monotonic() - started, 1)
    json_path = out_dir / f"{stamp}.json"
    if args.merge_into is not None:
        json_path = args.merge_into.resolve()
        results = _merge(json.loads(json_path.read_text()), results)
    results["targets"] = report.targets(results)
    md_path = json_path.with_suffix(".md")
    json_path.write_text(json.dumps(results, indent=1, default=str) + "\n")
    md_path.write_text(report.markdown(results))
    log(f"wrote {json_path} and {md_path} ({results['duration_s']} s)")
    if args.update_docs:
        docs = ROOT / "docs" / "performance.md"
        report.update_docs(docs, results, json_path.relative_to(ROOT))
        log(f"updated {docs}")
    print(md_path)
    return 0


def _merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``old`` with the scenario entries (and profile) of ``new`` put in, each marked."""
    for scenario, entries in new["scenarios"].items():
        prefix = scenario.lower() + "_"
        old["params"].update({k: v for k, v in new["params"].items() if k.startswith(prefix)})
        for name, res in entries.items():
            res["rerun"] = new["run_id"]
            old["scenarios"].setdefault(scenario, {})[name] = res
    if "profile" in new:
        old["profile"] = new["profile"] | {"rerun": new["run_id"]}
    old.setdefault("reruns", []).append(
        {
            "run_id": new["run_id"],
            "scenarios": list(new["scenarios"]),
            "servers": new["params"]["servers"],
            "source": new["source"],
            "duration_s": new["duration_s"],
        }
    )
    return old


def _guard(fn: Any) -> dict[str, Any]:
    try:
        result: dict[str, Any] = fn()
        return result
    except Exception as exc:
        traceback.print_exc()
        return {"error": f"{type(exc).__name__}: {exc}"}


if __name__ == "__main__":
    sys.exit(main())
