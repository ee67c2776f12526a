"""GAN objectives: the discriminator and generator losses of the classic games.

Scores ``s`` are raw discriminator outputs (logits for the BCE games, critic values otherwise),
shape (B,). ``sigma`` is the logistic function, ``sp`` softplus, so ``-log sigma(s) = sp(-s)`` and
``-log(1 - sigma(s)) = sp(s)``.

=============== ========================================== ===============================
loss            discriminator minimises                    generator minimises
=============== ========================================== ===============================
minimax         BCE(s_r, t_r) + BCE(s_f, t_f)              log(1 - sigma(s_f)) = -sp(s_f)
nonsaturating   BCE(s_r, t_r) + BCE(s_f, t_f)              -log sigma(s_f) = sp(-s_f)
wasserstein     -s_r + s_f                                 -s_f
hinge           relu(1 - s_r) + relu(1 + s_f)              -s_f
least_squares   (s_r - 1)^2 / 2 + s_f^2 / 2                (s_f - 1)^2 / 2
=============== ========================================== ===============================

Every term is a batch mean. The fake term accepts per-sample weights ``w`` (summing to B, as the
importance weights of the variational method do): ``mean(w * l(s_f))``. Targets ``t_r = 1``,
``t_f = 0`` unless one-sided label smoothing (``t_r = 1 - a``) or noisy labels are set.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from stablegan.errors import ShapeError


def _flat_scores(scores: Tensor, name: str) -> Tensor:
    if scores.dim() == 2 and scores.shape[1] == 1:
        scores = scores[:, 0]
    if scores.dim() != 1:
        raise ShapeError(
            f"the discriminator returned {name} scores of shape {tuple(scores.shape)}; "
            "expected one score per sample, shape (B,) or (B, 1)",
            hint="end the discriminator with a Linear(..., 1) and flatten its output",
        )
    return scores


def _weighted_mean(values: Tensor, weights: Tensor | None) -> Tensor:
    if weights is None:
        return values.mean()
    if weights.numel() != values.numel():  # (B, 1) * (B,) would broadcast to (B, B) silently
        raise ShapeError(
            f"got per-sample weights of shape {tuple(weights.shape)} for {values.numel()} fake "
            "scores; expected one weight per fake sample",
            hint="pass weights of shape (B,)",
        )
    return (weights.reshape(values.shape) * values).mean()


@dataclass
class Objective:
    """One of the classic GAN games, with optional label smoothing and noisy labels."""

    loss: str = "nonsaturating"
    label_smoothing: float = 0.0
    label_noise: float = 0.0
    label_noise_mode: str = "flip"

    @property
    def uses_labels(self) -> bool:
        return self.loss in ("minimax", "nonsaturating")

    def targets(self, n: int, real: bool, device: torch.device) -> Tensor:
        """BCE targets: 1 - smoothing for reals, 0 for fakes, then flips or uniform jitter."""
        value = 1.0 - self.label_smoothing if real else 0.0
        t = torch.full((n,), value, device=device)
        p = self.label_noise
        if p > 0:
            if self.label_noise_mode == "flip":  # swap the label with probability p
                flip = torch.rand(n, device=device) < p
                t = torch.where(flip, torch.full_like(t, 0.0 if real else 1.0), t)
            else:  # uniform jitter towards the other class, width p
                jitter = torch.rand(n, device=device) * p
                t = t - jitter if real else t + jitter
        return t

    def d_loss(self, real: Tensor, fake: Tensor, fake_weights: Tensor | None = None) -> Tensor:
        """Discriminator loss (to minimise) on real and fake scores."""
        real = _flat_scores(real, "real")
        fake = _flat_scores(fake, "fake")
        if self.loss in ("minimax", "nonsaturating"):
            t_r = self.targets(real.shape[0], True, real.device)
            t_f = self.targets(fake.shape[0], False, fake.device)
            l_r = F.binary_cross_entropy_with_logits(real, t_r)
            l_f = F.binary_cross_entropy_with_logits(fake, t_f, reduction="none")
            return l_r + _weighted_mean(l_f, fake_weights)
        if self.loss == "wasserstein":
            return -real.mean() + _weighted_mean(fake, fake_weights)
        if self.loss == "hinge":
            return F.relu(1.0 - real).mean() + _weighted_mean(F.relu(1.0 + fake), fake_weights)
        if self.loss == "least_squares":
            return 0.5 * ((real - 1.0) ** 2).mean() + 0.5 * _weighted_mean(fake**2, fake_weights)
        raise ValueError(f"unknown loss {self.loss}")

    def g_per_sample(self, fake: Tensor) -> Tensor:
        """Per-sample generator loss, shape (B,); ``g_loss`` is its mean."""
        fake = _flat_scores(fake, "fake")
        if self.loss == "minimax":
            return -F.softplus(fake)
        if self.loss == "nonsaturating":
            return F.softplus(-fake)
        if self.loss in ("wasserstein", "hinge"):
            return -fake
        if self.loss == "least_squares":
            return 0.5 * (fake - 1.0) ** 2
        raise ValueError(f"unknown loss {self.loss}")

    def g_loss(self, fake: Tensor) -> Tensor:
        """Generator loss (to minimise) on fake scores."""
        return self.g_per_sample(fake).mean()


def feature_matching_loss(real_features: Tensor, fake_features: Tensor) -> Tensor:
    """Salimans et al. (2016): ``|| E f(x_real) - E f(G(z)) ||_2^2`` on D's penultimate features."""
    return ((real_features.detach().mean(0) - fake_features.mean(0)) ** 2).sum()
