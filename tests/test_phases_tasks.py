"""Phases, tasks and the metric registry, end to end on tiny runs.

* a run killed in the warm-up phase or mid-way through the adversarial phase resumes from its
  checkpoint on exactly the uninterrupted trajectory (weights, optimiser moments, metrics.jsonl);
* a new modality (a Task) and a new metric plug in from this file alone, through
  ``register_task`` / ``register_metric``, without touching the package;
* the compute accounting (``batches``) matches what the method reports per iteration;
* static checks: no modality tests outside ``stablegan/tasks``, short functions in the core.

The kills run in-process: a patched step raises in the middle of a step (a SIGKILL as the
trainer sees it: nothing is saved at that moment), or sends SIGTERM to this process (the trainer
finishes the step, saves and stops). The resume is then a fresh ``Trainer.from_config`` +
``resume()`` + ``fit()``, as ``stablegan train --resume`` does.
"""

from __future__ import annotations

import ast
import json
import os
import re
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import assert_same_weights, rows
from torch import Tensor, nn

import stablegan.metrics.registry as metric_registry
import stablegan.tasks as tasks_pkg
from stablegan.compare import batches_per_iteration
from stablegan.data.base import DataSource
from stablegan.errors import CheckpointError, StableganError
from stablegan.evaluation import evaluate
from stablegan.methods import method_for
from stablegan.metrics.registry import Metric, register_metric
from stablegan.tasks import Task, register_task
from stablegan.training.checkpoint import load_checkpoint
from stablegan.training.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "stablegan"


class Killed(Exception):
    """Raised by a patched step: the process 'dies' in the middle of that step."""


# ---------------------------------------------------------------------------- kill and resume
def run_config(make_cfg, method: str, *overrides: str, steps: int = 6):
    extra = ["log.checkpoint_every=2", "eval.n_samples=32"]
    if method.startswith("ppo-gan"):  # a 5:5 schedule is slow for nothing here
        extra += ["schedule.n_critic=2", "schedule.n_gen=2"]
    return make_cfg(*extra, *overrides, method=method, steps=steps)


def uninterrupted(cfg, out: Path) -> Trainer:
    trainer = Trainer.from_config(cfg, out_dir=out)
    trainer.fit()
    return trainer


def kill_then_resume(cfg, out: Path, patch: Callable[[Trainer], None],
                     expect: type[BaseException]) -> tuple[Trainer, dict[str, Any]]:
    """Train until ``patch``'s step stops the run, then resume in a fresh trainer; returns the
    resumed trainer and the checkpoint it resumed from."""
    first = Trainer.from_config(cfg, out_dir=out)
    patch(first)
    with pytest.raises(expect):
        first.fit()
    state = load_checkpoint(out / "checkpoints" / "last.pt")
    second = Trainer.from_config(cfg, out_dir=out)
    second.resume()
    assert second.step == state["step"] and second.phase_steps == state["phase_steps"]
    second.fit()
    # the resumed process did train: its weights moved on from the checkpoint's
    g = state["networks"]["G"]
    assert any(not torch.equal(t, g[k]) for k, t in second.method.G.state_dict().items())
    return second, state


def at_step(phase: str, index: int, action: Callable[[int], None]) -> Callable[[Trainer], None]:
    """Patch the method so that ``action(i)`` runs at the start of step ``index`` of ``phase``
    (the phase list binds the instance attribute at fit time)."""

    def patch(trainer: Trainer) -> None:
        m = trainer.method
        attr = "warmup_step" if phase == "warmup" else "iteration"
        original = getattr(m, attr)

        def step(i: int, diagnostics: bool = False):
            if i == index:
                action(i)
            return original(i, diagnostics)

        setattr(m, attr, step)

    return patch


def crash_in(phase: str, index: int) -> Callable[[Trainer], None]:
    """Make step ``index`` of ``phase`` raise before it changes anything."""

    def crash(i: int) -> None:
        raise Killed(f"{phase} step {i}")

    return at_step(phase, index, crash)


def sigterm_in(phase: str, index: int) -> Callable[[Trainer], None]:
    """Send SIGTERM to this process during step ``index`` of ``phase``."""
    return at_step(phase, index, lambda i: os.kill(os.getpid(), signal.SIGTERM))


WARMUP = {"nsgan": ["schedule.d_warmup=6"],
          "ppo-gan": ["schedule.d_warmup=6", "variational.classifier_warmup=4"]}


@pytest.mark.parametrize("method", ["nsgan", "ppo-gan"])
@pytest.mark.slow
def test_kill_in_warmup_then_resume_is_bit_identical(tmp_path: Path, make_cfg,
                                                    method: str) -> None:
    cfg = run_config(make_cfg, method, *WARMUP[method], steps=4)
    budget = 6 + (4 if method == "ppo-gan" else 0)
    ref = uninterrupted(cfg, tmp_path / "ref")
    # the warm-up checkpoints every max(1, budget // 10) = 1 steps: the last one is at step 3
    resumed, state = kill_then_resume(cfg, tmp_path / "run", crash_in("warmup", 3), Killed)
    assert state["phase"] == "warmup"
    assert state["phase_steps"]["warmup"] == 3 < budget
    assert state["step"] == 0
    assert_same_weights(ref, resumed)
    got, want = rows(tmp_path / "run" / "metrics.jsonl"), rows(tmp_path / "ref" / "metrics.jsonl")
    warm = [r for r in got if r.get("phase") == "warmup"]
    assert [r["step"] for r in warm] == list(range(1, budget + 1))  # each step once
    assert got == want
    assert all("phase" not in r for r in got[budget:])


@pytest.mark.parametrize("method,kill", [("nsgan", "crash"), ("nsgan", "sigterm"),
                                         ("ppo-gan", "crash"), ("ppo-gan", "sigterm")])
@pytest.mark.slow
def test_kill_in_adversarial_phase_then_resume_is_bit_identical(tmp_path: Path, make_cfg,
                                                                method: str, kill: str) -> None:
    cfg = run_config(make_cfg, method, steps=8)
    ref = uninterrupted(cfg, tmp_path / "ref")
    # crash in iteration 6 (index 5): the last checkpoint is step 4 and the row of step 5 is
    # already in metrics.jsonl, so the resume must drop it and write it again exactly once
    patch, expect = ((crash_in("adversarial", 5), Killed) if kill == "crash"
                     else (sigterm_in("adversarial", 5), StableganError))
    resumed, state = kill_then_resume(cfg, tmp_path / "run", patch, expect)
    assert state["phase"] == "adversarial"
    assert state["step"] == (4 if kill == "crash" else 6)
    assert_same_weights(ref, resumed)
    got = rows(tmp_path / "run" / "metrics.jsonl")
    assert [r["step"] for r in got] == list(range(1, 9))
    assert got == rows(tmp_path / "ref" / "metrics.jsonl")
    assert (json.loads((tmp_path / "run" / "eval.json").read_text())
            == json.loads((tmp_path / "ref" / "eval.json").read_text()))


# ---------------------------------------------------------------------------- a toy modality
class LineMixture(DataSource):
    """0.5 N(-2, 0.3^2) + 0.5 N(3, 0.3^2) on the line: samples of shape (N, 1)."""

    name = "line-mixture"
    task = "line"
    sample_shape = (1,)
    centres = (-2.0, 3.0)
    std = 0.3

    def __init__(self, seed: int = 0) -> None:
        self.gen = torch.Generator().manual_seed(seed)

    def _draw(self, n: int, gen: torch.Generator) -> Tensor:
        which = torch.randint(0, 2, (n,), generator=gen)
        centre = torch.tensor(self.centres)[which]
        return (centre + self.std * torch.randn(n, generator=gen))[:, None]

    def sample(self, batch_size: int) -> Tensor:
        return self._draw(batch_size, self.gen)

    def reals(self, n: int, split: str = "train") -> Tensor:
        # fixed seeds, never the global RNG: the same sets for every run
        return self._draw(n, torch.Generator().manual_seed(1 if split == "train" else 2))

    def state_dict(self) -> dict[str, Any]:
        return {"name": self.name, "generator": self.gen.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.gen.set_state(state["generator"])


class LineTask(Task):
    """Samples on the line, shown as a histogram, evaluated by ``mean_gap``."""

    name = "line"
    n_display = 256

    def render(self, samples: Tensor, path: Path, title: str = "") -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(4, 3))
        ax.hist(self.data.reals(1000).flatten().numpy(), bins=40, alpha=0.5, label="real")
        ax.hist(samples.flatten().numpy(), bins=40, alpha=0.5, label="generated")
        ax.set_title(title)
        ax.legend()
        fig.savefig(path, format="png")
        plt.close(fig)

    def default_metrics(self, ecfg: Any) -> list[str]:
        return ["mean_gap"]


def mean_gap(fake, real, ctx) -> dict[str, float]:
    return {ctx.key("mean_gap"): float((fake.x.float().mean() - real.x.float().mean()).abs())}


class LineG(nn.Module):
    latent_dim = 2

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


@pytest.fixture
def line_task() -> Iterator[None]:
    register_task("line", LineTask, overwrite=True)
    register_metric(Metric("mean_gap", compute=mean_gap, needs="samples", keys=("mean_gap",)),
                    overwrite=True)
    try:
        yield
    finally:
        tasks_pkg.TASKS.pop("line", None)
        metric_registry._REGISTRY.pop("mean_gap", None)


def test_mean_gap_metric_matches_closed_form(line_task: None) -> None:
    from stablegan.metrics.registry import Context, Side

    fake = torch.tensor([[1.0], [2.0], [6.0]])  # mean 3
    real = torch.tensor([[-1.0], [0.0], [1.0], [4.0]])  # mean 1
    metric = metric_registry.get_metric("mean_gap")
    assert metric.compute(Side("fake", fake), Side("ref", real), Context(None)) == \
        {"mean_gap": 2.0}
    assert metric.compute(Side("fake", real), Side("ref", fake), Context(None)) == \
        {"mean_gap": 2.0}


@pytest.mark.slow
def test_toy_task_and_metric_from_outside_the_package(tmp_path: Path, line_task: None) -> None:
    torch.manual_seed(0)
    D = nn.Sequential(nn.Linear(1, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
    config = {"steps": 4, "data": {"batch_size": 16},
              "log": {"progress": False, "tensorboard": False, "sample_every": 2},
              "eval": {"n_samples": 200}}
    trainer = Trainer(LineG(), D, LineMixture(seed=0), config, out_dir=tmp_path)
    assert isinstance(trainer.task, LineTask)
    trainer.fit()
    result = json.loads((tmp_path / "eval.json").read_text())
    assert {"mean_gap", "floor/mean_gap"} <= set(result)
    assert result["n_eval"] == 200

    # recompute: the trainer evaluates with the global RNG at seed + 1 (restored afterwards)
    torch.manual_seed(trainer.cfg.seed + 1)
    fake = trainer.sample(200)
    ref, floor = trainer.data.reals(200, "train"), trainer.data.reals(200, "holdout")
    assert result["mean_gap"] == pytest.approx(float((fake.mean() - ref.mean()).abs()),
                                               abs=1e-6)
    assert result["floor/mean_gap"] == pytest.approx(float((floor.mean() - ref.mean()).abs()),
                                                     abs=1e-6)
    torch.manual_seed(trainer.cfg.seed + 1)
    sets = trainer.task.eval_sets(trainer.sample, 200)
    assert torch.equal(sets.fake, fake) and torch.equal(sets.ref, ref)
    assert torch.equal(sets.floor, floor)

    torch.manual_seed(trainer.cfg.seed + 1)
    again = evaluate(trainer.sample, trainer.task, trainer.cfg.eval, n=200)
    assert again == result

    samples = sorted((tmp_path / "samples").iterdir())
    assert [p.name for p in samples] == ["step_000002.png", "step_000004.png"]
    for p in samples:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------- compute accounting
@pytest.mark.parametrize("method", ["nsgan", "wgan-gp", "ppo-gan", "ppo-gan-reweight"])
@pytest.mark.slow
def test_batches_grow_by_updates_per_iteration(make_cfg, method: str) -> None:
    cfg = make_cfg(method=method, steps=3)
    per_it = batches_per_iteration(cfg)
    trainer = Trainer.from_config(cfg)
    assert per_it == method_for(cfg, trainer.task).updates_per_iteration(cfg)
    trainer.fit()
    batches = [r["batches"] for r in trainer.history if "phase" not in r]
    assert len(batches) == 3
    assert batches == [per_it, 2 * per_it, 3 * per_it]


# ---------------------------------------------------------------------------- static checks
def py_files(under: Path) -> list[Path]:
    return sorted(under.rglob("*.py"))


def test_no_modality_checks_outside_tasks() -> None:
    kind_hits, task_hits = [], []
    for path in py_files(PACKAGE):
        rel = path.relative_to(ROOT).as_posix()
        for no, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\.kind\s*==|data\.kind", line):
                kind_hits.append(f"{rel}:{no}: {line.strip()}")
            elif "kind ==" in line:  # the check: grep -rn 'kind ==' finds nothing
                kind_hits.append(f"{rel}:{no}: {line.strip()}")
            if (re.search(r"\btask\s*(==|!=)", line)
                    and not rel.startswith("stablegan/tasks/")):
                task_hits.append(f"{rel}:{no}: {line.strip()}")
    assert not kind_hits, "modality checks:\n" + "\n".join(kind_hits)
    assert not task_hits, "task comparisons outside stablegan/tasks:\n" + "\n".join(task_hits)


@pytest.mark.parametrize("rel", ["stablegan/training/trainer.py", "stablegan/evaluation.py",
                                 "stablegan/config.py"])
def test_core_functions_are_short(rel: str) -> None:
    tree = ast.parse((ROOT / rel).read_text())
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > 80]
    assert not long, f"{rel}: functions over 80 lines: {long}"


@pytest.mark.slow
def test_resume_of_a_checkpoint_whose_config_predates_a_new_key(make_cfg, tmp_path) -> None:
    """A key added to the schema after the checkpoint was written counts at its default."""
    from stablegan.training.checkpoint import load_checkpoint, save_checkpoint

    cfg = make_cfg(steps=2)
    Trainer.from_config(cfg, out_dir=tmp_path).fit()
    path = tmp_path / "checkpoints" / "last.pt"
    state = load_checkpoint(path)
    del state["config"]["pretrain"]  # as written by a version without the pretrain group
    save_checkpoint(state, path)
    resumed = Trainer.from_config(make_cfg(steps=3), out_dir=tmp_path)
    resumed.resume()
    assert resumed.step == 2
    # a value that really differs is still refused
    state["config"]["pretrain"] = {"steps": 5}
    save_checkpoint(state, path)
    with pytest.raises(CheckpointError, match="pretrain.steps"):
        Trainer.from_config(make_cfg(steps=3), out_dir=tmp_path).resume()
