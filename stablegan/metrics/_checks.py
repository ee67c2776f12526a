"""Input validation shared by the metrics: every problem becomes a :class:`StableganError`."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from stablegan.errors import ConfigError, DataError, ShapeError


def as_tensor(x: Any, name: str) -> Tensor:
    """Return ``x`` as a tensor of at least one sample, or raise :class:`DataError`."""
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, Tensor):
        raise DataError(
            f"{name} must be a torch.Tensor, got {type(x).__name__}",
            hint="pass samples as a tensor of shape (N, ...)",
        )
    if x.dim() == 0 or x.shape[0] == 0:
        raise DataError(
            f"{name} has no samples (shape {tuple(x.shape)})",
            hint="pass a tensor of shape (N, ...) with N >= 1",
        )
    return x


def check_finite(x: Tensor, name: str) -> None:
    """Raise :class:`DataError` when ``x`` holds NaN or infinite values."""
    if x.is_floating_point() or x.is_complex():
        bad = int((~torch.isfinite(x)).sum())
        if bad:
            raise DataError(
                f"{name} contains {bad} NaN/inf value(s) out of {x.numel()}",
                hint="check the generator output or the feature extractor for divergence",
            )


def as_matrix(x: Any, name: str, dtype: torch.dtype = torch.float64) -> Tensor:
    """Flatten samples ``(N, ...)`` to a finite ``(N, D)`` matrix of ``dtype``."""
    x = as_tensor(x, name)
    check_finite(x, name)
    return x.detach().reshape(x.shape[0], -1).to(device="cpu", dtype=dtype)


def check_same_dim(a: Tensor, b: Tensor, name_a: str, name_b: str) -> None:
    """Raise :class:`ShapeError` unless two ``(N, D)`` matrices share ``D``."""
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[1]:
        raise ShapeError(
            f"{name_a} has shape {tuple(a.shape)} but {name_b} has shape {tuple(b.shape)}: "
            "feature dimensions differ",
            hint="compare samples of the same shape (same channels and resolution)",
        )


def check_same_sample_shape(a: Tensor, b: Tensor, name_a: str, name_b: str) -> None:
    """Raise :class:`ShapeError` unless two sample sets have the same per-sample shape."""
    if tuple(a.shape[1:]) != tuple(b.shape[1:]):
        raise ShapeError(
            f"{name_a} has shape {tuple(a.shape)} but {name_b} has shape {tuple(b.shape)}: "
            f"per-sample shapes {tuple(a.shape[1:])} and {tuple(b.shape[1:])} differ",
            hint="generate samples with the data's channels and resolution",
        )


def check_min_samples(n: int, minimum: int, name: str, why: str) -> None:
    """Raise :class:`DataError` when ``n < minimum``, stating the minimum and the reason."""
    if n < minimum:
        raise DataError(
            f"{name} has {n} sample(s) but at least {minimum} are needed: {why}",
            hint=f"pass at least {minimum} samples",
        )


def check_positive_int(value: Any, name: str, minimum: int = 1) -> int:
    """Return ``value`` if it is an int ``>= minimum``, else raise :class:`ConfigError`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(
            f"{name} must be an integer >= {minimum}, got {value!r}",
            hint=f"pass {name}={max(minimum, 1)} or larger",
        )
    return int(value)


def check_positive_float(value: Any, name: str) -> float:
    """Return ``value`` as a float if it is finite and ``> 0``, else raise :class:`ConfigError`."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = float("nan")
    if not np.isfinite(v) or v <= 0:
        raise ConfigError(f"{name} must be a finite number > 0, got {value!r}",
                          hint=f"pass a positive {name}")
    return v
