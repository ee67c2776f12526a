"""Checkpoints that are written atomically and loaded safely.

File format: ``torch.save(payload)`` bytes, then a 48-byte trailer ``MAGIC | sha256(payload) |
len(payload)``. Writing goes to a temporary file in the same directory, is flushed and fsync'd;
the previous checkpoint is kept as ``<name>.prev`` (hard link, or a copy where the file system
has none; only a complete file is kept, so a damaged one never replaces a good ``.prev``), and
``os.replace`` swaps the new file in, so at every instant ``last.pt`` is a complete checkpoint (old
or new). Temporaries of a writer that was killed are removed by the next save. Loading checks the
trailer, size and hash before ``torch.load(..., weights_only=True)``: a truncated or altered file
is rejected with a clear message and the caller can fall back to the previous one. Pickled code
is never run: ``weights_only=True`` refuses any global that is not a tensor or plain container.

:func:`load_module` loads a network's weights with a message listing every mismatch;
:func:`pretrained_checkpoint` finds and checks the checkpoint ``pretrain.init_from`` names.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import shutil
import struct
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from stablegan.core.errors import CheckpointError, ConfigError
from stablegan.core.files import describe_os_error

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


def _remove_stale_temporaries(path: Path) -> None:
    """Delete ``.<name>.tmp-*`` / ``.<name>.prev-*`` left by a writer that was killed mid-save."""
    for pattern in (f".{path.name}.tmp-*", f".{path.name}.prev-*"):
        for stale in path.parent.glob(pattern):
            try:
                stale.unlink()
            except OSError:
                pass


def is_complete(path: str | Path) -> bool:
    """Cheap check that ``path`` ends in a valid trailer whose length matches the file size
    (true for every file :func:`save_checkpoint` finished; false for a truncated or foreign file).
    The sha256 is only checked by :func:`load_checkpoint`."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size < TRAILER.size:
            return False
        with open(path, "rb") as fh:
            fh.seek(size - TRAILER.size)
            magic, _, length = TRAILER.unpack(fh.read(TRAILER.size))
    except (OSError, struct.error):
        return False
    return magic == MAGIC and length == size - TRAILER.size


def _link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link ``src`` to ``dst``; copy (and fsync) where the file system has no hard links."""
    try:
        os.link(src, dst)
        return
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EROFS, errno.EDQUOT):
            raise
    shutil.copyfile(src, dst)
    with open(dst, "rb") as fh:
        os.fsync(fh.fileno())


def save_checkpoint(state: dict[str, Any], path: str | Path, keep_previous: bool = True) -> Path:
    """Atomically write ``state`` to ``path``; the old file (if any) survives as ``path.prev``.

    Order: write a temporary file, fsync it; hard-link the current ``path`` to ``path.prev``
    (only when it is complete, so a damaged file never replaces a good ``.prev``); rename the
    temporary file over ``path``; fsync the directory. A crash at any point leaves ``path`` either
    the old or the new complete checkpoint. Any OSError (disk full, read-only directory) becomes a
    :class:`CheckpointError` and leaves the files on disk as they were.
    """
    path = Path(path)
    state = {"format": FORMAT, **state}
    buf = io.BytesIO()
    torch.save(state, buf)
    payload = buf.getvalue()
    trailer = TRAILER.pack(MAGIC, hashlib.sha256(payload).digest(), len(payload))
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    prev_tmp = path.with_name(f".{path.name}.prev-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temporaries(path)
        with open(tmp, "wb") as fh:
            fh.write(payload)
            fh.write(trailer)
            fh.flush()
            os.fsync(fh.fileno())
        if keep_previous and is_complete(path):
            _link_or_copy(path, prev_tmp)
            os.replace(prev_tmp, previous_path(path))
            if prev_tmp.exists():  # rename() is a no-op when both names are one inode
                prev_tmp.unlink()
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException as err:  # OSError, or a second Ctrl-C in the middle of the write
        for leftover in (tmp, prev_tmp):
            try:
                leftover.unlink()
            except OSError:
                pass
        if not isinstance(err, OSError):
            raise
        raise CheckpointError(
            f"could not write checkpoint {path}: {describe_os_error(err)}",
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
            f"checkpoint {path} is truncated or not a stablegan checkpoint (no valid trailer; "
            f"{len(data)} bytes)")
    payload = data[: -TRAILER.size]
    if len(payload) != length:
        raise CheckpointError(f"checkpoint {path} is corrupt: its trailer promises {length} "
                              f"bytes, the file holds {len(payload)}")
    if hashlib.sha256(payload).digest() != digest:
        raise CheckpointError(f"checkpoint {path} is corrupt (sha256 mismatch)")
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

    Returns ``(state, path_used, warnings)``. When neither loads, the CheckpointError names both
    reasons.
    """
    path = Path(path)
    warnings: list[str] = []
    try:
        return load_checkpoint(path, map_location), path, warnings
    except CheckpointError as err:
        prev = previous_path(path)
        if not prev.is_file():
            raise
        try:
            state = load_checkpoint(prev, map_location)
        except CheckpointError as err_prev:
            raise CheckpointError(
                f"no loadable checkpoint: {err.message}; and the previous one: "
                f"{err_prev.message}",
                hint=err_prev.hint or "start the run again without --resume") from None
        warnings.append(f"{err.message}; falling back to the previous checkpoint {prev}")
        return state, prev, warnings


def load_module(net: nn.Module, state: dict[str, Tensor], name: str) -> None:
    """``net.load_state_dict(state)`` with a CheckpointError listing every mismatch."""
    own = net.state_dict()
    problems = []
    for k in sorted(set(own) | set(state)):
        if k not in state:
            problems.append(f"{k}: missing in checkpoint")
        elif k not in own:
            problems.append(f"{k}: unexpected in checkpoint")
        elif tuple(own[k].shape) != tuple(state[k].shape):
            problems.append(f"{k}: checkpoint {tuple(state[k].shape)} vs model "
                            f"{tuple(own[k].shape)}")
    if problems:
        shown = "; ".join(problems[:5]) + (f"; ... {len(problems) - 5} more"
                                          if len(problems) > 5 else "")
        raise CheckpointError(f"checkpoint does not fit network {name}: {shown}",
                              hint="the checkpoint comes from another architecture or config")
    net.load_state_dict(state)


def pretrained_checkpoint(cfg: Any, data: Any) -> tuple[Path, dict[str, Any]]:
    """The checkpoint ``cfg.pretrain.init_from`` names (a file or a run directory) and its
    path, refusing a missing file or a checkpoint trained on other data."""
    path = Path(cfg.pretrain.init_from).expanduser()
    if path.is_dir():
        path = path / "checkpoints" / "last.pt"
    if not path.is_file():
        raise ConfigError(f"pretrain.init_from: no checkpoint at {path}",
                          hint="give a checkpoint file or the --out directory of a run")
    state = load_checkpoint(path)
    saved = dict((state.get("config") or {}).get("data") or {})
    ours = {k: v for k, v in cfg.data.__dict__.items() if k != "batch_size"}
    changed = sorted(k for k in ours if k in saved and saved[k] != ours[k])
    if changed or tuple(state.get("sample_shape") or ()) != tuple(data.sample_shape):
        what = ", ".join(f"data.{k}: {saved[k]!r} there, {ours[k]!r} here" for k in changed)
        raise ConfigError(f"pretrain.init_from: {path} was trained on other data"
                          + (f" ({what})" if what else ""),
                          hint="start from a run on the same data (data.* settings)")
    return path, state
