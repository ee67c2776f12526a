"""The toy HQ metric against its closed form: for samples drawn from the true mixture, the distance
to a sample's own mode over the mode std is chi-distributed with 2 degrees of freedom, so the
fraction within ``n_std`` standard deviations is ``1 - exp(-n_std^2 / 2)`` (0.98889 at 3 std). The
modes are far apart relative to the std on both toys, so the nearest mode is the sample's own."""

from __future__ import annotations

import math

import pytest

from stablegan.data.toy import grid, ring
from stablegan.metrics.toy import mode_metrics

N = 40_000  # binomial standard error of the HQ fraction at 3 std: 5e-4


@pytest.mark.parametrize("source", [ring, grid], ids=["ring", "grid"])
@pytest.mark.parametrize("n_std", [1.0, 2.0, 3.0])
def test_true_mixture_hq_is_chi2_mass(source, n_std: float) -> None:
    data = source(0)
    x = data.reals(N, "holdout")
    out = mode_metrics(x, data.modes, data.mode_std, n_std=n_std)
    p = 1.0 - math.exp(-n_std ** 2 / 2)
    se = math.sqrt(p * (1 - p) / N)
    assert abs(out["hq_fraction"] - p) < 4 * se
    assert out["modes"] == data.modes.shape[0]
    assert out["reverse_kl"] < 0.01  # equal weights: the mode histogram is near uniform


def test_data_std_is_the_papers() -> None:
    """PacGAN: ring variance 1e-4 (std 0.01) on the unit circle, grid variance 0.0025 (std 0.05)
    at spacing 2; the metric's threshold is 3 std (0.03 on the ring, 0.15 on the grid)."""
    assert ring(0).mode_std == 0.01 and grid(0).mode_std == 0.05
    r = ring(0).reals(N, "train")
    assert float(r.norm(dim=1).mean()) == pytest.approx(1.0, abs=1e-3)
    assert float((r.norm(dim=1) - 1).std()) == pytest.approx(0.01, rel=0.03)
