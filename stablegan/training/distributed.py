"""Data-parallel training on ``torch.distributed`` (launched by ``torchrun``).

``torchrun --nproc_per_node N -m stablegan train ...`` starts N processes; each reads RANK,
WORLD_SIZE, LOCAL_RANK and MASTER_ADDR/PORT from its environment (:func:`setup`). In one process
(no WORLD_SIZE, or WORLD_SIZE=1) every helper here is the identity, so single-process runs are
unchanged.

The scheme (the one of stylegan2-ada-pytorch's training loop, see docs/distributed.md):

* **one global batch**: ``data.batch_size`` is the GLOBAL batch; each rank trains on a disjoint
  slice of ``batch_size / world`` items (:class:`ShardedSource`). Every rank's data sampler has
  the same seed and draws the same global batch, and keeps only its slice, so N processes see
  exactly the batches one process would;
* **identical networks**: G, D, C and the EMA start from rank 0's weights
  (:func:`broadcast_modules`); after every backward pass the gradients of the network being
  stepped are averaged over ranks by one flattened all-reduce (:func:`all_reduce_grads`, called
  from ``GANMethod.step``) before clipping and the optimiser step, and BatchNorm buffers are
  re-broadcast from rank 0 after each training step. There is no ``DistributedDataParallel``
  wrapper: its reducer hooks fire on ``autograd.grad`` inside the gradient penalty (double
  backward) and expect one forward per backward, while a GAN step runs D several times (real,
  fake, interpolates) per backward. Averaging after ``backward`` is the same arithmetic (the
  gradient of the global-batch mean) without those pitfalls;
* **per-rank randomness**: z, the interpolation weights of the penalty, dropout and augmentation
  come from the global RNG, re-seeded on each rank with :func:`rank_seed` (rank 0 keeps the run
  seed); every rank's RNG state is saved in the checkpoint, so a resume is exact;
* **rank 0 writes**: logs, samples, evaluations and checkpoints; the others wait where the
  ranks must agree (checkpoints gather every rank's RNG state; evaluation and stop decisions are
  broadcast).
"""

from __future__ import annotations

import atexit
import datetime
import os
import random
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn

from stablegan.core.errors import ConfigError
from stablegan.core.ranks import (  # noqa: F401 - part of this module's interface
    active,
    all_gather_cat,
    all_reduce_grads,
    local_batch,
    rank,
    world_size,
)

RANK_SEED_STRIDE = 1_000_003  # rank r's global RNG is seeded with seed + r * stride


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0")) if active() else 0


def is_main() -> bool:
    """Rank 0 (or a single process): the one that writes files and prints."""
    return rank() == 0


def env_world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def setup(backend: str = "auto", device: str = "cpu") -> bool:
    """Join the process group torchrun describes in the environment (once); returns whether
    training is distributed. Idempotent: an already initialised group is used as it is."""
    if active():
        return True
    if env_world_size() <= 1 or not dist.is_available():
        return False
    if not dist.is_initialized():
        cuda = device.startswith("cuda")
        chosen = ("nccl" if cuda else "gloo") if backend == "auto" else backend
        if chosen == "nccl" and not cuda:
            raise ConfigError("dist.backend=nccl needs device=cuda",
                              hint="--set dist.backend=gloo for CPU training")
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(chosen, init_method="env://",
                                timeout=datetime.timedelta(minutes=30))
        # a group left alive at interpreter exit can SIGABRT the process: gloo's worker threads
        # still hold tensors whose release needs the GIL while Python tears down. atexit runs
        # before that teardown; shutdown() is the orderly way on a normal finish.
        atexit.register(_destroy)
    return active()


def _destroy() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def shutdown() -> None:
    """End of a distributed run: wait for every rank, then destroy the process group (a no-op
    in one process). Every rank must call it; after it, the helpers here are the identity."""
    if active():
        dist.barrier()
    _destroy()


def device_for(name: str) -> str:
    """``cuda`` means this rank's GPU (``cuda:LOCAL_RANK``) under torchrun."""
    if active() and name == "cuda":
        return f"cuda:{local_rank()}"
    return name


def rank_seed(seed: int, r: int | None = None) -> int:
    """The seed of rank ``r``'s global RNG (rank 0: the run seed itself)."""
    return int(seed) + (rank() if r is None else r) * RANK_SEED_STRIDE


def seed_rank(seed: int) -> None:
    s = rank_seed(seed)
    random.seed(s)
    np.random.seed(s % 2**32)
    torch.manual_seed(s)


def check_batch(batch_size: int) -> None:
    n = world_size()
    if batch_size % n:
        raise ConfigError(f"data.batch_size={batch_size} (the global batch) does not split "
                          f"over {n} processes", hint=f"use a multiple of {n}")


def barrier() -> None:
    if active():
        dist.barrier()


# ------------------------------------------------------------------------------ collectives
def _coalesced(tensors: list[Tensor], op: Any) -> None:
    """Apply the in-place collective ``op(flat)`` to a list of tensors as one flat buffer."""
    if not tensors:
        return
    by_kind: dict[tuple[torch.dtype, torch.device], list[Tensor]] = {}
    for t in tensors:
        by_kind.setdefault((t.dtype, t.device), []).append(t)
    for group in by_kind.values():
        flat = torch.cat([t.detach().reshape(-1) for t in group])
        op(flat)
        offset = 0
        for t in group:
            n = t.numel()
            t.data.copy_(flat[offset:offset + n].view_as(t))
            offset += n


def broadcast_modules(modules: list[nn.Module], src: int = 0, buffers_only: bool = False) -> None:
    """Every rank takes rank ``src``'s parameters and buffers (one broadcast per dtype)."""
    if not active():
        return
    tensors: list[Tensor] = []
    for m in modules:
        if not buffers_only:
            tensors += list(m.parameters())
        tensors += [b for b in m.buffers()]
    _coalesced(tensors, lambda flat: dist.broadcast(flat, src))


def all_gather_object(obj: Any) -> list[Any]:
    if not active():
        return [obj]
    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, src: int = 0) -> Any:
    if not active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src)
    return box[0]


def mean_stats(stats: dict[str, Any]) -> dict[str, Any]:
    """The key-wise mean of every rank's stats (tensors or numbers; the same keys on every rank,
    which holds because every rank runs the same steps). One all-reduce."""
    if not active() or not stats:
        return stats
    keys = sorted(stats)
    vals = torch.stack([torch.as_tensor(stats[k], dtype=torch.float64).detach().cpu().reshape(())
                        for k in keys])
    if dist.get_backend() == "nccl":
        vals = vals.cuda()
    dist.all_reduce(vals)
    vals = (vals / world_size()).cpu().tolist()
    return dict(zip(keys, vals))


def agree(flags: list[int]) -> list[int]:
    """The element-wise max of small integer flags over ranks (stop, signal, failed alarm)."""
    if not active():
        return flags
    t = torch.tensor(flags, dtype=torch.int64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [int(v) for v in t.cpu().tolist()]


# ------------------------------------------------------------------------------ data and models
class ShardedSource:
    """A DataSource proxy whose ``sample(b)`` is this rank's slice of the global batch of
    ``b * world`` items: every rank draws the same global batch (same sampler seed) and keeps
    items ``[rank * b, (rank + 1) * b)``. Everything else is the wrapped source's."""

    def __init__(self, inner: Any) -> None:
        object.__setattr__(self, "inner", inner)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def __len__(self) -> int:
        return len(self.inner)

    def sample(self, batch_size: int) -> Tensor:
        r, n = rank(), world_size()
        lo, hi = r * batch_size, (r + 1) * batch_size
        part = getattr(self.inner, "sample_slice", None)
        if part is not None:
            return part(batch_size * n, lo, hi)
        return self.inner.sample(batch_size * n)[lo:hi]

    def sample_labelled(self, batch_size: int) -> tuple[Tensor, Tensor]:
        """This rank's slice of a labelled global batch (conditional GANs)."""
        r, n = rank(), world_size()
        return self.inner.sample_labelled_slice(batch_size * n, r * batch_size,
                                                (r + 1) * batch_size)


def convert_sync_batchnorm(module: nn.Module) -> nn.Module:
    """``nn.SyncBatchNorm`` in place of every BatchNorm (BatchNorm statistics over the global
    batch); torch's SyncBatchNorm runs on CUDA only."""
    return nn.SyncBatchNorm.convert_sync_batchnorm(module)


def has_batchnorm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


class RankGroup:
    """The data-parallel ranks as the trainer sees them (a part of the Trainer): who writes, and
    where the ranks must agree. In one process (``active`` False) every method is the identity
    and :attr:`is_main` is True."""

    def __init__(self, active: bool) -> None:
        self.active = active

    @property
    def is_main(self) -> bool:
        """Rank 0 (or the only process): the one that writes, prints and evaluates."""
        return is_main()

    def agree(self, now: bool, signum: int | None, failed: dict[str, Any] | None
              ) -> tuple[int | None, dict[str, Any] | None]:
        """A signal seen by any rank and a failed health alarm (rank 0's) stop every rank at
        the same step: ``(signal, alarm)`` agreed by all. Checked on converted rows and
        checkpoint steps only (``now``; one small all-reduce there), so a signal waits at most
        log.every steps; ``(None, None)`` at other steps."""
        if not now:
            return None, None
        sig, fail = agree([signum or 0, 1 if failed else 0])
        if fail:
            failed = broadcast_object(failed)
        return (sig or None), failed

    def mean(self, stats: dict[str, Any]) -> dict[str, Any]:
        """Key-wise mean over the ranks (:func:`mean_stats`; the stats as they are in one
        process)."""
        return mean_stats(stats) if self.active else stats

    def share(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (:func:`broadcast_object`)."""
        return broadcast_object(obj) if self.active else obj

    def share_buffers(self, modules: list[nn.Module]) -> None:
        """Rank 0's BatchNorm statistics (buffers) everywhere, as DDP does after a step."""
        if self.active:
            broadcast_modules(modules, buffers_only=True)
