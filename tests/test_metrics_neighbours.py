"""PRDC, memorisation, class coverage and toy mode metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from stablegan.errors import ConfigError, DataError, ShapeError
from stablegan.metrics import (
    class_coverage,
    class_histogram,
    histogram_kl,
    memorisation,
    mode_metrics,
    near_duplicate_threshold,
    prdc,
    save_nearest_pairs_png,
)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------------- PRDC


def _paper_prdc(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    """Kynkäänniemi et al. 2019 / Naeem et al. 2020 written out with explicit loops."""
    def kth_radius(x):
        d = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
        return np.array([np.sort(np.delete(row, i))[k - 1] for i, row in enumerate(d)])

    r_real, r_fake = kth_radius(real), kth_radius(fake)
    d = np.sqrt(((real[:, None, :] - fake[None, :, :]) ** 2).sum(-1))  # (N, M)
    n, m = d.shape
    precision = np.mean([any(d[i, j] < r_real[i] for i in range(n)) for j in range(m)])
    recall = np.mean([any(d[i, j] < r_fake[j] for j in range(m)) for i in range(n)])
    density = np.mean([sum(d[i, j] < r_real[i] for i in range(n)) for j in range(m)]) / k
    coverage = np.mean([d[i].min() < r_real[i] for i in range(n)])
    return {"precision": precision, "recall": recall, "density": density, "coverage": coverage}


@pytest.mark.parametrize("k", [1, 3, 5])
def test_prdc_matches_paper_formulas(k):
    g = _gen(k)
    real = torch.randn(60, 4, generator=g, dtype=torch.float64)
    fake = torch.randn(45, 4, generator=g, dtype=torch.float64) * 1.3 + 0.4
    ours = prdc(real, fake, k, chunk_size=16)
    ref = _paper_prdc(real.numpy(), fake.numpy(), k)
    for key in ref:
        assert ours[key] == pytest.approx(ref[key], abs=1e-12), key


@pytest.mark.slow
def test_prdc_matches_prdc_package(capsys):
    prdc_pkg = pytest.importorskip("prdc")
    g = _gen(10)
    real = torch.randn(500, 16, generator=g, dtype=torch.float64)
    fake = torch.randn(400, 16, generator=g, dtype=torch.float64) * 0.9 + 0.2
    ref = prdc_pkg.compute_prdc(real.numpy(), fake.numpy(), nearest_k=5)
    capsys.readouterr()  # compute_prdc prints the sample counts
    ours = prdc(real, fake, 5, chunk_size=128)
    for key in ("precision", "recall", "density", "coverage"):
        assert ours[key] == pytest.approx(float(ref[key]), abs=1e-12), key


def test_prdc_chunking_does_not_change_results():
    g = _gen(11)
    real = torch.randn(300, 8, generator=g)
    fake = torch.randn(257, 8, generator=g) + 0.3
    assert prdc(real, fake, 4, chunk_size=7) == prdc(real, fake, 4, chunk_size=4096)


def test_prdc_identical_sets_have_full_precision_recall_coverage():
    x = torch.randn(200, 5, generator=_gen(12))
    vals = prdc(x, x.clone(), 3)
    assert vals["precision"] == vals["recall"] == vals["coverage"] == 1.0
    far = prdc(x, x + 100.0, 3)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_prdc_bad_inputs_raise():
    x = torch.randn(20, 3)
    with pytest.raises(DataError, match=r"fake features has 5 sample\(s\) but at least 6"):
        prdc(x, x[:5], k=5)
    with pytest.raises(ShapeError, match=r"\(20, 2\).*\(20, 3\)"):
        prdc(x, x[:, :2], k=2)
    with pytest.raises(ConfigError):
        prdc(x, x, k=0)


# ---------------------------------------------------------------------------- memorisation


def test_memorisation_catches_exact_copies():
    g = _gen(20)
    train = torch.randn(300, 1, 6, 6, generator=g)
    copied = torch.tensor([5, 17, 42, 99, 250])
    fresh = torch.randn(15, 1, 6, 6, generator=g)
    fakes = torch.cat([train[copied], fresh])
    res = memorisation(fakes, train)
    assert torch.equal(res.indices[:5], copied)
    assert torch.all(res.distances[:5] == 0)
    assert torch.all(res.distances[5:] > res.threshold)
    assert res.near_duplicate_fraction == pytest.approx(5 / 20)
    assert memorisation(fakes, train, threshold=0.0).near_duplicate_fraction == 0.25


def test_default_threshold_is_first_percentile_of_train_nn_distances():
    train = torch.randn(120, 7, generator=_gen(21), dtype=torch.float64)
    d = torch.cdist(train, train)
    d.fill_diagonal_(float("inf"))
    expected = np.percentile(d.min(dim=1).values.numpy(), 1.0)
    assert near_duplicate_threshold(train) == pytest.approx(expected, rel=1e-12)
    assert near_duplicate_threshold(train, 50.0) == pytest.approx(
        np.percentile(d.min(dim=1).values.numpy(), 50.0), rel=1e-12)
    # a duplicated training point has a nearest-neighbour distance of exactly 0
    dup = torch.cat([train, train[:1]])
    assert near_duplicate_threshold(dup, 0.0) == 0.0


def test_memorisation_bad_inputs_raise():
    with pytest.raises(ShapeError):
        memorisation(torch.randn(4, 3), torch.randn(10, 4))
    with pytest.raises(DataError, match="at least 2"):
        memorisation(torch.randn(4, 3), torch.randn(1, 3))
    with pytest.raises(ConfigError):
        memorisation(torch.randn(4, 3), torch.randn(10, 3), percentile=150)
    with pytest.raises(ConfigError):
        memorisation(torch.randn(4, 3), torch.randn(10, 3), threshold=-1.0)


@pytest.mark.slow
def test_save_nearest_pairs_png(tmp_path):
    g = _gen(22)
    train = torch.rand(40, 3, 8, 8, generator=g)
    fakes = torch.cat([train[:2], torch.rand(10, 3, 8, 8, generator=g)])
    out = save_nearest_pairs_png(fakes, train, tmp_path / "sub" / "pairs.png", k=4)
    with Image.open(out) as img:
        assert img.format == "PNG" and img.size[0] > img.size[1] > 50
    gray = save_nearest_pairs_png(fakes[:, :1], train[:, :1], tmp_path / "g.png", k=20)
    assert gray.stat().st_size > 0
    feats = save_nearest_pairs_png(fakes, train, tmp_path / "f.png", k=2,
                                   fake_features=fakes.mean(dim=(2, 3)),
                                   train_features=train.mean(dim=(2, 3)))
    assert feats.is_file()
    with pytest.raises(DataError, match="not an image batch"):
        save_nearest_pairs_png(torch.randn(5, 4), torch.randn(5, 4), tmp_path / "x.png")
    with pytest.raises(ConfigError):
        save_nearest_pairs_png(fakes, train, tmp_path / "y.png", fake_features=fakes)


# ------------------------------------------------------------------------- class coverage


def test_class_histogram_and_coverage_hand_made():
    assert class_histogram(torch.tensor([0, 2, 2, 3]), 5).tolist() == [1, 0, 2, 1, 0]
    fake = torch.tensor([0, 0, 1, 1])
    real = torch.tensor([0, 1, 2, 3])
    out = class_coverage(fake, real, num_classes=4)
    assert out["covered"] == 2 and out["num_classes"] == 4
    assert out["kl"] == pytest.approx(math.log(2), rel=1e-12)  # uniform data: smoothing is exact
    assert out["max_kl"] == pytest.approx(math.log(4))
    assert class_coverage(fake, real, 4, min_count=3)["covered"] == 0
    assert class_coverage(real, real, 4)["kl"] == pytest.approx(0.0, abs=1e-12)


def test_class_kl_smooths_classes_the_data_lacks():
    eps = 1e-6
    fake = torch.tensor([0, 2])  # q = (.5, 0, .5, 0)
    real = torch.tensor([0, 0, 1, 1])  # p = (.5, .5, 0, 0)
    p0, p2 = (0.5 + eps) / (1 + 4 * eps), eps / (1 + 4 * eps)
    expected = 0.5 * math.log(0.5 / p0) + 0.5 * math.log(0.5 / p2)
    assert class_coverage(fake, real, 4, eps=eps)["kl"] == pytest.approx(expected, rel=1e-12)
    assert histogram_kl(torch.tensor([3, 1]), None) == pytest.approx(
        0.75 * math.log(1.5) + 0.25 * math.log(0.5), rel=1e-12)


def test_class_coverage_bad_inputs_raise():
    with pytest.raises(DataError, match="integer"):
        class_coverage(torch.tensor([0.5, 1.0]))
    with pytest.raises(DataError, match="outside"):
        class_coverage(torch.tensor([0, 4]), num_classes=3)
    with pytest.raises(ConfigError):
        class_coverage(torch.tensor([0, 1]), min_count=0)
    with pytest.raises(ConfigError):
        histogram_kl(torch.tensor([1, 1]), eps=0.0)


# ------------------------------------------------------------------------------ toy modes


def test_mode_metrics_hand_made():
    modes = torch.tensor([[2.0, 0.0], [0.0, 2.0], [-2.0, 0.0], [0.0, -2.0]])
    samples = torch.tensor([
        [2.1, 0.0], [1.9, 0.0], [2.0, 0.1],  # 3 HQ at mode 0
        [0.0, 2.29],  # HQ at mode 1 (0.29 <= 3 * 0.1)
        [-2.31, 0.0],  # nearest mode 2 but 0.31 > 0.3: not HQ
        [0.0, 0.0],  # far from every mode
    ])
    out = mode_metrics(samples, modes, std=0.1)
    assert out["modes"] == 2
    assert out["hq_fraction"] == pytest.approx(4 / 6)
    assert out["reverse_kl"] == pytest.approx(0.75 * math.log(0.75 * 4) + 0.25 * math.log(1.0))


def test_mode_metrics_extremes():
    modes = torch.tensor([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]])
    balanced = modes.repeat(10, 1)
    assert mode_metrics(balanced, modes, 0.05) == {"modes": 3, "hq_fraction": 1.0,
                                                  "reverse_kl": pytest.approx(0.0, abs=1e-12)}
    collapsed = modes[:1].repeat(7, 1)
    assert mode_metrics(collapsed, modes, 0.05)["reverse_kl"] == pytest.approx(math.log(3))
    none = torch.full((5, 2), 100.0)
    assert mode_metrics(none, modes, 0.05) == {"modes": 0, "hq_fraction": 0.0,
                                              "reverse_kl": pytest.approx(math.log(3))}


def test_mode_metrics_bad_inputs_raise():
    modes = torch.zeros(3, 2)
    with pytest.raises(ShapeError):
        mode_metrics(torch.zeros(5, 3), modes, 0.1)
    with pytest.raises(ConfigError):
        mode_metrics(torch.zeros(5, 2), modes, 0.0)
    with pytest.raises(DataError, match="NaN"):
        mode_metrics(torch.tensor([[float("nan"), 0.0]]), modes, 0.1)
