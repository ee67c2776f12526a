"""Training-health alarms: cheap checks on the metrics rows that warn when a run goes bad.

Each :class:`Alarm` reads a key the trainer already logs (floats already on the CPU: no extra
device sync) and fires at most once per run::

    ess_collapse          weights/ess / batch size < health.ess_fraction
    ratio_mean            ratio/mean outside [health.ratio_min, health.ratio_max]
    ratio_std             ratio/std > health.ratio_std
    classifier_saturated  classifier/accuracy >= health.accuracy for health.accuracy_rows rows
    loss_var_spike        loss_var/d > health.spike_factor x its median over the last
    grad_spike            grad/d_fake_norm   health.spike_window rows (after health.burn_in)
    diversity_collapse    samples/spread_ratio < health.diversity (after health.burn_in)

One alarm reads the periodic evaluations (``evals.jsonl``) instead, on data with known modes
(ring, grid); it warns and never stops a run (:func:`coverage_alarm`)::

    mode_coverage         modes <= (1 - health.coverage_drop) x the best so far, or, from half
                          the budget on, modes < health.coverage_floor x the data's modes

``samples/spread_ratio`` is the only figure the monitor needs a forward pass for: the mean
per-dimension standard deviation of the generator's outputs on the trainer's fixed noise over the
same figure of the real data, computed every ``health.every`` iterations (:func:`spread_ratio`).
The discriminator has no alarm of its own: ``critic/real`` and ``critic/fake`` are mean scores
whose scale depends on the loss (logits, Wasserstein values), not an accuracy.

The :class:`HealthMonitor` state (alarms fired, running windows) goes into the checkpoint, so a
resumed run neither fires an alarm again nor forgets its windows.
"""

from __future__ import annotations

import math
import shlex
import statistics
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from stablegan.config import HEALTH_ALARMS, HealthConfig
from stablegan.errors import HealthError

if TYPE_CHECKING:
    from stablegan.data.base import DataSource
    from stablegan.tasks.base import Task

Row = dict[str, Any]
# (figure, threshold) when the alarm's condition holds on this row, else None
Test = Callable[["HealthMonitor", Row], "tuple[float, float] | None"]


@dataclass(frozen=True)
class Alarm:
    name: str
    reads: str  # the metrics key it watches
    threshold: str  # the health.* key holding its threshold
    advice: str
    test: Test


ALARMS: dict[str, Alarm] = {}


def _alarm(name: str, reads: str, threshold: str, advice: str) -> Callable[[Test], Test]:
    def register(test: Test) -> Test:
        ALARMS[name] = Alarm(name, reads, threshold, advice, test)
        return test
    return register


def _number(row: Row, key: str) -> float | None:
    v = row.get(key)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


@_alarm("ess_collapse", "weights/ess", "ess_fraction",
        "the importance weights put (almost) all mass on a few fakes; raise "
        "variational.temperature or lower the critic's learning rate (optim.d_lr)")
def _ess(mon: HealthMonitor, row: Row) -> tuple[float, float] | None:
    ess = _number(row, "weights/ess")
    if ess is None:
        return None
    frac, t = ess / mon.batch_size, mon.cfg.ess_fraction
    return None if frac >= t else (frac, t)


@_alarm("ratio_mean", "ratio/mean", "ratio_min",
        "the generator's probability ratio left its trust region; lower optim.g_lr or "
        "variational.eps, or train the ratio classifier more (variational.classifier_warmup)")
def _ratio_mean(mon: HealthMonitor, row: Row) -> tuple[float, float] | None:
    r = _number(row, "ratio/mean")
    lo, hi = mon.cfg.ratio_min, mon.cfg.ratio_max
    if r is None or lo <= r <= hi:
        return None
    return r, (lo if r < lo else hi)


@_alarm("ratio_std", "ratio/std", "ratio_std",
        "a few samples carry enormous probability ratios; lower optim.g_lr or variational.eps")
def _ratio_std(mon: HealthMonitor, row: Row) -> tuple[float, float] | None:
    s = _number(row, "ratio/std")
    return None if s is None or s <= mon.cfg.ratio_std else (s, mon.cfg.ratio_std)


@_alarm("classifier_saturated", "classifier/accuracy", "accuracy",
        "the ratio classifier separates old and new fakes perfectly, so its ratio is "
        "meaningless; lower optim.c_lr or optim.g_lr")
def _classifier(mon: HealthMonitor, row: Row) -> tuple[float, float] | None:
    acc = _number(row, "classifier/accuracy")
    if acc is None:
        return None
    mon.accuracy_run = mon.accuracy_run + 1 if acc >= mon.cfg.accuracy else 0
    return (acc, mon.cfg.accuracy) if mon.accuracy_run >= mon.cfg.accuracy_rows else None


def _spike(mon: HealthMonitor, row: Row, key: str) -> tuple[float, float] | None:
    v = _number(row, key)
    if v is None:
        return None
    window = mon.windows.setdefault(key, deque(maxlen=mon.cfg.spike_window))
    fired = None
    if int(row.get("step", 0)) > mon.cfg.burn_in and len(window) >= max(2, window.maxlen // 2):
        median = statistics.median(window)
        if median > 0 and (v > mon.cfg.spike_factor * median or math.isnan(v)):
            fired = (v, mon.cfg.spike_factor * median)
    if math.isfinite(v):
        window.append(v)
    return fired


@_alarm("loss_var_spike", "loss_var/d", "spike_factor",
        "the critic's loss became erratic; lower optim.d_lr, add a gradient penalty or use "
        "optim.grad_clip")
def _loss_var(mon: HealthMonitor, row: Row) -> tuple[float, float] | None:
    return _spike(mon, row, "loss_var/d")


@_alarm("grad_spike", "grad/d_fake_norm", "spike_factor",
        "the critic's gradient on fakes exploded; add or raise the gradient penalty "
        "(lipschitz.gradient_penalty.weight) or lower optim.d_lr")
def _grad(mon: HealthMonitor, row: Row) -> tuple[float, float] | None:
    return _spike(mon, row, "grad/d_fake_norm")


@_alarm("diversity_collapse", "samples/spread_ratio", "diversity",
        "the generator's samples collapsed to a few points (mode collapse); try a gradient "
        "penalty, minibatch features (model.minibatch_stddev) or a lower optim.g_lr")
def _diversity(mon: HealthMonitor, row: Row) -> tuple[float, float] | None:
    s = _number(row, "samples/spread_ratio")
    if int(row.get("step", 0)) <= mon.cfg.burn_in:  # an untrained generator is narrow
        return None
    return None if s is None or s >= mon.cfg.diversity else (s, mon.cfg.diversity)


assert tuple(ALARMS) == HEALTH_ALARMS, "config.HEALTH_ALARMS must list the registered alarms"


COVERAGE_ADVICE = ("the generator covers too few of the data's modes (mode collapse); compare "
                   "with wgan-gp at the same budget, lower optim.g_lr or strengthen the critic "
                   "(lipschitz.gradient_penalty.weight)")


def coverage_alarm(evals: list[Row], total_steps: int, n_modes: int, *, drop: float = 0.25,
                   floor: float = 0.5) -> dict[str, Any] | None:
    """The first periodic evaluation at which mode coverage looks lost, or None.

    ``evals`` are evaluation rows in order (``step`` and ``modes``, the count of the data's
    ``n_modes`` modes that hold samples; rows without ``modes`` are skipped). It fires at the
    first row where ``modes <= (1 - drop) * best`` (``best`` the largest count up to that row,
    > 0), or where ``step >= total_steps / 2`` and ``modes < floor * n_modes``. The result is an
    alarm dict as :meth:`HealthMonitor.check` returns (``figure`` = modes, ``threshold`` the
    bound it crossed) with ``why`` naming the rule."""
    best = 0.0
    for row in evals:
        modes = _number(row, "modes")
        if modes is None:
            continue
        step = int(row.get("step", 0))
        best = max(best, modes)
        why, threshold = None, 0.0
        if best > 0 and modes <= (1.0 - drop) * best:
            why, threshold = f"fell from its best of {best:g}", (1.0 - drop) * best
        elif 2 * step >= total_steps and modes < floor * n_modes:
            why, threshold = (f"{modes:g} of {n_modes} modes after {step} of {total_steps} "
                              "iterations"), floor * n_modes
        if why is not None:
            return {"step": step, "alarm": "mode_coverage", "reads": "modes", "figure": modes,
                    "threshold": threshold, "why": why, "advice": COVERAGE_ADVICE}
    return None


def format_alarm(a: dict[str, Any]) -> str:
    """``warning: health: <name> at step N: <figure> (threshold T); <advice>``."""
    why = f", {a['why']}" if a.get("why") else ""
    return (f"warning: health: {a['alarm']} at step {a['step']}: {a['reads']} "
            f"{a['figure']:.4g} (threshold {a['threshold']:.4g}{why}); {a['advice']}")


class HealthMonitor:
    """Feed it every adversarial metrics row; :meth:`check` returns the alarms that fired on it
    (each at most once per run)."""

    def __init__(self, cfg: HealthConfig, batch_size: int) -> None:
        self.cfg = cfg
        self.batch_size = batch_size
        self.fired: dict[str, int] = {}  # alarm -> step it fired at
        self.accuracy_run = 0
        self.windows: dict[str, deque[float]] = {}
        self.coverage: list[Row] = []  # (step, modes) of the periodic evaluations so far
        self.real_spread: float | None = None  # cached by spread_ratio (not state)

    @property
    def enabled(self) -> bool:
        return self.cfg.enabled

    def every(self, total_steps: int) -> int:
        return self.cfg.every or max(1, total_steps // 20)

    def stops(self, name: str) -> bool:
        return "all" in self.cfg.fail_on or name in self.cfg.fail_on

    def check(self, row: Row) -> list[dict[str, Any]]:
        if not self.cfg.enabled:
            return []
        out = []
        for alarm in ALARMS.values():
            result = alarm.test(self, row)  # every test runs: they keep running state
            if result is None or alarm.name in self.fired:
                continue
            step = int(row.get("step", 0))
            self.fired[alarm.name] = step
            out.append({"step": step, "alarm": alarm.name, "reads": alarm.reads,
                        "figure": result[0], "threshold": result[1], "advice": alarm.advice})
        return out

    def check_eval(self, row: Row, total_steps: int, modes: Any) -> list[dict[str, Any]]:
        """The ``mode_coverage`` alarm on a periodic evaluation row, for data with known
        ``modes`` (the data's (K, dim) mode centres; None: no alarm); at most once per run.
        Prints it and flags the row with ``health/mode_coverage: 1``."""
        if not self.cfg.enabled or modes is None or _number(row, "modes") is None:
            return []
        n_modes = len(modes)
        self.coverage.append({"step": int(row.get("step", 0)), "modes": float(row["modes"])})
        if "mode_coverage" in self.fired:
            return []
        a = coverage_alarm(self.coverage, total_steps, n_modes, drop=self.cfg.coverage_drop,
                           floor=self.cfg.coverage_floor)
        if a is None:
            return []
        self.fired["mode_coverage"] = a["step"]
        row["health/mode_coverage"] = 1
        print(format_alarm(a), file=sys.stderr)
        return [a]

    def state_dict(self) -> dict[str, Any]:
        return {"fired": dict(self.fired), "accuracy_run": self.accuracy_run,
                "windows": {k: list(v) for k, v in self.windows.items()},
                "coverage": [dict(r) for r in self.coverage]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.fired = {str(k): int(v) for k, v in state.get("fired", {}).items()}
        self.accuracy_run = int(state.get("accuracy_run", 0))
        self.coverage = [{"step": int(r["step"]), "modes": float(r["modes"])}
                         for r in state.get("coverage", [])]
        self.windows = {str(k): deque((float(x) for x in v), maxlen=self.cfg.spike_window)
                        for k, v in state.get("windows", {}).items()}


def _spread(x: Tensor) -> float | None:
    if not x.is_floating_point() or x.shape[0] < 2:
        return None
    return float(x.flatten(1).std(0).mean())


@torch.no_grad()
def spread_ratio(monitor: HealthMonitor, G: nn.Module, z: Tensor, task: Any,
                 data: Any) -> float | None:
    """Spread of ``G(z)`` (G in eval mode, the global RNG left as it was) over the real data's
    spread; None for non-float outputs (token ids), a shape mismatch or constant reals."""
    was, rng = G.training, torch.get_rng_state()
    G.eval()
    try:
        fake = task.to_eval(G(z))
    finally:
        G.train(was)
        torch.set_rng_state(rng)
    if monitor.real_spread is None:
        reals = data.reals(max(256, z.shape[0]))
        same = reals.shape[1:] == fake.shape[1:]
        monitor.real_spread = (_spread(reals) or 0.0) if same else 0.0
    s = _spread(fake)
    if s is None or not monitor.real_spread:
        return None
    return s / monitor.real_spread


class HealthChecks:
    """The trainer's use of the monitor (a part of the Trainer): check the rows of the
    adversarial phase, print each alarm once, and the error that stops a run on
    ``health.fail_on``. The spread of the generator's samples is measured on ``fixed_z``
    against ``data``'s reals through ``task.to_eval``."""

    def __init__(self, monitor: HealthMonitor, generator: nn.Module, fixed_z: Tensor,
                 task: Task, data: DataSource, out_dir: Path | None) -> None:
        self.monitor = monitor
        self.generator = generator
        self.fixed_z = fixed_z
        self.task = task
        self.data = data
        self.out_dir = out_dir

    def due(self, step: int, total_steps: int) -> bool:
        """Whether iteration ``step`` of ``total_steps`` is one the monitor samples (its
        diversity check), so its row must be converted even when it is not logged."""
        return self.monitor.enabled and step % self.monitor.every(total_steps) == 0

    def check(self, row: dict[str, Any], step: int, total_steps: int) -> list[dict[str, Any]]:
        """Training-health alarms on this row, each printed once and flagged in the row as
        ``health/<name>: 1``."""
        if not self.monitor.enabled:
            return []
        if self.due(step, total_steps):
            ratio = spread_ratio(self.monitor, self.generator, self.fixed_z, self.task, self.data)
            if ratio is not None:
                row["samples/spread_ratio"] = ratio
        alarms = self.monitor.check(row)
        for a in alarms:
            row[f"health/{a['alarm']}"] = 1
            print(format_alarm(a), file=sys.stderr)
        return alarms

    def check_eval(self, row: dict[str, Any], total_steps: int) -> list[dict[str, Any]]:
        """The ``mode_coverage`` alarm on a periodic evaluation row
        (:meth:`HealthMonitor.check_eval`), for data with known modes."""
        return self.monitor.check_eval(row, total_steps, getattr(self.data, "modes", None))

    def first_stop(self, alarms: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The first of ``alarms`` that ``health.fail_on`` names, or None."""
        return next((a for a in alarms if self.monitor.stops(a["alarm"])), None)

    def error(self, a: dict[str, Any]) -> HealthError:
        """The stop of an alarm in ``health.fail_on`` (raised after the checkpoint is saved)."""
        fix = f"remove '{a['alarm']}' from health.fail_on; {a['advice']}"
        saved = ""
        if self.out_dir is not None:
            saved = f"; checkpoint saved to {self.out_dir}"
            fix = (f"resume with: stablegan train --out {shlex.quote(str(self.out_dir))} --resume "
                   f"(the alarm does not fire again), or {fix}")
        return HealthError(f"health alarm {a['alarm']} at step {a['step']}: {a['reads']} "
                           f"{a['figure']:.4g} (threshold {a['threshold']:.4g}){saved}",
                           hint=fix, alarm=a)
