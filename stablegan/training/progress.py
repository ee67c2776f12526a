"""Where a run stands: steps done in each phase, the learning-rate scale, rollbacks, the best
evaluation. A part of the :class:`stablegan.training.trainer.Trainer`, saved in every checkpoint.

The position of a run is ``(phase, steps done in it)``: ``step`` counts the adversarial
iterations (the run's step), ``phase_steps`` the steps of every other phase (``pretrain``,
``warmup``, ``autoencoder``). A phase is finished when its count reaches its budget; the
current phase is the first unfinished one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stablegan.training.phases import Phase


@dataclass
class Best:
    """The best periodic evaluation so far (``eval.best_metric``) and how many evaluations
    since then have not improved on it (``eval.patience``)."""

    value: float | None = None
    step: int | None = None
    stale: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "step": self.step, "stale": self.stale}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Best:
        value, step = d.get("value"), d.get("step")
        return cls(None if value is None else float(value), None if step is None else int(step),
                   int(d.get("stale", 0)))


@dataclass
class Progress:
    """The counters of a run (no tensors): what a resume or a rollback restores besides the
    networks, the optimisers and the RNG."""

    step: int = 0  # adversarial iterations done
    phase_steps: dict[str, int] = field(default_factory=dict)  # steps done in each other phase
    lr_scale: float = 1.0  # fault.lr_factor ** (rollbacks so far)
    rollbacks: int = 0
    best: Best = field(default_factory=Best)

    def done(self, phase: Phase) -> int:
        """Steps of ``phase`` done so far."""
        return self.step if phase.adversarial else self.phase_steps.get(phase.name, 0)

    def count(self, phase: Phase) -> None:
        """One more step of ``phase`` done."""
        if phase.adversarial:
            self.step += 1
        else:
            self.phase_steps[phase.name] = self.phase_steps.get(phase.name, 0) + 1

    def current(self, phases: list[Phase]) -> Phase | None:
        """The first unfinished phase of ``phases``, or None when every one is finished."""
        return next((p for p in phases if self.done(p) < p.steps), None)

    def current_name(self, phases: list[Phase]) -> str:
        """The current phase's name (the last phase's once all are finished)."""
        phase = self.current(phases)
        return phase.name if phase is not None else phases[-1].name

    def lr_factor(self, decay: str, decay_steps: int, phase: Phase | None = None) -> float:
        """The factor on every base learning rate: the rollbacks' ``lr_scale`` times, with
        ``optim.lr_decay=linear``, ``1 - step / decay_steps`` in the adversarial phase."""
        factor = 1.0
        if decay == "linear" and (phase is None or phase.adversarial):
            factor = max(0.0, 1.0 - self.step / decay_steps)
        return factor * self.lr_scale

    def state_dict(self) -> dict[str, Any]:
        return {"step": self.step, "phase_steps": dict(self.phase_steps),
                "lr_scale": self.lr_scale, "rollbacks": self.rollbacks,
                "best": self.best.to_dict()}

    def load_state_dict(self, state: dict[str, Any], warmup_steps: int) -> None:
        """Restore the counters of a checkpoint; ``warmup_steps`` stands for the phase counts
        of a version-1 checkpoint (a warm-up, if any, was complete before any checkpoint)."""
        self.step = int(state["step"])
        self.phase_steps = {str(k): int(v) for k, v in state.get(
            "phase_steps", {"warmup": warmup_steps}).items()}
        self.lr_scale = float(state["lr_scale"])
        self.rollbacks = int(state["rollbacks"])
        self.best = Best.from_dict(state["best"]) if "best" in state else self.best
