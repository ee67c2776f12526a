"""Generator / discriminator families and the PPO-GAN real-vs-fake classifier.

Contracts (the trainer relies on them):

* generator: attribute ``latent_dim``; ``forward(z (B, latent_dim)) -> (B, *sample_shape)``;
  tanh output for images, linear output for 1-D sample shapes (points).
* discriminator: ``forward(x) -> (B,)`` raw scores (no sigmoid) and
  ``forward_features(x) -> (score (B,), penultimate features (B, F))`` with
  ``forward(x) == forward_features(x)[0]``. The features are taken before the optional minibatch
  layers (they are per-sample).
"""

from __future__ import annotations

import dataclasses

from torch import nn

from stablegan.config import ConditionalConfig, ModelConfig
from stablegan.errors import ConfigError
from stablegan.models.conditional import ConditionalCritic, ConditionalGenerator
from stablegan.models.dcgan import DCGANDiscriminator, DCGANGenerator
from stablegan.models.flow import RealNVP
from stablegan.models.layers import (
    Discriminator,
    Generator,
    MinibatchDiscrimination,
    MinibatchStdDev,
)
from stablegan.models.mlp import MLPDiscriminator, MLPGenerator
from stablegan.models.resnet import ResNetDiscriminator, ResNetGenerator

FAMILIES = ("auto", "mlp", "dcgan", "resnet", "flow")

__all__ = [
    "FAMILIES",
    "Discriminator",
    "Generator",
    "MinibatchDiscrimination",
    "MinibatchStdDev",
    "build_classifier",
    "build_conditional_models",
    "build_discriminator",
    "build_generator",
    "build_models",
    "resolve_family",
]


def resolve_family(cfg: ModelConfig, sample_shape: tuple[int, ...]) -> str:
    """The concrete family for ``cfg.name`` ("auto": mlp for 1-D shapes, dcgan for (C, H, W))."""
    if cfg.name not in FAMILIES:
        raise ConfigError(
            f"unknown model '{cfg.name}'", hint=f"set model.name to one of {', '.join(FAMILIES)}"
        )
    shape = tuple(sample_shape)
    if not shape or any(int(s) < 1 for s in shape):
        raise ConfigError(f"cannot build a model for sample shape {shape}",
                          hint="check the data source")
    if cfg.name != "auto":
        return cfg.name
    if len(shape) == 3:
        return "dcgan"
    if len(shape) == 1:
        return "mlp"
    raise ConfigError(
        f"model.name=auto cannot pick a family for sample shape {shape}",
        hint="set --set model.name=mlp (flattens any shape)",
    )


def build_generator(cfg: ModelConfig, sample_shape: tuple[int, ...],
                    num_classes: int | None = None) -> Generator:
    """The generator of family ``cfg.name`` for samples of ``sample_shape`` (with
    ``num_classes``: conditional BatchNorm, ``generate(z, y)``; DCGAN and ResNet only)."""
    shape = tuple(int(s) for s in sample_shape)
    family = resolve_family(cfg, shape)
    if num_classes and family not in ("dcgan", "resnet"):
        raise ConfigError(f"conditional BatchNorm needs a DCGAN or ResNet generator, not "
                          f"model.name={family}",
                          hint="--set model.name=dcgan, or conditional.generator=concat")
    if family == "mlp":
        return MLPGenerator(shape, cfg.latent_dim, cfg.hidden, cfg.layers)
    if family == "flow":
        return _flow_generator(cfg, shape)
    if family == "dcgan":
        return DCGANGenerator(shape, cfg.latent_dim, cfg.channels, cfg.g_batchnorm, num_classes)
    return ResNetGenerator(shape, cfg.latent_dim, cfg.channels, cfg.g_batchnorm, num_classes)


def build_discriminator(cfg: ModelConfig, sample_shape: tuple[int, ...]) -> Discriminator:
    """The discriminator of family ``cfg.name`` with the ``d_*``/minibatch options applied."""
    shape = tuple(int(s) for s in sample_shape)
    family = resolve_family(cfg, shape)
    opts = dict(
        norm=cfg.d_norm,
        drop=cfg.d_dropout,
        minibatch_stddev=cfg.minibatch_stddev,
        minibatch_kernels=cfg.minibatch_discrimination,
    )
    if not 0.0 <= cfg.d_dropout < 1.0:
        raise ConfigError(f"model.d_dropout must be in [0, 1), got {cfg.d_dropout}",
                          hint="for example --set model.d_dropout=0.2")
    if family in ("mlp", "flow"):  # a flow's critic and classifier are MLPs
        return MLPDiscriminator(shape, cfg.hidden, cfg.layers, **opts)
    if family == "dcgan":
        return DCGANDiscriminator(shape, cfg.channels, **opts)
    return ResNetDiscriminator(shape, cfg.channels, **opts)


def _flow_generator(cfg: ModelConfig, shape: tuple[int, ...]) -> RealNVP:
    """RealNVP (``model.flow_layers`` couplings of width ``model.hidden``): a bijection, so the
    latent dimension must equal the data dimension of vector samples."""
    if len(shape) != 1 or shape[0] < 2:
        raise ConfigError(f"model.name=flow needs vector samples of dimension >= 2, got sample "
                          f"shape {shape}", hint="use model.name=mlp or dcgan for this data")
    if cfg.latent_dim != shape[0]:
        raise ConfigError(
            f"model.name=flow is a bijection: model.latent_dim must equal the data dimension "
            f"{shape[0]}, got {cfg.latent_dim}", hint=f"set --set model.latent_dim={shape[0]}")
    return RealNVP(shape[0], layers=cfg.flow_layers, hidden=cfg.hidden)


def build_models(cfg: ModelConfig, sample_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    """Return ``(generator, discriminator)`` for samples of ``sample_shape``."""
    return build_generator(cfg, sample_shape), build_discriminator(cfg, sample_shape)


def build_conditional_models(cfg: ModelConfig, cond: ConditionalConfig,
                             sample_shape: tuple[int, ...], num_classes: int
                             ) -> tuple[nn.Module, nn.Module]:
    """``(G(pack(z, y)), D(x, y))`` for ``num_classes`` classes: conditional BatchNorm or a
    class embedding concatenated to z (``conditional.generator``), a projection or auxiliary-
    classifier critic (``conditional.critic``); see :mod:`stablegan.models.conditional`."""
    if cond.generator == "cbn":
        base = build_generator(cfg, sample_shape, num_classes)
        embed = 0
    else:
        embed = cond.embed_dim or cfg.latent_dim
        base = build_generator(dataclasses.replace(cfg, latent_dim=cfg.latent_dim + embed),
                               sample_shape)
    G = ConditionalGenerator(base, cfg.latent_dim, num_classes, cond.generator, embed)
    D = ConditionalCritic(build_discriminator(cfg, sample_shape), num_classes, cond.critic)
    return G, D


def build_conditional_classifier(cfg: ModelConfig, sample_shape: tuple[int, ...],
                                 num_classes: int) -> nn.Module:
    """The ratio classifier conditioned on y, ``C(x, y) = c(x) + <embed(y), phi(x)>`` (a
    projection head on :func:`build_classifier`), for the conditional variational method."""
    return ConditionalCritic(build_classifier(cfg, sample_shape), num_classes, "projection")


def build_classifier(cfg: ModelConfig, sample_shape: tuple[int, ...]) -> nn.Module:
    """The PPO-GAN auxiliary real/fake classifier C: the discriminator family with BatchNorm, no
    dropout and no minibatch layers; ``forward(x)`` returns logits (B,)."""
    c_cfg = dataclasses.replace(
        cfg, d_norm="batch", d_dropout=0.0, minibatch_stddev=False, minibatch_discrimination=0
    )
    return build_discriminator(c_cfg, sample_shape)
