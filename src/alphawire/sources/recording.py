"""Recordings: what sources produced, one JSON record per line, replayable byte for byte.

A recording is a text file of JSON lines, gzip-compressed when its name ends in ``.gz``:

- line 1, the header: ``{"alphawire_recording": 1, "seed": ..., "simulated": ...,
  "sources": [...], "speed": ..., "start": "<ISO-8601 UTC>", "watchlist": [...]}``
  (``alphawire_recording`` is the format version; ``seed`` and ``speed`` are null for
  recordings of real sources; ``simulated`` is true when any record is simulated);
- every other line: one record as ``records.to_json`` gives it, in the order it was emitted.

Output is deterministic: keys sorted, floats in orjson's shortest round-trip form, newline
terminated, and the gzip member written with no file name and a zero timestamp, so the same
records make the same bytes (the simulator's determinism test compares files).

Reading is strict: a header that is not one, a line that is not JSON or not a record, a
last line without its newline (a recording cut short) or a corrupt gzip stream raise
``RecordingError`` naming the file and line.
"""

from __future__ import annotations

import contextlib
import gzip
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import orjson

from alphawire.errors import AlphawireError
from alphawire.sources.records import RECORD_KINDS, Record, record_from_json, to_json

FORMAT_VERSION = 1
_DUMP = orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE


class RecordingError(AlphawireError, ValueError):
    """A recording that cannot be read: names the file, the line and what is wrong."""


@dataclass(frozen=True, slots=True)
class RecordingHeader:
    """What a recording says about itself on its first line."""

    watchlist: tuple[str, ...]
    start: datetime
    simulated: bool
    seed: int | None = None
    speed: float | None = None
    sources: tuple[str, ...] = ()
    version: int = FORMAT_VERSION

    def to_json(self) -> dict[str, Any]:
        return {
            "alphawire_recording": self.version,
            "seed": self.seed,
            "simulated": self.simulated,
            "sources": list(self.sources),
            "speed": self.speed,
            "start": self.start.isoformat(),
            "watchlist": list(self.watchlist),
        }

    @classmethod
    def from_json(cls, data: Any, where: str) -> RecordingHeader:
        """Parse a header line; ``where`` names the file in errors."""
        if not isinstance(data, dict) or "alphawire_recording" not in data:
            raise RecordingError(f"{where}: line 1 is not an alphawire recording header")
        version = data["alphawire_recording"]
        if version != FORMAT_VERSION:
            raise RecordingError(
                f"{where}: recording format {version!r}, this alphawire reads {FORMAT_VERSION}"
            )
        try:
            start = datetime.fromisoformat(data["start"])
            if start.tzinfo is None:
                raise ValueError("start has no timezone")
            return cls(
                watchlist=tuple(str(s) for s in data["watchlist"]),
                start=start,
                simulated=bool(data["simulated"]),
                seed=None if data.get("seed") is None else int(data["seed"]),
                speed=None if data.get("speed") is None else float(data["speed"]),
                sources=tuple(str(s) for s in data.get("sources", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RecordingError(f"{where}: line 1: bad header field ({exc})") from exc


class RecordingWriter:
    """Writes a header then records; also usable as a ``StandaloneContext`` sink.

    Writes go through a buffered file object (and gzip when ``.gz``): cheap per record, and
    synchronous, so a hub writing a recording pays for compression on its event loop.
    """

    def __init__(self, path: str | Path, header: RecordingHeader) -> None:
        self.path = Path(path)
        self.header = header
        self.count = 0
        self._raw = self.path.open("wb")
        self._file: IO[bytes] | gzip.GzipFile = self._raw
        if self.path.name.endswith(".gz"):
            # No name and a zero mtime in the gzip header: the same records, the same bytes.
            self._file = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0)
        self._file.write(orjson.dumps(header.to_json(), option=_DUMP))

    def write(self, records: Sequence[Record]) -> None:
        """Append records, in order."""
        write = self._file.write
        for record in records:
            write(orjson.dumps(to_json(record), option=_DUMP))
        self.count += len(records)

    async def __call__(self, batch: Sequence[Record]) -> None:
        self.write(batch)

    def close(self) -> None:
        """Flush and close (idempotent)."""
        if not self._file.closed:
            self._file.close()
        if not self._raw.closed:
            self._raw.close()

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    try:
        with contextlib.ExitStack() as stack:
            f: IO[bytes] | gzip.GzipFile = stack.enter_context(path.open("rb"))
            if path.name.endswith(".gz"):
                f = stack.enter_context(gzip.GzipFile(fileobj=f, mode="rb"))
            for n, line in enumerate(f, 1):
                if not line.endswith(b"\n"):
                    raise RecordingError(f"{path}: line {n}: cut short (no newline at the end)")
                yield n, line
    except FileNotFoundError as exc:
        raise RecordingError(f"{path}: no such recording") from exc
    except (EOFError, gzip.BadGzipFile, OSError) as exc:
        raise RecordingError(f"{path}: truncated or corrupt ({exc})") from exc


def _header(path: Path, lines: Iterator[tuple[int, bytes]]) -> RecordingHeader:
    first = next(lines, None)
    if first is None:
        raise RecordingError(f"{path}: empty file, not a recording")
    try:
        data = orjson.loads(first[1])
    except orjson.JSONDecodeError as exc:
        raise RecordingError(f"{path}: line 1 is not JSON ({exc})") from exc
    return RecordingHeader.from_json(data, str(path))


def read_header(path: str | Path) -> RecordingHeader:
    """The recording's header (reads only the first line)."""
    p = Path(path)
    lines = _lines(p)
    try:
        return _header(p, lines)
    finally:
        lines.close()  # type: ignore[attr-defined]


def iter_records(path: str | Path) -> Iterator[Record]:
    """The recording's records in file order, read lazily."""
    p = Path(path)
    lines = _lines(p)
    _header(p, lines)
    for n, line in lines:
        try:
            yield record_from_json(orjson.loads(line))
        except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
            raise RecordingError(f"{p}: line {n}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class RecordingSummary:
    """A recording's header, how many records it holds, of which kinds, over which times."""

    header: RecordingHeader
    count: int
    kinds: frozenset[str]
    first: datetime | None
    last: datetime | None


def summarize(path: str | Path, *, validate: bool = True) -> RecordingSummary:
    """Read the whole recording once and describe it.

    ``validate`` rebuilds every record (a damaged line is refused here, before anything is
    played); without it each line is only parsed as JSON with a known ``kind`` (about five
    times faster), and a bad field surfaces when that record is read.
    """
    if validate:
        count = 0
        kinds: set[str] = set()
        first = last = None
        for record in iter_records(path):
            count += 1
            kinds.add(record.kind)
            if first is None:
                first = record.ts
            last = record.ts
        return RecordingSummary(read_header(path), count, frozenset(kinds), first, last)
    p = Path(path)
    lines = _lines(p)
    header = _header(p, lines)
    count, kinds, first_ts, last_ts = 0, set(), None, None
    for n, line in lines:
        try:
            data = orjson.loads(line)
            kind, ts = data["kind"], data["ts"]
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise RecordingError(f"{p}: line {n}: not a record ({exc})") from exc
        if kind not in RECORD_KINDS:
            raise RecordingError(f"{p}: line {n}: unknown record kind {kind!r}")
        kinds.add(kind)
        count += 1
        first_ts = first_ts or ts
        last_ts = ts
    return RecordingSummary(
        header,
        count,
        frozenset(kinds),
        datetime.fromisoformat(first_ts) if first_ts else None,
        datetime.fromisoformat(last_ts) if last_ts else None,
    )
