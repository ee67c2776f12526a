"""RealNVP (stablegan.models.flow): invertibility, the exact density, training and gradients."""

from __future__ import annotations

import math

import pytest
import torch
from torch.autograd.functional import jacobian

from stablegan.models.flow import RealNVP

torch.set_num_threads(1)


def _random_flow(seed: int = 0, layers: int = 4, hidden: int = 16, dim: int = 2) -> RealNVP:
    """A flow far from the identity: random couplings (last layers scaled up), ActNorm and final
    affine set away from zero."""
    torch.manual_seed(seed)
    flow = RealNVP(dim, layers=layers, hidden=hidden, actnorm=True, zero_init=False)
    with torch.no_grad():
        for c in flow.couplings:
            c.net[-1].weight.mul_(2.0)
            c.net[-1].bias.normal_(0.0, 0.5)
        for a in flow.actnorms:
            a.log_scale.normal_(0.0, 0.3)
            a.shift.normal_(0.0, 0.3)
        flow.final.log_scale.normal_(0.0, 0.3)
        flow.final.shift.normal_(0.0, 0.5)
    return flow


def _base_log_prob(z: torch.Tensor) -> torch.Tensor:
    return -0.5 * z.pow(2).sum(-1) - 0.5 * z.shape[-1] * math.log(2 * math.pi)


def test_generator_contract():
    flow = RealNVP()
    assert flow.latent_dim == 2 and flow.sample_shape == (2,)
    assert len(flow.couplings) == 8
    x = flow(torch.randn(5, 2))
    assert x.shape == (5, 2) and flow.log_prob(x).shape == (5,)
    # default init: zero-initialised couplings, identity affines -> the flow is N(0, I) exactly
    z = torch.randn(7, 2)
    assert torch.equal(flow(z), z)
    assert torch.allclose(flow.log_prob(z), _base_log_prob(z))


@pytest.mark.parametrize("dim", [2, 3])
def test_forward_and_inverse_are_inverse(dim: int):
    flow = _random_flow(dim=dim)
    z = torch.randn(256, dim)
    x, ld_fwd = flow.forward_and_log_det(z)
    z_back, ld_inv = flow.inverse(x)
    assert not torch.allclose(x, z, atol=0.1)  # the flow is far from the identity
    assert torch.allclose(z_back, z, atol=1e-5)
    assert torch.allclose(ld_inv, -ld_fwd, atol=1e-5)
    x = 3.0 * torch.randn(256, dim)
    assert torch.allclose(flow(flow.inverse(x)[0]), x, atol=1e-5)


def test_log_prob_is_the_change_of_variables_formula():
    flow = _random_flow(seed=1)
    torch.manual_seed(3)
    points = 2.0 * torch.randn(6, 2)
    got = flow.log_prob(points).detach()
    for x, lp in zip(points, got):
        J = jacobian(lambda v: flow.inverse(v[None])[0][0], x)  # d f^{-1} / dx, (2, 2)
        z = flow.inverse(x[None])[0][0].detach()
        expected = _base_log_prob(z) + torch.linalg.det(J).abs().log()
        assert abs(lp.item() - expected.item()) < 1e-4, (lp.item(), expected.item())
    # forward's log-det is log|det df/dz| by the same check
    z = torch.randn(3, 2)
    ld = flow.forward_and_log_det(z)[1].detach()
    for zi, ldi in zip(z, ld):
        J = jacobian(lambda v: flow(v[None])[0], zi)
        assert abs(ldi.item() - torch.linalg.det(J).abs().log().item()) < 1e-4


def test_known_affine_flow_has_the_gaussian_density():
    # zero-initialised couplings are the identity; the elementwise affines compose to
    # x = s_f * (s_a * z + c_a) + c_f, i.e. x ~ N(s_f c_a + c_f, diag (s_f s_a)^2)
    flow = RealNVP(2, layers=3, hidden=8, actnorm=True)
    s_a, c_a = torch.tensor([0.5, 2.0]), torch.tensor([1.0, -1.0])
    s_f, c_f = torch.tensor([3.0, 0.25]), torch.tensor([-2.0, 0.5])
    with torch.no_grad():
        flow.actnorms[1].log_scale.copy_(s_a.log())
        flow.actnorms[1].shift.copy_(c_a)
        flow.final.log_scale.copy_(s_f.log())
        flow.final.shift.copy_(c_f)
    normal = torch.distributions.Normal(s_f * c_a + c_f, s_f * s_a)
    x = normal.sample((100,)) * 1.5
    assert torch.allclose(flow.log_prob(x), normal.log_prob(x).sum(-1), atol=1e-5)
    z = torch.randn(10, 2)
    assert torch.allclose(flow(z), s_f * (s_a * z + c_a) + c_f, atol=1e-6)


@pytest.mark.slow
def test_density_integrates_to_one():
    flow = _random_flow(seed=2)
    h, half = 0.05, 10.0
    g = torch.arange(-half + h / 2, half, h)
    grid = torch.stack(torch.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    with torch.no_grad():
        lp = flow.log_prob(grid)
        z, _ = flow.inverse(grid)
        # essentially all the mass is inside the box
        assert (flow.sample(20_000).abs() < half - 1).all()
    mass = (lp.exp().sum() * h * h).item()
    assert abs(mass - 1.0) < 0.01, mass
    # without the log-determinant the same sum is far from 1: the check has teeth
    no_det = (_base_log_prob(z).exp().sum() * h * h).item()
    assert abs(no_det - 1.0) > 0.2, no_det


def _two_gaussians(n: int, gen: torch.Generator) -> torch.Tensor:
    centre = torch.tensor([2.0, 0.0])
    sign = torch.randint(0, 2, (n, 1), generator=gen) * 2.0 - 1.0
    return sign * centre + 0.5 * torch.randn(n, 2, generator=gen)


@pytest.mark.slow
def test_maximum_likelihood_fit_beats_a_single_gaussian():
    gen = torch.Generator().manual_seed(0)
    train, held_out = _two_gaussians(2048, gen), _two_gaussians(2048, gen)
    # the single Gaussian's closed-form MLE (sample mean, biased covariance) on held-out data
    mean = train.mean(0)
    cov = (train - mean).T @ (train - mean) / train.shape[0]
    gauss_ll = torch.distributions.MultivariateNormal(mean, cov).log_prob(held_out).mean().item()

    torch.manual_seed(0)
    flow = RealNVP(2, layers=4, hidden=32)
    with torch.no_grad():
        initial = flow.log_prob(held_out).mean().item()
    opt = torch.optim.Adam(flow.parameters(), lr=5e-3)
    for _ in range(300):
        batch = train[torch.randint(0, train.shape[0], (256,), generator=gen)]
        loss = -flow.log_prob(batch).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        fitted = flow.log_prob(held_out).mean().item()
    # the true mixture's log-likelihood is about -2.15, the Gaussian's about -2.87
    assert fitted > initial + 1.0, (initial, fitted)
    assert fitted > gauss_ll + 0.3, (gauss_ll, fitted)


def test_gradients_reach_every_parameter_from_samples_and_log_prob():
    flow = _random_flow(seed=4)
    z = torch.randn(64, 2, requires_grad=True)
    flow(z).pow(2).sum().backward()
    assert z.grad is not None and z.grad.abs().sum() > 0  # reparameterised in z
    for name, p in flow.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    flow.zero_grad()
    (-flow.log_prob(torch.randn(64, 2))).mean().backward()
    for name, p in flow.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_default_init_gets_gradient_into_the_couplings():
    # zero-initialised last layers: at init only they (and the affines) get a gradient, but one
    # step later every parameter does
    torch.manual_seed(5)
    flow = RealNVP(2, layers=2, hidden=8)
    opt = torch.optim.SGD(flow.parameters(), lr=0.1)
    x = torch.randn(64, 2) * 2 + 1
    for _ in range(2):
        opt.zero_grad()
        (-flow.log_prob(x)).mean().backward()
        opt.step()
    for name, p in flow.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_sample_has_no_grad_and_follows_the_generator():
    flow = _random_flow(seed=6)
    a = flow.sample(32, generator=torch.Generator().manual_seed(7))
    b = flow.sample(32, generator=torch.Generator().manual_seed(7))
    assert not a.requires_grad and a.shape == (32, 2)
    assert torch.equal(a, b)
    z = torch.randn(32, 2, generator=torch.Generator().manual_seed(7))
    assert torch.allclose(a, flow(z).detach())


def test_large_inputs_stay_finite():
    flow = _random_flow(seed=8, layers=8, hidden=32)
    x = 10.0 * torch.randn(512, 2)
    x[:4] = torch.tensor([[10.0, 10.0], [-10.0, 10.0], [10.0, -10.0], [-10.0, -10.0]])
    lp = flow.log_prob(x)
    assert torch.isfinite(lp).all()
    lp.mean().backward()
    assert all(torch.isfinite(p.grad).all() for p in flow.parameters() if p.grad is not None)
    assert torch.isfinite(flow(10.0 * torch.randn(512, 2))).all()


def test_rejects_bad_shapes():
    with pytest.raises(ValueError):
        RealNVP(dim=1)
    with pytest.raises(ValueError):
        RealNVP().log_prob(torch.randn(4, 3))


def test_log_scale_is_bounded():
    # however large the coupling nets' outputs, each coupling scales a coordinate by at most
    # exp(+-log_scale_bound): with identity affines |log det| <= layers * bound * (dim / 2)
    torch.manual_seed(9)
    flow = RealNVP(2, layers=4, hidden=16, log_scale_bound=1.5, zero_init=False)
    with torch.no_grad():
        for c in flow.couplings:
            c.net[-1].weight.mul_(1e3)
    _, log_det = flow.inverse(5.0 * torch.randn(256, 2))
    assert torch.isfinite(log_det).all()
    assert log_det.abs().max() <= 4 * 1.5 + 1e-4
    assert log_det.abs().max() > 4 * 1.5 * 0.9  # the bound is reached, not just respected


def test_drives_the_exact_ppo_ratio():
    # the generator contract of variational.ratio=exact: r == 1 at the start of a phase, and
    # a generator step moves log p on the phase's fixed samples
    from torch import nn

    from stablegan import Trainer
    from stablegan.methods import ExactRatio, PPOGANMethod

    torch.manual_seed(10)
    data = _two_gaussians(256, torch.Generator().manual_seed(10))
    D = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
    cfg = {"method": "ppo-gan", "steps": 1, "data": {"batch_size": 32},
           "variational": {"ratio": "exact", "reweight": False},
           "optim": {"g_lr": 1e-2}, "log": {"progress": False, "every": 1}}
    m = Trainer(RealNVP(2, layers=2, hidden=8), D, data, cfg).method
    assert isinstance(m, PPOGANMethod) and isinstance(m.ratio, ExactRatio)
    z = m.sample_z(32)
    m.ratio.begin_phase(z)
    x_old = m.ratio.samples(z)
    assert torch.equal(m.ratio.log_ratio(x_old), torch.zeros(32))
    stats = m.g_step(z)
    assert stats["ratio/mean"] == 1.0 and math.isfinite(stats["loss/g"])
    assert not torch.allclose(m.ratio.log_ratio(x_old), torch.zeros(32))
