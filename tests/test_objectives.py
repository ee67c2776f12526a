"""Objectives against closed-form values on hand-made scores."""

from __future__ import annotations

import math

import pytest
import torch

from stablegan.errors import ShapeError
from stablegan.objectives import Objective, feature_matching_loss

REAL = [2.0, -1.0, 0.5, 0.0]
FAKE = [-0.5, 1.5, 0.0, -3.0]


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def mean(xs) -> float:
    xs = list(xs)
    return sum(xs) / len(xs)


# Closed forms written out with the math module, independent of the implementation.
D_LOSS = {
    "minimax": mean(softplus(-s) for s in REAL) + mean(softplus(s) for s in FAKE),
    "nonsaturating": mean(softplus(-s) for s in REAL) + mean(softplus(s) for s in FAKE),
    "wasserstein": -mean(REAL) + mean(FAKE),
    "hinge": mean(max(0.0, 1 - s) for s in REAL) + mean(max(0.0, 1 + s) for s in FAKE),
    "least_squares": mean((s - 1) ** 2 / 2 for s in REAL) + mean(s**2 / 2 for s in FAKE),
}
G_PER_SAMPLE = {
    "minimax": [math.log(1 - 1 / (1 + math.exp(-s))) for s in FAKE],  # log(1 - sigma(s))
    "nonsaturating": [-math.log(1 / (1 + math.exp(-s))) for s in FAKE],  # -log sigma(s)
    "wasserstein": [-s for s in FAKE],
    "hinge": [-s for s in FAKE],
    "least_squares": [(s - 1) ** 2 / 2 for s in FAKE],
}
# the fake part of the D loss, per sample (for the weighted checks)
D_FAKE_PER_SAMPLE = {
    "minimax": [softplus(s) for s in FAKE],
    "nonsaturating": [softplus(s) for s in FAKE],
    "wasserstein": list(FAKE),
    "hinge": [max(0.0, 1 + s) for s in FAKE],
    "least_squares": [s**2 / 2 for s in FAKE],
}
LOSSES = list(D_LOSS)


def t(xs) -> torch.Tensor:
    return torch.tensor(xs, dtype=torch.float32)


@pytest.mark.parametrize("loss", LOSSES)
def test_d_loss_closed_form(loss):
    value = Objective(loss).d_loss(t(REAL), t(FAKE))
    assert value.dim() == 0
    assert float(value) == pytest.approx(D_LOSS[loss], rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("loss", LOSSES)
def test_g_loss_closed_form(loss):
    obj = Objective(loss)
    per = obj.g_per_sample(t(FAKE))
    assert per.shape == (4,)
    assert per.tolist() == pytest.approx(G_PER_SAMPLE[loss], rel=1e-6, abs=1e-6)
    assert float(obj.g_loss(t(FAKE))) == pytest.approx(mean(G_PER_SAMPLE[loss]), rel=1e-6,
                                                       abs=1e-6)


def test_minimax_and_nonsaturating_differ_only_in_the_generator():
    mm, ns = Objective("minimax"), Objective("nonsaturating")
    assert torch.equal(mm.d_loss(t(REAL), t(FAKE)), ns.d_loss(t(REAL), t(FAKE)))
    # the saturating loss has a vanishing gradient where D rejects fakes confidently
    s = torch.tensor([-8.0], requires_grad=True)
    (g_mm,) = torch.autograd.grad(mm.g_loss(s), s)
    (g_ns,) = torch.autograd.grad(ns.g_loss(s), s)
    assert abs(float(g_mm)) < 1e-3 < abs(float(g_ns))


@pytest.mark.parametrize("loss", LOSSES)
def test_d_loss_gradient_signs(loss):
    """Minimising the D loss raises real scores and lowers fake scores (where not saturated)."""
    real = torch.full((4,), 0.5, requires_grad=True)
    fake = torch.full((4,), 0.5, requires_grad=True)
    Objective(loss).d_loss(real, fake).backward()
    assert (real.grad < 0).all() and (fake.grad > 0).all()


@pytest.mark.parametrize("loss", LOSSES)
def test_unit_weights_equal_unweighted(loss):
    obj = Objective(loss)
    unweighted = obj.d_loss(t(REAL), t(FAKE))
    weighted = obj.d_loss(t(REAL), t(FAKE), torch.ones(4))
    assert torch.equal(unweighted, weighted)


@pytest.mark.parametrize("loss", LOSSES)
def test_weighted_fake_term_is_exact_weighted_mean(loss):
    w = [0.5, 2.0, 0.25, 1.25]  # sums to B = 4
    obj = Objective(loss)
    real_part = D_LOSS[loss] - mean(D_FAKE_PER_SAMPLE[loss])
    expected = real_part + sum(wi * li for wi, li in zip(w, D_FAKE_PER_SAMPLE[loss])) / 4
    got = obj.d_loss(t(REAL), t(FAKE), t(w))
    assert float(got) == pytest.approx(expected, rel=1e-6, abs=1e-6)
    # a weight of zero removes that fake entirely
    w0 = t([0.0, 4.0 / 3, 4.0 / 3, 4.0 / 3])
    original = obj.d_loss(t(REAL), t(FAKE), w0)
    moved = obj.d_loss(t(REAL), t([100.0] + FAKE[1:]), w0)
    assert float(original) == pytest.approx(float(moved), rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("loss", LOSSES)
def test_scores_of_shape_b1_equal_shape_b(loss):
    obj = Objective(loss)
    flat = obj.d_loss(t(REAL), t(FAKE))
    col = obj.d_loss(t(REAL).unsqueeze(1), t(FAKE).unsqueeze(1))
    assert torch.equal(flat, col)
    assert torch.equal(obj.g_loss(t(FAKE)), obj.g_loss(t(FAKE).unsqueeze(1)))


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize(
    ("real_shape", "fake_shape"),
    [((4, 2), (4,)), ((4,), (4, 2)), ((4, 1, 1), (4,)), ((), (4,)), ((4,), (2, 2)),
     ((4, 3), (4, 2))],
)
def test_wrong_score_shapes_raise_shape_error(loss, real_shape, fake_shape):
    obj = Objective(loss)
    with pytest.raises(ShapeError) as info:
        obj.d_loss(torch.zeros(real_shape), torch.zeros(fake_shape))
    assert "shape" in info.value.message and "(B,)" in info.value.message


@pytest.mark.parametrize("loss", LOSSES)
def test_generator_wrong_score_shape_raises_shape_error(loss):
    real = torch.zeros(4, 2, 1) if loss == "rsgan" else None
    with pytest.raises(ShapeError):
        Objective(loss).g_loss(torch.zeros(4, 2, 1), real)


@pytest.mark.parametrize("loss", LOSSES)
def test_k_scores_per_sample_average_over_all_scores(loss):
    """(B, K) scores (RelGAN's representations): each loss is the mean over the B * K scores,
    the same as for the B * K scores flattened to one sample each."""
    torch.manual_seed(0)
    real, fake = torch.randn(4, 3), torch.randn(4, 3)
    obj = Objective(loss)
    assert torch.allclose(obj.d_loss(real, fake), obj.d_loss(real.reshape(-1), fake.reshape(-1)))
    r = real if loss == "rsgan" else None
    rf = real.reshape(-1) if loss == "rsgan" else None
    assert torch.allclose(obj.g_loss(fake, r), obj.g_loss(fake.reshape(-1), rf))


def test_unknown_loss_is_an_error():
    with pytest.raises(ValueError):
        Objective("bogus").d_loss(t(REAL), t(FAKE))
    with pytest.raises(ValueError):
        Objective("bogus").g_loss(t(FAKE))


# ----------------------------------------------------------------------------- labels


def test_targets_without_smoothing_or_noise():
    obj = Objective("nonsaturating")
    assert torch.equal(obj.targets(5, True, torch.device("cpu")), torch.ones(5))
    assert torch.equal(obj.targets(5, False, torch.device("cpu")), torch.zeros(5))


def test_one_sided_label_smoothing_targets():
    obj = Objective("nonsaturating", label_smoothing=0.2)
    real_t = obj.targets(6, True, torch.device("cpu"))
    fake_t = obj.targets(6, False, torch.device("cpu"))
    assert torch.allclose(real_t, torch.full((6,), 0.8))
    assert torch.equal(fake_t, torch.zeros(6))  # one-sided: fakes stay at 0


def test_label_smoothing_changes_the_real_term_to_bce_with_soft_target():
    a = 0.2
    obj = Objective("minimax", label_smoothing=a)
    sig = [1 / (1 + math.exp(-s)) for s in REAL]
    real_term = mean(-((1 - a) * math.log(p) + a * math.log(1 - p)) for p in sig)
    expected = real_term + mean(softplus(s) for s in FAKE)
    assert float(obj.d_loss(t(REAL), t(FAKE))) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("real", [True, False])
def test_flip_noise_rate_is_p(real):
    p, n = 0.2, 20000
    obj = Objective("nonsaturating", label_noise=p, label_noise_mode="flip")
    torch.manual_seed(0)
    targets = obj.targets(n, real, torch.device("cpu"))
    clean, flipped = (1.0, 0.0) if real else (0.0, 1.0)
    assert set(targets.unique().tolist()) == {clean, flipped}
    rate = float((targets == flipped).float().mean())
    # binomial std sqrt(p(1-p)/n) = 0.0028: +-0.012 is over 4 sigma
    assert abs(rate - p) < 0.012
    # a different draw flips different samples
    assert not torch.equal(targets, obj.targets(n, real, torch.device("cpu")))


def test_flip_noise_with_smoothing_keeps_smoothed_value():
    obj = Objective("nonsaturating", label_smoothing=0.1, label_noise=0.3)
    torch.manual_seed(1)
    values = obj.targets(2000, True, torch.device("cpu")).unique().tolist()
    assert values == [0.0, pytest.approx(0.9)]


@pytest.mark.parametrize("real", [True, False])
def test_uniform_jitter_bounds(real):
    p, n = 0.3, 20000
    obj = Objective("nonsaturating", label_noise=p, label_noise_mode="uniform")
    torch.manual_seed(0)
    targets = obj.targets(n, real, torch.device("cpu"))
    if real:  # pushed down towards the fake class, within [1 - p, 1]
        assert float(targets.min()) >= 1 - p and float(targets.max()) <= 1.0
        assert float(targets.mean()) == pytest.approx(1 - p / 2, abs=0.01)
    else:  # pushed up towards the real class, within [0, p]
        assert float(targets.min()) >= 0.0 and float(targets.max()) <= p
        assert float(targets.mean()) == pytest.approx(p / 2, abs=0.01)
    assert targets.unique().numel() > n // 2  # continuous, not a few values
    # the whole width is used
    assert float(targets.max() - targets.min()) > 0.95 * p


def test_noisy_labels_change_the_d_loss_and_are_seeded():
    clean = Objective("nonsaturating")
    noisy = Objective("nonsaturating", label_noise=0.4)
    real, fake = torch.randn(64), torch.randn(64)
    torch.manual_seed(3)
    a = noisy.d_loss(real, fake)
    torch.manual_seed(3)
    b = noisy.d_loss(real, fake)
    assert torch.equal(a, b)
    assert not torch.isclose(a, clean.d_loss(real, fake))


# ----------------------------------------------------------------------------- feature matching


def test_feature_matching_closed_form_and_gradient():
    real = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    fake = torch.tensor([[0.0, 0.0], [2.0, 1.0]], requires_grad=True)
    loss = feature_matching_loss(real, fake)
    # means (2, 3) and (1, 0.5): (1)^2 + (2.5)^2
    assert loss.item() == pytest.approx(1.0 + 6.25)
    loss.backward()
    assert real.grad is None  # real features are a fixed target
    # d/dfake_i = -2 (mu_r - mu_f) / B
    expected = torch.tensor([[-1.0, -2.5], [-1.0, -2.5]])
    assert torch.allclose(fake.grad, expected)
    assert float(feature_matching_loss(real, real.detach().clone())) == 0.0


@pytest.mark.parametrize("loss", LOSSES)
def test_column_weights_are_per_sample_weights(loss):
    """Weights (B, 1) must not broadcast against scores (B,) into a (B, B) mean."""
    obj = Objective(loss)
    w = t([0.0, 0.0, 0.0, 4.0])
    flat = obj.d_loss(t(REAL), t(FAKE), w)
    assert torch.equal(obj.d_loss(t(REAL), t(FAKE), w.unsqueeze(1)), flat)
    assert not torch.isclose(flat, obj.d_loss(t(REAL), t(FAKE)))


def test_weights_of_the_wrong_length_are_a_shape_error():
    with pytest.raises(ShapeError) as info:
        Objective("wasserstein").d_loss(t(REAL), t(FAKE), torch.ones(3))
    assert "weights" in info.value.message
