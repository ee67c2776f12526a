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

from collections.abc import Callable
from dataclasses import dataclass

Stats = dict[str, float]

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


def average(stats: list[Stats]) -> Stats:
    """Key-wise mean of several steps' statistics (keys missing from a step are skipped)."""
    sums: dict[str, list[float]] = {}
    for s in stats:
        for k, v in s.items():
            sums.setdefault(k, []).append(v)
    return {k: _mean(v) for k, v in sums.items()}


def _mean(values: list) -> object:
    """The mean in float64, added in order (for tensors too, without a host sync), so a logged
    average is the same number whether the steps' values were floats or float32 tensors."""
    total = 0.0
    for v in values:
        total = total + (v.double() if hasattr(v, "double") else v)
    return total / len(values)
