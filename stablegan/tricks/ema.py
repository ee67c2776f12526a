"""Exponential moving average of generator weights (Karras et al. 2018; Yazici et al. 2019).

``theta_ema <- beta * theta_ema + (1 - beta) * theta`` after each generator step; buffers
(BatchNorm running statistics) are copied, not averaged. Before ``start`` the average is a copy.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class ExponentialMovingAverage:
    """Holds ``shadow``, an averaged copy of ``model`` used for sampling and evaluation."""

    def __init__(self, model: nn.Module, decay: float, start: int = 0) -> None:
        self.decay = decay
        self.start = start
        self.shadow = copy.deepcopy(model).eval()
        for p in self.shadow.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        beta = self.decay if step >= self.start else 0.0
        for s, p in zip(self.shadow.parameters(), model.parameters()):
            s.lerp_(p.detach(), 1.0 - beta)
        for s, b in zip(self.shadow.buffers(), model.buffers()):
            s.copy_(b)

    @torch.no_grad()
    def reset(self, model: nn.Module) -> None:
        """The shadow becomes ``model`` (after a phase that trained it alone, e.g. MLE
        pre-training: the average starts from the pre-trained weights, not the initial ones)."""
        for s, p in zip(self.shadow.parameters(), model.parameters()):
            s.copy_(p.detach())
        for s, b in zip(self.shadow.buffers(), model.buffers()):
            s.copy_(b)

    def state_dict(self) -> dict:
        return self.shadow.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.shadow.load_state_dict(state)
