"""Infinite 2-D Gaussian mixtures of the PacGAN / unrolled-GAN protocol: ``ring`` (8 modes on the
unit circle, std 0.01) and ``grid`` (25 modes at {-4, -2, 0, 2, 4}^2, std 0.05)."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from stablegan.data.base import DataSource, check_generator_state, check_split, check_state_name

REALS_SEEDS = {"train": 1001, "holdout": 2002}  # evaluation sets depend only on the split


def ring_modes(k: int = 8, radius: float = 1.0) -> Tensor:
    """``k`` centres evenly spaced on the circle of ``radius``, shape (k, 2)."""
    angles = torch.arange(k, dtype=torch.float64) * (2 * math.pi / k)
    return (torch.stack([angles.cos(), angles.sin()], dim=1) * radius).float()


def grid_modes(values: tuple[float, ...] = (-4.0, -2.0, 0.0, 2.0, 4.0)) -> Tensor:
    """Centres at every pair of ``values``, shape (len(values)^2, 2)."""
    v = torch.tensor(values, dtype=torch.float32)
    return torch.cartesian_prod(v, v)


class GaussianMixture(DataSource):
    """Equal-weight isotropic Gaussian mixture sampled on the fly; ``size`` is None (infinite)."""

    task = "points"

    def __init__(self, name: str, modes: Tensor, std: float, seed: int) -> None:
        self.name = name
        self.modes = modes.clone()
        self.mode_std = float(std)
        self.sample_shape = (int(modes.shape[1]),)
        self._gen = torch.Generator().manual_seed(int(seed))

    def _draw(self, n: int, gen: torch.Generator) -> Tensor:
        """``n`` mixture samples using ``gen``."""
        idx = torch.randint(0, self.modes.shape[0], (n,), generator=gen)
        noise = torch.randn(n, self.modes.shape[1], generator=gen)
        return self.modes[idx] + noise * self.mode_std

    def sample(self, batch_size: int) -> Tensor:
        """A fresh training batch from the source's generator."""
        return self._draw(batch_size, self._gen)

    def reals(self, n: int, split: str = "train") -> Tensor:
        """``n`` samples from a generator seeded by ``split`` only (same on every call)."""
        check_split(split)
        return self._draw(n, torch.Generator().manual_seed(REALS_SEEDS[split]))

    def state_dict(self) -> dict[str, Any]:
        """The generator state."""
        return {"name": self.name, "generator": self._gen.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the generator state."""
        check_state_name(state, self.name)
        self._gen.set_state(check_generator_state(state, self.name))


def ring(seed: int) -> GaussianMixture:
    """8 Gaussians on the unit circle, std 0.01."""
    return GaussianMixture("ring", ring_modes(8, 1.0), 0.01, seed)


def grid(seed: int) -> GaussianMixture:
    """25 Gaussians on the {-4, -2, 0, 2, 4}^2 grid, std 0.05."""
    return GaussianMixture("grid", grid_modes(), 0.05, seed)
