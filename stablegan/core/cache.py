"""The cache directory: where domain classifiers and the oracle's samples are kept."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$STABLEGAN_CACHE_DIR``, else ``$XDG_CACHE_HOME/stablegan``, else ``~/.cache/stablegan``."""
    env = os.environ.get("STABLEGAN_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "stablegan"
