"""Where a hub keeps its files: the data directory and the publish token in it (neutral module)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

TOKEN_FILE = "publish-token"


def default_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$ALPHAWIRE_DATA_DIR``, else ``$XDG_DATA_HOME/alphawire``, else ~/.local/share/alphawire."""
    env = os.environ if environ is None else environ
    explicit = env.get("ALPHAWIRE_DATA_DIR")
    if explicit:
        return Path(explicit)
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "alphawire"


def read_token_file(data_dir: Path | None = None) -> str | None:
    """The publish token a local hub created, if there is one (used by the CLI)."""
    path = (data_dir or default_data_dir()) / TOKEN_FILE
    try:
        return path.read_text().strip() or None
    except OSError:
        return None
