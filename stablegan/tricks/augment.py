"""Differentiable augmentation applied alike to real and fake images (DiffAugment, Zhao 2020).

Policies: ``translation`` (shift by up to 1/8 of the size, zero padding), ``cutout`` (zero a random
square of half the size), ``color`` (random brightness, saturation and contrast). Every op is
differentiable in the input, so the generator's gradient passes through it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from stablegan.errors import ConfigError


def _brightness(x: Tensor) -> Tensor:
    return x + (torch.rand(x.shape[0], 1, 1, 1, device=x.device) - 0.5)


def _saturation(x: Tensor) -> Tensor:
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (torch.rand(x.shape[0], 1, 1, 1, device=x.device) * 2) + mean


def _contrast(x: Tensor) -> Tensor:
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (torch.rand(x.shape[0], 1, 1, 1, device=x.device) + 0.5) + mean


def color(x: Tensor) -> Tensor:
    return _contrast(_saturation(_brightness(x)))


def translation(x: Tensor, ratio: float = 0.125) -> Tensor:
    b, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (b, 1, 1), device=x.device)
    dx = torch.randint(-sw, sw + 1, (b, 1, 1), device=x.device)
    gb, gy, gx = torch.meshgrid(torch.arange(b, device=x.device), torch.arange(h, device=x.device),
                                torch.arange(w, device=x.device), indexing="ij")
    gy = torch.clamp(gy + dy + 1, 0, h + 1)
    gx = torch.clamp(gx + dx + 1, 0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1])
    return padded.permute(0, 2, 3, 1)[gb, gy, gx].permute(0, 3, 1, 2).contiguous()


def cutout(x: Tensor, ratio: float = 0.5) -> Tensor:
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=x.device)
    ox = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=x.device)
    gb, gy, gx = torch.meshgrid(torch.arange(b, device=x.device), torch.arange(ch, device=x.device),
                                torch.arange(cw, device=x.device), indexing="ij")
    gy = torch.clamp(gy + oy - ch // 2, 0, h - 1)
    gx = torch.clamp(gx + ox - cw // 2, 0, w - 1)
    mask = torch.ones(b, h, w, dtype=x.dtype, device=x.device)
    mask[gb, gy, gx] = 0
    return x * mask.unsqueeze(1)


OPS = {"color": color, "translation": translation, "cutout": cutout}


class DiffAugment:
    """Callable applying the policy ops in order, each batch with probability ``probability``."""

    def __init__(self, policy: str, probability: float = 1.0) -> None:
        self.ops = [p.strip() for p in policy.split(",") if p.strip()]
        for op in self.ops:
            if op not in OPS:
                raise ConfigError(f"unknown augmentation '{op}'", hint=f"use {', '.join(OPS)}")
        self.probability = probability

    def __bool__(self) -> bool:
        return bool(self.ops)

    def __call__(self, x: Tensor) -> Tensor:
        if not self.ops:
            return x
        if x.dim() != 4:
            raise ConfigError(
                f"augment.policy '{','.join(self.ops)}' needs image batches (B, C, H, W), got "
                f"shape {tuple(x.shape)}", hint="set augment.policy='' for non-image data")
        if self.probability < 1.0 and float(torch.rand(())) >= self.probability:
            return x
        for op in self.ops:
            x = OPS[op](x)
        return x
