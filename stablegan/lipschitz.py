"""Keeping the critic (approximately) 1-Lipschitz.

* weight clipping (Arjovsky et al. 2017): ``w <- clip(w, -c, c)`` after each critic step;
* gradient penalty (Gulrajani et al. 2017): ``lambda E_xhat (||grad_x D(xhat)|| - k)^2`` on
  ``xhat = u x_real + (1 - u) x_fake``, ``u ~ U[0, 1]``; one-sided: ``max(0, ||.|| - k)^2``;
* consistency term (Wei et al. 2018, CT-GAN): two dropout passes ``D', D''`` over the same real
  batch, ``CT = E max(0, (D'(x) - D''(x))^2 + beta ||D'_(x) - D''_(x)||^2_mean - M)``, with
  ``D_`` the penultimate features;
* spectral normalisation (Miyato et al. 2018) on every Linear/Conv layer of the critic.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from stablegan.errors import ShapeError

_SN_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d)


def critic_features(discriminator: nn.Module, x: Tensor) -> tuple[Tensor, Tensor]:
    """``(scores (B,), penultimate features (B, F))`` from a discriminator that offers them.
    A critic with K scores per sample (B, K), RelGAN's one per representation, is read through
    their mean, the per-sample critic value the losses and the gradient penalty use."""
    fn = getattr(discriminator, "forward_features", None)
    if fn is None:
        raise ShapeError(
            f"{type(discriminator).__name__} has no forward_features(x) -> (scores, features)",
            hint="add that method to your discriminator, or turn off the feature terms "
            "(lipschitz.consistency.feature_weight=0, objective.feature_matching=0)",
        )
    scores, feats = fn(x)
    scores = scores.reshape(scores.shape[0], -1).mean(dim=1)
    return scores, feats.reshape(feats.shape[0], -1)


def input_gradient_norm(discriminator: nn.Module, x: Tensor, create_graph: bool) -> Tensor:
    """Per-sample ``||grad_x D(x)||_2``, shape (B,). A discriminator with K scores per sample
    (B, K) is differentiated through their mean, the per-sample critic value the losses use."""
    x = x.detach().requires_grad_(True)
    scores = discriminator(x)
    if scores.dim() == 2 and scores.shape[1] > 1:
        scores = scores.mean(dim=1)
    (grad,) = torch.autograd.grad(scores.sum(), x, create_graph=create_graph)
    return grad.flatten(1).norm(2, dim=1)


def interpolation_weights(n: int, dim: int, device: torch.device) -> Tensor:
    """``u ~ U[0, 1]`` of shape (n, 1, ...) for the interpolates (a seam for tests)."""
    return torch.rand((n,) + (1,) * (dim - 1), device=device)


def gradient_penalty(
    discriminator: nn.Module,
    real: Tensor,
    fake: Tensor,
    target: float = 1.0,
    one_sided: bool = False,
) -> tuple[Tensor, Tensor]:
    """WGAN-GP: ``E (||grad D(xhat)|| - target)^2`` (unweighted) and the per-sample norms."""
    if real.shape != fake.shape:
        raise ShapeError(
            f"gradient penalty needs real and fake batches of one shape, got {tuple(real.shape)} "
            f"and {tuple(fake.shape)}"
        )
    u = interpolation_weights(real.shape[0], real.dim(), real.device)
    xhat = u * real.detach() + (1.0 - u) * fake.detach()
    norms = input_gradient_norm(discriminator, xhat, create_graph=True)
    gap = norms - target
    if one_sided:
        gap = torch.relu(gap)
    return (gap**2).mean(), norms.detach()


def consistency_term(
    discriminator: nn.Module, real: Tensor, feature_weight: float = 0.1, margin: float = 0.0
) -> Tensor:
    """CT-GAN: ``E max(0, (D'(x)-D''(x))^2 + beta mean_k (D'_k(x)-D''_k(x))^2 - M)``."""
    s1, f1 = critic_features(discriminator, real)
    s2, f2 = critic_features(discriminator, real)
    ct = (s1 - s2) ** 2 + feature_weight * ((f1 - f2) ** 2).mean(dim=1)
    return torch.relu(ct - margin).mean()


@torch.no_grad()
def clip_weights(module: nn.Module, c: float) -> None:
    """WGAN weight clipping: every parameter into ``[-c, c]``."""
    for p in module.parameters():
        p.clamp_(-c, c)


def apply_spectral_norm(module: nn.Module) -> int:
    """Spectral-normalise every Linear/Conv layer of ``module`` in place; returns the count."""
    from torch.nn.utils import parametrize
    from torch.nn.utils.parametrizations import spectral_norm

    count = 0
    for child in list(module.modules()):
        if isinstance(child, _SN_LAYERS) and not parametrize.is_parametrized(child, "weight"):
            spectral_norm(child)
            count += 1
    return count
