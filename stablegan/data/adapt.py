"""Turning what a Python user passes to ``Trainer`` into a DataSource."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from stablegan.data.base import DataSource, FiniteSource
from stablegan.errors import DataError


def as_source(data: Any, cfg: Any) -> DataSource:
    """A DataSource as is; a tensor or array (N, ...) as an in-memory source (no rescaling:
    scale images to [-1, 1] yourself); anything else is refused with a clear message."""
    if isinstance(data, DataSource):
        return data
    if isinstance(data, np.ndarray):
        data = torch.from_numpy(data)
    if isinstance(data, torch.Tensor):
        if not data.is_floating_point():
            data = data.float()
        if data.dim() < 2:
            raise DataError(f"training data must have shape (N, ...), got {tuple(data.shape)}",
                            hint="stack your samples along a first batch dimension")
        if not torch.isfinite(data).all():
            raise DataError("training data contains NaN or inf values",
                            hint="clean or re-normalise the data")
        task = "images" if data.dim() == 4 else "points"
        return FiniteSource("tensor", task, data, None, cfg.seed,
                            holdout_fraction=cfg.data.holdout_fraction)
    raise DataError(f"cannot train on data of type {type(data).__name__}",
                    hint="pass a stablegan DataSource or a tensor of samples (N, ...)")
