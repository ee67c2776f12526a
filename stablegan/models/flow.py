"""RealNVP: an explicit generator with an exact likelihood (for ``variational.ratio=exact``).

The flow is a bijection ``x = f(z)`` from the latent ``z ~ N(0, I_d)`` to the sample space::

    f = A_final o C_L o N_L o ... o C_1 o N_1

* ``C_l``, an affine coupling (Dinh et al. 2017) with a binary mask ``m`` (alternating between
  layers, so each coordinate is transformed by every other layer)::

      y = m * u + (1 - m) * (u * exp(s(m * u)) + t(m * u)),     log|det dy/du| = sum_j s_j

  with ``(s_raw, t) = MLP(m * u)`` and a tanh-bounded log-scale ``s = b tanh(s_raw / b)``
  (``b = log_scale_bound``) so no layer scales by more than ``exp(+-b)``. The masked entries of
  ``s`` and ``t`` are zeroed. The MLP's last layer is zero-initialised (``zero_init``), so every
  coupling starts as the identity.
* ``N_l``, optional ActNorm (Glow): a learnable per-coordinate affine ``y = u * exp(a) + c``,
  identity at init (no data-dependent init: with identity couplings the flow starts as N(0, I)).
* ``A_final``, the same elementwise affine once at the end (always present): it sets the global
  location and per-coordinate scale of the samples.

Sampling is reparameterised (``forward(z)`` is differentiable in z and the parameters). The density
is exact by the change of variables::

    log p(x) = log N(f^{-1}(x); 0, I) + log|det d f^{-1}/dx (x)|
             = -|z|^2 / 2 - (d / 2) log(2 pi) + sum of the inverse layers' log-determinants,

and every layer inverts in closed form (``u = m * y + (1 - m) * (y - t(m * y)) * exp(-s(m * y))``,
since ``m * y = m * u``), so ``log_prob`` costs one pass, like ``forward``.

Why our own and not a library. zuko 1.6 (MIT; needs only numpy and torch>=1.12; checked with torch
2.13: exact ``log_prob``, ``rsample`` and a 1e-7 inverse round trip) fits technically, and was the
close alternative; nflows 0.14 (2020) pulls tensorboard and matplotlib, normflows' last release is
from 2023. We still write the ~100 lines ourselves because (1) this module is the only user, and a
new runtime dependency must also be installed on the offline GPU machines; (2) the API needed here
(``forward(z)`` from a given latent batch, ``inverse(x) -> (z, log_det)``, ``sample(n, generator)``,
a tanh bound on the log-scale, ActNorm, a known final affine) would mean wrapping zuko's lazy
transforms and replacing its affine univariate transform anyway, so little code is saved; (3) the
PPO exact ratio ``log p_theta(x) - log p_old(x)`` depends on every numerical detail of
``log_prob``, which is easier to reason about in a file we own.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from stablegan.models.layers import Generator

__all__ = ["RealNVP"]

LOG_2PI = math.log(2.0 * math.pi)


class ElementwiseAffine(nn.Module):
    """``y = u * exp(log_scale) + shift`` per coordinate; identity at init."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.log_scale = nn.Parameter(torch.zeros(dim))
        self.shift = nn.Parameter(torch.zeros(dim))

    def forward(self, u: Tensor) -> tuple[Tensor, Tensor]:
        """``(y, log|det dy/du|)`` with the log-determinant of shape (B,)."""
        y = u * self.log_scale.exp() + self.shift
        return y, self.log_scale.sum().expand(u.shape[0])

    def inverse(self, y: Tensor) -> tuple[Tensor, Tensor]:
        """``(u, log|det du/dy|)``."""
        u = (y - self.shift) * torch.exp(-self.log_scale)
        return u, (-self.log_scale.sum()).expand(y.shape[0])


class AffineCoupling(nn.Module):
    """One affine coupling layer: coordinates with ``mask == 1`` condition the others."""

    def __init__(self, mask: Tensor, hidden: int, log_scale_bound: float,
                 zero_init: bool) -> None:
        super().__init__()
        dim = mask.numel()
        self.register_buffer("mask", mask.float())
        self.bound = float(log_scale_bound)
        self.net = nn.Sequential(
            nn.Linear(dim, hidden), nn.SiLU(),
            nn.Linear(hidden, hidden), nn.SiLU(),
            nn.Linear(hidden, 2 * dim),
        )
        if zero_init:
            last = self.net[-1]
            assert isinstance(last, nn.Linear)
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    def _scale_shift(self, kept: Tensor) -> tuple[Tensor, Tensor]:
        """Bounded log-scale ``s`` and shift ``t``, both zero on the conditioning coordinates."""
        s_raw, t = self.net(kept).chunk(2, dim=-1)
        free = 1.0 - self.mask
        s = self.bound * torch.tanh(s_raw / self.bound) * free
        return s, t * free

    def forward(self, u: Tensor) -> tuple[Tensor, Tensor]:
        """``(y, log|det dy/du|)``."""
        kept = u * self.mask
        s, t = self._scale_shift(kept)
        y = kept + (1.0 - self.mask) * (u * s.exp() + t)
        return y, s.sum(dim=-1)

    def inverse(self, y: Tensor) -> tuple[Tensor, Tensor]:
        """``(u, log|det du/dy|)``; ``mask * y == mask * u``, so s and t are recomputed exactly."""
        kept = y * self.mask
        s, t = self._scale_shift(kept)
        u = kept + (1.0 - self.mask) * (y - t) * torch.exp(-s)
        return u, -s.sum(dim=-1)


class RealNVP(Generator):
    """A RealNVP flow on R^dim with base N(0, I): ``forward(z) -> x``, exact ``log_prob(x)``.

    ``layers`` affine couplings (masks alternate between the even and odd coordinates), each with
    an MLP of two hidden SiLU layers of width ``hidden``; optional ActNorm before each coupling;
    a final elementwise affine.
    """

    def __init__(self, dim: int = 2, layers: int = 8, hidden: int = 128, actnorm: bool = False,
                 log_scale_bound: float = 2.0, zero_init: bool = True) -> None:
        super().__init__()
        if dim < 2:
            raise ValueError(f"a coupling flow needs dim >= 2, got {dim}")
        if layers < 1 or hidden < 1 or log_scale_bound <= 0:
            raise ValueError(f"need layers >= 1, hidden >= 1 and log_scale_bound > 0, got "
                             f"{layers}, {hidden}, {log_scale_bound}")
        self.dim = int(dim)
        self.sample_shape = (self.dim,)
        parity = torch.arange(self.dim) % 2
        self.couplings = nn.ModuleList(
            AffineCoupling((parity == i % 2).float(), hidden, log_scale_bound, zero_init)
            for i in range(layers))
        self.actnorms = nn.ModuleList(
            ElementwiseAffine(self.dim) if actnorm else nn.Identity() for _ in range(layers))
        self.final = ElementwiseAffine(self.dim)

    @property
    def latent_dim(self) -> int:  # type: ignore[override]
        """The latent dimension equals the sample dimension (a bijection)."""
        return self.dim

    def forward_and_log_det(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """``(x = f(z), log|det df/dz|)`` of shapes (B, dim) and (B,)."""
        x = z
        log_det = z.new_zeros(z.shape[0])
        for norm, coupling in zip(self.actnorms, self.couplings):
            if isinstance(norm, ElementwiseAffine):
                x, ld = norm(x)
                log_det = log_det + ld
            x, ld = coupling(x)
            log_det = log_det + ld
        x, ld = self.final(x)
        return x, log_det + ld

    def generate(self, z: Tensor) -> Tensor:
        """Reparameterised samples ``x = f(z)`` (B, dim); differentiable in z and the weights."""
        return self.forward_and_log_det(z)[0]

    def inverse(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(z = f^{-1}(x), log|det df^{-1}/dx|)`` of shapes (B, dim) and (B,)."""
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"RealNVP expects inputs of shape (B, {self.dim}), got "
                             f"{tuple(x.shape)}")
        z, log_det = self.final.inverse(x)
        for norm, coupling in zip(reversed(self.actnorms), reversed(self.couplings)):
            z, ld = coupling.inverse(z)
            log_det = log_det + ld
            if isinstance(norm, ElementwiseAffine):
                z, ld = norm.inverse(z)
                log_det = log_det + ld
        return z, log_det

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact ``log p(x)`` (B,): the base log-density of ``f^{-1}(x)`` plus the log-det."""
        z, log_det = self.inverse(x)
        base = -0.5 * z.pow(2).sum(dim=-1) - 0.5 * self.dim * LOG_2PI
        return base + log_det

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples (n, dim), no gradient; ``z ~ N(0, I)`` is drawn with ``generator``."""
        ref = self.final.shift
        z = torch.randn(n, self.dim, generator=generator, device=ref.device, dtype=ref.dtype)
        return self.forward(z)
