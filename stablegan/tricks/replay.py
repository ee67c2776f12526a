"""A replay buffer of old fakes for the discriminator (Shrivastava et al. 2017).

Each discriminator batch of fakes has a share ``fraction`` replaced by samples drawn uniformly from
a buffer of past fakes; the buffer is a reservoir sample of every fake seen so far.
"""

from __future__ import annotations

import torch
from torch import Tensor


class ReplayBuffer:
    def __init__(self, size: int, fraction: float) -> None:
        self.size = size
        self.fraction = fraction
        self.items: Tensor | None = None
        self.seen = 0

    def mix(self, fake: Tensor) -> Tensor:
        """``fake`` with ``round(fraction * B)`` rows replaced by old fakes; then store ``fake``."""
        fake = fake.detach()
        out = fake
        n_old = int(round(self.fraction * fake.shape[0]))
        if self.items is not None and n_old > 0:
            idx = torch.randint(0, self.items.shape[0], (n_old,))
            out = torch.cat([fake[: fake.shape[0] - n_old], self.items[idx].to(fake.device)])
        self._store(fake)
        return out

    def _store(self, fake: Tensor) -> None:
        """Reservoir sampling: the n-th fake seen is kept with probability size / n."""
        fake = fake.cpu()
        if self.items is None:
            self.items = torch.empty((0,) + tuple(fake.shape[1:]), dtype=fake.dtype)
        n = self.seen + torch.arange(fake.shape[0])
        slot = torch.where(n < self.size, n, (torch.rand(fake.shape[0]) * (n + 1)).long())
        keep = slot < self.size
        fill = int(min(self.size, self.seen + fake.shape[0]))
        if self.items.shape[0] < fill:
            extra = (fill - self.items.shape[0],) + tuple(fake.shape[1:])
            pad = torch.zeros(extra, dtype=fake.dtype)
            self.items = torch.cat([self.items, pad])
        self.items[slot[keep]] = fake[keep]
        self.seen += fake.shape[0]

    def state_dict(self) -> dict:
        return {"items": self.items, "seen": self.seen}

    def load_state_dict(self, state: dict) -> None:
        items = state["items"]
        self.items = items.clone() if items is not None else None  # never share with the source
        self.seen = int(state["seen"])
