"""The run directory around a trainer: signals, the progress bar, final outputs (reloading a
run: :mod:`stablegan.training.runs`).

Layout: ``config.yaml``, ``metrics.jsonl``, ``evals.jsonl``, ``checkpoints/{last,best}.pt``,
``samples/``, ``losses.png``, ``eval.json``, ``tb/``. Every file is written atomically.
"""

from __future__ import annotations

import json
import math
import shlex
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from stablegan.config import save_yaml
from stablegan.errors import ConfigError, StableganError
from stablegan.training.fsutil import (
    atomic_write,
    atomic_write_text,
    describe_os_error,
    remove_stale_temporaries,
    run_dir_error,
)


class Interrupted(StableganError):
    """Training stopped by a signal (after saving a checkpoint when ``saved``)."""

    def __init__(self, signum: int, run_dir: Path | None, *, saved: bool = True,
                 step: int | None = None, phase: str | None = None) -> None:
        name = signal.Signals(signum).name
        at = (f" at step {step}" if step is not None else "") + (
            f" of phase '{phase}'" if phase else "")
        if not saved:
            message = (f"stopped by {name}{at} before a new checkpoint was written; the last "
                       "complete checkpoint on disk (if any) is kept")
        elif run_dir is not None:
            message = f"stopped by {name}{at}; checkpoint saved to {run_dir}"
        else:
            message = f"stopped by {name}{at} (no run directory: nothing was written)"
        hint = (f"resume with: stablegan train --out {shlex.quote(str(run_dir))} --resume"
                if run_dir is not None else None)
        super().__init__(message, hint=hint)
        self.signum = signum
        self.saved = saved


class NoBar:
    def update(self, n: int) -> None: ...

    def set_postfix(self, *a: Any, **k: Any) -> None: ...

    def close(self) -> None: ...


def progress_bar(total: int, initial: int, enabled: bool, desc: str = "train") -> Any:
    if not enabled:
        return NoBar()
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="it", dynamic_ncols=True, mininterval=0.5,
                desc=desc)


def advance(bar: Any, last: bool) -> None:
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


def format_estimate(sec_per_it: float, remaining: int, total: int, measured: int) -> str:
    """The one line printed early in a run: the wall time the rest of the budget will take."""
    rate = (f"{sec_per_it:.2g} s/it" if sec_per_it >= 1 else f"{1 / sec_per_it:.3g} it/s"
            if sec_per_it > 0 else "n/a")
    left = "" if remaining == total else f" ({remaining:,} left)"
    return (f"estimate: about {format_duration(sec_per_it * remaining)} for {total:,} iterations"
            f"{left} at {rate} (measured over {measured} iterations; evaluations not counted)")


def write_final_outputs(out_dir: Path, result: dict[str, Any], window: int) -> None:
    """``eval.json`` and ``losses.png``; a failure warns (the checkpoint is complete)."""
    from stablegan.reports import plot_losses, read_jsonl

    try:
        atomic_write_text(out_dir / "eval.json", json.dumps(result, indent=2) + "\n")
        rows = [r for r in read_jsonl(out_dir / "metrics.jsonl") if "phase" not in r]
        if rows:
            atomic_write(out_dir / "losses.png", lambda tmp: plot_losses(rows, tmp,
                                                                         window=window))
    except OSError as err:
        print(f"warning: could not write the final outputs: {describe_os_error(err)} (the "
              "checkpoint is complete)", file=sys.stderr)
    except StableganError as err:
        print(f"warning: could not draw the loss plot: {err.message}", file=sys.stderr)


# the expected wall time is printed once after this many adversarial iterations or seconds
ESTIMATE_AFTER_STEPS = 5
ESTIMATE_AFTER_SECONDS = 10.0


class RunDirectory:
    """Signals, the run directory's preparation and periodic evaluations (a Trainer mixin)."""

    cfg: Any
    step: int
    out_dir: Path | None
    best: dict[str, Any]
    _signal: int | None
    _final_phase: bool

    def _install_signals(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous = {}

        def handler(signum: int, frame: Any) -> None:
            if self._final_phase:  # training done and saved: stop the final evaluation now
                self._signal = signum
                raise Interrupted(signum, self.out_dir, step=self.step)
            if self._signal is not None:  # second signal: stop now, without a new checkpoint
                raise Interrupted(signum, self.out_dir, saved=False, step=self.step)
            self._signal = signum

        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, handler)
        return previous

    def _prepare_run_dir(self, fresh: bool) -> None:
        assert self.out_dir is not None
        out = self.out_dir
        try:
            out.mkdir(parents=True, exist_ok=True)
            (out / "samples").mkdir(exist_ok=True)
        except OSError as err:
            raise run_dir_error("the run directory", out, err) from err
        for folder in (out, out / "samples"):
            remove_stale_temporaries(folder)
        try:
            atomic_write(out / "config.yaml", lambda tmp: save_yaml(self.cfg, tmp))
        except OSError as err:
            raise run_dir_error("the config", out / "config.yaml", err) from err
        if fresh:  # rows of an earlier attempt that never reached a checkpoint
            self._truncate_logs()

    def _periodic_eval(self) -> bool:
        """Evaluate, append to evals.jsonl, keep best.pt; returns True to stop early."""
        result = self.evaluate(final=False)
        row = {"step": self.step, "batches": self.batches_consumed(), **result}
        if self.out_dir is not None:
            path = self.out_dir / "evals.jsonl"
            try:
                with open(path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(row) + "\n")
            except OSError as err:
                raise run_dir_error("the evaluation log", path, err) from err
        key = self.cfg.eval.best_metric
        if not key:
            return False
        if key not in result:
            raise ConfigError(f"eval.best_metric '{key}' is not among the evaluated metrics "
                              f"{sorted(k for k in result if isinstance(result[k], (int, float)))}")
        value, best = float(result[key]), self.best["value"]
        better = best is None or (value < best if self.cfg.eval.best_mode == "min"
                                  else value > best)
        if better and math.isfinite(value):
            self.best = {"value": value, "step": self.step, "stale": 0}
            self._save_or_diverge("best.pt")
        else:
            self.best["stale"] = int(self.best.get("stale", 0)) + 1
        patience = self.cfg.eval.patience
        if patience and self.best["stale"] >= patience:
            print(f"early stopping at step {self.step}: {key} has not improved for {patience} "
                  f"evaluations (best {self.best['value']:.4g} at step {self.best['step']})",
                  file=sys.stderr)
            return True
        return False

    def _estimate(self, done: int, total: int) -> None:
        """Once per run, after ``ESTIMATE_AFTER_STEPS`` adversarial iterations or
        ``ESTIMATE_AFTER_SECONDS`` (whichever comes first), print the expected wall time of the
        remaining budget to stderr (only with ``log.progress``; it changes no number)."""
        if not self.cfg.log.progress or getattr(self, "_estimated", False):
            return
        now = time.perf_counter()
        start = getattr(self, "_estimate_start", None)
        if start is None:  # the clock starts after the first iteration (its one-off costs)
            self._estimate_start = (now, done)
            return
        t0, d0 = start
        its, seconds = done - d0, now - t0
        if its < 1 or (its < ESTIMATE_AFTER_STEPS and seconds < ESTIMATE_AFTER_SECONDS):
            return
        self._estimated = True
        if done >= total:
            return
        print(format_estimate(seconds / its, total - done, total, its), file=sys.stderr)

