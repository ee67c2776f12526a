"""What a run prints while it trains (a part of the Trainer): the first line, one progress bar
per phase and the wall-time estimates. Nothing here changes a number of the run.

The first line names the run and every phase with its budget, and the torch threads::

    train: coco with relgan, seed 0, on cpu, 1 torch thread (OMP_NUM_THREADS=1); pretrain 300
    steps, then adversarial 30 iterations

The estimate of a phase is printed once, after ``ESTIMATE_AFTER_STEPS`` of its steps or
``ESTIMATE_AFTER_SECONDS`` (whichever first); it covers the rest of that phase and names the
phases after it, which are estimated in turn when they start.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Protocol

from stablegan.training.phases import Phase

# the expected wall time of a phase is printed once after this many of its steps or seconds
ESTIMATE_AFTER_STEPS = 5
ESTIMATE_AFTER_SECONDS = 10.0


class Bar(Protocol):
    """What the trainer uses of a tqdm bar."""

    def update(self, n: int) -> Any: ...

    def set_postfix(self, ordered_dict: dict[str, Any], refresh: bool = ...) -> None: ...

    def close(self) -> None: ...


class NoBar:
    def update(self, n: int) -> None: ...

    def set_postfix(self, ordered_dict: dict[str, Any], refresh: bool = True) -> None: ...

    def close(self) -> None: ...


def progress_bar(total: int, initial: int, enabled: bool, desc: str = "train") -> Bar:
    if not enabled:
        return NoBar()
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="it", dynamic_ncols=True, mininterval=0.5,
                desc=desc)


def advance(bar: Bar, last: bool) -> None:
    """One step of ``bar``. The last step only counts (no redraw): ``close()`` then draws the
    final line once, instead of once by the update and again by the close."""
    if last and hasattr(bar, "n"):
        bar.n += 1
    else:
        bar.update(1)


def format_duration(seconds: float) -> str:
    """``7800`` -> ``"2 h 10 min"``, ``95`` -> ``"1 min 35 s"``, ``12`` -> ``"12 s"``."""
    s = max(0, int(round(seconds)))
    if s >= 3600:
        h, m = divmod(round(s / 60), 60)
        return f"{h} h {m} min" if m else f"{h} h"
    if s >= 60:
        m, r = divmod(s, 60)
        return f"{m} min {r} s" if r and m < 10 else f"{m} min"
    return f"{s} s"


def unit(phase: Phase) -> str:
    return "iterations" if phase.adversarial else "steps"


def budget(phase: Phase) -> str:
    """``pretrain 300 steps`` / ``adversarial 30 iterations``."""
    return f"{phase.name} {phase.steps:,} {unit(phase)}"


def format_plan(phases: list[Phase], done: list[int]) -> str:
    """Every phase with its budget, ``pretrain 300 steps, then adversarial 30 iterations``,
    with the steps already done of a resumed run (``(120 done)``, ``(done)``)."""
    parts = []
    for phase, d in zip(phases, done):
        mark = "" if d == 0 else " (done)" if d >= phase.steps else f" ({d:,} done)"
        parts.append(budget(phase) + mark)
    return ", then ".join(parts) if parts else "nothing to train"


def format_threads(n: int, source: str) -> str:
    return f"{n} torch thread{'s' if n != 1 else ''} ({source})"


def format_estimate(sec_per_it: float, remaining: int, total: int, measured: int,
                    phase: Phase | None = None, later: list[Phase] | None = None) -> str:
    """The one line printed early in a phase: the wall time the rest of its budget will take,
    and the phases after it (timed when they start). Without ``phase`` (or for the adversarial
    phase with nothing after it) it speaks of iterations only."""
    rate = (f"{sec_per_it:.2g} s/it" if sec_per_it >= 1 else f"{1 / sec_per_it:.3g} it/s"
            if sec_per_it > 0 else "n/a")
    left = "" if remaining == total else f" ({remaining:,} left)"
    what = (f"{total:,} iterations" if phase is None or (phase.adversarial and not later)
            else budget(phase))
    words = "iterations" if phase is None or phase.adversarial else "steps"
    after = ""
    if later:
        after = f", then {', '.join(budget(p) for p in later)} (estimated when they start)"
    return (f"estimate: about {format_duration(sec_per_it * remaining)} for {what}{left} at "
            f"{rate} (measured over {measured} {words}; evaluations not counted){after}")


class Console:
    """The run's output on stderr: the first line (rank 0), the progress bars and the
    estimates (both only with ``log.progress`` on rank 0)."""

    def __init__(self, progress: bool, is_main: bool) -> None:
        self.progress = progress and is_main
        self.is_main = is_main
        self.bars: dict[str, Bar] = {}
        self._clock: dict[str, tuple[float, int]] = {}  # phase -> (time, steps done) at start
        self._estimated: set[str] = set()

    def announce(self, line: str) -> None:
        """The run's first line."""
        if self.is_main:
            print(line, file=sys.stderr, flush=True)

    def bar(self, phase: Phase, done: int) -> Bar:
        """The progress bar of ``phase`` (opened at ``done``, closing the previous phase's)."""
        if phase.name not in self.bars:
            self.close()
            desc = "train" if phase.adversarial else phase.name
            self.bars = {phase.name: progress_bar(phase.steps, done, self.progress, desc)}
        return self.bars[phase.name]

    def estimate(self, phase: Phase, done: int, later: list[Phase]) -> None:
        """Once per phase, after ``ESTIMATE_AFTER_STEPS`` of its steps or
        ``ESTIMATE_AFTER_SECONDS`` (whichever first), print the expected wall time of the rest
        of it. The clock starts after the phase's first step here (its one-off costs)."""
        if not self.progress or phase.name in self._estimated:
            return
        now = time.perf_counter()
        start = self._clock.get(phase.name)
        if start is None:
            self._clock[phase.name] = (now, done)
            return
        t0, d0 = start
        its, seconds = done - d0, now - t0
        if its < 1 or (its < ESTIMATE_AFTER_STEPS and seconds < ESTIMATE_AFTER_SECONDS):
            return
        self._estimated.add(phase.name)
        if done >= phase.steps:
            return
        print(format_estimate(seconds / its, phase.steps - done, phase.steps, its, phase, later),
              file=sys.stderr)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
        self.bars = {}
