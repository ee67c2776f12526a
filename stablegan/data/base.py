"""The :class:`DataSource` interface and :class:`FiniteSource`, the epoch sampler shared by every
finite data set (digits, MNIST, CIFAR-10, image folders, tensor files).

Randomness: ``sample()`` draws only from the source's own ``torch.Generator`` seeded with the run
seed, never from the global RNG. Evaluation sets (``reals``/``labelled``) and the held-out split
use fixed seeds that do not depend on the run seed, so they are identical across runs and seeds.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch
from torch import Tensor

from stablegan.errors import DataError

SPLITS = ("train", "holdout")
HOLDOUT_SEED = 0x5EED  # fixed: the held-out split is the same for every run seed
EVAL_SEED = 0xE7A1  # fixed: order in which reals()/labelled() pick items


def check_split(split: str) -> None:
    """Raise DataError unless ``split`` is "train" or "holdout"."""
    if split not in SPLITS:
        raise DataError(f"unknown data split '{split}'", hint="use split='train' or 'holdout'")


def too_small_error(name: str, size: int, batch_size: int) -> DataError:
    """The error for a training set with fewer items than one batch."""
    return DataError(
        f"data '{name}' has {size} training items, fewer than the batch size {batch_size}",
        hint="lower data.batch_size (or add data / lower data.holdout_fraction)",
    )


class DataSource(ABC):
    """A training distribution.

    Attributes: ``name``; ``task``, the name of the registered Task that trains on it
    (``stablegan.tasks``: "points", "images", ...); ``sample_shape`` of one sample;
    ``modes`` (K, D) mixture centres and ``mode_std`` for toy mixtures (else None);
    ``num_classes`` when labels exist (else None). Images are in [-1, 1].
    """

    name: str
    task: str
    sample_shape: tuple[int, ...]
    modes: Tensor | None = None
    mode_std: float | None = None
    num_classes: int | None = None

    @property
    def size(self) -> int | None:
        """Number of training items; None for infinite (sampled on the fly) sources."""
        return None

    def __len__(self) -> int:
        """Number of training items; TypeError for infinite sources (use ``size``)."""
        if self.size is None:
            raise TypeError(f"data source '{self.name}' is infinite; its size is None")
        return self.size

    @abstractmethod
    def sample(self, batch_size: int) -> Tensor:
        """A float32 CPU training batch (batch_size, *sample_shape) from the source's generator."""

    @abstractmethod
    def reals(self, n: int, split: str = "train") -> Tensor:
        """A deterministic evaluation set of up to ``n`` samples from ``split``."""

    def labelled(self, n: int, split: str = "train") -> tuple[Tensor, Tensor] | None:
        """Up to ``n`` samples and their int64 labels from ``split``, or None when unlabelled."""
        check_split(split)
        return None

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Sampler state (tensors, ints, floats, lists and str only)."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a ``state_dict()``; ``sample()`` then continues exactly where it left off."""

    def __repr__(self) -> str:
        size = "infinite" if self.size is None else str(self.size)
        return (
            f"{type(self).__name__}(name={self.name!r}, task={self.task!r}, "
            f"sample_shape={self.sample_shape}, size={size})"
        )


def check_generator_state(state: dict[str, Any], name: str) -> Tensor:
    """The generator state tensor in ``state``; DataError when it is missing or malformed."""
    gen = state.get("generator")
    if not isinstance(gen, Tensor) or gen.dtype != torch.uint8:
        raise DataError(
            f"data state for '{name}' has no valid generator state",
            hint="the checkpoint's data state is corrupt; restart without resuming",
        )
    return gen


def check_state_name(state: dict[str, Any], name: str) -> None:
    """DataError when a saved state belongs to a different data source."""
    if state.get("name") != name:
        raise DataError(
            f"data state was saved for data '{state.get('name')}', not '{name}'",
            hint="resume with the same data.name as the original run",
        )


class FiniteSource(DataSource):
    """A finite data set held in memory, sampled in epochs without replacement.

    ``x`` (N, *sample_shape) is stored as given (uint8 for images) and mapped to float32 with
    ``x * scale + offset`` per batch; ``y`` are optional int64 labels. After truncation to
    ``max_items`` a fixed-seed permutation puts ``floor(N * holdout_fraction)`` items (at least one
    when the fraction is > 0 and N >= 2) in the held-out split, never returned by ``sample()``.
    Every epoch uses a fresh permutation from the source's generator; a batch never straddles two
    epochs (the remainder of an epoch, fewer than ``batch_size`` items, is skipped).
    """

    def __init__(
        self,
        name: str,
        task: str,
        x: Tensor,
        y: Tensor | None,
        seed: int,
        holdout_fraction: float = 0.1,
        max_items: int | None = None,
        scale: float = 1.0,
        offset: float = 0.0,
        num_classes: int | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if x.dim() < 2 or x.shape[0] == 0:
            raise DataError(f"data '{name}' is empty (shape {tuple(x.shape)})",
                            hint="check data.path")
        if y is not None and (y.dim() != 1 or y.shape[0] != x.shape[0]):
            raise DataError(
                f"data '{name}' has {x.shape[0]} items but labels of shape {tuple(y.shape)}",
                hint="labels must be a 1-D tensor with one entry per item",
            )
        if y is not None and num_classes is not None and y.numel() and (
                int(y.min()) < 0 or int(y.max()) >= num_classes):
            bad = int(y.min()) if int(y.min()) < 0 else int(y.max())
            raise DataError(f"data '{name}' has label {bad}, out of range for {num_classes} "
                            "classes", hint=f"labels must be class ids 0..{num_classes - 1}")
        if max_items is not None:
            x = x[:max_items]
            y = y[:max_items] if y is not None else None
        self.name, self.task = name, task
        self._dtype = dtype
        self.sample_shape = tuple(int(s) for s in x.shape[1:])
        self.num_classes = num_classes
        self._x, self._y = x, (y.long() if y is not None else None)
        self._scale, self._offset = float(scale), float(offset)
        n = x.shape[0]
        n_hold = int(n * holdout_fraction)
        if holdout_fraction > 0 and n >= 2:
            n_hold = max(n_hold, 1)
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(HOLDOUT_SEED))
        self._split_idx = {
            "holdout": perm[:n_hold].sort().values,
            "train": perm[n_hold:].sort().values,
        }
        self._gen = torch.Generator().manual_seed(int(seed))
        self._perm: Tensor | None = None
        self._pos = 0
        self._epoch = 0

    @property
    def size(self) -> int:
        """Number of training items (after ``max_items`` and the held-out split)."""
        return int(self._split_idx["train"].numel())

    def _convert(self, x: Tensor) -> Tensor:
        """Stored items -> samples of ``dtype`` (``x * scale + offset``; float32 by default,
        int64 for token ids)."""
        out = x.to(self._dtype)
        if self._scale != 1.0 or self._offset != 0.0:
            out = out * self._scale + self._offset
        return out.contiguous()

    def sample(self, batch_size: int) -> Tensor:
        """The next ``batch_size`` items of the current epoch's permutation (float32)."""
        return self.sample_slice(batch_size, 0, batch_size)

    def sample_slice(self, batch_size: int, start: int, stop: int) -> Tensor:
        """Items ``[start, stop)`` of the next batch of ``batch_size``: the sampler advances as
        ``sample(batch_size)`` would, but only the slice is converted (one rank's share of the
        global batch under data-parallel training, ``stablegan.training.distributed``)."""
        n = self.size
        if batch_size > n:
            raise too_small_error(self.name, n, batch_size)
        if batch_size < 1:
            raise DataError(f"batch size must be >= 1, got {batch_size}",
                            hint="set data.batch_size >= 2")
        if self._perm is None or self._pos + batch_size > n:
            if self._perm is not None:
                self._epoch += 1
            self._perm = torch.randperm(n, generator=self._gen)
            self._pos = 0
        idx = self._split_idx["train"][self._perm[self._pos + start : self._pos + stop]]
        self._pos += batch_size
        self._last_idx = idx
        return self._convert(self._x[idx])

    def sample_labelled(self, batch_size: int) -> tuple[Tensor, Tensor]:
        """``sample(batch_size)`` with the batch's int64 labels (the sampler advances exactly as
        ``sample`` does); DataError for unlabelled data."""
        if self._y is None:
            raise DataError(f"data '{self.name}' has no labels",
                            hint="a conditional GAN needs labelled data (digits, mnist, cifar10, "
                                 "an image folder with one sub-folder per class, or a tensor "
                                 "with labels)")
        return self.sample_labelled_slice(batch_size, 0, batch_size)

    def sample_labelled_slice(self, batch_size: int, start: int, stop: int
                              ) -> tuple[Tensor, Tensor]:
        """``sample_slice`` with the slice's labels (one rank's share of a labelled batch)."""
        if self._y is None:
            return self.sample_labelled(batch_size)  # the DataError
        x = self.sample_slice(batch_size, start, stop)
        return x, self._y[self._last_idx].clone()

    def class_counts(self) -> Tensor | None:
        """Training items per class (num_classes,), or None without labels."""
        if self._y is None or not self.num_classes:
            return None
        return torch.bincount(self._y[self._split_idx["train"]], minlength=self.num_classes)

    @property
    def epoch(self) -> int:
        """Number of completed passes over the training items."""
        return self._epoch

    def _eval_idx(self, n: int, split: str) -> Tensor:
        """Up to ``n`` indices of ``split`` in a fixed (seed-independent) random order."""
        check_split(split)
        idx = self._split_idx[split]
        order = torch.randperm(idx.numel(), generator=torch.Generator().manual_seed(EVAL_SEED))
        return idx[order[: max(int(n), 0)]]

    def reals(self, n: int, split: str = "train") -> Tensor:
        """Up to ``n`` items of ``split`` (float32), the same tensor on every call."""
        return self._convert(self._x[self._eval_idx(n, split)])

    def labelled(self, n: int, split: str = "train") -> tuple[Tensor, Tensor] | None:
        """The items of ``reals(n, split)`` with their int64 labels, or None without labels."""
        check_split(split)
        if self._y is None:
            return None
        idx = self._eval_idx(n, split)
        return self._convert(self._x[idx]), self._y[idx].clone()

    def state_dict(self) -> dict[str, Any]:
        """Generator state, current permutation, position and epoch."""
        perm = self._perm.clone() if self._perm is not None else torch.empty(0, dtype=torch.long)
        return {
            "name": self.name,
            "size": self.size,
            "generator": self._gen.get_state(),
            "perm": perm,
            "pos": self._pos,
            "epoch": self._epoch,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the sampler; DataError if the state belongs to another data set."""
        check_state_name(state, self.name)
        if state.get("size") != self.size:
            raise DataError(
                f"data state was saved for {state.get('size')} training items, this data has "
                f"{self.size}",
                hint="resume with the same data.path, data.max_items and data.holdout_fraction",
            )
        gen = check_generator_state(state, self.name)
        perm = state.get("perm")
        pos = state.get("pos")
        if not isinstance(perm, Tensor) or perm.numel() not in (0, self.size) or not isinstance(
            pos, int
        ) or not 0 <= pos <= self.size:
            raise DataError(f"data state for '{self.name}' is malformed",
                            hint="the checkpoint's data state is corrupt; restart without resuming")
        self._gen.set_state(gen)
        self._perm = perm.clone().long() if perm.numel() else None
        self._pos = pos
        self._epoch = int(state.get("epoch", 0))
