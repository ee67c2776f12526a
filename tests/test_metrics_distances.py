"""FID, KID, IS and SWD: closed forms, references and bad inputs."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.linalg
import scipy.stats
import torch

from stablegan.errors import ConfigError, DataError, ShapeError, StableganError
from stablegan.metrics import (
    fid_from_features,
    frechet_distance,
    inception_score_from_logits,
    kid_from_features,
    sliced_wasserstein,
)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _scipy_fid(f1: np.ndarray, f2: np.ndarray) -> float:
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


# ------------------------------------------------------------------------------------ FID


def test_frechet_identical_gaussians_is_zero():
    g = _gen(0)
    a = torch.randn(40, 40, generator=g, dtype=torch.float64)
    sigma = a @ a.T / 40 + 0.1 * torch.eye(40, dtype=torch.float64)
    mu = torch.randn(40, generator=g, dtype=torch.float64)
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-9)


def test_frechet_matches_closed_form_for_commuting_covariances():
    # S1 = Q diag(a) Q^T, S2 = Q diag(b) Q^T: d^2 = |mu1 - mu2|^2 + sum (sqrt(a) - sqrt(b))^2
    g = _gen(1)
    d = 12
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    a = torch.rand(d, generator=g, dtype=torch.float64) * 3 + 0.1
    b = torch.rand(d, generator=g, dtype=torch.float64) * 3 + 0.1
    mu1 = torch.randn(d, generator=g, dtype=torch.float64)
    mu2 = torch.randn(d, generator=g, dtype=torch.float64)
    s1, s2 = q @ torch.diag(a) @ q.T, q @ torch.diag(b) @ q.T
    expected = float(((mu1 - mu2) ** 2).sum() + ((a.sqrt() - b.sqrt()) ** 2).sum())
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-10)


def test_frechet_one_dimensional_closed_form():
    # N(1, 4) vs N(-2, 9): (1 + 2)^2 + (2 - 3)^2 = 10
    value = frechet_distance(np.array([1.0]), np.array([[4.0]]),
                             np.array([-2.0]), np.array([[9.0]]))
    assert value == pytest.approx(10.0, rel=1e-12)


@pytest.mark.parametrize(("n", "d", "seed"), [(300, 16, 0), (500, 64, 1), (400, 128, 2)])
def test_fid_matches_scipy_sqrtm_reference(n, d, seed):
    g = _gen(seed)
    mix = torch.randn(d, d, generator=g, dtype=torch.float64) / math.sqrt(d)
    f1 = torch.randn(n, d, generator=g, dtype=torch.float64) @ mix
    f2 = torch.randn(n + 17, d, generator=g, dtype=torch.float64) * 1.3 + 0.2
    ours = fid_from_features(f1, f2)
    ref = _scipy_fid(f1.numpy(), f2.numpy())
    assert ours == pytest.approx(ref, rel=1e-6)


def test_fid_of_samples_from_the_same_gaussian_is_small_and_shift_adds_its_square():
    g = _gen(3)
    f1 = torch.randn(4000, 4, generator=g, dtype=torch.float64)
    f2 = torch.randn(4000, 4, generator=g, dtype=torch.float64)
    same = fid_from_features(f1, f2)
    shifted = fid_from_features(f1, f2 + 2.0)
    assert same < 0.02
    # the covariances are unchanged; |delta + c|^2 - |delta|^2 = 2 delta.c + |c|^2, |c|^2 = 16
    delta = f2.mean(0) - f1.mean(0)
    assert shifted - same == pytest.approx(16.0 + 4.0 * float(delta.sum()), rel=1e-9)


def test_fid_warns_when_covariance_is_rank_deficient():
    g = _gen(4)
    f1 = torch.randn(10, 20, generator=g)
    f2 = torch.randn(12, 20, generator=g)
    with pytest.warns(RuntimeWarning, match="rank-deficient"):
        fid_from_features(f1, f2)


def test_fid_bad_inputs_raise():
    x = torch.randn(10, 3)
    with pytest.raises(ShapeError, match=r"\(10, 3\).*\(10, 4\)"):
        fid_from_features(x, torch.randn(10, 4))
    with pytest.raises(DataError, match="at least 2"):
        fid_from_features(x[:1], x)
    bad = x.clone()
    bad[2, 1] = float("nan")
    with pytest.raises(DataError, match="NaN"):
        fid_from_features(bad, x)
    with pytest.raises(DataError, match="do not match"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))
    with pytest.raises(DataError):
        frechet_distance(np.zeros(2), np.full((2, 2), np.inf), np.zeros(2), np.eye(2))


# ------------------------------------------------------------------------------------ KID


def _direct_kid(f1, f2, subsets, size, seed, degree=3, coef0=1.0):
    """The KID estimator written out from the paper's unbiased MMD formula."""
    x_all, y_all = f1.numpy().astype(np.float64), f2.numpy().astype(np.float64)
    gamma = 1.0 / x_all.shape[1]
    rng = np.random.RandomState(seed)
    vals = []
    for _ in range(subsets):
        x = x_all[rng.choice(len(x_all), size, replace=False)]
        y = y_all[rng.choice(len(y_all), size, replace=False)]
        total = 0.0
        for i in range(size):
            for j in range(size):
                if i != j:
                    total += ((x[i] @ x[j] * gamma + coef0) ** degree
                              + (y[i] @ y[j] * gamma + coef0) ** degree) / (size * (size - 1))
                total -= 2 * (x[i] @ y[j] * gamma + coef0) ** degree / size**2
        vals.append(total)
    return float(np.mean(vals)), float(np.std(vals))


def test_kid_matches_direct_formula():
    g = _gen(5)
    f1 = torch.randn(40, 6, generator=g, dtype=torch.float64)
    f2 = torch.randn(35, 6, generator=g, dtype=torch.float64) + 0.4
    mean, std = kid_from_features(f1, f2, subsets=4, subset_size=12, seed=7)
    ref_mean, ref_std = _direct_kid(f1, f2, 4, 12, 7)
    assert mean == pytest.approx(ref_mean, rel=1e-10)
    assert std == pytest.approx(ref_std, rel=1e-10)


def test_kid_with_whole_sets_as_the_subset():
    g = _gen(13)
    f1 = torch.randn(15, 3, generator=g, dtype=torch.float64)
    f2 = torch.randn(15, 3, generator=g, dtype=torch.float64) * 2
    mean, std = kid_from_features(f1, f2, subsets=3, subset_size=15)
    ref_mean, ref_std = _direct_kid(f1, f2, 3, 15, 0)
    assert mean == pytest.approx(ref_mean, rel=1e-10)
    assert std == 0.0 and ref_std == pytest.approx(0.0, abs=1e-12)


def test_kid_near_zero_for_same_distribution_and_larger_for_shift():
    g = _gen(6)
    f1 = torch.randn(600, 8, generator=g)
    f2 = torch.randn(600, 8, generator=g)
    same, same_std = kid_from_features(f1, f2, subsets=20, subset_size=200)
    shifted, _ = kid_from_features(f1, f2 + 1.0, subsets=20, subset_size=200)
    assert abs(same) < 3 * same_std + 1e-3
    assert shifted > 20 * max(abs(same), same_std)


def test_kid_bad_inputs_raise():
    x = torch.randn(50, 4)
    with pytest.raises(DataError, match="subset_size 100 is larger"):
        kid_from_features(x, x, subset_size=100)
    with pytest.raises(ConfigError, match="subset_size"):
        kid_from_features(x, x, subset_size=1)
    with pytest.raises(ShapeError):
        kid_from_features(x, torch.randn(50, 5), subset_size=10)


# ------------------------------------------------------------------------------------ IS


def test_inception_score_closed_forms():
    # constant logits: p(y|x) = p(y) -> IS = 1
    assert inception_score_from_logits(torch.zeros(100, 7))[0] == pytest.approx(1.0, abs=1e-12)
    # confident, class-balanced splits: KL = log K -> IS = K
    labels = torch.arange(1000) % 10
    logits = 60.0 * torch.nn.functional.one_hot(labels, 10).double()
    mean, std = inception_score_from_logits(logits, splits=10, shuffle=False)
    assert mean == pytest.approx(10.0, rel=1e-9)
    assert std == pytest.approx(0.0, abs=1e-9)


def test_inception_score_bad_inputs_raise():
    with pytest.raises(DataError, match="at least 10"):
        inception_score_from_logits(torch.randn(5, 3))
    with pytest.raises(ConfigError):
        inception_score_from_logits(torch.randn(20, 3), splits=0)


# ------------------------------------------------------------------------------------ SWD


def test_swd_is_zero_for_identical_sets_and_for_duplicated_sets():
    x = torch.randn(64, 3, 4, 4, generator=_gen(7))
    assert sliced_wasserstein(x, x) == 0.0
    # the same empirical distribution with every sample twice: unequal sizes, distance 0
    assert sliced_wasserstein(x, torch.cat([x, x])) == pytest.approx(0.0, abs=1e-12)


def test_swd_is_positive_and_monotone_in_the_shift():
    x = torch.randn(256, 10, generator=_gen(8))
    values = [sliced_wasserstein(x, x + s, n_projections=64) for s in (0.1, 0.5, 1.0, 2.0)]
    assert values[0] > 0
    assert all(a < b for a, b in itertools.pairwise(values))


def test_swd_of_a_shift_matches_its_expected_projection():
    # W_2 along theta of a shift s is |theta . s|; E (theta . s)^2 = |s|^2 / D on the sphere
    d = 16
    x = torch.randn(100, d, generator=_gen(9))
    s = torch.full((d,), 0.5)
    value = sliced_wasserstein(x, x + s, n_projections=4000)
    assert value == pytest.approx(float(s.norm()) / math.sqrt(d), rel=0.05)


def test_swd_unequal_sizes_exact_one_dimensional():
    # 1-D: every direction is +-1, so SW_p = W_p. {0, 1} vs {0, .5, 1}: W_2^2 = .25 / 3
    x = torch.tensor([[0.0], [1.0]])
    y = torch.tensor([[0.0], [0.5], [1.0]])
    expected = math.sqrt(0.25 / 3)
    assert sliced_wasserstein(x, y, n_projections=3) == pytest.approx(expected, rel=1e-12)
    g = _gen(10)
    a = torch.randn(37, 1, generator=g, dtype=torch.float64)
    b = torch.randn(53, 1, generator=g, dtype=torch.float64) * 2 + 1
    ref = scipy.stats.wasserstein_distance(a[:, 0].numpy(), b[:, 0].numpy())
    assert sliced_wasserstein(a, b, n_projections=5, p=1) == pytest.approx(ref, rel=1e-10)


def test_swd_is_seeded():
    x = torch.randn(50, 8, generator=_gen(11))
    y = torch.randn(60, 8, generator=_gen(12))
    assert sliced_wasserstein(x, y, seed=3) == sliced_wasserstein(x, y, seed=3)
    assert sliced_wasserstein(x, y, seed=3) != sliced_wasserstein(x, y, seed=4)


def test_swd_bad_inputs_raise():
    with pytest.raises(ShapeError, match=r"\(5, 3, 4, 4\).*\(5, 1, 4, 4\)"):
        sliced_wasserstein(torch.randn(5, 3, 4, 4), torch.randn(5, 1, 4, 4))
    with pytest.raises(ConfigError):
        sliced_wasserstein(torch.randn(5, 2), torch.randn(5, 2), n_projections=0)
    with pytest.raises(DataError, match="inf"):
        sliced_wasserstein(torch.tensor([[float("inf")]]), torch.zeros(2, 1))
    with pytest.raises(StableganError):
        sliced_wasserstein(torch.zeros(0, 2), torch.zeros(2, 2))
