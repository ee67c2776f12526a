"""Variational pieces of PPO-GAN: importance weights, ratios, advantages, clipped surrogate."""

from __future__ import annotations

import math

import pytest
import torch

from stablegan.variational import (
    advantage,
    binary_accuracy,
    classifier_log_ratio,
    clip_binds,
    clipped_surrogate,
    effective_sample_size,
    exact_log_ratio,
    importance_weights,
    ratio_statistics,
)

EPS = 0.2

# ----------------------------------------------------------------------------- importance weights


def test_importance_weights_nonnegative_sum_to_b_and_detached():
    torch.manual_seed(0)
    scores = torch.randn(32, requires_grad=True)
    w = importance_weights(scores)
    assert w.shape == (32,)
    assert not w.requires_grad and w.grad_fn is None
    assert bool((w >= 0).all())
    assert float(w.sum()) == pytest.approx(32.0, rel=1e-5)
    # larger critic value -> larger weight (monotone)
    order = torch.argsort(scores.detach())
    assert bool((w[order].diff() >= 0).all())


def test_importance_weights_closed_form_and_temperature():
    s = torch.tensor([0.0, math.log(3.0)])
    # softmax = (1/4, 3/4), times B = 2
    assert importance_weights(s).tolist() == pytest.approx([0.5, 1.5])
    # T = 0.5 doubles the scores: softmax (1/10, 9/10)
    assert importance_weights(s, temperature=0.5).tolist() == pytest.approx([0.2, 1.8])
    # a huge temperature flattens to uniform
    assert importance_weights(s, temperature=1e6).tolist() == pytest.approx([1.0, 1.0], abs=1e-5)


def test_temperature_raises_the_effective_sample_size():
    torch.manual_seed(0)
    s = torch.randn(64) * 3
    ess = [float(effective_sample_size(importance_weights(s, t))) for t in (0.25, 1.0, 4.0, 1e4)]
    assert ess == sorted(ess) and ess[0] < ess[-1]
    assert ess[-1] == pytest.approx(64.0, rel=1e-4)


def test_importance_weights_accept_column_scores_and_stay_finite_for_huge_scores():
    w = importance_weights(torch.tensor([[1e4], [0.0], [-1e4]]))
    assert w.shape == (3,)
    assert torch.isfinite(w).all()
    assert w.tolist() == pytest.approx([3.0, 0.0, 0.0])


def test_effective_sample_size():
    assert float(effective_sample_size(torch.ones(16))) == pytest.approx(16.0)
    assert float(effective_sample_size(torch.tensor([4.0, 0.0, 0.0, 0.0]))) == pytest.approx(1.0)
    assert float(effective_sample_size(torch.tensor([0.5, 1.5]))) == pytest.approx(1.6)
    # uniform importance weights from equal scores
    assert float(effective_sample_size(importance_weights(torch.full((8,), 2.5)))) == \
        pytest.approx(8.0)


# ----------------------------------------------------------------------------- ratios


def test_identical_classifier_logits_give_ratio_one():
    torch.manual_seed(0)
    logits = torch.randn(16) * 5
    log_r = classifier_log_ratio(logits, logits.clone())
    assert torch.equal(log_r, torch.zeros(16))
    assert torch.equal(log_r.exp(), torch.ones(16))


def test_classifier_log_ratio_matches_eq6_on_probabilities():
    l_new = torch.tensor([0.3, -1.2, 2.0, 0.0], dtype=torch.float64)
    l_old = torch.tensor([-0.7, 0.4, 1.0, 3.0], dtype=torch.float64)
    c_new, c_old = torch.sigmoid(l_new), torch.sigmoid(l_old)
    r_eq6 = ((1 - c_new) * c_old) / (c_new * (1 - c_old))
    r = classifier_log_ratio(l_new.unsqueeze(1), l_old.unsqueeze(1)).exp()  # (B, 1) accepted
    assert r.shape == (4,)
    assert torch.allclose(r, r_eq6, rtol=1e-12)


def test_classifier_log_ratio_gradient_reaches_the_new_logits_only():
    l_new = torch.tensor([0.5, -0.5], requires_grad=True)
    l_old = torch.tensor([1.0, 2.0], requires_grad=True)
    classifier_log_ratio(l_new, l_old.detach()).sum().backward()
    assert l_new.grad.tolist() == [-1.0, -1.0]


@pytest.mark.parametrize("big", [30.0, 100.0, 1e4])
def test_saturated_classifier_logits_give_a_finite_log_ratio(big):
    """C = sigmoid(l) is exactly 1 in float32 here, so Eq. 6 on probabilities would divide by
    zero; the log-space form stays finite."""
    assert float(torch.sigmoid(torch.tensor(big))) == 1.0
    l_new = torch.tensor([big, -big, big, -big])
    l_old = torch.tensor([big, -big, -big, big])
    log_r = classifier_log_ratio(l_new, l_old)
    assert torch.isfinite(log_r).all()
    assert log_r.tolist() == [0.0, 0.0, -2 * big, 2 * big]


def test_exact_log_ratio_detaches_the_old_log_prob():
    new = torch.tensor([-1.0, -2.0], requires_grad=True)
    old = torch.tensor([-1.5, -1.0], requires_grad=True)
    log_r = exact_log_ratio(new, old)
    assert log_r.tolist() == [0.5, -1.0]
    log_r.sum().backward()
    assert new.grad.tolist() == [1.0, 1.0]
    assert old.grad is None


# ----------------------------------------------------------------------------- advantages


def test_raw_advantage_is_the_critic_value():
    f = torch.tensor([1.0, -2.0, 4.0], requires_grad=True)
    a = advantage(f, "raw")
    assert torch.equal(a, f.detach())
    a.sum().backward()
    assert f.grad.tolist() == [1.0, 1.0, 1.0]


def test_centered_advantage_has_zero_mean_and_full_gradient():
    f = torch.tensor([1.0, -2.0, 4.0, 5.0], requires_grad=True)
    a = advantage(f, "centered")
    assert a.mean().item() == pytest.approx(0.0, abs=1e-7)
    assert a.tolist() == pytest.approx([-1.0, -4.0, 2.0, 3.0])
    c = torch.tensor([1.0, 2.0, 3.0, 4.0])
    (grad,) = torch.autograd.grad((c * a).sum(), f)
    # the baseline is detached: the gradient is c itself, not c - mean(c)
    assert grad.tolist() == c.tolist()


def test_normalized_advantage_has_zero_mean_unit_std_and_scaled_gradient():
    f = torch.tensor([1.0, -2.0, 4.0, 5.0], requires_grad=True)
    a = advantage(f, "normalized")
    std = float(f.detach().std())
    assert a.mean().item() == pytest.approx(0.0, abs=1e-6)
    assert float(a.detach().std()) == pytest.approx(1.0, rel=1e-5)
    (grad,) = torch.autograd.grad(a.sum(), f)
    assert grad.tolist() == pytest.approx([1 / std] * 4, rel=1e-5)


def test_unknown_modes_raise():
    with pytest.raises(ValueError):
        advantage(torch.ones(3), "bogus")
    with pytest.raises(ValueError):
        clipped_surrogate(torch.ones(3), torch.ones(3), EPS, "bogus")


# ----------------------------------------------------------------------------- clipped surrogate

R_VALUES = [0.3, 0.79, 0.81, 1.0, 1.19, 1.21, 2.0]  # away from the kinks at 1 +- EPS
A_VALUES = [2.0, -3.0]


def _surrogate_and_grads(mode: str):
    r = torch.tensor([r for r in R_VALUES for _ in A_VALUES], requires_grad=True)
    a = torch.tensor([a for _ in R_VALUES for a in A_VALUES], requires_grad=True)
    s = clipped_surrogate(r, a, EPS, mode)
    grad_r, grad_a = torch.autograd.grad(s.sum(), (r, a))
    return r.detach(), a.detach(), s.detach(), grad_r, grad_a


def test_paper_mode_values_and_gradients():
    r, a, s, grad_r, grad_a = _surrogate_and_grads("paper")
    for ri, ai, si, gr, ga in zip(r.tolist(), a.tolist(), s.tolist(), grad_r.tolist(),
                                  grad_a.tolist()):
        clipped = min(max(ri, 1 - EPS), 1 + EPS)
        assert si == pytest.approx(min(ri * ai, clipped * ai), rel=1e-6)
        flat = (ai > 0 and ri > 1 + EPS) or (ai < 0 and ri < 1 - EPS)
        if flat:
            assert gr == 0.0, (ri, ai)
            assert ga == pytest.approx(clipped)  # the clipped value still carries A's gradient
        else:
            assert gr == pytest.approx(ai), (ri, ai)
            assert ga == pytest.approx(ri)


def test_reference_mode_values_and_gradients():
    r, a, s, grad_r, grad_a = _surrogate_and_grads("reference")
    for ri, ai, si, gr in zip(r.tolist(), a.tolist(), s.tolist(), grad_r.tolist()):
        assert si == pytest.approx(ai * min(ri, 1 + EPS), rel=1e-6)
        if ri > 1 + EPS:  # flat for both signs of A
            assert gr == 0.0, (ri, ai)
        else:  # never flat below: no lower clip
            assert gr == pytest.approx(ai), (ri, ai)


def test_modes_differ_exactly_where_the_paper_is_pessimistic():
    """Paper: A<0 and r>1+eps is not clipped (pessimistic), reference clips it; A<0, r<1-eps
    is clipped by the paper only."""
    r = torch.tensor([1.5, 0.5])
    a = torch.tensor([-1.0, -1.0])
    paper = clipped_surrogate(r, a, EPS, "paper")
    reference = clipped_surrogate(r, a, EPS, "reference")
    assert paper.tolist() == pytest.approx([-1.5, -0.8])
    assert reference.tolist() == pytest.approx([-1.2, -0.5])


@pytest.mark.parametrize("mode", ["paper", "reference"])
def test_clip_binds_marks_exactly_the_flat_samples(mode):
    r, a, _, grad_r, _ = _surrogate_and_grads(mode)
    binds = clip_binds(r, a, EPS, mode)
    assert torch.equal(binds, grad_r == 0)


def test_clip_fraction_counts():
    r = torch.tensor([1.5, 0.5, 1.5, 0.5, 1.0, 2.0])
    a = torch.tensor([1.0, 1.0, -1.0, -1.0, 1.0, -1.0])
    log_r = r.log()
    paper = ratio_statistics(log_r, a, EPS, "paper")
    reference = ratio_statistics(log_r, a, EPS, "reference")
    assert paper["ratio/clip_fraction"] == pytest.approx(2 / 6)  # (1.5, +) and (0.5, -)
    assert reference["ratio/clip_fraction"] == pytest.approx(3 / 6)  # every r > 1.2
    assert paper["ratio/mean"] == pytest.approx(float(r.mean()), rel=1e-6)
    assert paper["ratio/std"] == pytest.approx(float(r.std()), rel=1e-6)
    kl = float(((r - 1) - log_r).mean())
    assert paper["ratio/approx_kl"] == pytest.approx(kl, rel=1e-6)
    assert kl > 0


def test_ratio_statistics_at_ratio_one():
    stats = ratio_statistics(torch.zeros(8), torch.randn(8), EPS, "paper")
    assert stats == {"ratio/mean": 1.0, "ratio/std": 0.0, "ratio/clip_fraction": 0.0,
                     "ratio/approx_kl": 0.0}


def test_surrogate_at_ratio_one_is_the_advantage_with_gradient_a():
    a = torch.tensor([2.0, -1.0, 0.5])
    log_r = torch.zeros(3, requires_grad=True)
    for mode in ("paper", "reference"):
        s = clipped_surrogate(log_r.exp(), a, EPS, mode)
        assert s.tolist() == a.tolist()
        (g,) = torch.autograd.grad(s.sum(), log_r)
        assert g.tolist() == a.tolist()  # d(rA)/dlog r = r A = A at r = 1


# ----------------------------------------------------------------------------- accuracy


def test_binary_accuracy():
    real = torch.tensor([1.0, -1.0, 2.0, 3.0])
    fake = torch.tensor([-1.0, -2.0, 0.5, -0.1])
    assert binary_accuracy(real, fake) == pytest.approx(6 / 8)
