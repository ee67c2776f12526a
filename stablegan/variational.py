"""The variational pieces of Wu et al. (NeurIPS 2020), "Improving GAN Training with Probability
Ratio Clipping and Sample Reweighting". Each function is a few lines and quotes its equation.

Critic side (Eqs. 7-8), sample re-weighting::

    w_i = B * softmax(f(x_fake) / T)_i        (no gradient through w)
    L_D = -mean f(x_real) + mean(w * f(x_fake)) + Lipschitz term

Generator side (Eq. 5), probability-ratio clipping with the critic value as PPO's advantage::

    L_G = -mean( min(r A, clip(r, 1 - eps, 1 + eps) A) )          clip_mode="paper"
    L_G = -mean( A * min(r, 1 + eps) )                            clip_mode="reference"

where ``A`` is ``f(G(z))`` (``advantage="raw"``), or ``f`` minus its detached batch mean
(``"centered"``), or that divided by the detached batch std (``"normalized"``); and
``r = p_theta(x) / p_theta_old(x)`` comes from a ratio estimator:

* classifier, the authors' code (``ratio="classifier"``):
  ``r = [(1 - C(x_new)) C_old(x_old)] / [C(x_new) (1 - C_old(x_old))]``; with ``C = sigmoid(l)``
  this is ``log r = l_old(x_old) - l(x_new)``, computed in log space so it never divides by zero;
* classifier, Eq. 6 as printed (``ratio="classifier_same_x"``): C and a frozen copy C^(t) of it
  (taken at the phase's start) at the same ``x = G_theta(z)``:
  ``r = [(1 - C(x)) C^(t)(x)] / [(1 - C^(t)(x)) C(x)]``, ``log r = l^(t)(x) - l(x)``; r = 1 exactly
  at the phase's start and the gradient through r is ``A grad(l^(t) - l)``, the change of C;
* exact: ``log r = log p_theta(x) - log p_theta_old(x)`` for generators with a tractable likelihood.

:func:`clipped_loss` is the generator loss of Eq. 5 that every method uses (PPO-GAN, its
conditional form, the style task's latent and sentence adversaries): the only call site of
:func:`clipped_surrogate` in the package, with the log-ratio clamp and the statistics CleanRL
logs (clip fraction, approx-KL).
"""

from __future__ import annotations

import torch
from torch import Tensor

# log r is clamped here before exp: a saturated classifier must not give r = inf (inf * 0 = NaN)
MAX_LOG_RATIO = 20.0


def importance_weights(fake_scores: Tensor, temperature: float = 1.0) -> Tensor:
    """Eq. 8: self-normalised importance weights ``w = B * softmax(f / T)``, detached."""
    scores = fake_scores.detach().reshape(-1)
    return scores.shape[0] * torch.softmax(scores / temperature, dim=0)


def effective_sample_size(weights: Tensor) -> Tensor:
    """Kish's effective sample size ``(sum w)^2 / sum w^2`` (B for uniform weights)."""
    w = weights.detach()
    return w.sum() ** 2 / (w**2).sum().clamp_min(1e-30)


def classifier_log_ratio(logit_new: Tensor, logit_old: Tensor) -> Tensor:
    """Eq. 6 in log space: ``log r = logit_old - logit_new``; the authors' code takes
    ``logit_old = l_old(x_old)``, Eq. 6 as printed ``logit_old = l^(t)(x)`` at the same x."""
    return logit_old.reshape(-1) - logit_new.reshape(-1)


def exact_log_ratio(log_prob_new: Tensor, log_prob_old: Tensor) -> Tensor:
    """``log r = log p_theta(x) - log p_theta_old(x)`` for an explicit generator."""
    return log_prob_new.reshape(-1) - log_prob_old.detach().reshape(-1)


def advantage(critic_values: Tensor, mode: str = "raw") -> Tensor:
    """The critic value in PPO's advantage role; baselines are detached so grad f reaches G."""
    f = critic_values.reshape(-1)
    if mode == "raw":
        return f
    centered = f - f.detach().mean()
    if mode == "centered":
        return centered
    if mode == "normalized":
        return centered / (f.detach().std() + 1e-8)
    raise ValueError(f"unknown advantage mode {mode!r}")


def clipped_surrogate(ratio: Tensor, adv: Tensor, eps: float, mode: str = "paper") -> Tensor:
    """Per-sample Eq. 5 ``min(r A, clip(r, 1-eps, 1+eps) A)``; reference: ``A min(r, 1+eps)``."""
    if mode == "paper":
        return torch.minimum(ratio * adv, torch.clamp(ratio, 1.0 - eps, 1.0 + eps) * adv)
    if mode == "reference":
        return adv * torch.clamp(ratio, max=1.0 + eps)
    raise ValueError(f"unknown clip mode {mode!r}")


def clip_binds(ratio: Tensor, adv: Tensor, eps: float, mode: str = "paper") -> Tensor:
    """Boolean mask of samples whose surrogate is the clipped (flat in r) branch."""
    r, a = ratio.detach(), adv.detach()
    if mode == "paper":
        return ((a > 0) & (r > 1.0 + eps)) | ((a < 0) & (r < 1.0 - eps))
    return r > 1.0 + eps


def ratio_statistics(log_ratio: Tensor, adv: Tensor, eps: float, mode: str
                     ) -> dict[str, Tensor]:
    """PPO diagnostics: mean/std of r, share where the clip binds, ``E[(r-1) - log r]``.

    0-d tensors (no host sync): the trainer converts them to floats on logged rows only."""
    lr = log_ratio.detach()
    r = lr.exp()
    return {
        "ratio/mean": r.mean(),
        "ratio/std": r.std() if r.numel() > 1 else torch.zeros((), device=r.device),
        "ratio/clip_fraction": clip_binds(r, adv, eps, mode).float().mean(),
        "ratio/approx_kl": ((r - 1.0) - lr).mean(),
    }


def clipped_loss(log_ratio: Tensor, adv: Tensor, eps: float, mode: str = "paper", *,
                 ratio_gradient: bool = True) -> tuple[Tensor, dict[str, Tensor]]:
    """Eq. 5 as a loss: ``L = -mean(clipped_surrogate(r, A, eps, mode))`` with
    ``r = exp(min(log r, MAX_LOG_RATIO))`` (detached with ``ratio_gradient=False``: r then only
    picks the branch, ``grad L = -mean(coef * grad A)``), and the PPO diagnostics of
    :func:`ratio_statistics` on the unclamped ``log r``."""
    r = log_ratio.clamp(max=MAX_LOG_RATIO).exp()
    if not ratio_gradient:
        r = r.detach()
    loss = -clipped_surrogate(r, adv, eps, mode).mean()
    return loss, ratio_statistics(log_ratio, adv, eps, mode)


def binary_accuracy(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Share of reals with logit > 0 and fakes with logit < 0 (a 0-d tensor)."""
    correct = (real_logits > 0).float().sum() + (fake_logits < 0).float().sum()
    return correct / (real_logits.numel() + fake_logits.numel())
