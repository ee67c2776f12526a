"""The run directory around a trainer and the signals that stop it (two parts of the Trainer).

Layout: ``config.yaml``, ``metrics.jsonl``, ``evals.jsonl``, ``checkpoints/{last,best}.pt``,
``samples/``, ``losses.png``, ``eval.json``, ``tb/``. Every file is written atomically. Under
data-parallel training rank 0 alone writes (:class:`RunDirectory` ``writes`` is False on the
others).
"""

from __future__ import annotations

import json
import shlex
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stablegan.config import Config, save_yaml
from stablegan.errors import StableganError
from stablegan.training.fsutil import (
    atomic_write,
    atomic_write_text,
    describe_os_error,
    remove_stale_temporaries,
    run_dir_error,
)
from stablegan.training.logging import JsonlWriter, TensorBoard, truncate_jsonl


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


def write_final_outputs(out_dir: Path, result: dict[str, Any], window: int) -> None:
    """``eval.json`` and ``losses.png``; a failure warns (the checkpoint is complete)."""
    from stablegan.reports.plots import plot_losses, read_jsonl

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


class RunDirectory:
    """The files of a run (a part of the Trainer): ``out_dir`` (None: nothing is written) and,
    while a ``fit`` runs, the open ``metrics.jsonl`` and TensorBoard writers. ``writes`` is False
    without a directory and on the ranks other than 0."""

    def __init__(self, out_dir: Path | None, is_main: bool) -> None:
        self.out_dir = out_dir
        self.writes = out_dir is not None and is_main
        self.metrics: JsonlWriter | None = None
        self.tb: TensorBoard | None = None

    @property
    def checkpoint_path(self) -> Path | None:
        return self.out_dir / "checkpoints" / "last.pt" if self.out_dir else None

    def samples(self, name: str) -> Path | None:
        """Where the sample file ``name`` goes (None: no run directory)."""
        return self.out_dir / "samples" / name if self.out_dir is not None else None

    def open(self, cfg: Config, position: tuple[int, dict[str, int]] | None, tensorboard: bool
             ) -> None:
        """Create the directory, write ``config.yaml`` and open the logs. ``position`` (step,
        phase steps) of a fresh run drops the rows of an earlier attempt that never reached a
        checkpoint (None for a resumed run, whose logs the resume truncated already)."""
        if not self.writes:
            return
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
            atomic_write(out / "config.yaml", lambda tmp: save_yaml(cfg, tmp))
        except OSError as err:
            raise run_dir_error("the config", out / "config.yaml", err) from err
        if position is not None:
            self.truncate(*position)
        self.metrics = JsonlWriter(out / "metrics.jsonl")
        self.tb = TensorBoard(out / "tb", tensorboard)

    def write_row(self, row: dict[str, Any], step: int) -> None:
        """One row of ``metrics.jsonl`` (and TensorBoard at ``step``), while the logs are open."""
        if self.metrics is not None:
            self.metrics.write(row)
        if self.tb is not None:
            self.tb.scalars(row, step)

    def append_eval(self, row: dict[str, Any]) -> None:
        """One periodic evaluation in ``evals.jsonl``."""
        if self.out_dir is None:
            return
        path = self.out_dir / "evals.jsonl"
        try:
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")
        except OSError as err:
            raise run_dir_error("the evaluation log", path, err) from err

    def truncate(self, step: int, phase_steps: dict[str, int]) -> None:
        """Drop log rows past the position ``(step, phase_steps)`` of the current state
        (resume, rollback)."""
        if not self.writes:
            return
        assert self.out_dir is not None
        for name in ("metrics.jsonl", "evals.jsonl"):
            if name == "metrics.jsonl" and self.metrics is not None:
                self.metrics.truncate(step, phase_steps)
            else:
                truncate_jsonl(self.out_dir / name, step, phase_steps)

    def close_metrics(self) -> None:
        if self.metrics is not None:
            self.metrics.close()
            self.metrics = None

    def close(self) -> None:
        self.close_metrics()
        if self.tb is not None:
            self.tb.close()
            self.tb = None

    def write_final(self, result: dict[str, Any], window: int) -> None:
        if self.writes:
            assert self.out_dir is not None
            write_final_outputs(self.out_dir, result, window)


class Signals:
    """SIGINT/SIGTERM during ``fit`` (a part of the Trainer): the first one is kept in
    ``received`` and the trainer stops after the current step, saving a checkpoint; a second one
    stops at once without a new checkpoint; once ``final`` is set (training done and saved) one
    stops the final evaluation at once. ``position()`` is the step the messages name."""

    def __init__(self, out_dir: Path | None, position: Callable[[], int]) -> None:
        self.out_dir = out_dir
        self.position = position
        self.received: int | None = None
        self.final = False
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        self.received, self.final = None, False
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.final:  # training done and saved: stop the final evaluation now
            self.received = signum
            raise Interrupted(signum, self.out_dir, step=self.position())
        if self.received is not None:  # second signal: stop now, without a new checkpoint
            raise Interrupted(signum, self.out_dir, saved=False, step=self.position())
        self.received = signum

    def adopt(self, signum: int | None) -> None:
        """A signal another rank received (:meth:`RankGroup.agree`) counts as received here."""
        if signum and self.received is None:
            self.received = signum

    def restore(self) -> None:
        self.final = False
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}
