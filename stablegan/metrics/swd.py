"""Sliced Wasserstein distance (Rabin et al. 2011; Bonneel et al. 2015) between sample sets.

Samples of any shape are flattened to ``(N, D)``, so the same function serves pixel space and
feature space.
"""

from __future__ import annotations

import torch
from torch import Tensor

from stablegan.errors import ConfigError
from stablegan.metrics._checks import as_matrix, check_positive_int, check_same_dim

_DIRECTION_BLOCK = 64  # directions are drawn and projected this many at a time


def wasserstein_1d_pp(xs: Tensor, ys: Tensor, p: int) -> Tensor:
    """``W_p^p = int_0^1 |F^{-1}(t) - G^{-1}(t)|^p dt`` per column of sorted ``xs``, ``ys``.

    ``xs`` is ``(n, L)`` and ``ys`` is ``(m, L)``, each column sorted ascending.

    ``F^{-1}``, ``G^{-1}`` are the empirical quantile functions (step functions with steps at
    ``i/n`` and ``j/m``). For ``n == m`` this is ``mean_i |x_(i) - y_(i)|^p``; otherwise the
    integral is taken exactly over the merged grid of quantile levels ``{i/n} U {j/m}``.
    """
    n, m = xs.shape[0], ys.shape[0]
    if n == m:
        return (xs - ys).abs().pow(p).mean(dim=0)
    # quantile levels in units of 1/(n m): i*m for xs, j*n for ys
    levels = torch.unique(torch.cat([torch.arange(1, n + 1) * m, torch.arange(1, m + 1) * n]))
    widths = torch.diff(levels, prepend=levels.new_zeros(1)).to(xs.dtype) / (n * m)
    ix = (levels + m - 1) // m - 1  # ceil(t n) - 1: the step of F^{-1} covering (t_prev, t]
    iy = (levels + n - 1) // n - 1
    return (widths[:, None] * (xs[ix] - ys[iy]).abs().pow(p)).sum(dim=0)


def sliced_wasserstein(
    x: Tensor,
    y: Tensor,
    n_projections: int = 128,
    *,
    p: int = 2,
    seed: int = 0,
) -> float:
    """``SW_p(X, Y) = ((1/L) sum_l W_p^p(<theta_l, X>, <theta_l, Y>))^{1/p}``.

    ``theta_l`` (l = 1..L, ``L = n_projections``) are normalised standard-normal directions (uniform
    on the sphere) from ``torch.Generator().manual_seed(seed)``; the one-dimensional ``W_p`` uses
    sorting (see :func:`wasserstein_1d_pp`), exact also for sets of unequal size.
    """
    n_projections = check_positive_int(n_projections, "n_projections")
    p = check_positive_int(p, "p")
    a = as_matrix(x, "x")
    b = as_matrix(y, "y")
    if a.shape[1] != b.shape[1]:
        check_same_dim(a, b, f"x (samples {tuple(x.shape)})", f"y (samples {tuple(y.shape)})")
    if not isinstance(seed, int):
        raise ConfigError(f"seed must be an integer, got {seed!r}", hint="pass seed=0")
    gen = torch.Generator().manual_seed(seed)
    total = torch.zeros((), dtype=torch.float64)
    for start in range(0, n_projections, _DIRECTION_BLOCK):
        count = min(_DIRECTION_BLOCK, n_projections - start)
        theta = torch.randn(count, a.shape[1], generator=gen, dtype=torch.float64)
        theta = theta / theta.norm(dim=1, keepdim=True).clamp(min=1e-12)
        xs = torch.sort(a @ theta.T, dim=0).values
        ys = torch.sort(b @ theta.T, dim=0).values
        total = total + wasserstein_1d_pp(xs, ys, p).sum()
    return float((total / n_projections) ** (1.0 / p))
