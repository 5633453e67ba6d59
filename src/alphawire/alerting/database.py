"""The outbox's SQLite file: its schema, its two connections and its write transactions.

Writes (producers' commits, the dispatchers' marks) share one connection under a lock, each a
short transaction that waits out another process's write in microseconds. Reads go through a
second connection under their own lock: a WAL reader never blocks a writer, so a dispatcher
scanning for due rows, or the stats endpoint counting them, never holds up a producer's commit.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from alphawire.alerting.wal import WalKeeper

# How long a write waits for another process's write transaction before giving up (seconds),
# and its first and longest pause between tries.
BUSY_TIMEOUT = 5.0
_BUSY_FIRST_PAUSE, _BUSY_MAX_PAUSE = 20e-6, 1e-3

# A delivery's states.
PENDING = "pending"
SENT = "sent"
DEAD = "dead"
SUPPRESSED = "suppressed"
# Waiting for a disabled destination (its webhook is gone): kept, counted as undelivered, and
# made pending again when the destination is enabled (``Outbox.enable``).
HELD = "held"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    created REAL NOT NULL,
    alert_type TEXT NOT NULL,
    source TEXT NOT NULL,
    symbol TEXT,
    severity TEXT,
    idem TEXT UNIQUE,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_symbol ON alerts(symbol, seq);
CREATE INDEX IF NOT EXISTS alerts_type ON alerts(alert_type, seq);
CREATE TABLE IF NOT EXISTS deliveries (
    alert_seq INTEGER NOT NULL REFERENCES alerts(seq),
    destination TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL,
    last_error TEXT,
    message_id TEXT,
    parts_sent INTEGER NOT NULL DEFAULT 0,
    updated REAL NOT NULL,
    seq TEXT,
    PRIMARY KEY (alert_seq, destination)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(destination, state, alert_seq);
CREATE TABLE IF NOT EXISTS dedup (
    route TEXT NOT NULL,
    key TEXT NOT NULL,
    last_sent REAL NOT NULL,
    PRIMARY KEY (route, key)
);
CREATE TABLE IF NOT EXISTS leases (
    destination TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS disabled_destinations (
    destination TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    since REAL NOT NULL
);
"""


class OutboxDatabase:
    """The outbox's SQLite file, created or brought up to date on opening."""

    def __init__(self, path: Path, synchronous: str = "NORMAL") -> None:
        # NORMAL (the default): a committed alert survives any crash of the process (SIGKILL
        # included), in about 0.1 ms; an OS crash or power cut may lose the last commits.
        # FULL: survives those too, at one fsync per commit (0.5-6 ms measured here).
        if synchronous.upper() not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be NORMAL or FULL, not {synchronous!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._writer.execute("PRAGMA journal_mode=WAL")
        self._writer.execute(f"PRAGMA synchronous={synchronous}")
        self._writer.execute("PRAGMA busy_timeout=5000")
        # Checkpoints run off the producers' path (see checkpoint()): an automatic one inside
        # a producer's commit would cost it milliseconds.
        self._writer.execute("PRAGMA wal_autocheckpoint=0")
        self._writer.executescript(_SCHEMA)
        _add_column(self._writer, "deliveries", "seq TEXT")  # outboxes made before it existed
        self._read_lock = threading.Lock()
        self._reader = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._reader.execute("PRAGMA busy_timeout=5000")
        # Writes that found another process's write transaction in the way, and the longest
        # wait for one (seconds).
        self.busy_waits = 0
        self.busy_wait_max = 0.0
        # SQLite's own busy handler sleeps 1 ms, then 2, 5, 10...: another process's write
        # (a delivery process recording a delivery, ~0.1 ms) would cost a producer's commit
        # that much. _begin() retries in microseconds instead.
        self._writer.execute("PRAGMA busy_timeout=0")
        self._wal = WalKeeper(path)

    def close(self) -> None:
        with self._lock:
            self._writer.close()
        with self._read_lock:
            self._reader.close()
        self._wal.close()

    def checkpoint(self) -> None:
        """Fold the WAL into the database, off the producers' path (see ``WalKeeper``)."""
        self._wal.checkpoint()

    @contextmanager
    def writer(self) -> Iterator[sqlite3.Connection]:
        """The writer connection, held (reads that must see this process's last write, and
        ``transaction``'s callers that check something first)."""
        with self._lock:
            yield self._writer

    @contextmanager
    def reader(self) -> Iterator[sqlite3.Connection]:
        """The reader connection, held: it never waits for a write."""
        with self._read_lock:
            yield self._reader

    @contextmanager
    def transaction(self, *, held: bool = False) -> Iterator[sqlite3.Connection]:
        """One write transaction on the writer connection, committed when the block ends
        and rolled back when it raises; ``held``: the caller holds ``writer()`` already."""
        with nullcontext() if held else self._lock:
            db = self._writer
            self._begin()
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _begin(self) -> None:
        """BEGIN IMMEDIATE on the writer (held), retried in microseconds while busy.

        Busy means another process (a delivery process, another worker) is in a write
        transaction, which lasts about 0.1 ms; waiting for it in short pauses costs a
        producer little more than that.
        """
        db = self._writer
        try:
            db.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise
        started = time.monotonic()
        deadline = started + BUSY_TIMEOUT
        pause = _BUSY_FIRST_PAUSE
        while True:
            time.sleep(pause)
            try:
                db.execute("BEGIN IMMEDIATE")
                waited = time.monotonic() - started
                self.busy_waits += 1
                self.busy_wait_max = max(self.busy_wait_max, waited)
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() > deadline:
                    raise
            pause = min(2 * pause, _BUSY_MAX_PAUSE)


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    """Whether SQLite refused for a lock another connection holds (SQLITE_BUSY)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return bool(code & 0xFF == sqlite3.SQLITE_BUSY)
    return "locked" in str(exc) or "busy" in str(exc)


def _add_column(db: sqlite3.Connection, table: str, column: str) -> None:
    """Add ``column`` (name and type) to ``table`` unless it is there (another process may race)."""
    name = column.split()[0]
    if any(row[1] == name for row in db.execute(f"PRAGMA table_info({table})")):
        return
    try:
        db.execute(f"ALTER TABLE {table} ADD COLUMN {column}")
    except sqlite3.OperationalError as exc:
        if "duplicate column" not in str(exc):
            raise
