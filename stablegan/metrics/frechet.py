"""Feature-distribution distances: FID (Heusel et al. 2017), KID (Binkowski et al. 2018), IS.

FID, KID and IS follow torch-fidelity 0.4.0 (``metric_fid.py``, ``metric_kid.py``,
``metric_isc.py``): the same covariance estimator, the same unbiased polynomial-kernel MMD with
the same ``numpy.random.RandomState`` subset draws, and the same shuffled splits for IS. All sums
here run in float64, so with float32 features the results can differ from torch-fidelity's
float32 kernels in the last few digits.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from torch import Tensor

from stablegan.errors import DataError
from stablegan.metrics._checks import (
    as_matrix,
    check_min_samples,
    check_positive_int,
    check_same_dim,
)


def _as_float64(x: Any, name: str) -> Tensor:
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, Tensor) else x.detach().cpu())
    t = t.to(torch.float64)
    if not torch.isfinite(t).all():
        raise DataError(f"{name} contains NaN/inf values",
                        hint="recompute the statistics from finite features")
    return t


def _sqrtm_psd(a: Tensor) -> Tensor:
    """``A^{1/2} = V diag(sqrt(max(w, 0))) V^T`` where ``A = V diag(w) V^T`` (symmetric A)."""
    w, v = torch.linalg.eigh((a + a.T) / 2)
    return (v * w.clamp(min=0).sqrt()) @ v.T


def frechet_distance(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any) -> float:
    """Fréchet distance between ``N(mu1, sigma1)`` and ``N(mu2, sigma2)``.

    ``d^2 = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1^{1/2} S2 S1^{1/2})^{1/2})``

    ``S1^{1/2} S2 S1^{1/2}`` is symmetric positive semi-definite and similar to ``S1 S2``, so its
    eigenvalues (clipped at 0) give ``tr sqrtm(S1 S2)`` without the complex round-off of a general
    matrix square root. Computed in float64; the result is clipped at 0 (its true value is >= 0).
    """
    m1, m2 = _as_float64(mu1, "mu1"), _as_float64(mu2, "mu2")
    s1, s2 = _as_float64(sigma1, "sigma1"), _as_float64(sigma2, "sigma2")
    d = m1.shape[0] if m1.dim() == 1 else -1
    shapes_ok = (
        m1.dim() == 1 and m1.shape == m2.shape and s1.shape == (d, d) and s2.shape == (d, d)
    )
    if not shapes_ok:
        raise DataError(
            f"Gaussian statistics do not match: mu1 {tuple(m1.shape)}, sigma1 {tuple(s1.shape)}, "
            f"mu2 {tuple(m2.shape)}, sigma2 {tuple(s2.shape)}",
            hint="pass means of shape (D,) and covariances of shape (D, D) from the same features",
        )
    root1 = _sqrtm_psd(s1)
    middle = root1 @ s2 @ root1
    eig = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0)
    diff = m1 - m2
    value = diff @ diff + torch.trace(s1) + torch.trace(s2) - 2 * eig.sqrt().sum()
    return max(float(value), 0.0)


def rank_deficiency_note(n: int, dim: int) -> str | None:
    """A warning text when ``n`` samples cannot give a full-rank ``dim x dim`` covariance."""
    if n > dim:
        return None
    return (f"{n} samples <= {dim} feature dimensions: the covariance is rank-deficient and FID "
            "is strongly biased; use more samples or lower-dimensional features")


def feature_statistics(features: Tensor, name: str = "features") -> tuple[Tensor, Tensor]:
    """``mu = mean_i f_i`` and ``sigma = sum_i (f_i - mu)(f_i - mu)^T / (N - 1)`` in float64."""
    f = as_matrix(features, name)
    check_min_samples(f.shape[0], 2, name, "a covariance needs at least 2 samples")
    mu = f.mean(dim=0)
    centred = f - mu
    return mu, centred.T @ centred / (f.shape[0] - 1)


def fid_from_features(f1: Tensor, f2: Tensor, *, warn: bool = True) -> float:
    """FID between two feature sets: :func:`frechet_distance` of their means and covariances."""
    a, b = as_matrix(f1, "features 1"), as_matrix(f2, "features 2")
    check_same_dim(a, b, "features 1", "features 2")
    check_min_samples(a.shape[0], 2, "features 1", "a covariance needs at least 2 samples")
    check_min_samples(b.shape[0], 2, "features 2", "a covariance needs at least 2 samples")
    if warn:
        for n in (a.shape[0], b.shape[0]):
            note = rank_deficiency_note(n, a.shape[1])
            if note:
                warnings.warn(note, RuntimeWarning, stacklevel=2)
                break
    mu1, s1 = feature_statistics(a, "features 1")
    mu2, s2 = feature_statistics(b, "features 2")
    return frechet_distance(mu1, s1, mu2, s2)


def _polynomial_mmd2(
    x: np.ndarray, y: np.ndarray, degree: int, gamma: float, coef0: float
) -> float:
    """Unbiased MMD^2 with the polynomial kernel ``k(a, b) = (gamma a.b + coef0)^degree``.

    ``MMD^2 = sum_{i!=j} (k(x_i,x_j) + k(y_i,y_j)) / (m(m-1)) - 2 sum_{i,j} k(x_i,y_j) / m^2``
    """
    m = x.shape[0]
    kxx = (x @ x.T * gamma + coef0) ** degree
    kyy = (y @ y.T * gamma + coef0) ** degree
    kxy = (x @ y.T * gamma + coef0) ** degree
    within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(within - 2 * kxy.sum() / (m * m))


def kid_from_features(
    f1: Tensor,
    f2: Tensor,
    subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    gamma: float | None = None,
    coef0: float = 1,
    seed: int = 0,
) -> tuple[float, float]:
    """KID: mean and (population) std over ``subsets`` of the unbiased polynomial MMD^2.

    For each subset, ``subset_size`` rows are drawn without replacement from ``f1`` and then from
    ``f2`` with one ``numpy.random.RandomState(seed)``, as torch-fidelity does;
    ``gamma = 1 / D`` when ``None``. When ``subset_size`` equals both set sizes every subset is
    the whole data, so MMD^2 is computed once and the std is 0.
    """
    a, b = as_matrix(f1, "features 1"), as_matrix(f2, "features 2")
    check_same_dim(a, b, "features 1", "features 2")
    subsets = check_positive_int(subsets, "subsets")
    subset_size = check_positive_int(subset_size, "subset_size", minimum=2)
    degree = check_positive_int(degree, "degree")
    n1, n2 = a.shape[0], b.shape[0]
    if min(n1, n2) < subset_size:
        raise DataError(
            f"KID subset_size {subset_size} is larger than the number of samples "
            f"(features 1: {n1}, features 2: {n2})",
            hint=f"pass subset_size <= {min(n1, n2)} (KID needs >= 2 samples per subset) "
                 "or more samples",
        )
    x, y = a.numpy(), b.numpy()
    g = 1.0 / x.shape[1] if gamma is None else float(gamma)
    if subset_size == n1 == n2:  # every subset is a permutation of both sets: MMD^2 is invariant
        return _polynomial_mmd2(x, y, degree, g, float(coef0)), 0.0
    rng = np.random.RandomState(seed)
    mmds = np.zeros(subsets)
    for i in range(subsets):
        xs = x[rng.choice(n1, subset_size, replace=False)]
        ys = y[rng.choice(n2, subset_size, replace=False)]
        mmds[i] = _polynomial_mmd2(xs, ys, degree, g, float(coef0))
    return float(np.mean(mmds)), float(np.std(mmds))


def inception_score_from_logits(
    logits: Tensor, splits: int = 10, *, shuffle: bool = True, seed: int = 2020
) -> tuple[float, float]:
    """IS: mean and std over ``splits`` of ``exp(mean_i KL(p(y|x_i) || p(y)))``.

    ``p(y|x) = softmax(logits)``, ``p(y)`` is the mean of ``p(y|x)`` within each split; rows are
    first permuted with ``numpy.random.RandomState(seed)`` when ``shuffle`` (torch-fidelity's
    defaults: ``shuffle=True, seed=2020``). Split ``i`` holds rows ``[i N // s, (i+1) N // s)``.
    """
    z = as_matrix(logits, "logits")
    splits = check_positive_int(splits, "splits")
    check_min_samples(z.shape[0], splits, "logits", f"each of the {splits} splits needs a sample")
    n = z.shape[0]
    if shuffle:
        z = z[torch.from_numpy(np.random.RandomState(seed).permutation(n))]
    p = z.softmax(dim=1)
    log_p = z.log_softmax(dim=1)
    scores = []
    for i in range(splits):
        lo, hi = i * n // splits, (i + 1) * n // splits
        p_chunk, log_p_chunk = p[lo:hi], log_p[lo:hi]
        q = p_chunk.mean(dim=0, keepdim=True)
        kl = (p_chunk * (log_p_chunk - q.log())).sum(dim=1).mean()
        scores.append(float(kl.exp()))
    return float(np.mean(scores)), float(np.std(scores))
