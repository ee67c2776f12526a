"""DCGAN-style convolutional generator and discriminator for square images of side
``s0 * 2**k`` with ``s0`` in {4, 7} (8x8, 28x28, 32x32, 64x64, ...)."""

from __future__ import annotations

from torch import Tensor, nn

from stablegan.errors import ConfigError
from stablegan.models.conditional import LabelSequential, norm_or_cbn
from stablegan.models.layers import (
    Discriminator,
    DiscriminatorHead,
    Generator,
    dcgan_init,
    dropout,
    norm_2d,
)


def dcgan_geometry(sample_shape: tuple[int, ...]) -> tuple[int, int]:
    """Return ``(s0, k)`` with image side ``= s0 * 2**k``, s0 in (4, 7); ConfigError otherwise."""
    if len(sample_shape) != 3:
        raise ConfigError(
            f"model 'dcgan' needs images of shape (C, H, W), got sample shape "
            f"{tuple(sample_shape)}",
            hint="use --set model.name=mlp for vector data",
        )
    _, h, w = sample_shape
    for s0 in (4, 7):
        if h == w and h % s0 == 0 and _is_power_of_two(h // s0):
            return s0, (h // s0).bit_length() - 1
    raise ConfigError(
        f"model 'dcgan' needs square images of side 4*2^k or 7*2^k, got {h}x{w}",
        hint="resize the data, e.g. --set data.image_size=32, or use --set model.name=mlp",
    )


def _is_power_of_two(n: int) -> bool:
    """True for 1, 2, 4, 8, ..."""
    return n >= 1 and n & (n - 1) == 0


class DCGANGenerator(Generator):
    """Linear to (channels * 2^k, s0, s0) -> [BN] ReLU -> k x (ConvTranspose2d(4, 2, 1) halving
    channels, [BN], ReLU) -> Conv2d 3x3 to image channels -> tanh. With ``num_classes`` every BN
    is a conditional BatchNorm (``generate(z, y)``)."""

    def __init__(
        self, sample_shape: tuple[int, ...], latent_dim: int, channels: int, batchnorm: bool,
        num_classes: int | None = None,
    ) -> None:
        super().__init__()
        s0, k = dcgan_geometry(sample_shape)
        self.latent_dim = latent_dim
        self.sample_shape = tuple(sample_shape)
        c = channels * 2**k
        self.c0, self.s0 = c, s0
        self.project = nn.Linear(latent_dim, c * s0 * s0)

        def bn(n: int) -> nn.Module:
            return norm_or_cbn(batchnorm, n, num_classes)

        blocks: list[nn.Module] = [bn(c), nn.ReLU()]
        for _ in range(k):
            blocks += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1), bn(c // 2), nn.ReLU()]
            c //= 2
        blocks += [nn.Conv2d(c, sample_shape[0], 3, 1, 1), nn.Tanh()]
        self.net = LabelSequential(*blocks)
        dcgan_init(self)

    def generate(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """Images (B, C, H, W) in [-1, 1] (``y``: the labels of a conditional-BN generator)."""
        return self.net(self.project(z).view(z.shape[0], self.c0, self.s0, self.s0), y)


class DCGANDiscriminator(Discriminator):
    """Mirror of the generator: Conv2d 3x3 (image -> channels) LeakyReLU, then k stride-2
    Conv2d(4, 2, 1) doubling channels with norm and LeakyReLU(0.2); dropout after every
    activation; the features are the flattened (channels * 2^k, s0, s0) map."""

    def __init__(
        self,
        sample_shape: tuple[int, ...],
        channels: int,
        norm: str = "none",
        drop: float = 0.0,
        minibatch_stddev: bool = False,
        minibatch_kernels: int = 0,
    ) -> None:
        super().__init__()
        s0, k = dcgan_geometry(sample_shape)
        self.sample_shape = tuple(sample_shape)
        c = channels
        blocks: list[nn.Module] = [
            nn.Conv2d(sample_shape[0], c, 3, 1, 1),  # no norm on the first layer (DCGAN)
            nn.LeakyReLU(0.2),
            dropout(drop),
        ]
        for _ in range(k):
            blocks += [nn.Conv2d(c, 2 * c, 4, 2, 1), norm_2d(norm, 2 * c), nn.LeakyReLU(0.2)]
            blocks.append(dropout(drop))
            c *= 2
        blocks.append(nn.Flatten())
        self.net = nn.Sequential(*blocks)
        self.head = DiscriminatorHead(c * s0 * s0, minibatch_stddev, minibatch_kernels)
        dcgan_init(self)

    def features(self, x: Tensor) -> Tensor:
        """Flattened last feature map (B, channels * 2^k * s0 * s0)."""
        return self.net(x)
