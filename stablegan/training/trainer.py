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

Faults (see docs/reliability.md): a non-finite loss or gradient raises inside the step, before
that step changes any weight, and every weight is checked after each step; the trainer rolls back
to the last good checkpoint, multiplies the learning rates by ``fault.lr_factor`` and goes on, at
most ``fault.max_rollbacks`` times, then stops with :class:`DivergenceError` naming the network,
the term and the step. A non-finite state is never saved. SIGINT/SIGTERM finish the current step,
save a checkpoint and stop with :class:`Interrupted`. Every file of the run directory is written
atomically; a write that fails leaves what is on disk intact and stops with a one-line reason.
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from stablegan.config import Config
from stablegan.errors import StableganError
from stablegan.methods import GANMethod, NonFiniteError, build_method
from stablegan.tasks import task_for
from stablegan.training import distributed
from stablegan.training.distributed import DataParallel
from stablegan.training.faults import Safeguards
from stablegan.training.fsutil import (
    RunDirectoryError,
    atomic_write,
    describe_os_error,
)
from stablegan.training.health import HealthChecks, HealthMonitor
from stablegan.training.logging import JsonlWriter, RollingVariance, TensorBoard
from stablegan.training.phases import Phase
from stablegan.training.rundir import (
    Interrupted,
    RunDirectory,
    advance,
    progress_bar,
    write_final_outputs,
)
from stablegan.training.speed import compile_networks
from stablegan.training.state import (
    TrainerState,
    check_device,
    first_nonfinite_of,
    init_generator,
    seed_everything,
)
from stablegan.tricks import ExponentialMovingAverage

SAMPLE_SEED_OFFSET = 9_973
# iterations after which the task looks at generated samples (e.g. the image range warning)
WATCH_STEPS = (1, 10, 100)
# the one-line wall-time estimate: after this many timed iterations or seconds, whichever first

__all__ = ["Interrupted", "RunDirectoryError", "Trainer", "seed_everything"]


class Trainer(TrainerState, Safeguards, RunDirectory, DataParallel, HealthChecks):
    """Train any generator against any discriminator on any registered task.

    ``data`` is a DataSource (``stablegan.data``) or a tensor of training samples (N, ...).
    ``config`` is a :class:`Config`, a nested dict (validated like a recipe) or None (defaults).
    With ``out_dir`` the run directory gets config.yaml, metrics.jsonl, samples, checkpoints.
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module, data: Any,
                 config: Config | dict[str, Any] | None = None, *,
                 out_dir: str | Path | None = None, classifier: nn.Module | None = None) -> None:
        from stablegan.configure import from_dict
        from stablegan.data.adapt import as_source

        cfg = Config() if config is None else from_dict(config) if isinstance(config, dict) \
            else config
        self.cfg: Config = cfg
        # data-parallel under torchrun (stablegan.training.distributed); one process: no-op
        self.distributed = distributed.setup(cfg.dist.backend, cfg.device)
        self.data = as_source(data, cfg)
        if self.distributed:
            distributed.check_batch(cfg.data.batch_size)
            self.data = distributed.ShardedSource(self.data)  # this rank's slice of each batch
            if cfg.dist.sync_batchnorm:
                generator, discriminator = (distributed.convert_sync_batchnorm(generator),
                                            distributed.convert_sync_batchnorm(discriminator))
        self.task = task_for(self.data, cfg)
        self.device = check_device(distributed.device_for(cfg.device))
        self.method: GANMethod = build_method(cfg, generator, discriminator, self.task,
                                              self.device, classifier)
        if cfg.pretrain.init_from:
            init_generator(self.method.G, cfg, self.data)
        if self.distributed:  # rank 0's initial weights everywhere; per-rank noise from here on
            distributed.broadcast_modules(list(self.method.networks.values()))
            distributed.seed_rank(cfg.seed)
        self.ema = (ExponentialMovingAverage(self.method.G, cfg.ema.decay, cfg.ema.start)
                    if cfg.ema.decay > 0 else None)
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.step = 0  # adversarial iterations done
        self.phase_steps: dict[str, int] = {}  # steps done in each other phase
        self.lr_scale, self.rollbacks = 1.0, 0
        self.best: dict[str, Any] = {"value": None, "step": None, "stale": 0}
        self.loss_var: dict[str, RollingVariance] = {}
        self.history: list[dict[str, Any]] = []  # the logged rows of this process
        self.last_eval: dict[str, Any] | None = None
        self.health = HealthMonitor(cfg.health, cfg.data.batch_size)
        gen = torch.Generator().manual_seed(cfg.seed + SAMPLE_SEED_OFFSET)
        self.fixed_z = self.task.prior(self.task.n_display, self.method.latent_dim,
                                       generator=gen).to(self.device)
        self._signal: int | None = None
        self._final_phase = False
        self._writer: JsonlWriter | None = None
        self._last_good: dict[str, Any] | None = None
        self._check_shapes()
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

    # ------------------------------------------------------------------ the loop
    def _done(self, phase: Phase) -> int:
        return self.step if phase.adversarial else self.phase_steps.get(phase.name, 0)

    def _current_phase_name(self) -> str:
        phases = getattr(self, "_phases", None) or self.method.phases(self.cfg.steps)
        return next((p.name for p in phases if self._done(p) < p.steps), phases[-1].name)

    def _lr_factor(self, phase: Phase | None = None) -> float:
        decay = 1.0
        if self.cfg.optim.lr_decay == "linear" and (phase is None or phase.adversarial):
            decay = max(0.0, 1.0 - self.step / self.cfg.steps)
        return decay * self.lr_scale

    def batches_consumed(self) -> int:
        """Minibatch updates of all networks together (D + G + C steps): the x-axis for
        comparing schedules at equal compute."""
        return int(sum(self.method.counts.values()))

    def fit(self, steps: int | None = None) -> dict[str, Any]:
        """Run every phase, the adversarial one for ``steps`` iterations (default
        ``config.steps``); returns the final evaluation."""
        from stablegan.evaluation import preflight

        total = steps if steps is not None else self.cfg.steps
        fresh = self._last_good is None
        self._signal, self._final_phase = None, False
        self._phases = self.method.phases(total)
        preflight(self.task, self.cfg.eval, self.out_dir)  # bad eval.* settings fail now
        tb, previous, self._bars = None, {}, {}
        try:
            if self.out_dir is not None and self.is_main:  # rank 0 alone writes
                self._prepare_run_dir(fresh)
                self._writer = JsonlWriter(self.out_dir / "metrics.jsonl")
                tb = TensorBoard(self.out_dir / "tb", self.cfg.log.tensorboard)
            previous = self._install_signals()
            if fresh:
                self._save_or_diverge()
            while (phase := next((p for p in self._phases if self._done(p) < p.steps),
                                 None)) is not None:
                if self._train_step(phase, tb):
                    break
            self._close_outputs()
            self._final_phase = True  # every step is saved: a signal now stops at once
            if self._signal is not None:
                raise Interrupted(self._signal, self.out_dir, step=self.step)
            result = self.evaluate(final=True) if self.is_main else {}
            if self.distributed:  # the others wait for rank 0's evaluation
                result = distributed.broadcast_object(result)
            self.last_eval = result
            if self.out_dir is not None and self.is_main:
                write_final_outputs(self.out_dir, result, self.cfg.log.loss_variance_window)
        finally:
            self._final_phase = False
            self._close_outputs()
            for sig, h in previous.items():
                signal.signal(sig, h)
            if tb:
                tb.close()
        return result

    def _close_outputs(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        for bar in getattr(self, "_bars", {}).values():
            bar.close()
        self._bars = {}

    def _bar(self, phase: Phase) -> Any:
        if phase.name not in self._bars:
            for bar in self._bars.values():
                bar.close()
            desc = "train" if phase.adversarial else phase.name
            self._bars = {phase.name: progress_bar(phase.steps, self._done(phase),
                                                   self.cfg.log.progress and self.is_main,
                                                   desc)}
        return self._bars[phase.name]

    def _train_step(self, phase: Phase, tb: TensorBoard | None) -> bool:
        """One step of ``phase`` with its logging and saving; True to stop training."""
        cfg, t0 = self.cfg, time.perf_counter()
        index = self._done(phase)
        self.method.set_lr(self._lr_factor(phase))
        diag_now = (index + 1) % cfg.log.every == 0
        try:
            stats = phase.step(index, diag_now)
            bad = first_nonfinite_of({k: self.method.networks[k] for k in phase.networks})
            if bad:
                raise NonFiniteError(*bad)
        except NonFiniteError as err:
            self._rollback(err, phase)
            return False
        if self.distributed:  # BatchNorm statistics of rank 0 everywhere, as DDP does
            distributed.broadcast_modules([self.method.networks[k] for k in phase.networks],
                                          buffers_only=True)
        bar = self._bar(phase)  # before the step counts, so the bar starts where it was
        if phase.adversarial:
            self.step += 1
        else:
            self.phase_steps[phase.name] = index + 1
        done = index + 1 == phase.steps
        every = (cfg.log.checkpoint_every or max(1, phase.steps // 10)) if phase.adversarial \
            else max(1, phase.steps // 10)
        # stats stay tensors (no host sync) except on the rows that are logged, those the health
        # monitor samples (its diversity check) and the last one of a phase
        health_due = (phase.adversarial and self.health.enabled
                      and self.step % self.health.every(self._phases[-1].steps) == 0)
        convert = diag_now or done or health_due
        if phase.adversarial:
            self._queue_losses(stats)
        alarms: list[dict[str, Any]] = []
        if convert:
            row = self._log_row(phase, stats, time.perf_counter() - t0)
            alarms = self._health_check(row) if phase.adversarial and self.is_main else []
            if diag_now or done or alarms:
                self.history.append(row)
                if self._writer:
                    self._writer.write(row)
                if tb:
                    tb.scalars(row, self.step if phase.adversarial else index + 1)
        if convert:
            bar.set_postfix({k.split("/")[1]: f"{row[k]:.3f}" for k in self._loss_keys(row)},
                            refresh=False)
        advance(bar, last=done)
        if phase.adversarial and self.is_main:
            self._estimate(index + 1, phase.steps)
        stop = self._after_adversarial_step(done) if phase.adversarial else False
        if done and not phase.adversarial and self.out_dir is not None and self.is_main:
            name = f"{phase.name}_step_{index + 1:06d}{self.task.sample_suffix}"
            self.save_samples(self.out_dir / "samples" / name)
        failed = next((a for a in alarms if self.health.stops(a["alarm"])), None)
        signum = self._signal
        if self.distributed:  # the ranks agree on stopping where they all can look
            signum, failed = self._agree(convert or (index + 1) % every == 0, failed)
        if (index + 1) % every == 0 or done or stop or failed or signum is not None:
            self._save_or_diverge()
        if signum is not None:
            raise Interrupted(signum, self.out_dir, step=index + 1,
                              phase=None if phase.adversarial else phase.name)
        if failed:
            raise self._health_error(failed)
        return stop

    def _after_adversarial_step(self, done: bool) -> bool:
        """EMA, the early look at samples, sample files and periodic evaluation."""
        cfg, total = self.cfg, self._phases[-1].steps
        if self.ema:
            self.ema.update(self.method.G, self.step)
        if not self.is_main:  # samples and evaluations are rank 0's; the others wait for its
            if cfg.eval.every and self.step % cfg.eval.every == 0 and not done:  # decision
                return bool(distributed.broadcast_object(False))
            return False
        if self.step in WATCH_STEPS:
            self._watch_now()
        sample_every = cfg.log.sample_every or max(1, total // 10)
        if self.out_dir is not None and (self.step % sample_every == 0 or done):
            name = f"step_{self.step:06d}{self.task.sample_suffix}"
            self.save_samples(self.out_dir / "samples" / name)
        if cfg.eval.every and self.step % cfg.eval.every == 0 and not done:
            stop = self._periodic_eval()
            return bool(distributed.broadcast_object(stop)) if self.distributed else stop
        return False

    def _variance(self, name: str) -> RollingVariance:
        if name not in self.loss_var:
            self.loss_var[name] = RollingVariance(self.cfg.log.loss_variance_window)
        return self.loss_var[name]

    def _loss_keys(self, row: dict[str, Any]) -> list[str]:
        """``loss/<network>`` keys of ``row``, one per network of the method that logs one."""
        return [f"loss/{k.lower()}" for k in self.method.networks if f"loss/{k.lower()}" in row]

    def _log_row(self, phase: Phase, stats: dict[str, float], seconds: float) -> dict[str, Any]:
        row: dict[str, Any] = ({"step": self.step} if phase.adversarial else
                               {"phase": phase.name, "step": self._done(phase)})
        row["batches"] = self.batches_consumed()
        row.update(distributed.mean_stats(stats) if self.distributed else
                   {k: float(v) for k, v in stats.items()})
        if phase.adversarial:
            self._flush_losses(row)
            for key in self._loss_keys(row):
                row[f"loss_var/{key[5:]}"] = self._variance(key[5:]).add(row[key])
        for k, opt in self.method.optimizers.items():
            row[f"lr/{k.lower()}"] = opt.param_groups[0]["lr"]
        row["time/sec"] = seconds
        if (phase.adversarial and self.step % max(1, self.cfg.log.every * 10) == 0
                and self.is_main):
            row.update(self.overfitting_check())
        return row

    # ------------------------------------------------------------------ sampling & evaluation
    def generator_for_sampling(self) -> nn.Module:
        return self.ema.shadow if self.ema else self.method.G

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
                            generator=self.generator_for_sampling())
        finally:
            torch.set_rng_state(state)
