"""Building blocks shared by the discriminators: normalisation choice, the minibatch layers and
the discriminator base class whose ``forward`` is ``forward_features(x)[0]``.

All layers are twice differentiable (gradient penalties differentiate through them) and work with
any batch size >= 1.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from stablegan.errors import ConfigError, ShapeError

NORMS = ("none", "layer", "batch")


def _check_norm(norm: str) -> None:
    """Raise ConfigError unless ``norm`` is a known discriminator normalisation."""
    if norm not in NORMS:
        raise ConfigError(
            f"unknown discriminator normalisation '{norm}'",
            hint="set model.d_norm to one of none, layer, batch",
        )


def norm_1d(norm: str, features: int) -> nn.Module:
    """Normalisation for (B, F) activations: LayerNorm, BatchNorm1d or identity."""
    _check_norm(norm)
    if norm == "layer":
        return nn.LayerNorm(features)
    if norm == "batch":
        return nn.BatchNorm1d(features)
    return nn.Identity()


def norm_2d(norm: str, channels: int) -> nn.Module:
    """Normalisation for (B, C, H, W) maps: GroupNorm(1, C) (layer-norm-like), BatchNorm2d or
    identity."""
    _check_norm(norm)
    if norm == "layer":
        return nn.GroupNorm(1, channels)
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    return nn.Identity()


def dropout(p: float) -> nn.Module:
    """Elementwise dropout with probability ``p``, or identity when ``p == 0``."""
    return nn.Dropout(p) if p > 0 else nn.Identity()


class MinibatchStdDev(nn.Module):
    """ProGAN minibatch standard deviation: appends one feature, the mean over features of the
    per-feature standard deviation across the batch, to every row of a (B, F) input."""

    eps: float = 1e-8

    def forward(self, x: Tensor) -> Tensor:
        """Return ``cat([x, s], 1)`` with ``s`` the (B, 1) broadcast batch-std statistic."""
        var = x.var(dim=0, correction=0)  # 0 for a batch of one
        stat = torch.sqrt(var + self.eps).mean()
        return torch.cat([x, stat.expand(x.shape[0], 1)], dim=1)


class MinibatchDiscrimination(nn.Module):
    """Minibatch discrimination (Salimans et al. 2016).

    ``M = x T`` is reshaped to (B, K, kernel_dim); for each kernel ``k`` and sample ``i`` the output
    is ``o_k(i) = sum_{j != i} exp(-||M_i,k - M_j,k||_1)``; the K outputs are appended to ``x``.
    Memory is O(B^2 K kernel_dim) (explicit L1 distances keep it twice differentiable).
    """

    def __init__(self, in_features: int, num_kernels: int, kernel_dim: int = 5) -> None:
        super().__init__()
        if num_kernels < 1 or kernel_dim < 1:
            raise ConfigError(
                f"minibatch discrimination needs >= 1 kernels of dim >= 1, got {num_kernels}x"
                f"{kernel_dim}",
                hint="set model.minibatch_discrimination to a positive number or 0 to disable",
            )
        self.num_kernels = num_kernels
        self.kernel_dim = kernel_dim
        self.T = nn.Parameter(torch.randn(in_features, num_kernels * kernel_dim) * 0.1)

    def forward(self, x: Tensor) -> Tensor:
        """Return ``cat([x, o], 1)`` of shape (B, F + num_kernels)."""
        m = (x @ self.T).view(x.shape[0], self.num_kernels, self.kernel_dim)
        dist = (m.unsqueeze(0) - m.unsqueeze(1)).abs().sum(dim=3)  # (B, B, K)
        # exp(-0) = 1 on the diagonal is the self term; remove it
        o = torch.exp(-dist).sum(dim=1) - 1.0
        return torch.cat([x, o], dim=1)


class DiscriminatorHead(nn.Module):
    """Optional minibatch layers followed by the linear scoring layer: (B, F) -> (B,)."""

    def __init__(self, features: int, minibatch_stddev: bool, minibatch_kernels: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = features
        if minibatch_stddev:
            layers.append(MinibatchStdDev())
            width += 1
        if minibatch_kernels > 0:
            layers.append(MinibatchDiscrimination(width, minibatch_kernels))
            width += minibatch_kernels
        self.minibatch = nn.Sequential(*layers)
        self.linear = nn.Linear(width, 1)

    def forward(self, h: Tensor) -> Tensor:
        """Score (B,) of the penultimate features ``h`` (B, F)."""
        return self.linear(self.minibatch(h)).squeeze(1)


class Discriminator(nn.Module):
    """Base class: subclasses implement ``features`` (x -> (B, F)); ``forward_features`` adds the
    head and ``forward`` returns only the raw score (a logit/critic value, no sigmoid)."""

    sample_shape: tuple[int, ...]
    head: DiscriminatorHead

    def features(self, x: Tensor) -> Tensor:
        """Penultimate features (B, F) of a batch of samples."""
        raise NotImplementedError(f"{type(self).__name__} must implement features()")

    def forward_features(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Return ``(score (B,), penultimate features (B, F))``; F excludes minibatch features."""
        if tuple(x.shape[1:]) != tuple(self.sample_shape):
            raise ShapeError(
                f"discriminator expects samples of shape {tuple(self.sample_shape)}, "
                f"got a batch of shape {tuple(x.shape)}",
                hint="build the models with the data source's sample_shape",
            )
        h = self.features(x)
        return self.head(h), h

    def forward(self, x: Tensor) -> Tensor:
        """Raw score (B,) of a batch of samples."""
        return self.forward_features(x)[0]


class Generator(nn.Module):
    """Base class checking the latent input; subclasses implement ``generate``."""

    latent_dim: int
    sample_shape: tuple[int, ...]

    def generate(self, z: Tensor) -> Tensor:
        """Samples (B, *sample_shape) from latents (B, latent_dim)."""
        raise NotImplementedError(f"{type(self).__name__} must implement generate()")

    def forward(self, z: Tensor) -> Tensor:
        """Samples (B, *sample_shape) from latents (B, latent_dim)."""
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ShapeError(
                f"generator expects latents of shape (B, {self.latent_dim}), got {tuple(z.shape)}",
                hint="sample z with shape (batch, model.latent_dim)",
            )
        return self.generate(z)


def dcgan_init(module: nn.Module) -> None:
    """DCGAN initialisation: conv/linear weights N(0, 0.02), norm scales N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm)):
            if m.weight is not None:
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.zeros_(m.bias)


def xavier_init(module: nn.Module, gain: float = 1.0) -> None:
    """Glorot-uniform weights and zero biases for every conv/linear layer (WGAN-GP ResNet)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight, gain=gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def prod(shape: tuple[int, ...]) -> int:
    """Number of elements of one sample of ``shape``."""
    return int(math.prod(shape))
