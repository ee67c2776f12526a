"""Finiteness checks that cost one host sync for many tensors."""

from __future__ import annotations

import torch
from torch import Tensor


def all_finite(tensors: list[Tensor]) -> bool:
    """Whether every element of ``tensors`` is finite, with one host sync in the common case:
    the sum of their sums is finite only if every element is (a NaN or inf in any tensor makes
    it NaN or inf). A sum that overflows although every element is finite (elements near the
    float range's end) falls back to the exact element-wise test, so the answer is always exact.
    Summing is several times faster than ``isfinite`` on a CPU."""
    if not tensors:
        return True
    with torch.no_grad():
        if bool(torch.isfinite(torch.stack([t.sum() for t in tensors]).sum())):
            return True
        return bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all())
