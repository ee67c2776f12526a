""":class:`TensorSource`: a user's own tensor as training data, with what evaluation may know
about it (mixture centres for mode coverage, labels for class metrics and the domain
classifier)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from stablegan.data.base import FiniteSource
from stablegan.errors import DataError


def _tensor(x: Any, what: str) -> Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, Tensor):
        raise DataError(f"{what} must be a tensor or numpy array, got {type(x).__name__}")
    return x


class TensorSource(FiniteSource):
    """In-memory training samples ``x`` (N, ...), used as given (scale images to [-1, 1]).

    * ``modes`` (K, D) and ``mode_std``: the centres of a mixture the data is drawn from and the
      std of each component. With them, points (2-D and other vectors) are evaluated with the
      PacGAN/VEEGAN protocol as well: ``modes`` (centres with a sample within 3 ``mode_std``),
      ``hq_fraction`` and ``reverse_kl``, beside ``swd``.
    * ``labels`` (N,) int: class labels; ``num_classes`` defaults to ``labels.max() + 1``. Labelled
      images get the domain classifier (trained on the fly for 500 to 10,000 items) and with it
      ``fid/classifier``, ``class_coverage/classifier``, ...

    ``task`` defaults to ``images`` for (N, C, H, W) and ``points`` otherwise; ``seed`` seeds the
    batch order; ``holdout_fraction`` of the items is kept out of training (the floor and the
    memorisation check use it).
    """

    def __init__(self, x: Any, *, modes: Any = None, mode_std: float | None = None,
                 labels: Any = None, num_classes: int | None = None, name: str = "tensor",
                 task: str | None = None, seed: int = 0, holdout_fraction: float = 0.1) -> None:
        x = _tensor(x, "training data")
        if not x.is_floating_point():
            x = x.float()
        if x.dim() < 2:
            raise DataError(f"training data must have shape (N, ...), got {tuple(x.shape)}",
                            hint="stack your samples along a first batch dimension")
        if not torch.isfinite(x).all():
            raise DataError("training data contains NaN or inf values",
                            hint="clean or re-normalise the data")
        y = None
        if labels is not None:
            y = _tensor(labels, "labels").long()
            if y.numel() and int(y.min()) < 0:
                raise DataError("labels must be integers >= 0")
            num_classes = num_classes or (int(y.max()) + 1 if y.numel() else None)
        task = task or ("images" if x.dim() == 4 else "points")
        super().__init__(name, task, x, y, seed, holdout_fraction=holdout_fraction,
                         num_classes=num_classes)
        if modes is not None:
            m = _tensor(modes, "modes").float()
            dim = int(np.prod(self.sample_shape))
            if m.dim() != 2 or m.shape[1] != dim:
                raise DataError(f"modes must have shape (K, {dim}) for samples of shape "
                                f"{self.sample_shape}, got {tuple(m.shape)}",
                                hint="one row per mixture centre, in the data's coordinates")
            if mode_std is None or not float(mode_std) > 0:
                raise DataError("modes need mode_std > 0, the std of each mixture component",
                                hint="a sample within 3 * mode_std of a centre counts for it, "
                                     "e.g. TensorSource(x, modes=centres, mode_std=0.05)")
            self.modes, self.mode_std = m, float(mode_std)
