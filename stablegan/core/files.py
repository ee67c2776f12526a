"""Writing run-directory files so that a kill, a full disk or a read-only directory never leaves
a half-written file or a raw traceback.

``atomic_write_bytes/text`` write a temporary file beside the target, fsync it and rename it over
the target: readers see the old file or the new one, never a torn one. ``run_dir_error`` turns an
OSError into a :class:`RunDirectoryError` (a :class:`StableganError`, so the CLI prints a one-line
reason and exits with code 2) naming the file and what failed.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

from stablegan.core.errors import StableganError


class RunDirectoryError(StableganError):
    """A file of the run directory could not be written (disk full, read-only, permissions)."""


def describe_os_error(err: OSError) -> str:
    """``strerror`` plus a plain-words cause for the usual disk problems."""
    text = err.strerror or str(err) or type(err).__name__
    if err.errno == errno.ENOSPC:
        return f"{text} (the disk is full)"
    if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"{text} (the run directory is not writable)"
    return text


def run_dir_error(what: str, path: Path, err: OSError) -> RunDirectoryError:
    return RunDirectoryError(
        f"could not write {what} {path}: {describe_os_error(err)}",
        hint="free disk space or make the run directory writable, then resume with --resume; "
        "the files already on disk are unchanged")


def _tmp_for(path: Path) -> Path:
    # keep the suffix: matplotlib/PIL pick the format from it
    return path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")


def remove_stale_temporaries(folder: Path) -> None:
    """Delete the temporaries (``.<stem>.tmp-<pid><suffix>``) of writers that were killed."""
    try:
        stale = [p for p in folder.glob(".*.tmp-*") if p.is_file()]
    except OSError:
        return
    for p in stale:
        try:
            p.unlink()
        except OSError:
            pass


def atomic_write(path: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` for a temporary path beside ``path``, fsync it, rename it to ``path``.

    On any failure the temporary file is removed and ``path`` is left as it was; OSErrors
    propagate unchanged (callers wrap them with :func:`run_dir_error` or warn).
    """
    path = Path(path)
    tmp = _tmp_for(path)
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    return path


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    return atomic_write(Path(path), lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write(Path(path), lambda tmp: tmp.write_text(text, encoding="utf-8"))
