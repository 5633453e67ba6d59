"""Recordings (jsonl and .gz) round-trip records, refuse damaged files, and replay in order."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from alphawire.cli import main
from alphawire.clock import AcceleratedClock, VirtualClock
from alphawire.sources.context import RecordBuffer, StandaloneContext
from alphawire.sources.recording import (
    RecordingError,
    RecordingHeader,
    RecordingWriter,
    iter_records,
    read_header,
    summarize,
)
from alphawire.sources.records import Record
from alphawire.sources.replay import ReplaySource
from sim_fixtures import OPEN, at, first_minute
from source_contract import check_source_contract

pytestmark = pytest.mark.anyio
HEADER = RecordingHeader(
    watchlist=("SPY", "GME"), start=OPEN, simulated=True, seed=7, speed=60.0, sources=("sim",)
)


def write(path: Path, records: Sequence[Record]) -> Path:
    with RecordingWriter(path, HEADER) as writer:
        writer.write(records)
    return path


@pytest.fixture(params=["minute.jsonl", "minute.jsonl.gz"])
def recorded(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return write(tmp_path / request.param, first_minute())


def test_round_trip_gives_back_equal_records(recorded: Path) -> None:
    """Every record read back equals the one written, in order, with the header intact."""
    assert list(iter_records(recorded)) == list(first_minute())
    assert read_header(recorded) == HEADER
    summary = summarize(recorded)
    assert summary.count == len(first_minute())
    assert summary.first == OPEN and summary.last is not None and summary.last <= at(60)


def test_file_layout_is_a_header_then_sorted_json_lines(tmp_path: Path) -> None:
    """Line 1 is the header (format 1, seed, speed, watchlist, start, simulated), each other
    line one record with sorted keys; gzip holds the same bytes and no timestamp."""
    plain = write(tmp_path / "a.jsonl", first_minute()[:50])
    packed = write(tmp_path / "a.jsonl.gz", first_minute()[:50])
    lines = plain.read_bytes().splitlines()
    assert orjson.loads(lines[0]) == {
        "alphawire_recording": 1,
        "seed": 7,
        "simulated": True,
        "sources": ["sim"],
        "speed": 60.0,
        "start": "2026-12-04T14:30:00+00:00",
        "watchlist": ["SPY", "GME"],
    }
    assert len(lines) == 51
    for line in lines[1:]:
        data = orjson.loads(line)
        assert list(data) == sorted(data) and data["simulated"] is True
    assert gzip.decompress(packed.read_bytes()) == plain.read_bytes()
    assert packed.read_bytes()[4:8] == b"\0\0\0\0"  # gzip MTIME field


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: b[:-1], "line 51: cut short"),
        (
            lambda b: b.replace(b'"kind":"quote"', b'"kind":"quoet"', 1),
            "unknown record kind 'quoet'",
        ),
        (
            lambda b: b.replace(b'"kind":"quote"', b'"kind":"quote","colour":1', 1),
            r"unknown field\(s\) \['colour'\]",
        ),
        (lambda b: b + b"{not json\n", "line 52"),
        (lambda b: b.split(b"\n", 1)[1], "line 1 is not an alphawire recording header"),
        (
            lambda b: b.replace(b'"alphawire_recording":1', b'"alphawire_recording":9', 1),
            "recording format 9",
        ),
        (lambda b: b"", "empty file"),
    ],
)
def test_damaged_recordings_are_refused_with_the_line(tmp_path: Path, damage, message: str) -> None:  # type: ignore[no-untyped-def]
    """A cut, corrupted or foreign file raises RecordingError naming what is wrong."""
    path = write(tmp_path / "bad.jsonl", first_minute()[:50])
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(RecordingError, match=message):
        summarize(path)


def test_truncated_gzip_and_missing_file_are_refused(tmp_path: Path) -> None:
    """A .gz cut short and a path that does not exist raise RecordingError."""
    path = write(tmp_path / "cut.jsonl.gz", first_minute()[:500])
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(RecordingError, match="truncated or corrupt"):
        summarize(path)
    with pytest.raises(RecordingError, match="no such recording"):
        read_header(tmp_path / "nope.jsonl")


async def test_replay_as_fast_as_possible_moves_a_virtual_clock(recorded: Path) -> None:
    """On a VirtualClock, the replay emits every record in order, with the clock at each
    record's time when it is handed over, and reports progress up to done == total."""
    progress: list[tuple[int, int]] = []
    source = ReplaySource(recorded, progress=lambda d, t: progress.append((d, t)))
    clock = source.clock(None)
    assert isinstance(clock, VirtualClock)
    seen: list[Record] = []

    async def sink(batch: Sequence[Record]) -> None:
        assert all(r.ts == clock.now() for r in batch)
        seen.extend(batch)

    await source.run(StandaloneContext(sink, clock=clock))
    assert seen == list(first_minute())
    total = len(first_minute())
    assert progress[-1] == (total, total)
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)
    assert source.status().items == total and source.status().detail["finished"] is True


async def test_replay_paced_by_an_accelerated_clock(tmp_path: Path) -> None:
    """At speed×, records are emitted in order and never before the clock reaches them."""
    path = write(tmp_path / "ten.jsonl", [r for r in first_minute() if r.ts <= at(10)])
    source = ReplaySource(path)
    clock = source.clock(200.0)
    assert isinstance(clock, AcceleratedClock)
    seen: list[Record] = []

    async def sink(batch: Sequence[Record]) -> None:
        now = clock.now()
        assert all(r.ts <= now for r in batch)
        seen.extend(batch)

    await source.run(StandaloneContext(sink, clock=clock))
    assert seen == [r for r in first_minute() if r.ts <= at(10)]
    assert clock.now() >= at(10)


async def test_replay_source_keeps_the_source_contract(recorded: Path) -> None:
    """The replay is a Source: its declared kinds are the recording's, all simulated here."""
    source = ReplaySource(recorded)
    assert source.produces == {r.kind for r in first_minute()}
    run = await check_source_contract(
        source,
        lambda sink: StandaloneContext(sink, clock=source.clock(None)),
        min_records=10**9,
        simulated=True,
    )
    assert run.returned and run.records == list(first_minute())


async def test_replay_of_a_recording_equals_the_live_run(tmp_path: Path) -> None:
    """What the simulator emitted live and what its recording replays are the same records,
    batch boundaries aside."""
    live = RecordBuffer()
    out = tmp_path / "live.jsonl.gz"
    from alphawire.sources.sim import SimulatedSource

    clock = VirtualClock(OPEN)
    with RecordingWriter(out, HEADER) as writer:

        async def both(batch: Sequence[Record]) -> None:
            await live(batch)
            writer.write(batch)

        task = asyncio.ensure_future(
            SimulatedSource(start=OPEN, end=at(20)).run(StandaloneContext(both, clock=clock))
        )
        while not task.done():
            await clock.advance(clock.now() + timedelta(seconds=1))
            await asyncio.sleep(0)  # advance() does not yield while nobody sleeps on the clock
        await task
    replayed = RecordBuffer()
    source = ReplaySource(out)
    await source.run(StandaloneContext(replayed, clock=source.clock(None)))
    assert list(replayed.records) == list(live.records) and len(live.records) > 1000


def test_record_command_writes_a_replayable_file(tmp_path: Path) -> None:
    """`alphawire record --fast` writes a recording of seconds × speed of market."""
    out = tmp_path / "cli.jsonl.gz"
    result = CliRunner().invoke(
        main,
        [
            "record",
            "--out",
            str(out),
            "--seconds",
            "2",
            "--speed",
            "5",
            "--fast",
            "--start",
            "2026-12-04",
            "--symbols",
            "spy,gme",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = summarize(out)
    assert summary.header.watchlist == ("SPY", "GME") and summary.header.start == OPEN
    assert summary.last is not None and summary.last <= at(10) and summary.count > 100
    assert "recorded" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--speed", "0"], "must be positive"),
        (["--seconds", "-1"], "must be positive"),
        (["--start", "yesterday"], "neither a date"),
        (["--start", "2026-12-04T14:30:00"], "has no timezone"),
        (["--symbols", "SPY,not one"], "'NOT ONE' is not a symbol"),
    ],
)
def test_record_command_names_bad_options(tmp_path: Path, args: list[str], message: str) -> None:
    """Bad --speed, --seconds or --start values are refused with the option and the reason."""
    result = CliRunner().invoke(
        main, ["record", "--out", str(tmp_path / "x.jsonl"), "--fast", *args]
    )
    assert result.exit_code == 2 and message in result.output


class ToyAgent:
    """Stands in for an agent: alerts on block prints, with a cooldown and a clock timer."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.alerts: list[tuple[str, str, str]] = []
        self.last: dict[str, object] = {}

    async def sink(self, batch: Sequence[Record]) -> None:
        for r in batch:
            if getattr(r, "size", 0) >= 10_000 and r.symbol is not None:
                last = self.last.get(r.symbol)
                if last is None or r.ts - last >= timedelta(seconds=5):  # type: ignore[operator]
                    self.last[r.symbol] = r.ts
                    self.alerts.append((self.clock.now().isoformat(), "block", r.symbol))

    async def timer(self) -> None:
        while True:
            await self.clock.sleep(7.0)
            self.alerts.append((self.clock.now().isoformat(), "tick", str(len(self.alerts))))


async def test_a_clocked_consumer_alerts_the_same_live_and_in_replay(tmp_path: Path) -> None:
    """A consumer with a cooldown and a timer on the clock raises the same alerts, at the same
    times and in the same order, on the live simulator and on its replay."""
    from alphawire.sources.sim import SimulatedSource

    out = tmp_path / "run.jsonl.gz"
    live_clock = VirtualClock(OPEN)
    live = ToyAgent(live_clock)
    timer = asyncio.ensure_future(live.timer())
    await asyncio.sleep(0)  # the timer starts sleeping at the open, as the replay's will
    with RecordingWriter(out, HEADER) as writer:

        async def both(batch: Sequence[Record]) -> None:
            writer.write(batch)
            await live.sink(batch)

        task = asyncio.ensure_future(
            SimulatedSource(start=OPEN, end=at(45)).run(StandaloneContext(both, clock=live_clock))
        )
        while not task.done():
            await live_clock.advance(live_clock.now() + timedelta(milliseconds=500))
            await asyncio.sleep(0)
        await task
    timer.cancel()

    source = ReplaySource(out)
    replay_clock = source.clock(None)
    assert isinstance(replay_clock, VirtualClock)
    replayed = ToyAgent(replay_clock)
    timer = asyncio.ensure_future(replayed.timer())
    await asyncio.sleep(0)
    await source.run(StandaloneContext(replayed.sink, clock=replay_clock))
    timer.cancel()
    blocks = [a for a in live.alerts if a[1] == "block"]
    assert len(blocks) >= 10 and any(a[1] == "tick" for a in live.alerts)
    assert replayed.alerts == [a for a in live.alerts if a[0] <= replayed.alerts[-1][0]]
    assert len(replayed.alerts) >= len(live.alerts) - 1


async def test_quick_scan_counts_the_same_and_defers_field_checks(tmp_path: Path) -> None:
    """Without validation the scan gives the same summary; an unknown kind is still refused
    there, an unknown field only when the replay reaches its line."""
    path = write(tmp_path / "q.jsonl", first_minute()[:300])
    assert summarize(path, validate=False) == summarize(path)
    path.write_bytes(path.read_bytes().replace(b'"kind":"quote"', b'"kind":"quoet"', 1))
    with pytest.raises(RecordingError, match="unknown record kind 'quoet'"):
        summarize(path, validate=False)
    path = write(tmp_path / "f.jsonl", first_minute()[:300])
    path.write_bytes(path.read_bytes().replace(b'"kind":"quote"', b'"colour":1,"kind":"quote"', 1))
    source = ReplaySource(path, validate=False)
    assert source.total == 300
    with pytest.raises(RecordingError, match=r"line 2: .*unknown field\(s\) \['colour'\]"):
        await source.run(StandaloneContext(RecordBuffer(), clock=source.clock(None)))


def test_replay_progress_bar_draws_on_a_terminal_and_logs_tenths_elsewhere() -> None:
    """The replay command's progress: a redrawn bar on a terminal (ending with a newline at
    100 %), one line per 10 % in a log file."""
    import io

    from alphawire.cli_replay import ProgressBar

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Terminal()
    bar = ProgressBar(tty)
    bar(0, 200)
    bar(200, 200)
    assert tty.getvalue().endswith("\r[" + "#" * 30 + "] 100%  200/200 records\n")
    log = io.StringIO()
    bar = ProgressBar(log)
    for done in range(0, 201, 5):
        bar(done, 200)
    lines = log.getvalue().splitlines()
    assert (
        lines[0] == "replay: 0% (0/200 records)" and lines[-1] == "replay: 100% (200/200 records)"
    )
    assert len(lines) == 11
