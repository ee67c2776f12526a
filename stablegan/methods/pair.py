"""The adversarial pair: what the critic compares.

``DataPair`` (the default) is the GAN of images, points and text: real = a data batch as the
critic sees it, fake = G(z) with z drawn from the task's prior. A latent-code discriminator
(style transfer) compares prior samples with encoder codes instead: its pair returns prior draws
from ``real`` and ``E(x)`` for a data batch x from ``fake(source(n))``. Methods only ever ask the
pair, so the critic and generator steps serve both.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


class DataPair:
    """real = ``task.real_batch``; source = z ~ ``task.prior``; fake = ``G(source)``."""

    def __init__(self, method: Any) -> None:
        self.method = method

    def real(self, n: int | None = None) -> Tensor:
        m = self.method
        x = m.task.real_batch(n or m.batch_size).to(m.device, non_blocking=True)
        if getattr(m, "channels_last", False) and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def source(self, n: int) -> Tensor:
        m = self.method
        return m.task.prior(n, m.latent_dim, m.device)

    def fake(self, source: Tensor) -> Tensor:
        return self.method.G(source)


class LatentPair:
    """The latent-code pair (style transfer): real = prior draws z ~ N(0, I) of the code's size
    (``method.latent_dim``); source = a data batch (``task.real_batch``: sentences and labels);
    fake = the encoder's content codes ``G.encode(sentences)``."""

    def __init__(self, method: Any) -> None:
        self.method = method

    def real(self, n: int | None = None) -> Tensor:
        m = self.method
        return torch.randn(n or m.batch_size, m.latent_dim, device=m.device)

    def source(self, n: int) -> Tensor:
        m = self.method
        return m.task.real_batch(n).to(m.device)

    def fake(self, source: Tensor) -> Tensor:
        return self.method.G.encode(source[:, :-1])
