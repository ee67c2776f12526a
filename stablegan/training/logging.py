"""Run logging: ``metrics.jsonl`` (one JSON object per logged iteration), TensorBoard when
installed, and the rolling loss variances (:class:`LossVariances`, a part of the trainer)."""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from stablegan.training.fsutil import atomic_write_text, run_dir_error


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else (1e308 if value > 0 else -1e308)
    return value


def _row_position(line: str) -> tuple[str | None, int] | None:
    """``(phase, step)`` of one JSON-lines row (phase None for rows of the adversarial phase,
    which carry no ``phase`` key), or None for a torn or foreign line."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(row, dict):
        return None
    step = row.get("step", 0)
    if isinstance(step, bool) or not isinstance(step, (int, float)) or not math.isfinite(step):
        return None
    phase = row.get("phase")
    return (phase if isinstance(phase, str) else None), int(step)


def truncate_jsonl(path: Path, last_step: int, phases: dict[str, int] | None = None) -> None:
    """Drop lines after the position a checkpoint stands at (and torn or malformed lines) so a
    resumed run appends exactly there: adversarial rows with ``step > last_step``, and rows of
    another phase P with ``step > phases[P]`` (all of them when P is not in ``phases``). The file
    is replaced atomically."""
    if not path.is_file():
        return
    keep = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        pos = _row_position(line)
        if pos is None:
            continue
        phase, step = pos
        limit = last_step if phase is None else (phases or {}).get(phase, -1)
        if step <= limit:
            keep.append(line)
    try:
        atomic_write_text(path, "".join(k + "\n" for k in keep))
    except OSError as err:
        raise run_dir_error("the log", path, err) from err


class JsonlWriter:
    """Append-only JSON-lines file, flushed after each row; OSErrors become RunDirectoryError."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._fh = open(path, "a", encoding="utf-8")
        except OSError as err:
            raise run_dir_error("the log", path, err) from err

    def write(self, row: dict[str, Any]) -> None:
        try:
            self._fh.write(json.dumps({k: _clean(v) for k, v in row.items()}) + "\n")
            self._fh.flush()
        except OSError as err:
            raise run_dir_error("the log", self.path, err) from err

    def truncate(self, last_step: int, phases: dict[str, int] | None = None) -> None:
        """Drop the rows after ``last_step`` (a rollback) and go on appending."""
        self.close()
        truncate_jsonl(self.path, last_step, phases)
        self.__init__(self.path)  # type: ignore[misc]

    def close(self) -> None:
        try:
            self._fh.close()
        except OSError:
            pass  # a failed flush was already reported by write()


class TensorBoard:
    """Thin optional wrapper: a no-op when tensorboard is not installed or turned off."""

    def __init__(self, log_dir: Path | None, enabled: bool) -> None:
        self.writer = None
        if log_dir is None or not enabled:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except Exception:  # noqa: BLE001 - tensorboard missing or broken: log to jsonl only
            return
        self.writer = SummaryWriter(log_dir=str(log_dir))

    def scalars(self, row: dict[str, Any], step: int) -> None:
        if self.writer is None:
            return
        for key, value in row.items():
            if key != "step" and isinstance(value, (int, float)) and math.isfinite(value):
                self.writer.add_scalar(key, value, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class RollingVariance:
    """Variance of the last ``window`` values (Fig. 1 middle/right of Wu et al. 2020)."""

    def __init__(self, window: int) -> None:
        self.values: deque[float] = deque(maxlen=window)

    def add(self, value: float) -> float:
        self.values.append(value)
        n = len(self.values)
        if n < 2:
            return 0.0
        mean = sum(self.values) / n
        return sum((v - mean) ** 2 for v in self.values) / (n - 1)

    def state(self) -> list[float]:
        return list(self.values)

    def load(self, values: list[float]) -> None:
        self.values.clear()
        self.values.extend(float(v) for v in values)


class LossVariances:
    """The rolling variance of every network's loss over the last ``window`` adversarial
    iterations (``loss_var/<network>`` in the rows), fed with every iteration's loss although
    only some iterations are logged: each iteration's loss tensors are queued (:meth:`queue`,
    no host sync) and converted in one go when the next row is built (:meth:`add_to_row`), the
    same numbers as converting them every iteration.

    ``mean_over_ranks`` turns one iteration's losses into their mean over the data-parallel
    ranks (the identity in one process), so every rank feeds the same values.
    """

    def __init__(self, window: int, mean_over_ranks: Callable[[dict[str, Any]], dict[str, Any]]
                 ) -> None:
        self.window = window
        self.mean_over_ranks = mean_over_ranks
        self.rolling: dict[str, RollingVariance] = {}
        self.pending: list[dict[str, Any]] = []  # losses of the iterations since the last row

    def variance(self, name: str) -> RollingVariance:
        if name not in self.rolling:
            self.rolling[name] = RollingVariance(self.window)
        return self.rolling[name]

    def queue(self, stats: Mapping[str, Any]) -> None:
        """Keep this iteration's ``loss/<network>`` values (tensors or floats)."""
        self.pending.append({k[5:]: stats[k] for k in stats if k.startswith("loss/")})

    def add_to_row(self, row: dict[str, Any], loss_keys: list[str]) -> None:
        """Feed the queued losses (all but the row's own iteration, which is ``row[loss/...]``)
        to the rolling variances, then the row's own, and write ``loss_var/<network>`` for each
        of ``loss_keys`` (``loss/<network>`` keys of the row)."""
        earlier, self.pending = self.pending[:-1], []
        for step_losses in earlier:
            for name, value in self.mean_over_ranks(step_losses).items():
                if f"loss/{name}" in row:
                    self.variance(name).add(float(value))
        for key in loss_keys:
            row[f"loss_var/{key[5:]}"] = self.variance(key[5:]).add(row[key])

    def pending_state(self, gather: bool) -> list[dict[str, float]]:
        """The queued losses as floats, for a checkpoint (averaged over the ranks first when
        ``gather``, in memory too, so a resumed run feeds the rolling variances the same values
        as an uninterrupted one)."""
        pending = [self.mean_over_ranks(p) for p in self.pending] if gather else self.pending
        out = [{k: float(v) for k, v in p.items()} for p in pending]
        self.pending = [dict(p) for p in out]
        return out

    def state_dict(self) -> dict[str, list[float]]:
        return {k: v.state() for k, v in self.rolling.items()}

    def load_state_dict(self, rolling: dict[str, list[float]],
                        pending: list[dict[str, Any]]) -> None:
        self.rolling = {}
        for k, v in rolling.items():
            self.variance(k).load(v)
        self.pending = [{str(k): float(v) for k, v in p.items()} for p in pending]
