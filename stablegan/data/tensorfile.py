"""``tensor``: user data from a ``.pt``/``.pth`` file (read with ``torch.load(weights_only=True)``)
holding a tensor (N, ...) or a dict ``{"x": tensor, "y": optional int labels}``, or from a
``.npy`` file (read with ``np.load(allow_pickle=False)``).

(N, D) data are "points" and (N, C, H, W) data "image". Values are used as given (converted to
float32): scale images to [-1, 1] yourself, since the image generators end in tanh.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from stablegan.config import DataConfig
from stablegan.data.base import FiniteSource
from stablegan.errors import DataError

SUFFIXES = (".pt", ".pth", ".npy")
_REAL_INTS = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.bool)


def _unreadable(path: Path, err: BaseException) -> DataError:
    """DataError for a file that cannot be read safely."""
    reason = str(err).splitlines()[0] if str(err) else type(err).__name__
    return DataError(
        f"cannot read tensor file '{path}' (corrupt, or holds objects other than tensors): "
        f"{reason}",
        hint="save plain tensors: torch.save(x, path) or torch.save({'x': x, 'y': y}, path), "
        "or np.save(path, array)",
    )


def read_tensor_file(path: Path) -> tuple[Tensor, Tensor | None]:
    """``(x, y)`` from a .pt/.pth/.npy file; y is None without labels."""
    if not path.is_file():
        raise DataError(f"tensor file '{path}' does not exist",
                        hint="set data.path to a .pt or .npy file")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(f"tensor file '{path}' must end in {', '.join(SUFFIXES)}",
                        hint="save the data with torch.save or np.save")
    obj: Any
    if suffix == ".npy":
        try:
            obj = torch.from_numpy(np.load(path, allow_pickle=False))
        except (ValueError, OSError, EOFError, TypeError) as err:
            raise _unreadable(path, err) from None
    else:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # torch.load raises many types for corrupt/unsafe files
            raise _unreadable(path, err) from None
    y = None
    if isinstance(obj, dict):
        if not isinstance(obj.get("x"), Tensor):
            raise DataError(f"tensor file '{path}' holds a dict without a tensor under 'x'",
                            hint="save {'x': data, 'y': labels (optional)}")
        x, y = obj["x"], obj.get("y")
        if y is not None and not isinstance(y, Tensor):
            raise DataError(f"'y' in tensor file '{path}' is not a tensor",
                            hint="save labels as an int64 tensor or leave 'y' out")
    elif isinstance(obj, Tensor):
        x = obj
    else:
        raise DataError(f"tensor file '{path}' holds a {type(obj).__name__}, not a tensor",
                        hint="save a tensor (N, ...) or {'x': tensor, 'y': labels}")
    return x, y


def tensor_source(cfg: DataConfig, seed: int) -> FiniteSource:
    """The ``tensor`` source for ``cfg.path``."""
    if not cfg.path:
        raise DataError("data 'tensor' needs data.path", hint="--set data.path=FILE.pt")
    path = Path(cfg.path).expanduser()
    x, y = read_tensor_file(path)
    if x.dtype.is_complex or not (x.dtype.is_floating_point or x.dtype in _REAL_INTS):
        raise DataError(f"tensor file '{path}' holds {x.dtype} data", hint="save real numbers")
    if x.dim() == 2:
        task = "points"
    elif x.dim() == 4:
        task = "images"
    else:
        raise DataError(
            f"tensor file '{path}' holds shape {tuple(x.shape)}; expected (N, D) points or "
            "(N, C, H, W) images",
            hint="reshape before saving, e.g. x.unsqueeze(1) for (N, H, W) greyscale images",
        )
    x = x.detach().to(torch.float32).contiguous()
    if x.numel() and not torch.isfinite(x).all():
        raise DataError(f"tensor file '{path}' contains NaN or infinite values",
                        hint="clean the data before saving")
    num_classes = None
    if y is not None:
        if y.dim() != 1 or y.shape[0] != x.shape[0] or y.dtype not in _REAL_INTS:
            raise DataError(
                f"labels in '{path}' must be 1-D integers, one per item; got {y.dtype} "
                f"{tuple(y.shape)} for {x.shape[0]} items",
                hint="save 'y' as an int64 tensor of shape (N,)",
            )
        y = y.long()
        if y.numel() and int(y.min()) < 0:
            raise DataError(f"labels in '{path}' must be >= 0", hint="use class ids 0..K-1")
        num_classes = int(y.max()) + 1 if y.numel() else None
    return FiniteSource(
        "tensor", task, x, y, seed, holdout_fraction=cfg.holdout_fraction,
        max_items=cfg.max_items, num_classes=num_classes,
    )

