"""Fully connected generator and discriminator for any sample shape (flattened)."""

from __future__ import annotations

from torch import Tensor, nn

from stablegan.models.layers import (
    Discriminator,
    DiscriminatorHead,
    Generator,
    dropout,
    norm_1d,
    prod,
)


class MLPGenerator(Generator):
    """``layers`` hidden ReLU layers of width ``hidden``; linear output for 1-D sample shapes
    (points), tanh output for anything else (images in [-1, 1])."""

    def __init__(
        self, sample_shape: tuple[int, ...], latent_dim: int, hidden: int, layers: int
    ) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.sample_shape = tuple(sample_shape)
        blocks: list[nn.Module] = []
        width = latent_dim
        for _ in range(layers):
            blocks += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        blocks.append(nn.Linear(width, prod(self.sample_shape)))
        if len(self.sample_shape) != 1:
            blocks.append(nn.Tanh())
        self.net = nn.Sequential(*blocks)

    def generate(self, z: Tensor) -> Tensor:
        """Samples (B, *sample_shape)."""
        return self.net(z).view(z.shape[0], *self.sample_shape)


class MLPDiscriminator(Discriminator):
    """``layers`` hidden layers ``Linear -> norm -> LeakyReLU(0.2) -> dropout`` of width
    ``hidden``; the features are the last hidden activations (B, hidden)."""

    def __init__(
        self,
        sample_shape: tuple[int, ...],
        hidden: int,
        layers: int,
        norm: str = "none",
        drop: float = 0.0,
        minibatch_stddev: bool = False,
        minibatch_kernels: int = 0,
    ) -> None:
        super().__init__()
        self.sample_shape = tuple(sample_shape)
        blocks: list[nn.Module] = [nn.Flatten()]
        width = prod(self.sample_shape)
        for _ in range(layers):
            blocks += [nn.Linear(width, hidden), norm_1d(norm, hidden), nn.LeakyReLU(0.2)]
            blocks.append(dropout(drop))
            width = hidden
        self.net = nn.Sequential(*blocks)
        self.head = DiscriminatorHead(width, minibatch_stddev, minibatch_kernels)

    def features(self, x: Tensor) -> Tensor:
        """Last hidden activations (B, hidden)."""
        return self.net(x)
