"""Precision and recall (Kynkäänniemi et al. 2019), density and coverage (Naeem et al. 2020).

With ``r(x)`` the distance from ``x`` to its k-th nearest neighbour in its own set (the point
itself excluded), real samples ``X`` (N) and fakes ``Y`` (M):

* precision ``= (1/M) sum_j 1[exists i: |Y_j - X_i| < r(X_i)]``
* recall    ``= (1/N) sum_i 1[exists j: |X_i - Y_j| < r(Y_j)]``
* density   ``= (1/(kM)) sum_j sum_i 1[|Y_j - X_i| < r(X_i)]``
* coverage  ``= (1/N) sum_i 1[min_j |X_i - Y_j| < r(X_i)]``

This matches the ``prdc`` package (``compute_prdc``). Distances are computed with
:func:`torch.cdist` in blocks of ``chunk_size`` rows, so 10,000 x 10,000 sets need only
``chunk_size x 10,000`` distances in memory at a time.
"""

from __future__ import annotations

import torch
from torch import Tensor

from stablegan.metrics._checks import (
    as_matrix,
    check_min_samples,
    check_positive_int,
    check_same_dim,
)


def kth_neighbour_distances(x: Tensor, k: int, chunk_size: int = 1024) -> Tensor:
    """``r(x_i)``: the (k+1)-th smallest of ``|x_i - x_j|`` over all j (j = i gives 0)."""
    out = torch.empty(x.shape[0], dtype=x.dtype)
    for start in range(0, x.shape[0], chunk_size):
        d = torch.cdist(x[start:start + chunk_size], x)
        out[start:start + chunk_size] = torch.kthvalue(d, k + 1, dim=1).values
    return out


def prdc(
    real_features: Tensor,
    fake_features: Tensor,
    k: int = 5,
    *,
    chunk_size: int = 1024,
    dtype: torch.dtype = torch.float64,
) -> dict[str, float]:
    """Precision, recall, density and coverage of fakes against reals with k nearest neighbours.

    Returns ``{"precision", "recall", "density", "coverage"}`` (see the module docstring).
    """
    k = check_positive_int(k, "k")
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    real = as_matrix(real_features, "real features", dtype)
    fake = as_matrix(fake_features, "fake features", dtype)
    check_same_dim(fake, real, "fake features", "real features")
    why = f"with k={k} each sample needs k other samples for its k-th nearest neighbour"
    check_min_samples(real.shape[0], k + 1, "real features", why)
    check_min_samples(fake.shape[0], k + 1, "fake features", why)

    r_real = kth_neighbour_distances(real, k, chunk_size)
    r_fake = kth_neighbour_distances(fake, k, chunk_size)
    n, m = real.shape[0], fake.shape[0]
    in_real_ball = torch.zeros(m, dtype=torch.bool)
    ball_counts = torch.zeros(m, dtype=torch.float64)
    real_in_fake_ball = torch.zeros(n, dtype=torch.bool)
    nearest_fake = torch.full((n,), float("inf"), dtype=dtype)
    for start in range(0, m, chunk_size):
        stop = min(start + chunk_size, m)
        d = torch.cdist(real, fake[start:stop])  # (n, c)
        inside = d < r_real[:, None]
        in_real_ball[start:stop] = inside.any(dim=0)
        ball_counts[start:stop] = inside.sum(dim=0).to(torch.float64)
        real_in_fake_ball |= (d < r_fake[None, start:stop]).any(dim=1)
        nearest_fake = torch.minimum(nearest_fake, d.min(dim=1).values)
    return {
        "precision": float(in_real_ball.to(torch.float64).mean()),
        "recall": float(real_in_fake_ball.to(torch.float64).mean()),
        "density": float(ball_counts.mean() / k),
        "coverage": float((nearest_fake < r_real).to(torch.float64).mean()),
    }
