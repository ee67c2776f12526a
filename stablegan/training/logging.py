"""Run logging: ``metrics.jsonl`` (one JSON object per logged iteration), TensorBoard when
installed, and rolling loss variance."""

from __future__ import annotations

import json
import math
from collections import deque
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
