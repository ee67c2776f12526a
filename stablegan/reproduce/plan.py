"""The plan of a table: its runs, what each costs, how many run at once, the expected wall time.

Pure arithmetic over measured costs (``Cost``, from :mod:`stablegan.reproduce.probe`): no torch.
A run costs ``startup + fixed + pretrain_steps * pretrain_step + steps * step`` seconds; the
runs of a stage are dealt, in order, to ``jobs`` slots, each to the slot that frees first (what
a pool of ``jobs`` workers does with a queue), and the stages run one after the other (a method
starts from the pre-trained network of its seed), so the table's wall time is the sum of the
stages' makespans.
"""

from __future__ import annotations

import heapq
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from stablegan.compare import method_overrides
from stablegan.reproduce.tables import Table

# a run on a GPU holds its CUDA context besides what torch reserves; packing keeps this share
# of the free memory in reserve (fragmentation, the evaluation's own peaks)
GPU_MEMORY_HEADROOM = 0.10


@dataclass(frozen=True)
class Cost:
    """What one run of a config costs, measured by the probe (seconds, MiB)."""

    startup: float  # a process's start: Python, torch and stablegan imported
    fixed: float  # data, networks and the final evaluation: the probe's time outside its steps
    pretrain_step: float  # one pre-training step (0 without a pre-training stage)
    step: float  # one adversarial iteration
    peak_mib: float  # peak memory of one run (GPU: reserved + context; CPU: resident set)
    cpu_fraction: float = 1.0  # process CPU time / wall time during the probe

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass
class RunPlan:
    """One run: a pre-training run (``stage == "pretrain"``, the MLE / autoencoder row of its
    seed) or a method run that starts from the pre-trained network of its seed."""

    key: str
    dir: str
    stage: str  # "pretrain" | "method"
    label: str  # the table row it belongs to
    spec: str | None
    seed: int
    steps: int
    pretrain_steps: int
    overrides: list[str] = field(default_factory=list)
    seconds: float = 0.0  # expected wall time

    def for_compare(self) -> dict[str, Any]:
        """The dict ``stablegan.compare._run_one`` runs."""
        return {"key": self.key, "dir": self.dir, "seed": self.seed, "steps": self.steps,
                "overrides": self.overrides, "method": self.spec or self.label}


def folder(spec: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", spec)


def run_seconds(cost: Cost, pretrain_steps: int, steps: int) -> float:
    return cost.startup + cost.fixed + pretrain_steps * cost.pretrain_step + steps * cost.step


def makespan(durations: list[float], jobs: int) -> float:
    """Wall time of ``durations`` dealt in order to ``jobs`` slots, each job to the slot that is
    free first."""
    if not durations:
        return 0.0
    slots = [0.0] * max(1, min(jobs, len(durations)))
    for d in durations:
        heapq.heappush(slots, heapq.heappop(slots) + d)
    return max(slots)


def choose_jobs(device: str, cores: int, n_runs: int, peak_mib: float, free_mib: float | None,
                override: int | None = None) -> tuple[int, str]:
    """How many runs at once, and why. On a GPU: as many as fit in ``(1 - headroom)`` of its
    free memory at ``peak_mib`` each (one process per run, at most one per CPU core to drive
    it); on a CPU: one per core (one torch thread each); ``override`` (``--jobs``) wins."""
    n_runs = max(1, n_runs)
    if override is not None:
        return max(1, override), f"--jobs {override}"
    if device.startswith("cuda") and free_mib is not None and peak_mib > 0:
        fit = int(free_mib * (1 - GPU_MEMORY_HEADROOM) // peak_mib)
        jobs = max(1, min(fit, cores, n_runs))
        return jobs, (f"{fit} runs of {peak_mib:,.0f} MiB fit in {1 - GPU_MEMORY_HEADROOM:.0%} of "
                      f"the GPU's {free_mib:,.0f} MiB free; {cores} CPU cores; {n_runs} runs")
    jobs = max(1, min(cores, n_runs))
    return jobs, f"one run per CPU core ({cores} cores, {n_runs} runs)"


def build_runs(table: Table, rows: list[str], seeds: list[int], out: Path, steps: int,
               pretrain_steps: int) -> list[RunPlan]:
    """The runs of ``table`` for the rows labelled ``rows`` and ``seeds``: first one pre-training
    run per seed (when the table has that stage), then each method row per seed."""
    runs: list[RunPlan] = []
    stage = table.pretrain
    if stage is not None:
        first = next(r.label for r in table.rows if r.spec is None)
        for s in seeds:
            runs.append(RunPlan(f"pretrain/seed{s}", f"pretrain/seed{s}", "pretrain", first,
                                None, s, 0, pretrain_steps, [f"{stage.key}={pretrain_steps}"]))
    for row in table.rows:
        if row.spec is None or row.label not in rows:
            continue
        for s in seeds:
            extra = method_overrides(row.spec)
            if stage is not None:
                init = (out / "pretrain" / f"seed{s}").resolve()
                extra += [*stage.then, f"pretrain.init_from={init}"]
            runs.append(RunPlan(f"{row.spec}/seed{s}", f"{folder(row.spec)}/seed{s}", "method",
                                row.label, row.spec, s, steps, 0, extra))
    return runs


def estimate(runs: list[RunPlan], costs: dict[str, Cost], jobs: int) -> dict[str, float]:
    """Fill each run's expected seconds; the stages' makespans and the total. A pre-training
    run costs what the first probed method's pre-training steps cost."""
    first = next(iter(costs.values()))
    stages: dict[str, list[float]] = {"pretrain": [], "method": []}
    for r in runs:
        cost = first if r.stage == "pretrain" else costs[r.spec or ""]
        r.seconds = run_seconds(cost, r.pretrain_steps, r.steps)
        stages[r.stage].append(r.seconds)
    out = {k: makespan(v, jobs) for k, v in stages.items()}
    out["total"] = out["pretrain"] + out["method"]
    out["serial"] = sum(r.seconds for r in runs)
    return out


def duration(seconds: float) -> str:
    """``1 h 05 min``, ``3 min 20 s``, ``12 s``; days above 48 h."""
    s = int(round(seconds))
    if s >= 48 * 3600:
        return f"{s / 86400:.1f} days"
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    if s >= 60:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s} s"


def plan_text(table: Table, runs: list[RunPlan], costs: dict[str, Cost], wall: dict[str, float],
              device: str, jobs: int, why: str, smoke: bool) -> str:
    """The plan as printed before the table starts (and alone under ``--dry-run``)."""
    seeds = sorted({r.seed for r in runs})
    size = "toy size (--smoke)" if smoke else "the published settings"
    lines = [f"reproduce {table.name}: {table.title}, at {size}",
             f"  recipe {table.recipe}; seeds {', '.join(map(str, seeds))}; {len(runs)} runs on "
             f"{device}, {jobs} at a time ({why})"]
    if table.pretrain is not None:
        pre = next((r for r in runs if r.stage == "pretrain"), None)
        if pre is not None:
            lines.append(f"  stage 1: pre-training, {pre.pretrain_steps:,} steps "
                         f"({table.pretrain.key}) per seed; each method run starts from its "
                         "seed's pre-trained network")
    steps = next((r.steps for r in runs if r.stage == "method"), table.steps)
    lines.append(f"  {'stage 2: ' if table.pretrain else ''}methods, {steps:,} adversarial "
                 "iterations each")
    lines.append("  measured cost per run (probe):")
    for spec, c in costs.items():
        pre = f", {c.pretrain_step:.3g} s / pre-training step" if c.pretrain_step else ""
        lines.append(f"    {spec:28s} {c.step:.3g} s / iteration{pre}; fixed {c.fixed:.1f} s, "
                     f"start-up {c.startup:.1f} s; peak {c.peak_mib:,.0f} MiB")
    lines.append("  runs:")
    for r in runs:
        lines.append(f"    {r.key:36s} {r.label:24s} {duration(r.seconds):>14s}")
    par = "" if not device.startswith("cuda") or jobs == 1 else (
        " (assumes runs sharing the GPU do not slow each other: a lower bound)")
    lines.append(f"  expected wall time: {duration(wall['total'])}{par} "
                 f"(stage makespans: pre-training {duration(wall['pretrain'])}, methods "
                 f"{duration(wall['method'])}; {duration(wall['serial'])} one after another)")
    return "\n".join(lines)

