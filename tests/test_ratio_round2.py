"""Ratio clipping, second round: Eq. 6 at the same x (``ratio=classifier_same_x``), the authors'
BatchNorm semantics (``classifier_bn=authors``), the RealNVP generator (``model.name=flow``) with
the exact ratio, and the authors' full-setting preset."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from stablegan.configure import resolve
from stablegan.errors import ConfigError, StableganError
from stablegan.methods import PPOGANMethod
from stablegan.methods.ppo import ClassifierRatio, ExactRatio
from stablegan.methods.presets import preset_fragment
from stablegan.models import build_classifier, build_discriminator, build_generator
from stablegan.models.flow import RealNVP
from stablegan.training.checkpoint import load_checkpoint
from stablegan.training.trainer import Trainer
from stablegan.variational import clipped_surrogate


def _linear(w: list[float], b: float) -> nn.Linear:
    lin = nn.Linear(len(w), 1)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([w]))
        lin.bias.fill_(b)
    return lin


def _ppo(make_cfg, *overrides: str, steps: int = 3) -> Trainer:
    cfg = make_cfg("schedule.n_critic=2", "schedule.n_gen=2", *overrides,
                   method="ppo-gan", steps=steps)
    return Trainer.from_config(cfg)


# ---------------------------------------------------------------- Eq. 6 at the same x
@pytest.mark.parametrize("bn", ["joint", "authors"])
def test_same_x_ratio_is_one_at_theta_old_before_any_classifier_step(make_cfg, bn: str) -> None:
    trainer = _ppo(make_cfg, "variational.ratio=classifier_same_x",
                   f"variational.classifier_bn={bn}")
    m = trainer.method
    assert isinstance(m, PPOGANMethod) and isinstance(m.ratio, ClassifierRatio)
    assert m.ratio.same_x and m.ratio.bn == bn
    for _ in range(3):  # C trained a little first, so C is not at its initialisation
        m.ratio.update()
    z = m.sample_z(16)
    m.ratio.begin_phase(z)
    log_r = m.ratio.log_ratio(m.G(z))
    assert torch.equal(log_r, torch.zeros_like(log_r))  # exactly, not approximately
    # the frozen copy is not trained by the phase's C steps
    m.ratio.update()
    assert not torch.equal(m.ratio.log_ratio(m.G(z)), torch.zeros_like(log_r))
    assert all(not p.requires_grad for p in m.ratio.C_old.parameters())


def test_authors_ratio_is_not_one_at_theta_old_after_a_classifier_step(make_cfg) -> None:
    """The authors' r (C_old on x_old, C on x_new) is also 1 before any C step, but after the
    first C step of the phase the two estimators see the same change differently; both stay
    available."""
    trainer = _ppo(make_cfg)
    m = trainer.method
    z = m.sample_z(16)
    m.ratio.begin_phase(z)
    assert torch.equal(m.ratio.log_ratio(m.G(z)), torch.zeros(16))
    assert not m.ratio.same_x


def test_same_x_gradient_is_advantage_times_change_of_the_classifier() -> None:
    """A hand-made linear C: l(x) = w.x + b. After begin_phase, C moves to (w1, b1); the gradient
    of the unclipped surrogate r A with respect to x is A r (w0 - w1) (same x), against
    -A r w1 for the authors' estimator (a second discriminator)."""
    w0, b0, w1, b1 = [0.3, -0.2], 0.1, [0.35, -0.1], 0.05
    z = torch.tensor([[0.2, -0.1], [0.0, 0.3], [-0.4, 0.1]])
    method = SimpleNamespace(G=lambda zz: zz.clone())
    for same_x in (True, False):
        C = _linear(w0, b0)
        ratio = ClassifierRatio(method, C, same_x=same_x)  # type: ignore[arg-type]
        ratio.begin_phase(z)
        with torch.no_grad():  # "one C step"
            C.weight.copy_(torch.tensor([w1]))
            C.bias.fill_(b1)
        x = z.clone().requires_grad_(True)
        adv = torch.tensor([1.5, -0.7, 0.4])  # critic values held fixed
        log_r = ratio.log_ratio(x)
        r = log_r.exp()
        assert bool(((r > 0.9) & (r < 1.1)).all())  # inside the clip: the surrogate is r A
        (grad,) = torch.autograd.grad(clipped_surrogate(r, adv, 0.4).sum(), x)
        if same_x:
            want = (adv * r.detach())[:, None] * (torch.tensor(w0) - torch.tensor(w1))
            l_t, l_now = x @ torch.tensor(w0) + b0, x @ torch.tensor(w1) + b1
            assert torch.allclose(log_r, l_t - l_now)
        else:
            want = (adv * r.detach())[:, None] * (-torch.tensor(w1))
        assert torch.allclose(grad, want, atol=1e-6)


def test_same_x_ratio_matches_the_density_ratio_of_two_gaussians() -> None:
    """Data N(0, 1); old generator N(mu0, 1), new N(mu1, 1). The optimal classifiers have the
    logit l_mu(x) = log N(x; 0, 1) - log N(x; mu, 1) = -mu x + mu^2 / 2, so Eq. 6 at the same x
    gives log q_mu1(x) / q_mu0(x) exactly; the authors' form (C_old at x_old) does not."""
    mu0, mu1 = 0.8, 1.1
    z = torch.linspace(-2.0, 2.0, 9)[:, None]
    x_new = z + mu1
    want = (-(x_new - mu1) ** 2 / 2 + (x_new - mu0) ** 2 / 2).reshape(-1)
    method = SimpleNamespace(G=lambda zz: zz + mu0)
    got = {}
    for same_x in (True, False):
        C = _linear([-mu0], mu0**2 / 2)
        ratio = ClassifierRatio(method, C, same_x=same_x)  # type: ignore[arg-type]
        ratio.begin_phase(z)
        with torch.no_grad():
            C.weight.fill_(-mu1)
            C.bias.fill_(mu1**2 / 2)
        got[same_x] = ratio.log_ratio(x_new).detach()
    assert torch.allclose(got[True], want, atol=1e-6)
    assert not torch.allclose(got[False], want, atol=1e-2)
    # the density ratio itself, r = q_mu1 / q_mu0
    q = torch.distributions.Normal
    true_r = (q(mu1, 1.0).log_prob(x_new) - q(mu0, 1.0).log_prob(x_new)).exp().reshape(-1)
    assert torch.allclose(got[True].exp(), true_r, rtol=1e-5)


def test_same_x_with_per_phase_classifier_is_refused(make_cfg) -> None:
    with pytest.raises(StableganError, match="per_phase"):
        make_cfg("variational.ratio=classifier_same_x", "variational.classifier_schedule=per_phase",
                 method="ppo-gan")


# ---------------------------------------------------------------- the authors' BatchNorm
def test_authors_batchnorm_trains_on_pure_batches_and_uses_train_mode(make_cfg) -> None:
    trainer = _ppo(make_cfg, "variational.classifier_bn=authors")
    m = trainer.method
    sizes: list[int] = []
    modes: list[bool] = []

    def record(mod: nn.Module, args: tuple) -> None:
        sizes.append(args[0].shape[0])
        modes.append(mod.training)

    hook = m.C.register_forward_pre_hook(record)
    m.ratio.update()
    assert sizes == [16, 16] and modes == [True, True]  # reals and fakes separately
    sizes.clear()
    modes.clear()
    z = m.sample_z(16)
    m.ratio.begin_phase(z)
    m.ratio.log_ratio(m.G(z))
    assert modes and all(modes)  # the ratio's logits in train mode
    hook.remove()
    joint = _ppo(make_cfg).method
    sizes.clear()
    modes.clear()
    joint.C.register_forward_pre_hook(record)
    joint.ratio.update()
    assert sizes == [32] and modes == [True]
    joint.ratio.begin_phase(z)
    assert modes[-1] is False  # eval mode for r


def test_authors_preset_has_their_optimiser_and_classifier_settings() -> None:
    frag = preset_fragment("ppo-gan-authors")
    assert frag["optim"]["betas"] == [0.0, 0.9] and frag["optim"]["lr_decay"] == "linear"
    assert frag["data"]["batch_size"] == 32
    v = frag["variational"]
    assert v["classifier_bn"] == "authors" and v["clip_mode"] == "reference"
    assert v["classifier_lr_divide"] is True and v["ratio"] == "classifier"
    cfg = resolve([{"method": "ppo-gan-authors"}])  # a recipe's optim/data keys would win
    assert tuple(cfg.optim.betas) == (0.0, 0.9) and cfg.optim.lr_decay == "linear"
    assert cfg.lipschitz.consistency.weight == 2.0 and cfg.variational.classifier_bn == "authors"


# ---------------------------------------------------------------- model.name=flow
def test_flow_model_is_built_and_refuses_a_wrong_latent_dim(make_cfg) -> None:
    cfg = make_cfg("model.name=flow", "model.flow_layers=4")
    G = build_generator(cfg.model, (2,))
    assert isinstance(G, RealNVP) and G.latent_dim == 2 and len(G.couplings) == 4
    assert isinstance(build_discriminator(cfg.model, (2,)), nn.Module)
    assert isinstance(build_classifier(cfg.model, (2,)), nn.Module)
    bad = make_cfg("model.name=flow", "model.latent_dim=3")
    with pytest.raises(ConfigError, match="latent_dim must equal the data dimension 2"):
        build_generator(bad.model, (2,))
    with pytest.raises(ConfigError, match="vector samples"):
        build_generator(cfg.model, (1, 8, 8))


def test_flow_with_exact_ratio_trains_and_r_is_one_at_theta_old(make_cfg) -> None:
    trainer = _ppo(make_cfg, "model.name=flow", "model.flow_layers=2",
                   "variational.ratio=exact", "variational.advantage=normalized", steps=2)
    m = trainer.method
    assert isinstance(m.ratio, ExactRatio) and "C" not in m.networks
    z = m.sample_z(16)
    m.ratio.begin_phase(z)
    log_r = m.ratio.log_ratio(m.ratio.samples(z))
    assert log_r.abs().max() < 1e-5
    before = [p.detach().clone() for p in m.G.parameters()]
    stats = m.iteration(0)
    assert math.isfinite(stats["ratio/approx_kl"]) and "ratio/clip_fraction" in stats
    assert any(not torch.equal(a, p) for a, p in zip(before, m.G.parameters()))


# ---------------------------------------------------------------- resume stays bit-exact
@pytest.mark.parametrize("extra", [("variational.ratio=classifier_same_x",),
                                   ("variational.ratio=classifier_same_x",
                                    "variational.classifier_bn=authors")])
@pytest.mark.slow
def test_same_x_resume_is_bit_identical(tmp_path: Path, make_cfg, extra: tuple[str, ...]) -> None:
    cfg = make_cfg("log.checkpoint_every=2", "eval.n_samples=32", "schedule.n_critic=2",
                   "schedule.n_gen=2", *extra, method="ppo-gan", steps=6)
    ref = Trainer.from_config(cfg, out_dir=tmp_path / "ref")
    ref.fit()
    first = Trainer.from_config(cfg, out_dir=tmp_path / "run")
    original = first.method.iteration

    def crash(i: int, diagnostics: bool = False):
        if i == 3:
            raise KeyboardInterrupt
        return original(i, diagnostics)

    first.method.iteration = crash  # type: ignore[method-assign]
    with pytest.raises((KeyboardInterrupt, StableganError)):
        first.fit()
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert 0 < state["step"] < 6
    second = Trainer.from_config(cfg, out_dir=tmp_path / "run")
    second.resume()
    second.fit()
    for name, net in ref.method.networks.items():
        other = second.method.networks[name].state_dict()
        for k, t in net.state_dict().items():
            assert torch.equal(t, other[k]), f"{name}.{k} differs"
    assert ref.method.counts == second.method.counts
