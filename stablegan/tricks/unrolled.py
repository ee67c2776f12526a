"""Unrolled GAN (Metz et al. 2017): the generator sees the critic k SGD steps ahead.

``phi_0 = phi``, ``phi_{j+1} = phi_j - eta grad_phi L_D(phi_j)``, with ``create_graph=True`` so the
generator's gradient flows through the unrolled steps; the generator loss is then evaluated with
``torch.func.functional_call(D, phi_k, x)``. The real critic is not changed.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.func import functional_call


def unrolled_parameters(
    discriminator: nn.Module,
    d_loss: Callable[[Tensor, Tensor], Tensor],
    real_batches: list[Tensor],
    fake: Tensor,
    lr: float,
) -> dict[str, Tensor]:
    """Parameters of D after ``len(real_batches)`` differentiable SGD steps on ``d_loss``."""
    params = {k: v for k, v in discriminator.named_parameters()}
    buffers = {k: v for k, v in discriminator.named_buffers()}
    for real in real_batches:
        state = {**params, **buffers}
        loss = d_loss(functional_call(discriminator, state, (real,)),
                      functional_call(discriminator, state, (fake,)))
        grads = torch.autograd.grad(loss, list(params.values()), create_graph=True)
        params = {k: p - lr * g for (k, p), g in zip(params.items(), grads)}
    return {**params, **buffers}
