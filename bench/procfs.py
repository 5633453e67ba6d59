"""Reading /proc: CPU time and RSS of a process, per-core busy time, and the machine."""

from __future__ import annotations

import os
import platform
import resource
import sys
from importlib import metadata

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds; 0.0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(b")") + 2 :].split()
    # fields[0] is field 3 (state); utime is field 14 and stime field 15.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu_split(pid: int) -> tuple[float, float]:
    """(utime, stime) of a process in seconds: user code vs kernel (syscalls, TCP stack)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
    except OSError:
        return 0.0, 0.0
    fields = raw[raw.rindex(b")") + 2 :].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def rss_bytes(pid: int) -> int:
    """Resident set size of a process in bytes; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            return int(fh.read().split()[1]) * PAGE_SIZE
    except OSError:
        return 0


def core_times() -> dict[int, tuple[float, float]]:
    """(busy, total) jiffies per core from /proc/stat."""
    out: dict[int, tuple[float, float]] = {}
    with open("/proc/stat") as fh:
        for line in fh:
            if not line.startswith("cpu") or line.startswith("cpu "):
                continue
            name, *vals = line.split()
            nums = [float(v) for v in vals[:8]]
            idle = nums[3] + nums[4]  # idle + iowait
            total = sum(nums)
            out[int(name[3:])] = (total - idle, total)
    return out


def core_busy(
    before: dict[int, tuple[float, float]], after: dict[int, tuple[float, float]]
) -> dict[int, float]:
    """Fraction of time each core was busy between two core_times() readings."""
    busy: dict[int, float] = {}
    for core, (b1, t1) in after.items():
        b0, t0 = before.get(core, (0.0, 0.0))
        busy[core] = (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0
    return busy


def raise_nofile(target: int = 65536) -> int:
    """Raise the open-file limit as far as the hard limit allows; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(target, hard) if hard != resource.RLIM_INFINITY else target
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        return want
    return soft


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


LIBRARIES = (
    "alphawire",
    "uvicorn",
    "uvloop",
    "httptools",
    "starlette",
    "fastapi",
    "websockets",
    "orjson",
    "pydantic",
    "broadcaster",
    "python-socketio",
    "python-engineio",
    "picows",
    "py-spy",
)


def source_state(root: str) -> dict[str, object]:
    """The commit benchmarked and whether src/ had uncommitted changes."""
    import subprocess

    def git(*args: str) -> str:
        try:
            out = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=False
            )
        except OSError:
            return ""
        return out.stdout.rstrip("\n")

    dirty = [line[3:] for line in git("status", "--porcelain", "--", "src").splitlines()]
    return {"commit": git("rev-parse", "--short", "HEAD").strip(), "src_uncommitted": dirty}


def machine_info() -> dict[str, object]:
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kib = 0
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    mem_kib = int(line.split()[1])
                    break
    except OSError:
        pass
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "python_impl": platform.python_implementation(),
        "nofile_hard": resource.getrlimit(resource.RLIMIT_NOFILE)[1],
        "libraries": {name: _version(name) for name in LIBRARIES},
    }
