"""The trainer: one generic loop over the method's phases, with RNG, checkpoints, logs, faults.

::

    for each phase of method.phases(steps)          (warm-up, pre-training, adversarial)
        until the phase's budget is spent:
            stats = phase.step(i, diagnostics)     the method's maths
            weights finite? else roll back         (fault.max_rollbacks, fault.lr_factor)
            metrics.jsonl row; [EMA] [samples] [evaluation] [checkpoint]   (adversarial only
                                                   for EMA, samples and evaluation)

The maths lives in the method (``stablegan.methods``), everything that depends on the modality
in the task (``stablegan.tasks``); the trainer asks neither what it is. Every network the method
lists in ``method.networks`` is optimised, checkpointed and logged by its name. A checkpoint
records the position (phase, step), so a run killed in any phase resumes on the same trajectory.

The Trainer owns its parts, each built here with explicit arguments and used through its own
methods (no part reaches another through the trainer):

=================  ==============================  ==========================================
part               class (module)                  what it does
=================  ==============================  ==========================================
``progress``       Progress (progress)             steps per phase, lr scale, rollbacks, best
``checkpoints``    Checkpointer (state)            checkpoint contents, save, load, resume
``guard``          FaultGuard (faults)             finiteness, rollback, divergence errors
``run_dir``        RunDirectory (rundir)           config.yaml, metrics/evals.jsonl, TensorBoard
``signals``        Signals (rundir)                SIGINT/SIGTERM: stop after the step, saved
``ranks``          RankGroup (distributed)         rank 0 writes; the ranks agree on stops
``alarms``         HealthChecks (health)           training-health alarms on the rows
``variances``      LossVariances (logging)         rolling loss variances of every iteration
``console``        Console (console)               first line, progress bars, estimates
=================  ==============================  ==========================================

Faults (see docs/reliability.md): a non-finite loss or gradient raises inside the step, before
that step changes any weight, and every weight is checked after each step; the trainer rolls back
to the last good checkpoint, multiplies the learning rates by ``fault.lr_factor`` and goes on, at
most ``fault.max_rollbacks`` times, then stops with :class:`DivergenceError` naming the network,
the term and the step. A non-finite state is never saved. SIGINT/SIGTERM finish the current step,
save a checkpoint and stop with :class:`Interrupted`. Every file of the run directory is written
atomically; a write that fails leaves what is on disk intact and stops with a one-line reason.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import torch
from torch import Tensor, nn

from stablegan.config import Config
from stablegan.errors import ConfigError, StableganError
from stablegan.methods import GANMethod, NonFiniteError, build_method
from stablegan.tasks import task_for
from stablegan.training import distributed
from stablegan.training.console import Bar, Console, advance, format_plan, format_threads
from stablegan.training.distributed import RankGroup
from stablegan.training.faults import FaultGuard, check_shapes, nonfinite_state, watch_samples
from stablegan.training.fsutil import (
    RunDirectoryError,
    atomic_write,
    describe_os_error,
)
from stablegan.training.health import HealthChecks, HealthMonitor
from stablegan.training.logging import LossVariances
from stablegan.training.phases import Phase, Stats
from stablegan.training.progress import Progress
from stablegan.training.rundir import Interrupted, RunDirectory, Signals
from stablegan.training.speed import compile_networks
from stablegan.training.state import (
    Checkpointer,
    check_device,
    init_generator,
    seed_everything,
)
from stablegan.training.threads import apply_threads
from stablegan.tricks import ExponentialMovingAverage

if TYPE_CHECKING:
    from stablegan.data.base import DataSource
    from stablegan.tasks.base import Task

SAMPLE_SEED_OFFSET = 9_973
# iterations after which the task looks at generated samples (e.g. the image range warning)
WATCH_STEPS = (1, 10, 100)

__all__ = ["Interrupted", "RunDirectoryError", "Trainer", "load_run", "seed_everything"]


@dataclass(frozen=True)
class Tick:
    """One step of a phase as the loop sees it after the step ran: its index in the phase,
    whether it is the phase's last, whether its row is logged (``log.every``) and whether its
    statistics are converted to floats (logged, last, or sampled by the health monitor)."""

    index: int
    last: bool
    logged: bool
    converted: bool
    checkpoint_every: int

    @property
    def checkpoint_due(self) -> bool:
        return (self.index + 1) % self.checkpoint_every == 0


class Trainer:
    """Train any generator against any discriminator on any registered task.

    ``data`` is a DataSource (``stablegan.data``) or a tensor of training samples (N, ...).
    ``config`` is a :class:`Config`, a nested dict (validated like a recipe) or None (defaults).
    With ``out_dir`` the run directory gets config.yaml, metrics.jsonl, samples, checkpoints.
    Building a trainer sets torch's thread count (``threads``, see
    :mod:`stablegan.training.threads`).
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module, data: Any,
                 config: Config | dict[str, Any] | None = None, *,
                 out_dir: str | Path | None = None, classifier: nn.Module | None = None) -> None:
        from stablegan.configure import from_dict
        from stablegan.data.adapt import as_source

        cfg = Config() if config is None else from_dict(config) if isinstance(config, dict) \
            else config
        self.cfg: Config = cfg
        self.threads: tuple[int, str] = apply_threads(cfg.threads, os.environ)
        # data-parallel under torchrun (stablegan.training.distributed); one process: no-op
        self.ranks = RankGroup(distributed.setup(cfg.dist.backend, cfg.device))
        self.data: DataSource = as_source(data, cfg)
        if self.ranks.active:
            distributed.check_batch(cfg.data.batch_size)
            # this rank's slice of each batch (a proxy with the DataSource's interface)
            self.data = cast("DataSource", distributed.ShardedSource(self.data))
            if cfg.dist.sync_batchnorm:
                generator, discriminator = (distributed.convert_sync_batchnorm(generator),
                                            distributed.convert_sync_batchnorm(discriminator))
        self.task: Task = task_for(self.data, cfg)
        self.device: torch.device = check_device(distributed.device_for(cfg.device))
        self.method: GANMethod = build_method(cfg, generator, discriminator, self.task,
                                              self.device, classifier)
        if cfg.pretrain.init_from:
            init_generator(self.method.G, cfg, self.data)
        if self.ranks.active:  # rank 0's initial weights everywhere; per-rank noise from here on
            distributed.broadcast_modules(list(self.method.networks.values()))
            distributed.seed_rank(cfg.seed)
        self.ema = (ExponentialMovingAverage(self.method.G, cfg.ema.decay, cfg.ema.start)
                    if cfg.ema.decay > 0 else None)
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.history: list[dict[str, Any]] = []  # the logged rows of this process
        self.last_eval: dict[str, Any] | None = None
        self.plan: list[Phase] | None = None  # the phases of the current (or last) fit
        gen = torch.Generator().manual_seed(cfg.seed + SAMPLE_SEED_OFFSET)
        self.fixed_z: Tensor = self.task.prior(self.task.n_display, self.method.latent_dim,
                                               generator=gen).to(self.device)
        # the parts
        self.progress = Progress()
        self.health = HealthMonitor(cfg.health, cfg.data.batch_size)
        self.run_dir = RunDirectory(self.out_dir, self.ranks.is_main)
        self.signals = Signals(self.out_dir, lambda: self.progress.step)
        self.variances = LossVariances(cfg.log.loss_variance_window, self.ranks.mean)
        self.checkpoints = Checkpointer(cfg, self.method, self.data, self.ema, self.progress,
                                        self.variances, self.health, self.ranks, self.run_dir,
                                        self._phase_name,
                                        partial(nonfinite_state, self.method, self.ema))
        self.guard = FaultGuard(cfg.fault, self.method, self.checkpoints, self.progress,
                                self.run_dir, self._lr_factor)
        self.alarms = HealthChecks(self.health, self.method.G, self.fixed_z, self.task,
                                   self.data, self.out_dir)
        self.console = Console(cfg.log.progress, self.ranks.is_main)
        check_shapes(self.method, self.task, self.progress.step)
        if cfg.model.compile:
            compile_networks(self.method)

    @classmethod
    def from_config(cls, cfg: Config, out_dir: str | Path | None = None) -> Trainer:
        """Build data and models from the config (recipes and the CLI use this)."""
        from stablegan.data import build_data

        seed_everything(cfg.seed)
        data = build_data(cfg.data, cfg.seed)
        generator, discriminator = task_for(data, cfg).build_models(cfg.model)
        return cls(generator, discriminator, data, cfg, out_dir=out_dir)

    # ------------------------------------------------------------------ the position
    @property
    def step(self) -> int:
        """Adversarial iterations done."""
        return self.progress.step

    @property
    def phase_steps(self) -> dict[str, int]:
        """Steps done in each phase other than the adversarial one."""
        return self.progress.phase_steps

    @property
    def lr_scale(self) -> float:
        return self.progress.lr_scale

    @property
    def rollbacks(self) -> int:
        return self.progress.rollbacks

    @property
    def is_main(self) -> bool:
        """Rank 0 (or the only process): the one that writes, prints and evaluates."""
        return self.ranks.is_main

    def _phases(self) -> list[Phase]:
        return self.plan if self.plan else self.method.phases(self.cfg.steps)

    def _phase_name(self) -> str:
        return self.progress.current_name(self._phases())

    def _lr_factor(self, phase: Phase | None = None) -> float:
        return self.progress.lr_factor(self.cfg.optim.lr_decay, self.cfg.steps, phase)

    def batches_consumed(self) -> int:
        """Minibatch updates of all networks together (D + G + C steps): the x-axis for
        comparing schedules at equal compute."""
        return int(sum(self.method.counts.values()))

    # ------------------------------------------------------------------ checkpoints
    @property
    def checkpoint_path(self) -> Path | None:
        return self.run_dir.checkpoint_path

    def state_dict(self, gather: bool = True) -> dict[str, Any]:
        """The checkpoint's contents (:meth:`Checkpointer.state_dict`)."""
        return self.checkpoints.state_dict(gather)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`; a malformed state raises CheckpointError."""
        self.checkpoints.load_state_dict(state)

    def save(self, name: str = "last.pt") -> Path | None:
        """Write a checkpoint, refusing to save a non-finite state over a good one (raises
        NonFiniteError and leaves the file on disk and the last good state alone)."""
        return self.checkpoints.save(name)

    def resume(self, force: bool = False) -> list[str]:
        """Load ``out_dir/checkpoints/last.pt`` (falling back to ``.prev``); returns warnings."""
        return self.checkpoints.resume(force)

    # ------------------------------------------------------------------ the loop
    def first_line(self) -> str:
        """What the run prints first: data, method, seed, device, torch threads, and every
        phase with its budget (and what a resumed run has done of it)."""
        plan = self._phases()
        n, source = self.threads
        world = f" x {distributed.world_size()} processes" if self.ranks.active else ""
        return (f"train: {self.data.name} with {self.cfg.method}, seed {self.cfg.seed}, on "
                f"{self.device}{world}, {format_threads(n, source)}; "
                f"{format_plan(plan, [self.progress.done(p) for p in plan])}")

    def fit(self, steps: int | None = None) -> dict[str, Any]:
        """Run every phase, the adversarial one for ``steps`` iterations (default
        ``config.steps``); returns the final evaluation."""
        from stablegan.evaluation import preflight

        total = steps if steps is not None else self.cfg.steps
        fresh = self.checkpoints.last_good is None
        self.plan = self.method.phases(total)
        preflight(self.task, self.cfg.eval, self.out_dir)  # bad eval.* settings fail now
        self.console.announce(self.first_line())
        try:
            position = (self.progress.step, self.progress.phase_steps) if fresh else None
            self.run_dir.open(self.cfg, position, self.cfg.log.tensorboard)
            self.signals.install()
            if fresh:
                self.guard.save()
            while (phase := self.progress.current(self.plan)) is not None:
                if self._train_step(phase):
                    break
            return self._finish()
        finally:
            self.signals.restore()
            self.console.close()
            self.run_dir.close()

    def _finish(self) -> dict[str, Any]:
        """After the last step: close the logs, stop on a pending signal, else the final
        evaluation (rank 0's, shared with the others) and the final outputs."""
        self.run_dir.close_metrics()
        self.console.close()
        self.signals.final = True  # every step is saved: a signal now stops at once
        if self.signals.received is not None:
            raise Interrupted(self.signals.received, self.out_dir, step=self.progress.step)
        result = self.evaluate(final=True) if self.ranks.is_main else {}
        result = self.ranks.share(result)  # the others wait for rank 0's evaluation
        self.last_eval = result
        self.run_dir.write_final(result, self.cfg.log.loss_variance_window)
        return result

    def _train_step(self, phase: Phase) -> bool:
        """One step of ``phase`` with its logging and saving; True to stop training."""
        t0 = time.perf_counter()
        index = self.progress.done(phase)
        stats = self._step_or_roll_back(phase, index)
        if stats is None:  # rolled back
            return False
        self.ranks.share_buffers([self.method.networks[k] for k in phase.networks])
        bar = self.console.bar(phase, index)  # before the step counts: it starts where it was
        self.progress.count(phase)
        tick = self._tick(phase, index)
        alarms = self._record(phase, tick, stats, bar, time.perf_counter() - t0)
        advance(bar, last=tick.last)
        self.console.estimate(phase, index + 1, self._after(phase))
        stop = self._after_adversarial_step(tick.last) if phase.adversarial else False
        if tick.last and not phase.adversarial:
            if self.ema:  # the average starts from what this phase left (pre-trained weights)
                self.ema.reset(self.method.G)
            self._phase_samples(phase)
        if self._pretrain_eval_due(phase, tick):
            self._pretrain_eval(index + 1)
        self._settle(phase, tick, stop, self.alarms.first_stop(alarms))
        return stop

    def _step_or_roll_back(self, phase: Phase, index: int) -> Stats | None:
        """The phase's step at the current learning rates, its weights checked; on a
        non-finite value the rollback (:meth:`FaultGuard.rollback`) and None."""
        self.method.set_lr(self._lr_factor(phase))
        try:
            stats = phase.step(index, (index + 1) % self.cfg.log.every == 0)
            self.guard.check_step(phase)
        except NonFiniteError as err:
            self.guard.rollback(err, phase)
            self.history = [r for r in self.history
                            if "phase" in r or r["step"] <= self.progress.step]
            return None
        return stats

    def _tick(self, phase: Phase, index: int) -> Tick:
        """What the step ``index`` of ``phase`` (already counted) asks of the loop. Stats stay
        tensors (no host sync) except on the rows that are logged, those the health monitor
        samples (its diversity check) and the last one of a phase."""
        logged = (index + 1) % self.cfg.log.every == 0
        last = index + 1 == phase.steps
        every = max(1, phase.steps // 10)
        if phase.adversarial:
            every = self.cfg.log.checkpoint_every or every
        health_due = phase.adversarial and self.alarms.due(self.progress.step,
                                                           self._phases()[-1].steps)
        return Tick(index, last, logged, logged or last or health_due, every)

    def _record(self, phase: Phase, tick: Tick, stats: Stats, bar: Bar, seconds: float
                ) -> list[dict[str, Any]]:
        """Queue the losses; on a converted step build the row, run the health checks, log
        the row (logged steps, the last one, alarms) and show the losses on the bar. Returns
        the alarms that fired."""
        if phase.adversarial:
            self.variances.queue(stats)
        if not tick.converted:
            return []
        row = self._log_row(phase, stats, seconds)
        alarms: list[dict[str, Any]] = []
        if phase.adversarial and self.ranks.is_main:
            alarms = self.alarms.check(row, self.progress.step, self._phases()[-1].steps)
        if tick.logged or tick.last or alarms:
            self.history.append(row)
            self.run_dir.write_row(row, self.progress.step if phase.adversarial
                                   else tick.index + 1)
        bar.set_postfix({k.split("/")[1]: f"{row[k]:.3f}" for k in self._loss_keys(row)},
                        refresh=False)
        return alarms

    def _settle(self, phase: Phase, tick: Tick, stop: bool, failed: dict[str, Any] | None
                ) -> None:
        """Agree with the other ranks on a signal or a failed alarm, save a checkpoint when one
        is due (every ``checkpoint_every`` steps, a phase's last, a stop, a signal, an alarm),
        then raise :class:`Interrupted` or the alarm's HealthError."""
        signum = self.signals.received
        if self.ranks.active:  # the ranks agree on stopping where they all can look
            signum, failed = self.ranks.agree(tick.converted or tick.checkpoint_due, signum,
                                              failed)
            self.signals.adopt(signum)
        if tick.checkpoint_due or tick.last or stop or failed or signum is not None:
            self.guard.save()
        if signum is not None:
            raise Interrupted(signum, self.out_dir, step=tick.index + 1,
                              phase=None if phase.adversarial else phase.name)
        if failed:
            raise self.alarms.error(failed)

    def _after(self, phase: Phase) -> list[Phase]:
        """The phases of the plan after ``phase``."""
        plan = self._phases()
        at = next((i for i, p in enumerate(plan) if p.name == phase.name), len(plan) - 1)
        return plan[at + 1:]

    def _phase_samples(self, phase: Phase) -> None:
        """The sample file at the end of a phase other than the adversarial one."""
        if self.run_dir.writes:
            name = f"{phase.name}_step_{self.progress.done(phase):06d}{self.task.sample_suffix}"
            path = self.run_dir.samples(name)
            assert path is not None
            self.save_samples(path)

    def _after_adversarial_step(self, done: bool) -> bool:
        """EMA, the early look at samples, sample files and periodic evaluation."""
        cfg, total, step = self.cfg, self._phases()[-1].steps, self.progress.step
        if self.ema:
            self.ema.update(self.method.G, step)
        eval_due = bool(cfg.eval.every) and step % cfg.eval.every == 0 and not done
        if not self.ranks.is_main:  # samples and evaluations are rank 0's; the others wait
            return bool(self.ranks.share(False)) if eval_due else False  # for its decision
        if step in WATCH_STEPS:
            watch_samples(self.method.G, self.task, self.fixed_z[:16], step)
        sample_every = cfg.log.sample_every or max(1, total // 10)
        path = self.run_dir.samples(f"step_{step:06d}{self.task.sample_suffix}")
        if path is not None and (step % sample_every == 0 or done):
            self.save_samples(path)
        if eval_due:
            return bool(self.ranks.share(self._periodic_eval()))
        return False

    def _pretrain_eval_due(self, phase: Phase, tick: Tick) -> bool:
        """Every ``pretrain.eval_every`` pre-training steps but the phase's last, on rank 0. The
        last is the final evaluation of a run without adversarial steps (``eval.json``); when an
        adversarial phase follows, its first evaluation comes at ``eval.every``."""
        every = self.cfg.pretrain.eval_every
        return (phase.name == "pretrain" and bool(every) and (tick.index + 1) % every == 0
                and not tick.last and self.ranks.is_main)

    def _pretrain_eval(self, step: int) -> None:
        """Evaluate during pre-training: an evals.jsonl row ``{"phase": "pretrain", "step":
        step, "batches": ...}`` (a resumed run truncates it like the metrics rows)."""
        result = self.evaluate(final=False)
        self.run_dir.append_eval({"phase": "pretrain", "step": step,
                                  "batches": self.batches_consumed(), **result})

    def _periodic_eval(self) -> bool:
        """Evaluate, append to evals.jsonl, keep best.pt; returns True to stop early."""
        result = self.evaluate(final=False)
        row = {"step": self.progress.step, "batches": self.batches_consumed(), **result}
        self.alarms.check_eval(row, self._phases()[-1].steps)  # the mode_coverage alarm
        self.run_dir.append_eval(row)
        key = self.cfg.eval.best_metric
        if not key:
            return False
        if key not in result:
            raise ConfigError(f"eval.best_metric '{key}' is not among the evaluated metrics "
                              f"{sorted(k for k in result if isinstance(result[k], (int, float)))}")
        return self._keep_best(key, float(result[key]))

    def _keep_best(self, key: str, value: float) -> bool:
        """best.pt when ``value`` improves on the best; True when ``eval.patience``
        evaluations in a row did not."""
        best, ecfg = self.progress.best, self.cfg.eval
        better = best.value is None or (value < best.value if ecfg.best_mode == "min"
                                        else value > best.value)
        if better and math.isfinite(value):
            best.value, best.step, best.stale = value, self.progress.step, 0
            self.guard.save("best.pt")
        else:
            best.stale += 1
        if ecfg.patience and best.stale >= ecfg.patience:
            print(f"early stopping at step {self.progress.step}: {key} has not improved for "
                  f"{ecfg.patience} evaluations (best {best.value:.4g} at step {best.step})",
                  file=sys.stderr)
            return True
        return False

    def _loss_keys(self, row: dict[str, Any]) -> list[str]:
        """``loss/<network>`` keys of ``row``, one per network of the method that logs one."""
        return [f"loss/{k.lower()}" for k in self.method.networks if f"loss/{k.lower()}" in row]

    def _log_row(self, phase: Phase, stats: Stats, seconds: float) -> dict[str, Any]:
        step = self.progress.step
        row: dict[str, Any] = ({"step": step} if phase.adversarial else
                               {"phase": phase.name, "step": self.progress.done(phase)})
        row["batches"] = self.batches_consumed()
        row.update(self.ranks.mean(dict(stats)) if self.ranks.active else
                   {k: float(v) for k, v in stats.items()})
        if phase.adversarial:
            self.variances.add_to_row(row, self._loss_keys(row))
        for k, opt in self.method.optimizers.items():
            row[f"lr/{k.lower()}"] = opt.param_groups[0]["lr"]
        row["time/sec"] = seconds
        if phase.adversarial and step % max(1, self.cfg.log.every * 10) == 0 and self.is_main:
            row.update(self.overfitting_check())
        return row

    # ------------------------------------------------------------------ sampling & evaluation
    def generator_for_sampling(self) -> nn.Module:
        """The EMA generator once an adversarial step has updated it, else G itself (during
        and right after pre-training the average holds no more than G)."""
        return self.ema.shadow if self.ema and self.progress.step > 0 else self.method.G

    @torch.no_grad()
    def sample(self, n: int, z: Tensor | None = None, batch: int | None = None) -> Tensor:
        """``n`` samples of the (EMA) generator in eval mode, in the task's evaluation form
        (token ids for text), on the CPU."""
        G = self.generator_for_sampling()
        was, batch = G.training, batch or self.task.sample_batch
        G.eval()
        try:
            out = []
            for i in range(0, n, batch):
                k = min(batch, n - i)
                zz = z[i:i + k] if z is not None else self.method.sample_z(k)
                out.append(self.task.to_eval(G(zz.to(self.device))).cpu())
            return torch.cat(out)
        finally:
            G.train(was)

    def save_samples(self, path: Path) -> None:
        x = self.sample(self.fixed_z.shape[0], z=self.fixed_z)
        try:
            atomic_write(path, lambda tmp: self.task.render(x, tmp, title=f"step {self.step}"))
        except OSError as err:  # samples are a view of the run, not its state: warn, go on
            print(f"warning: could not write samples {path}: {describe_os_error(err)}; "
                  "training goes on", file=sys.stderr)
        except StableganError as err:
            print(f"warning: could not draw samples {path}: {err.message}", file=sys.stderr)

    @torch.no_grad()
    def overfitting_check(self, n: int = 256) -> dict[str, float]:
        """Mean D score on training reals minus held-out reals (> 0 grows as D memorises)."""
        held = self.data.reals(n, "holdout") if self.task.overfit_check else None
        if held is None or len(held) == 0:
            return {}
        train = self.data.reals(len(held), "train")
        D = self.method.D
        was = D.training
        D.eval()
        try:
            s_train = float(D(self.task.critic_view(train).to(self.device)).mean())
            s_held = float(D(self.task.critic_view(held).to(self.device)).mean())
        finally:
            D.train(was)
        return {"overfit/d_train": s_train, "overfit/d_holdout": s_held,
                "overfit/d_train_minus_holdout": s_train - s_held}

    def evaluate(self, n: int | None = None, *, final: bool = True) -> dict[str, Any]:
        """Metrics of the current (EMA) generator (``stablegan.evaluation.evaluate``); ``final``
        adds the descriptive entries and the task's pictures. The global RNG is left as it was."""
        from stablegan.evaluation import evaluate

        state = torch.get_rng_state()
        try:
            torch.manual_seed(self.cfg.seed + 1)
            return evaluate(self.sample, self.task, self.cfg.eval, n=n, run_dir=self.out_dir,
                            device=str(self.device), final=final,
                            generator=self.generator_for_sampling(),
                            models=self.method.evaluation_models())
        finally:
            torch.set_rng_state(state)


def load_run(run_dir: str | Path, checkpoint: str = "last.pt",
             eval_overrides: list[str] | None = None) -> Trainer:
    """Rebuild a trainer from a run directory's config and checkpoint (for sample/eval).

    ``eval_overrides`` (``["eval.extractor=pixels", ...]``) change how the run is evaluated;
    only ``eval.*`` keys are accepted, since anything else would not match the checkpoint.
    """
    from stablegan.config import deep_merge, parse_set, read_yaml
    from stablegan.configure import from_dict
    from stablegan.training.checkpoint import load_checkpoint, load_latest

    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise ConfigError(f"'{run_dir}' is not a stablegan run directory (no config.yaml)",
                          hint="pass the --out directory of a finished or running train")
    data = read_yaml(run_dir / "config.yaml")
    extra = parse_set(eval_overrides or [])
    if set(extra) - {"eval"}:
        bad = sorted(set(extra) - {"eval"})
        raise ConfigError(f"only eval.* keys can be changed when evaluating a run, not {bad}",
                          hint="train a new run to change anything else")
    cfg = from_dict(deep_merge(data, extra))
    trainer = Trainer.from_config(cfg, out_dir=run_dir)
    path = run_dir / "checkpoints" / checkpoint
    if checkpoint == "last.pt":
        state, _, warnings = load_latest(path)
        for w in warnings:
            print(f"warning: {w}", file=sys.stderr)
    else:
        state = load_checkpoint(path)
    trainer.load_state_dict(state)
    return trainer
