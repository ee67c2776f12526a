"""Memorisation check: nearest training neighbours of generated samples and near-duplicates.

A fake ``y`` is a *near-duplicate* when ``min_i |y - x_i| <= tau`` over the training set. By
default ``tau`` is the 1st percentile of the leave-one-out nearest-neighbour distances
``min_{j != i} |x_i - x_j|`` of (up to ``max_queries`` randomly chosen) training samples: by
construction about 1% of fresh samples from the data distribution fall under it, so a share far
above 1% means the generator copies training data. Distances are Euclidean, in pixel space or in
any feature space.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from stablegan.errors import ConfigError, DataError
from stablegan.metrics._checks import (
    as_matrix,
    as_tensor,
    check_min_samples,
    check_positive_int,
    check_same_dim,
)


def nearest_neighbours(
    queries: Tensor,
    reference: Tensor,
    *,
    chunk_size: int = 1024,
    exclude: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """``d_i = min_j |q_i - r_j|`` and its argmin ``j`` for each query, in blocks of queries.

    ``exclude`` (one reference index per query) removes that pair, e.g. a point from its own set.
    The argmin is found with fast matrix-product distances; the returned distance is then
    recomputed directly as ``|q_i - r_j|``, so an exact copy has distance exactly 0.
    """
    q = as_matrix(queries, "queries")
    r = as_matrix(reference, "reference")
    check_same_dim(q, r, "queries", "reference")
    dist = torch.empty(q.shape[0], dtype=torch.float64)
    index = torch.empty(q.shape[0], dtype=torch.long)
    for start in range(0, q.shape[0], chunk_size):
        stop = min(start + chunk_size, q.shape[0])
        d = torch.cdist(q[start:stop], r)
        if exclude is not None:
            d[torch.arange(stop - start), exclude[start:stop]] = float("inf")
        index[start:stop] = d.argmin(dim=1)
        dist[start:stop] = (q[start:stop] - r[index[start:stop]]).norm(dim=1)
    return dist, index


def near_duplicate_threshold(
    train: Tensor,
    percentile: float = 1.0,
    *,
    max_queries: int = 5000,
    seed: int = 0,
    chunk_size: int = 1024,
) -> float:
    """``tau``: the ``percentile``-th percentile of leave-one-out train-to-train NN distances.

    Uses at most ``max_queries`` training samples (drawn with ``numpy.random.RandomState(seed)``)
    as queries against the whole training set; percentiles interpolate linearly (numpy).
    """
    x = as_matrix(train, "train")
    check_min_samples(x.shape[0], 2, "train", "a nearest neighbour needs another training sample")
    if not 0.0 <= float(percentile) <= 100.0:
        raise ConfigError(f"percentile must be in [0, 100], got {percentile!r}",
                          hint="pass percentile=1.0 for the 1st percentile")
    max_queries = check_positive_int(max_queries, "max_queries")
    n = x.shape[0]
    if n > max_queries:
        idx = torch.from_numpy(np.random.RandomState(seed).choice(n, max_queries, replace=False))
    else:
        idx = torch.arange(n)
    dist, _ = nearest_neighbours(x[idx], x, chunk_size=chunk_size, exclude=idx)
    return float(np.percentile(dist.numpy(), float(percentile)))


@dataclass(frozen=True)
class MemorisationResult:
    """Nearest training neighbour of every fake and the near-duplicate share."""

    distances: Tensor  # (N,) distance of each fake to its nearest training sample
    indices: Tensor  # (N,) index of that training sample
    threshold: float  # tau
    near_duplicate_fraction: float  # #{i : distances_i <= tau} / N

    def as_dict(self) -> dict[str, float]:
        """Scalar summary: ``near_duplicate_fraction``, ``threshold``, ``nn_distance_mean``."""
        return {
            "near_duplicate_fraction": self.near_duplicate_fraction,
            "threshold": self.threshold,
            "nn_distance_mean": float(self.distances.mean()),
        }


def memorisation(
    fakes: Tensor,
    train: Tensor,
    *,
    threshold: float | None = None,
    percentile: float = 1.0,
    max_queries: int = 5000,
    seed: int = 0,
    chunk_size: int = 1024,
) -> MemorisationResult:
    """Nearest training neighbour of each fake and ``#{i : d_i <= tau} / N``.

    ``tau = threshold`` when given, else :func:`near_duplicate_threshold` of ``train``.
    """
    f = as_matrix(fakes, "fakes")
    x = as_matrix(train, "train")
    check_same_dim(f, x, f"fakes (shape {tuple(fakes.shape)})",
                   f"train (shape {tuple(train.shape)})")
    if threshold is None:
        tau = near_duplicate_threshold(x, percentile, max_queries=max_queries, seed=seed,
                                       chunk_size=chunk_size)
    else:
        tau = float(threshold)
        if not np.isfinite(tau) or tau < 0:
            raise ConfigError(f"threshold must be a finite distance >= 0, got {threshold!r}",
                              hint="pass threshold=None to use the train-to-train percentile")
    dist, index = nearest_neighbours(f, x, chunk_size=chunk_size)
    frac = float((dist <= tau).to(torch.float64).mean())
    return MemorisationResult(dist, index, tau, frac)


def _to_images(x: Tensor, name: str) -> np.ndarray:
    """``(N, C, H, W)`` with C in {1, 3}, or ``(N, H, W)``, as an ``(N, H, W[, 3])`` float array."""
    x = as_tensor(x, name).detach().cpu().to(torch.float64)
    if x.dim() == 3:
        return x.numpy()
    if x.dim() == 4 and x.shape[1] == 1:
        return x[:, 0].numpy()
    if x.dim() == 4 and x.shape[1] == 3:
        return x.permute(0, 2, 3, 1).numpy()
    raise DataError(
        f"{name} has shape {tuple(x.shape)}, which is not an image batch",
        hint="pass images of shape (N, C, H, W) with C = 1 or 3, or (N, H, W)",
    )


def save_nearest_pairs_png(
    fakes: Tensor,
    train: Tensor,
    path: str | Path,
    k: int = 8,
    *,
    fake_features: Tensor | None = None,
    train_features: Tensor | None = None,
    value_range: tuple[float, float] | None = None,
) -> Path:
    """Save the ``k`` fakes nearest to the training set (top row) over their nearest train image.

    Neighbours are searched in ``*_features`` when both are given, else in pixel space; each column
    is titled with its distance. Pixels are mapped to [0, 1] by ``value_range`` (default: the
    minimum and maximum over the shown images).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    k = check_positive_int(k, "k")
    fake_img = _to_images(fakes, "fakes")
    train_img = _to_images(train, "train")
    if fake_img.shape[1:] != train_img.shape[1:]:
        raise DataError(
            f"fakes have shape {tuple(fakes.shape)} but train has shape {tuple(train.shape)}",
            hint="pass fakes and training images of the same channels and resolution",
        )
    if (fake_features is None) != (train_features is None):
        raise ConfigError("pass both fake_features and train_features, or neither",
                          hint="features of the fakes and of the training set are compared")
    if fake_features is not None and train_features is not None:
        if len(fake_features) != len(fake_img) or len(train_features) != len(train_img):
            raise DataError(
                f"features do not match the images: {len(fake_features)} fake features for "
                f"{len(fake_img)} fakes, {len(train_features)} train features for "
                f"{len(train_img)} training images",
                hint="compute one feature row per image",
            )
        dist, index = nearest_neighbours(fake_features, train_features)
    else:
        dist, index = nearest_neighbours(fakes, train)
    order = torch.argsort(dist)[: min(k, len(dist))].tolist()
    shown = np.stack([fake_img[i] for i in order] + [train_img[int(index[i])] for i in order])
    lo, hi = (float(shown.min()), float(shown.max())) if value_range is None else value_range
    scale = hi - lo if hi > lo else 1.0
    shown = np.clip((shown - lo) / scale, 0.0, 1.0)

    cols = len(order)
    fig = Figure(figsize=(1.4 * cols + 0.8, 3.2))
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, cols, squeeze=False)
    for c, i in enumerate(order):
        for r, img in enumerate((shown[c], shown[cols + c])):
            ax = axes[r][c]
            ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0.0, vmax=1.0,
                      interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0][c].set_title(f"d={float(dist[i]):.3g}", fontsize=8)
    axes[0][0].set_ylabel("generated", fontsize=8)
    axes[1][0].set_ylabel("nearest train", fontsize=8)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", dpi=100)
    return out
