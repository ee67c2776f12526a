"""Tests of stablegan.models: shapes, the discriminator contract, D options, the classifier,
impossible configurations and spectral-norm compatibility."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from stablegan.config import ModelConfig
from stablegan.errors import ConfigError, ShapeError
from stablegan.models import (
    MinibatchDiscrimination,
    MinibatchStdDev,
    build_classifier,
    build_models,
    resolve_family,
)

SHAPES = [(2,), (1, 8, 8), (1, 28, 28), (3, 32, 32)]
FAMILIES = ["mlp", "dcgan", "resnet"]
VALID = [
    (f, s)
    for f in FAMILIES
    for s in SHAPES
    if not (f in ("dcgan", "resnet") and len(s) == 1) and not (f == "resnet" and s[1] == 28)
]
INVALID = [("dcgan", (2,)), ("resnet", (2,)), ("resnet", (1, 28, 28)), ("dcgan", (3, 30, 30)),
           ("dcgan", (3, 32, 16)), ("resnet", (3, 32, 16)), ("resnet", (1, 4, 4)),
           ("auto", (4, 4)), ("dcgan", (1, 2, 8, 8))]


def small(name: str = "auto", **kw: object) -> ModelConfig:
    """A small, fast model config."""
    base = ModelConfig(name=name, latent_dim=8, hidden=16, layers=2, channels=8)
    return dataclasses.replace(base, **kw)


def n_params(m: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("family,shape", VALID)
def test_shapes_and_forward_features(family: str, shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    g, d = build_models(small(family), shape)
    assert g.latent_dim == 8
    x = g(torch.randn(5, 8))
    assert x.shape == (5, *shape)
    score, feats = d.forward_features(x)
    assert score.shape == (5,)
    assert feats.dim() == 2 and feats.shape[0] == 5
    assert torch.equal(d(x), score)


@pytest.mark.parametrize("family,shape", [(f, s) for f, s in VALID if s != (1, 28, 28)])
def test_all_options_forward_equals_features_and_batch_sizes(
    family: str, shape: tuple[int, ...]
) -> None:
    cfg = small(family, d_norm="layer", d_dropout=0.3, minibatch_stddev=True,
                minibatch_discrimination=4)
    torch.manual_seed(0)
    _, d = build_models(cfg, shape)
    for b in (2, 7):
        x = torch.randn(b, *shape)
        d.train()
        torch.manual_seed(1)
        s1 = d(x)
        torch.manual_seed(1)
        s2, _ = d.forward_features(x)
        assert s1.shape == (b,) and torch.equal(s1, s2)
        s1.sum().backward()
        d.eval()
        assert torch.equal(d(x), d.forward_features(x)[0])


@pytest.mark.parametrize("shape,expected", [((2,), "mlp"), ((5,), "mlp"), ((1, 8, 8), "dcgan"),
                                            ((3, 32, 32), "dcgan")])
def test_auto_family(shape: tuple[int, ...], expected: str) -> None:
    assert resolve_family(small("auto"), shape) == expected
    g, _ = build_models(small("auto"), shape)
    assert type(g).__name__.lower().startswith(expected)


@pytest.mark.parametrize("family,shape", [("mlp", (2,)), ("mlp", (1, 8, 8)), ("dcgan", (1, 8, 8)),
                                          ("resnet", (1, 8, 8))])
@pytest.mark.parametrize("option", [{"d_norm": "layer"}, {"d_norm": "batch"},
                                    {"minibatch_stddev": True},
                                    {"minibatch_discrimination": 3}])
def test_d_options_change_parameters_and_work(
    family: str, shape: tuple[int, ...], option: dict[str, object]
) -> None:
    torch.manual_seed(0)
    _, d0 = build_models(small(family), shape)
    _, d1 = build_models(small(family, **option), shape)
    assert n_params(d1) > n_params(d0)
    for b in (2, 7):
        out = d1(torch.randn(b, *shape))
        assert out.shape == (b,) and torch.isfinite(out).all()


@pytest.mark.parametrize("family,shape", [("mlp", (2,)), ("dcgan", (1, 8, 8)),
                                          ("resnet", (1, 8, 8))])
def test_dropout_is_stochastic_in_train_only(family: str, shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    _, d = build_models(small(family, d_dropout=0.5), shape)
    assert any(isinstance(m, nn.Dropout) for m in d.modules())
    x = torch.randn(4, *shape)
    d.train()
    assert not torch.equal(d(x), d(x))
    d.eval()
    assert torch.equal(d(x), d(x))


def test_minibatch_stddev_value() -> None:
    x = torch.tensor([[0.0, 0.0], [2.0, 4.0]])
    out = MinibatchStdDev()(x)
    assert out.shape == (2, 3)
    assert torch.allclose(out[:, 2], torch.tensor([1.5, 1.5]), atol=1e-4)  # mean(1, 2)
    assert torch.equal(out[:, :2], x)
    one = MinibatchStdDev()(torch.randn(1, 5))
    assert one.shape == (1, 6) and abs(one[0, 5].item()) < 1e-3


def test_minibatch_discrimination_excludes_self_and_is_twice_differentiable() -> None:
    torch.manual_seed(0)
    mbd = MinibatchDiscrimination(4, num_kernels=3, kernel_dim=5)
    same = torch.ones(5, 4)
    out = mbd(same)
    assert out.shape == (5, 7)
    assert torch.allclose(out[:, 4:], torch.full((5, 3), 4.0))  # B - 1 identical neighbours
    assert torch.allclose(mbd(torch.ones(1, 4))[:, 4:], torch.zeros(1, 3))
    x = torch.randn(6, 4, requires_grad=True)
    far = mbd(x * 100)[:, 4:]
    assert far.max() < 1e-3  # distant samples contribute ~0
    (g,) = torch.autograd.grad(mbd(x).sum(), x, create_graph=True)
    g.pow(2).sum().backward()
    assert mbd.T.grad is not None and torch.isfinite(mbd.T.grad).all()


@pytest.mark.parametrize("family,shape", [(f, s) for f, s in VALID if s != (1, 28, 28)])
def test_gradient_penalty_double_backward(family: str, shape: tuple[int, ...]) -> None:
    cfg = small(family, d_norm="layer", d_dropout=0.1, minibatch_stddev=True,
                minibatch_discrimination=2)
    torch.manual_seed(0)
    _, d = build_models(cfg, shape)
    x = torch.randn(3, *shape, requires_grad=True)
    (g,) = torch.autograd.grad(d(x).sum(), x, create_graph=True)
    (g.flatten(1).norm(dim=1) - 1).pow(2).mean().backward()
    grads = [p.grad for p in d.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(gr).all() for gr in grads)


@pytest.mark.parametrize("family,shape", [(f, s) for f, s in VALID if len(s) == 3])
def test_image_generator_range(family: str, shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    g, _ = build_models(small(family), shape)
    x = g(torch.randn(4, 8) * 50)
    assert x.min() >= -1 and x.max() <= 1
    assert x.std() > 0


def test_point_generator_is_linear_output() -> None:
    torch.manual_seed(0)
    g, _ = build_models(small("mlp"), (2,))
    assert not any(isinstance(m, nn.Tanh) for m in g.modules())
    with torch.no_grad():
        last = [m for m in g.modules() if isinstance(m, nn.Linear)][-1]
        last.weight.mul_(100)
    assert g(torch.randn(64, 8)).abs().max() > 4


@pytest.mark.parametrize("family,shape", [("mlp", (2,)), ("dcgan", (1, 8, 8)),
                                          ("resnet", (3, 32, 32)), ("auto", (1, 28, 28))])
def test_classifier(family: str, shape: tuple[int, ...]) -> None:
    cfg = small(family, d_dropout=0.4, minibatch_stddev=True, minibatch_discrimination=3)
    torch.manual_seed(0)
    c = build_classifier(cfg, shape)
    assert any(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) for m in c.modules())
    assert not any(isinstance(m, (nn.Dropout, MinibatchDiscrimination, MinibatchStdDev))
                   for m in c.modules())
    out = c(torch.randn(6, *shape))
    assert out.shape == (6,)
    assert cfg.d_dropout == 0.4  # the caller's config is not modified


@pytest.mark.parametrize("family,shape", INVALID)
def test_impossible_combinations_raise_config_error(family: str, shape: tuple[int, ...]) -> None:
    with pytest.raises(ConfigError) as info:
        build_models(small(family), shape)
    assert info.value.hint


def test_unknown_options_raise_config_error() -> None:
    with pytest.raises(ConfigError):
        build_models(small("vit"), (2,))
    with pytest.raises(ConfigError):
        build_models(small("mlp", d_norm="instance"), (2,))


def test_mlp_handles_any_shape() -> None:
    g, d = build_models(small("mlp"), (3, 5, 7))
    x = g(torch.randn(2, 8))
    assert x.shape == (2, 3, 5, 7) and d(x).shape == (2,)


def test_shape_errors() -> None:
    g, d = build_models(small("dcgan"), (1, 8, 8))
    with pytest.raises(ShapeError):
        g(torch.randn(2, 9))
    with pytest.raises(ShapeError):
        d(torch.randn(2, 3, 8, 8))


@pytest.mark.parametrize("family,shape", [(f, s) for f, s in VALID if s != (1, 28, 28)])
def test_spectral_norm_on_every_layer(family: str, shape: tuple[int, ...]) -> None:
    cfg = small(family, d_norm="layer", d_dropout=0.1, minibatch_stddev=True,
                minibatch_discrimination=2)
    torch.manual_seed(0)
    _, d = build_models(cfg, shape)
    layers = [m for m in d.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    for m in layers:
        spectral_norm(m)
    assert all(hasattr(m, "parametrizations") for m in layers)
    x = torch.randn(4, *shape, requires_grad=True)
    score, feats = d.forward_features(x)
    assert score.shape == (4,) and feats.shape[0] == 4
    (g,) = torch.autograd.grad(score.sum(), x, create_graph=True)
    g.pow(2).sum().backward()
    d.eval()
    assert torch.equal(d(x), d.forward_features(x)[0])


@pytest.mark.parametrize("family,shape", [("mlp", (2,)), ("dcgan", (1, 8, 8)),
                                          ("resnet", (1, 8, 8))])
def test_init_is_deterministic_given_global_seed(family: str, shape: tuple[int, ...]) -> None:
    cfg = small(family, minibatch_discrimination=2)
    torch.manual_seed(3)
    a = [m.state_dict() for m in build_models(cfg, shape)]
    torch.manual_seed(3)
    b = [m.state_dict() for m in build_models(cfg, shape)]
    torch.manual_seed(4)
    c = [m.state_dict() for m in build_models(cfg, shape)]
    for sa, sb, sc in zip(a, b, c):
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
        assert any(not torch.equal(sa[k], sc[k]) for k in sa if sa[k].is_floating_point())


def test_dcgan_init_and_geometry() -> None:
    torch.manual_seed(0)
    g, d = build_models(small("dcgan", channels=32), (1, 8, 8))
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert all(abs(m.weight.std().item() - 0.02) < 0.005 for m in convs)
    ups = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert len(ups) == 1  # 8 = 4 * 2^1
    g28, _ = build_models(small("dcgan"), (1, 28, 28))
    assert len([m for m in g28.modules() if isinstance(m, nn.ConvTranspose2d)]) == 2  # 7 * 2^2
