"""What the ``alphawire`` command tells a person at its terminal: how it was run, the demo's
banner, and a stop (Ctrl-C or SIGTERM) that ends with status 0 and no traceback."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from alphawire.settings import Settings, default_data_dir

DEMO_DIR_NAME = "alphawire-demo"


def demo_data_dir() -> Path:
    """The demo's own data directory, beside the default one (``~/.local/share/alphawire-demo``)."""
    return default_data_dir().with_name(DEMO_DIR_NAME)


def self_command() -> str:
    """The ``alphawire`` command as this shell can run it again (a path when not on PATH).

    After ``make demo`` the command lives in ``.venv/bin`` and is not on ``PATH``: a hint
    saying ``alphawire tail ...`` would fail, so the hint names the path that works.
    """
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else ""
    if Path(argv0).name == "alphawire":
        found = shutil.which("alphawire")
        if found and Path(found).resolve() == Path(argv0).resolve():
            return "alphawire"
        return shlex.quote(_short(Path(argv0)))
    # ``python -m alphawire``
    return f"{shlex.quote(_short(Path(sys.executable)))} -m alphawire"


def _short(path: Path) -> str:
    """``path`` relative to the working directory when inside it, else absolute."""
    absolute = path.absolute()
    try:
        relative = absolute.relative_to(Path.cwd())
    except ValueError:
        return str(absolute)
    return str(relative) if "/" in str(relative) else f"./{relative}"


def demo_banner(settings: Settings, command: str, own_dir: bool) -> str:
    """What the demo prints on start: where it runs, its symbols, and commands that work."""
    first = settings.demo_symbols[0]
    url = f"http://{settings.host}:{settings.port}"
    # Hints must run as printed: off the default address they name the hub's.
    at = "" if url == "http://127.0.0.1:8000" else f" --url {url}"
    where = f"{settings.data_dir}" + (" (the demo's own, apart from `serve`)" if own_dir else "")
    return "\n".join(
        [
            f"alphawire demo on {url}: a SIMULATED market "
            '(every tick carries "simulated": true; no real data is fetched)',
            f"  symbols:  {' '.join(settings.demo_symbols)}",
            f"  data dir: {where}",
            "  try, in another terminal:",
            f"    {command} tail market_{first}{at}",
            f"    {command} tail unified{at}",
            f"    {command} channels{at}",
            f"    {command} publish alert alert_type=dark_pool source=me symbol={first} "
            f'content="2M @ 598"{at}',
            "  stop with Ctrl-C",
        ]
    )


class Stopped(Exception):
    """SIGTERM arrived: the server has shut down gracefully and the command should end."""


@contextlib.contextmanager
def clean_stop() -> Iterator[None]:
    """Run a server until Ctrl-C or SIGTERM, then end with status 0.

    uvicorn shuts down gracefully on either signal and then raises it again with the
    handler that was there before it started: Python's turns SIGINT into KeyboardInterrupt,
    and the default SIGTERM action would kill the process by the signal (``make`` then
    reports ``*** [demo] Terminated``). The handler set here ends the command normally.
    """

    def on_term(signum: int, frame: object) -> None:
        raise Stopped

    previous = signal.signal(signal.SIGTERM, on_term) if _main_thread() else None
    try:
        with contextlib.suppress(KeyboardInterrupt, Stopped):
            yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main_thread() -> bool:
    # signal.signal works only there; SIGTERM handling is a POSIX matter.
    return threading.current_thread() is threading.main_thread() and os.name == "posix"
