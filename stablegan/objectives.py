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
rsgan           sp(-(s_r - s_f))                           sp(-(s_f - s_r))
=============== ========================================== ===============================

``rsgan`` is the relativistic standard GAN of Jolicoeur-Martineau (2019), RelGAN's default:
``BCE(D(r) - D(f), 1)`` for the discriminator and ``BCE(D(f) - D(r), 1)`` for the generator,
with real and fake samples paired by position in the batch.

A discriminator may return several scores per sample, shape (B, K) (RelGAN's K
representations): every loss is then the mean over all B * K scores, as RelGAN computes it, and a
per-sample weight applies to all K scores of its sample.

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
    if scores.dim() not in (1, 2):
        raise ShapeError(
            f"the discriminator returned {name} scores of shape {tuple(scores.shape)}; "
            "expected scores per sample, shape (B,), (B, 1) or (B, K)",
            hint="end the discriminator with a Linear(..., 1) and flatten its output",
        )
    return scores


def per_sample(scores: Tensor) -> Tensor:
    """One score per sample: (B,) as is, the mean over the K scores of (B, K)."""
    scores = _flat_scores(scores, "")
    return scores.mean(dim=1) if scores.dim() == 2 else scores


def _weighted_mean(values: Tensor, weights: Tensor | None) -> Tensor:
    if weights is None:
        return values.mean()
    if weights.numel() != values.shape[0]:  # (B, 1) * (B,) would broadcast to (B, B) silently
        raise ShapeError(
            f"got per-sample weights of shape {tuple(weights.shape)} for {values.shape[0]} fake "
            "samples; expected one weight per fake sample",
            hint="pass weights of shape (B,)",
        )
    return (weights.reshape(-1, *[1] * (values.dim() - 1)) * values).mean()


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

    @property
    def relativistic(self) -> bool:
        """Whether the generator loss needs the real scores too (``g_loss(fake, real)``)."""
        return self.loss == "rsgan"

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
        if real.shape[1:] != fake.shape[1:]:
            raise ShapeError(
                f"the discriminator returned real scores of shape {tuple(real.shape)} and fake "
                f"scores of shape {tuple(fake.shape)}; expected the same scores per sample, "
                "shape (B,) or (B, K) for both",
                hint="the discriminator must give every sample the same number of scores")
        if self.loss in ("minimax", "nonsaturating"):
            t_r = _per_score(self.targets(real.shape[0], True, real.device), real)
            t_f = _per_score(self.targets(fake.shape[0], False, fake.device), fake)
            l_r = F.binary_cross_entropy_with_logits(real, t_r)
            l_f = F.binary_cross_entropy_with_logits(fake, t_f, reduction="none")
            return l_r + _weighted_mean(l_f, fake_weights)
        if self.loss == "wasserstein":
            return -real.mean() + _weighted_mean(fake, fake_weights)
        if self.loss == "hinge":
            return F.relu(1.0 - real).mean() + _weighted_mean(F.relu(1.0 + fake), fake_weights)
        if self.loss == "least_squares":
            return 0.5 * ((real - 1.0) ** 2).mean() + 0.5 * _weighted_mean(fake**2, fake_weights)
        if self.loss == "rsgan":
            _check_paired(real, fake)
            return _weighted_mean(F.softplus(-(real - fake)), fake_weights)
        raise ValueError(f"unknown loss {self.loss}")

    def g_per_sample(self, fake: Tensor, real: Tensor | None = None) -> Tensor:
        """Per-sample generator loss, shape (B,) (or (B, K)); ``g_loss`` is its mean. ``real``
        (scores of a real batch of the same size) is needed by ``rsgan`` only."""
        fake = _flat_scores(fake, "fake")
        if self.loss == "rsgan":
            if real is None:
                raise ValueError("the rsgan generator loss needs the real scores")
            real = _flat_scores(real, "real")
            _check_paired(real, fake)
            return F.softplus(-(fake - real))
        if self.loss == "minimax":
            return -F.softplus(fake)
        if self.loss == "nonsaturating":
            return F.softplus(-fake)
        if self.loss in ("wasserstein", "hinge"):
            return -fake
        if self.loss == "least_squares":
            return 0.5 * (fake - 1.0) ** 2
        raise ValueError(f"unknown loss {self.loss}")

    def g_loss(self, fake: Tensor, real: Tensor | None = None) -> Tensor:
        """Generator loss (to minimise) on fake scores (and real ones for ``rsgan``)."""
        return self.g_per_sample(fake, real).mean()


def _per_score(targets: Tensor, scores: Tensor) -> Tensor:
    """Per-sample targets (B,) repeated over the K scores of (B, K) scores."""
    return targets.reshape(-1, *[1] * (scores.dim() - 1)).expand_as(scores)


def _check_paired(real: Tensor, fake: Tensor) -> None:
    if real.shape != fake.shape:
        raise ShapeError(f"the relativistic loss pairs real and fake scores by position but got "
                         f"shapes {tuple(real.shape)} and {tuple(fake.shape)}",
                         hint="use the same batch size for real and fake batches")


def feature_matching_loss(real_features: Tensor, fake_features: Tensor) -> Tensor:
    """Salimans et al. (2016): ``|| E f(x_real) - E f(G(z)) ||_2^2`` on D's penultimate features."""
    return ((real_features.detach().mean(0) - fake_features.mean(0)) ** 2).sum()
