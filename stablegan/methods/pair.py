"""The adversarial pair: what the critic compares.

``DataPair`` (the default) is the GAN of images, points and text: real = a data batch as the
critic sees it, fake = G(z) with z drawn from the task's prior. The latent-code adversaries of
style transfer compare encoder codes instead: ``StylePair`` (the default) the codes ``E(x)`` of
sentences of one style (real) with those of the other (fake), the encoder playing generator for
both sides; ``LatentPair`` (``style.adversary=prior``) prior draws z ~ N(0, I) (real) with codes
(fake). Methods only ever ask the pair, so the critic and generator steps serve all three.
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


class StylePair:
    """The style adversary's pair (style transfer, Tikhonov et al. 2019): real = the content
    codes ``E(x)`` of training sentences of style ``real_style`` (computed without gradient:
    the critic's input); source = training sentences (packed ids + label) of the other style
    ``1 - real_style``; fake = their codes ``G.encode(ids)``. Sentences are drawn uniformly within
    each style (``method.real_sentences``), so both sides have the batch's size and the
    critic's chance accuracy is 1/2 whatever the styles' shares of the data."""

    def __init__(self, method: Any, real_style: int = 0) -> None:
        self.method = method
        self.real_style = int(real_style)
        self.fake_style = 1 - self.real_style

    def sentences(self, style: int, n: int) -> Tensor:
        """``n`` training sentences of ``style``, packed (ids then label)."""
        m = self.method
        labels = torch.full((n,), style, dtype=torch.long)
        ids = m.real_sentences(labels)
        return torch.cat([ids, labels[:, None].to(ids.device)], 1)

    def real(self, n: int | None = None) -> Tensor:
        m = self.method
        with torch.no_grad():
            return m.G.encode(self.sentences(self.real_style, n or m.batch_size)[:, :-1])

    def source(self, n: int) -> Tensor:
        return self.sentences(self.fake_style, n)

    def fake(self, source: Tensor) -> Tensor:
        return self.method.G.encode(source[:, :-1])
