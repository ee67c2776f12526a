"""Turning what a Python user passes to ``Trainer`` into a DataSource."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from stablegan.data.base import DataSource
from stablegan.data.tensor import TensorSource
from stablegan.errors import DataError


def as_source(data: Any, cfg: Any) -> DataSource:
    """A DataSource as is; a tensor or array (N, ...) as an in-memory source (no rescaling:
    scale images to [-1, 1] yourself); anything else is refused with a clear message."""
    if isinstance(data, DataSource):
        return data
    if isinstance(data, np.ndarray | torch.Tensor):
        return TensorSource(data, seed=cfg.seed, holdout_fraction=cfg.data.holdout_fraction)
    raise DataError(f"cannot train on data of type {type(data).__name__}",
                    hint="pass a stablegan DataSource or a tensor of samples (N, ...)")
