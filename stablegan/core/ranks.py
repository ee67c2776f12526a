"""The rank group as the maths sees it: which process this is, and the two collectives a
training step needs (gradient averaging and gathering). In one process every function here is
the identity. Setting the group up, sharding data and broadcasting networks is
:mod:`stablegan.training.distributed`'s (see docs/distributed.md)."""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor


def active() -> bool:
    """True inside an initialised process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def local_batch(batch_size: int) -> int:
    """Each rank's share of the global batch."""
    return batch_size // world_size()


def all_reduce_grads(params: list[Tensor], flags: Tensor | None = None) -> Tensor | None:
    """Average the gradients of ``params`` over ranks (one flattened all-reduce), and sum
    ``flags`` (e.g. "this rank saw a non-finite term") in the same call; returns the summed
    flags. Parameters without a gradient on every rank must be None on every rank."""
    if not active():
        return flags
    grads = [p.grad for p in params if p.grad is not None]
    n = world_size()
    pieces = [g.reshape(-1) for g in grads]
    if flags is not None:
        pieces.append(flags.to(grads[0].dtype if grads else torch.float32).reshape(-1) * n)
    if not pieces:
        return flags
    flat = torch.cat(pieces)
    dist.all_reduce(flat)
    flat /= n
    offset = 0
    for g in grads:
        k = g.numel()
        g.copy_(flat[offset:offset + k].view_as(g))
        offset += k
    if flags is not None:
        return flat[offset:].to(flags.dtype).reshape(flags.shape)
    return None


def all_gather_cat(t: Tensor) -> Tensor:
    """Concatenate every rank's ``t`` (same shape on every rank) along dim 0, in rank order."""
    if not active():
        return t
    out = [torch.empty_like(t) for _ in range(world_size())]
    dist.all_gather(out, t.contiguous())
    return torch.cat(out)
