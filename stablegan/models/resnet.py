"""The WGAN-GP / CT-GAN CIFAR-10 ResNet (Gulrajani et al. 2017), generalised to square images of
side ``4 * 2**k`` (k >= 1): the generator uses k up-sampling blocks (3 for 32x32), the critic an
optimised first block plus max(3, ...) residual blocks down to 8x8 (4x4 for 8x8 images)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from stablegan.errors import ConfigError
from stablegan.models.conditional import LabelSequential, norm_or_cbn
from stablegan.models.layers import (
    Discriminator,
    DiscriminatorHead,
    Generator,
    dropout,
    norm_2d,
    xavier_init,
)


def resnet_depth(sample_shape: tuple[int, ...]) -> int:
    """Return k with image side ``4 * 2**k`` (k >= 1); ConfigError for other shapes."""
    if len(sample_shape) == 3:
        _, h, w = sample_shape
        if h == w and h >= 8 and h % 4 == 0 and (h // 4) & (h // 4 - 1) == 0:
            return (h // 4).bit_length() - 1
        raise ConfigError(
            f"model 'resnet' needs square images of side 4*2^k (8, 16, 32, 64, ...), got {h}x{w}",
            hint="use --set model.name=dcgan (handles 28x28) or resize with data.image_size",
        )
    raise ConfigError(
        f"model 'resnet' needs images of shape (C, H, W), got sample shape {tuple(sample_shape)}",
        hint="use --set model.name=mlp for vector data",
    )


class UpBlock(nn.Module):
    """Generator block: BN ReLU up2 conv3x3 BN ReLU conv3x3, shortcut up2 conv1x1."""

    takes_labels = True  # conditional BN (num_classes): forward(x, y)

    def __init__(self, cin: int, cout: int, batchnorm: bool,
                 num_classes: int | None = None) -> None:
        super().__init__()
        self.bn1 = norm_or_cbn(batchnorm, cin, num_classes)
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1)
        self.bn2 = norm_or_cbn(batchnorm, cout, num_classes)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.shortcut = nn.Conv2d(cin, cout, 1)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Twice-upsampled residual output."""
        h = F.interpolate(F.relu(_norm(self.bn1, x, y)), scale_factor=2.0, mode="nearest")
        h = self.conv2(F.relu(_norm(self.bn2, self.conv1(h), y)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2.0, mode="nearest"))


def _norm(layer: nn.Module, x: Tensor, y: Tensor | None) -> Tensor:
    return layer(x, y) if getattr(layer, "takes_labels", False) else layer(x)


class OptimizedBlock(nn.Module):
    """First critic block: conv3x3 ReLU conv3x3 avgpool2, shortcut avgpool2 conv1x1."""

    def __init__(self, cin: int, cout: int, drop: float) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.shortcut = nn.Conv2d(cin, cout, 1)
        self.drop = dropout(drop)

    def forward(self, x: Tensor) -> Tensor:
        """Halved-resolution residual output."""
        h = self.conv2(self.drop(F.relu(self.conv1(x))))
        return F.avg_pool2d(h, 2) + self.shortcut(F.avg_pool2d(x, 2))


class DiscBlock(nn.Module):
    """Critic block: norm ReLU conv3x3 norm ReLU conv3x3 [avgpool2]; shortcut conv1x1 avgpool2
    when down-sampling, identity otherwise. Dropout follows each ReLU."""

    def __init__(self, channels: int, down: bool, norm: str, drop: float) -> None:
        super().__init__()
        self.down = down
        self.norm1 = norm_2d(norm, channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, 1, 1)
        self.norm2 = norm_2d(norm, channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1)
        self.shortcut = nn.Conv2d(channels, channels, 1) if down else nn.Identity()
        self.drop = dropout(drop)

    def forward(self, x: Tensor) -> Tensor:
        """Residual output, halved in resolution when ``down``."""
        h = self.conv1(self.drop(F.relu(self.norm1(x))))
        h = self.conv2(self.drop(F.relu(self.norm2(h))))
        s = self.shortcut(x)
        if self.down:
            h, s = F.avg_pool2d(h, 2), F.avg_pool2d(s, 2)
        return h + s


class ResNetGenerator(Generator):
    """Linear to (channels, 4, 4) -> k UpBlocks -> BN ReLU -> conv3x3 -> tanh. With
    ``num_classes`` every BN is a conditional BatchNorm (``generate(z, y)``)."""

    def __init__(
        self, sample_shape: tuple[int, ...], latent_dim: int, channels: int, batchnorm: bool,
        num_classes: int | None = None,
    ) -> None:
        super().__init__()
        k = resnet_depth(sample_shape)
        self.latent_dim = latent_dim
        self.sample_shape = tuple(sample_shape)
        self.channels = channels
        self.project = nn.Linear(latent_dim, channels * 16)
        self.blocks = LabelSequential(*[UpBlock(channels, channels, batchnorm, num_classes)
                                        for _ in range(k)])
        self.bn = norm_or_cbn(batchnorm, channels, num_classes)
        self.out = nn.Conv2d(channels, sample_shape[0], 3, 1, 1)
        xavier_init(self)

    def generate(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """Images (B, C, H, W) in [-1, 1] (``y``: the labels of a conditional-BN generator)."""
        h = self.blocks(self.project(z).view(z.shape[0], self.channels, 4, 4), y)
        return self.out(F.relu(_norm(self.bn, h, y))).tanh()


class ResNetDiscriminator(Discriminator):
    """OptimizedBlock then residual blocks (down-sampling until 8x8, at least 3 blocks), ReLU,
    dropout, global sum pooling -> features (B, channels) -> head."""

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
        k = resnet_depth(sample_shape)
        self.sample_shape = tuple(sample_shape)
        n_down = max(k - 1, 1)  # total down-samplings: 32 -> 8, 8 -> 4
        n_blocks = max(3, n_down - 1)
        self.first = OptimizedBlock(sample_shape[0], channels, drop)
        self.blocks = nn.Sequential(
            *[DiscBlock(channels, i < n_down - 1, norm, drop) for i in range(n_blocks)]
        )
        self.drop = dropout(drop)
        self.head = DiscriminatorHead(channels, minibatch_stddev, minibatch_kernels)
        xavier_init(self)

    def features(self, x: Tensor) -> Tensor:
        """Globally sum-pooled activations (B, channels)."""
        h = self.drop(F.relu(self.blocks(self.first(x))))
        return h.sum(dim=(2, 3))
