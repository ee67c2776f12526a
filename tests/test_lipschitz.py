"""Lipschitz terms: gradient penalty, consistency term, weight clipping, spectral norm."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from stablegan import Trainer
from stablegan.config import ModelConfig
from stablegan.errors import ShapeError
from stablegan.lipschitz import (
    apply_spectral_norm,
    clip_weights,
    consistency_term,
    critic_features,
    gradient_penalty,
    input_gradient_norm,
)
from stablegan.models import build_discriminator

# float() of a loss that requires grad (here and inside the methods) warns in recent torch
pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")

# ----------------------------------------------------------------------------- gradient penalty


@pytest.mark.parametrize("a", [[3.0, 4.0], [0.3, 0.4], [1.0, 0.0], [2.0, -1.0, 2.0]])
def test_linear_critic_gradient_norm_and_penalty_are_exact(linear_critic, a):
    torch.manual_seed(0)
    a = torch.tensor(a)
    critic = linear_critic(a)
    norm_a = float(a.norm())
    real, fake = torch.randn(16, a.numel()), torch.randn(16, a.numel())
    norms = input_gradient_norm(critic, real, create_graph=False)
    assert norms.shape == (16,)
    assert torch.allclose(norms, torch.full((16,), norm_a), rtol=1e-6)
    gp, gp_norms = gradient_penalty(critic, real, fake)
    assert gp.item() == pytest.approx((norm_a - 1) ** 2, rel=1e-5, abs=1e-7)
    assert torch.allclose(gp_norms, torch.full((16,), norm_a), rtol=1e-6)
    one_sided, _ = gradient_penalty(critic, real, fake, one_sided=True)
    assert one_sided.item() == pytest.approx(max(0.0, norm_a - 1) ** 2, rel=1e-5, abs=1e-7)


def test_one_sided_penalty_is_zero_below_target_and_two_sided_is_not(linear_critic):
    critic = linear_critic(torch.tensor([0.6, 0.0]))
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    assert gradient_penalty(critic, real, fake, one_sided=True)[0].item() == 0.0
    assert gradient_penalty(critic, real, fake)[0].item() == pytest.approx(0.16, rel=1e-5)


def test_penalty_target(linear_critic):
    critic = linear_critic(torch.tensor([3.0, 4.0]))
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    assert float(gradient_penalty(critic, real, fake, target=5.0)[0]) == pytest.approx(0.0,
                                                                                        abs=1e-10)
    assert float(gradient_penalty(critic, real, fake, target=2.0)[0]) == pytest.approx(9.0,
                                                                                        rel=1e-5)


def test_penalty_gradient_reaches_the_critic_parameters(linear_critic):
    """create_graph=True: d/da (||a|| - 1)^2 = 2 (||a|| - 1) a / ||a||."""
    a = torch.tensor([3.0, 4.0])
    critic = linear_critic(a)
    gp, _ = gradient_penalty(critic, torch.randn(8, 2), torch.randn(8, 2))
    (grad,) = torch.autograd.grad(gp, critic.a)
    assert torch.allclose(grad, 2 * (5.0 - 1) * a / 5.0, rtol=1e-5)


def test_penalty_is_taken_on_interpolates():
    """For f(x) = ||x||^2 / 2 the input gradient is x itself, so the norms are ||x_hat||."""

    class Quadratic(nn.Module):
        def forward(self, x):
            return 0.5 * (x**2).sum(dim=1)

    torch.manual_seed(0)
    x = torch.randn(32, 3)
    # real == fake: every interpolate is x
    _, norms = gradient_penalty(Quadratic(), x, x.clone())
    assert torch.allclose(norms, x.norm(dim=1), rtol=1e-6)
    # real = 0, fake = c: interpolates (1 - u) c, norms uniform on [0, ||c||]
    c = torch.tensor([[3.0, 4.0, 0.0]]).expand(4000, 3)
    _, norms = gradient_penalty(Quadratic(), torch.zeros_like(c), c)
    assert float(norms.min()) >= 0.0 and float(norms.max()) <= 5.0 + 1e-5
    assert float(norms.mean()) == pytest.approx(2.5, abs=0.1)
    assert float(norms.std()) > 1.0  # a fresh u per sample, not one per batch


def test_penalty_on_images_uses_the_flattened_gradient(linear_critic):
    a = torch.randn(1 * 4 * 4)
    critic = linear_critic(a)
    _, norms = gradient_penalty(critic, torch.randn(5, 1, 4, 4), torch.randn(5, 1, 4, 4))
    assert torch.allclose(norms, torch.full((5,), float(a.norm())), rtol=1e-5)


def test_penalty_shape_mismatch_is_a_shape_error(linear_critic):
    with pytest.raises(ShapeError):
        gradient_penalty(linear_critic(torch.ones(2)), torch.zeros(4, 2), torch.zeros(3, 2))


# ----------------------------------------------------------------------------- consistency term


def _mlp_critic(dropout: float) -> nn.Module:
    torch.manual_seed(0)
    return build_discriminator(ModelConfig(name="mlp", hidden=16, layers=2, d_dropout=dropout),
                               (2,))


def test_consistency_term_is_zero_without_dropout():
    critic = _mlp_critic(0.0).train()
    ct = consistency_term(critic, torch.randn(16, 2), feature_weight=0.1)
    assert float(ct) == 0.0


def test_consistency_term_is_positive_with_dropout_and_differentiable():
    critic = _mlp_critic(0.3).train()
    ct = consistency_term(critic, torch.randn(16, 2), feature_weight=0.1)
    assert float(ct) > 0.0
    ct.backward()
    grads = [p.grad for p in critic.parameters() if p.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads)
    # in eval mode dropout is off: the two passes agree
    assert float(consistency_term(critic.eval(), torch.randn(16, 2))) == 0.0


def test_consistency_margin_removes_small_differences():
    critic = _mlp_critic(0.3).train()
    x = torch.randn(16, 2)
    torch.manual_seed(5)
    ct = consistency_term(critic, x, feature_weight=0.1, margin=0.0)
    assert float(ct) > 0
    torch.manual_seed(5)
    assert float(consistency_term(critic, x, feature_weight=0.1, margin=1e6)) == 0.0


def test_consistency_term_needs_forward_features(user_modules):
    _, user_d = user_modules
    with pytest.raises(ShapeError) as info:
        consistency_term(user_d(), torch.randn(4, 2))
    assert "forward_features" in info.value.message


def test_critic_features_shapes():
    scores, feats = critic_features(_mlp_critic(0.0), torch.randn(5, 2))
    assert scores.shape == (5,) and feats.shape == (5, 16)


# ----------------------------------------------------------------------------- weight clipping


def test_clip_weights_bounds_every_parameter():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 8), nn.Linear(8, 1))
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(10)
    inside = net[0].weight.detach().abs() < 0.05
    before = net[0].weight.detach().clone()
    clip_weights(net, 0.05)
    bound = torch.tensor(0.05)  # float32, like the weights
    for p in net.parameters():
        assert bool((p.detach().abs() <= bound).all())
    # values inside the box are untouched
    assert torch.equal(net[0].weight.detach()[inside], before[inside])


def test_weight_clipping_after_a_trainer_step_with_wgan(make_cfg):
    cfg = make_cfg(method="wgan", steps=1)
    assert cfg.lipschitz.weight_clip == 0.01
    trainer = Trainer.from_config(cfg)
    d_before = [p.detach().abs().max() for p in trainer.method.D.parameters()]
    assert max(float(v) for v in d_before) > 0.01  # the initial critic is outside the box
    trainer.method.iteration(diagnostics=False)
    c = cfg.lipschitz.weight_clip
    for name, p in trainer.method.D.named_parameters():
        assert bool((p.detach().abs() <= torch.tensor(c)).all()), name
    # clipping is active (values at the bound) and only on the critic
    assert any(float(p.detach().abs().max()) == pytest.approx(c)
               for p in trainer.method.D.parameters())
    assert max(float(p.detach().abs().max()) for p in trainer.method.G.parameters()) > c


# ----------------------------------------------------------------------------- spectral norm


def _sigma_max(module: nn.Module) -> float:
    w = module.weight.detach()
    return float(torch.linalg.matrix_norm(w.reshape(w.shape[0], -1), ord=2))


@pytest.mark.parametrize(
    ("cfg", "shape", "layers"),
    [
        (ModelConfig(name="mlp", hidden=16, layers=2), (2,), 3),
        (ModelConfig(name="dcgan", channels=4), (1, 8, 8), 3),
    ],
)
def test_spectral_norm_makes_every_layer_1_lipschitz(cfg, shape, layers):
    torch.manual_seed(0)
    critic = build_discriminator(cfg, shape)
    targets = [m for m in critic.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    assert len(targets) == layers
    with torch.no_grad():
        for m in targets:  # every layer at spectral norm 3 before normalisation
            m.weight.mul_(3.0 / _sigma_max(m))
    assert all(_sigma_max(m) == pytest.approx(3.0, rel=1e-4) for m in targets)
    assert apply_spectral_norm(critic) == layers
    assert apply_spectral_norm(critic) == 0  # idempotent: no double normalisation
    critic.train()
    x = torch.randn(8, *shape)
    with torch.no_grad():
        for _ in range(20):  # power iterations
            critic(x)
    critic.eval()
    for m in targets:
        assert parametrize.is_parametrized(m, "weight")
        assert _sigma_max(m) == pytest.approx(1.0, abs=1e-2)


def test_spectral_norm_network_lipschitz_bound():
    """With 1-Lipschitz layers and LeakyReLU the whole MLP critic is 1-Lipschitz."""
    torch.manual_seed(0)
    critic = build_discriminator(ModelConfig(name="mlp", hidden=16, layers=2), (2,))
    with torch.no_grad():
        for p in critic.parameters():
            p.mul_(10.0)
    apply_spectral_norm(critic)
    critic.train()
    with torch.no_grad():
        for _ in range(20):
            critic(torch.randn(8, 2))
    critic.eval()
    norms = input_gradient_norm(critic, torch.randn(256, 2) * 3, create_graph=False)
    assert float(norms.max()) <= 1.0 + 1e-2


def test_sngan_preset_spectral_normalises_the_critic_only(make_cfg):
    trainer = Trainer.from_config(make_cfg(method="sngan", steps=1))
    d_layers = [m for m in trainer.method.D.modules() if isinstance(m, nn.Linear)]
    g_layers = [m for m in trainer.method.G.modules() if isinstance(m, nn.Linear)]
    assert d_layers and all(parametrize.is_parametrized(m, "weight") for m in d_layers)
    assert not any(parametrize.is_parametrized(m, "weight") for m in g_layers)
    trainer.method.iteration(diagnostics=False)
    trainer.method.D.eval()
    for m in d_layers:
        assert _sigma_max(m) == pytest.approx(1.0, abs=1e-2)
    assert math.isfinite(sum(float(p.sum()) for p in trainer.method.D.parameters()))


class _MultiScoreCritic(nn.Module):
    """K scores per sample (as RelGAN's critic: one per representation), with dropout."""

    def __init__(self, k: int = 4) -> None:
        super().__init__()
        self.body = nn.Linear(3, 8)
        self.drop = nn.Dropout(0.5)
        self.head = nn.Linear(8, k)

    def forward_features(self, x):
        h = torch.relu(self.body(x))
        return self.head(self.drop(h)), h

    def forward(self, x):
        return self.forward_features(x)[0]


def test_consistency_term_reads_a_multi_score_critic_through_its_mean():
    critic = _MultiScoreCritic().train()
    x = torch.randn(16, 3)
    torch.manual_seed(0)
    ct = consistency_term(critic, x, feature_weight=0.1)
    torch.manual_seed(0)  # the same two dropout masks, by hand
    s1, f1 = critic.forward_features(x)
    s2, f2 = critic.forward_features(x)
    by_hand = ((s1.mean(1) - s2.mean(1)) ** 2 + 0.1 * ((f1 - f2) ** 2).mean(1)).mean()
    assert float(ct) == pytest.approx(float(by_hand), rel=1e-6)
    assert critic_features(critic, x)[0].shape == (16,)
