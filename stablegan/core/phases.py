"""Phases: named stretches of training, each with its own step budget and step function.

A method returns its phases in order (``method.phases(steps)``), for example::

    pretrain     MLE pre-training of a generator with a likelihood   (pretrain.steps)
    warmup       critic and ratio-classifier warm-up                  (schedule.d_warmup, ...)
    adversarial  the GAN iteration: n_critic critic steps + the generator phase  (steps)

The trainer runs one generic loop over them (:meth:`stablegan.Trainer.fit`) and checkpoints the
position ``(phase, step within it)``, so a run killed in any phase resumes exactly where it was.
Only the adversarial phase draws samples, evaluates and updates the EMA generator; its step
counter is the run's ``step``. Rows of the other phases in ``metrics.jsonl`` carry ``phase``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

# one step's statistics: name -> value (a float or a 0-d tensor until the row is logged)
Stats = MutableMapping[str, Any]

ADVERSARIAL = "adversarial"


@dataclass(frozen=True)
class Phase:
    """One phase: ``step(index, diagnostics) -> stats`` is called ``steps`` times, ``index``
    counting from 0 within the phase; ``networks`` names the networks it trains."""

    name: str
    steps: int
    step: Callable[[int, bool], Stats]
    networks: tuple[str, ...]

    @property
    def adversarial(self) -> bool:
        return self.name == ADVERSARIAL


class Averaged(MutableMapping[str, Any]):
    """Key-wise means of several steps' statistics, each computed when it is first read: the
    trainer reads the losses every step (the rolling variances) but the other statistics only
    on the steps it logs, so the other means are never computed on the steps in between."""

    def __init__(self, stats: list[Stats]) -> None:
        self._values: dict[str, list[Any]] = {}
        for s in stats:
            for k, v in s.items():
                self._values.setdefault(k, []).append(v)
        self._means: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        if key not in self._means:
            self._means[key] = _mean(self._values[key])
        return self._means[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._values[key] = [value]
        self._means[key] = value

    def __delitem__(self, key: str) -> None:
        del self._values[key]
        self._means.pop(key, None)

    def __contains__(self, key: object) -> bool:  # without computing the mean
        return key in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return repr(dict(self))


def average(stats: list[Stats]) -> Stats:
    """Key-wise mean of several steps' statistics (keys missing from a step are skipped), as a
    mapping that computes each mean when it is read (:class:`Averaged`)."""
    return Averaged(stats)


def _mean(values: list) -> object:
    """The mean in float64, added in order (for tensors too, without a host sync), so a logged
    average is the same number whether the steps' values were floats or float32 tensors. 0-d
    CPU tensors of one dtype take one stacked cumulative sum, which on the CPU adds in order
    from 0 too (the same number, in 4 operations instead of 2 per value)."""
    first = values[0]
    if isinstance(first, Tensor) and first.device.type == "cpu" and all(
            isinstance(v, Tensor) and v.dim() == 0 and v.dtype == first.dtype
            and v.device == first.device for v in values):
        return torch.stack(values).double().cumsum(0)[-1] / len(values)
    total = 0.0
    for v in values:
        total = total + (v.double() if hasattr(v, "double") else v)
    return total / len(values)
