"""Checkpoints that are written atomically and loaded safely.

File format: ``torch.save(payload)`` bytes, then a 48-byte trailer ``MAGIC | sha256(payload) |
len(payload)``. Writing goes to a temporary file in the same directory, is flushed and fsync'd,
the previous checkpoint is kept as ``<name>.prev`` (hard link), and ``os.replace`` swaps the new
file in, so at every instant ``last.pt`` is a complete checkpoint (old or new). Loading checks the
trailer and hash before ``torch.load(..., weights_only=True)``: a truncated or altered file is
rejected with a clear message and the caller can fall back to the previous one. Pickled code is
never run: ``weights_only=True`` refuses any global that is not a tensor or plain container.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
from pathlib import Path
from typing import Any

import torch

from stablegan.errors import CheckpointError

MAGIC = b"SGCKPT01"
TRAILER = struct.Struct("<8s32sQ")
FORMAT = "stablegan-checkpoint"


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_checkpoint(state: dict[str, Any], path: str | Path, keep_previous: bool = True) -> Path:
    """Atomically write ``state`` to ``path``; the old file (if any) survives as ``path.prev``."""
    path = Path(path)
    state = {"format": FORMAT, **state}
    buf = io.BytesIO()
    torch.save(state, buf)
    payload = buf.getvalue()
    trailer = TRAILER.pack(MAGIC, hashlib.sha256(payload).digest(), len(payload))
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            fh.write(payload)
            fh.write(trailer)
            fh.flush()
            os.fsync(fh.fileno())
        if keep_previous and path.exists():
            prev_tmp = path.with_name(f".{path.name}.prev-{os.getpid()}")
            if prev_tmp.exists():
                prev_tmp.unlink()
            os.link(path, prev_tmp)
            os.replace(prev_tmp, previous_path(path))
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as err:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise CheckpointError(
            f"could not write checkpoint {path}: {err.strerror or err}",
            hint="free disk space or make the run directory writable; the previous checkpoint "
            "on disk is unchanged",
        ) from err
    return path


def previous_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".prev")


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Verify and load one checkpoint with ``weights_only=True``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist",
                              hint="train first, or point --run at a run directory")
    data = path.read_bytes()
    if len(data) < TRAILER.size:
        raise CheckpointError(f"checkpoint {path} is truncated ({len(data)} bytes)")
    magic, digest, length = TRAILER.unpack(data[-TRAILER.size:])
    if magic != MAGIC:
        raise CheckpointError(
            f"checkpoint {path} is not a stablegan checkpoint or is truncated (no valid trailer)")
    payload = data[: -TRAILER.size]
    if len(payload) != length or hashlib.sha256(payload).digest() != digest:
        raise CheckpointError(f"checkpoint {path} is corrupt (size or sha256 mismatch)")
    try:
        state = torch.load(io.BytesIO(payload), map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling refusal is reported the same way
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            f"checkpoint {path} was refused by the safe loader (weights_only=True): {first}",
            hint="only tensors and plain containers are loaded; never load checkpoints you do "
            "not trust with weights_only=False",
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path} does not hold a stablegan training state")
    return state


def load_latest(path: str | Path, map_location: str | torch.device = "cpu",
                ) -> tuple[dict[str, Any], Path, list[str]]:
    """Load ``path``, falling back to ``path.prev`` when it is missing or corrupt.

    Returns ``(state, path_used, warnings)``.
    """
    path = Path(path)
    warnings: list[str] = []
    try:
        return load_checkpoint(path, map_location), path, warnings
    except CheckpointError as err:
        prev = previous_path(path)
        if not prev.is_file():
            raise
        warnings.append(f"{err.message}; falling back to the previous checkpoint {prev}")
        return load_checkpoint(prev, map_location), prev, warnings
