"""The trainer: owns the loop, the schedule, RNG, checkpoints, logging, evaluation and faults.

One iteration::

    n_critic x method.d_step()  ->  method.g_phase() (n_gen generator steps)  ->  EMA update
    -> metrics.jsonl row  -> [sample grid] [evaluation] [checkpoint]

The maths lives in the method (``stablegan.methods``); the trainer never looks inside it. Samples
are tensors of any shape, so points, images, token sequences and latent codes all train here.
Every network the method lists in ``method.networks`` is optimised, checkpointed and logged.

Faults: a non-finite loss, gradient or weight raises inside the step, before any weight changes;
the trainer rolls back to the last good checkpoint, multiplies the learning rates by
``fault.lr_factor`` and goes on, at most ``fault.max_rollbacks`` times. SIGINT/SIGTERM finish the
current iteration, save a checkpoint and stop with :class:`Interrupted`.
"""

from __future__ import annotations

import copy
import json
import math
import random
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from stablegan import __version__
from stablegan.config import Config, diff, from_dict, save_yaml
from stablegan.errors import CheckpointError, ConfigError, DivergenceError, StableganError
from stablegan.methods import GANMethod, NonFiniteError, build_method
from stablegan.training.checkpoint import load_checkpoint, load_latest, save_checkpoint
from stablegan.training.logging import JsonlWriter, RollingVariance, TensorBoard, truncate_jsonl
from stablegan.tricks import ExponentialMovingAverage

SAMPLE_SEED_OFFSET = 9_973


class Interrupted(StableganError):
    """Training stopped by a signal after saving a checkpoint."""

    def __init__(self, signum: int, run_dir: Path | None) -> None:
        name = signal.Signals(signum).name
        where = f" to {run_dir}" if run_dir else ""
        super().__init__(f"stopped by {name}; checkpoint saved{where}",
                         hint=f"resume with: stablegan train --out {run_dir} --resume"
                         if run_dir else None)
        self.signum = signum


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), int(np_state[2]),
                  int(np_state[3]), float(np_state[4])],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state((n[0], n[1].numpy().astype(np.uint32), n[2], n[3], n[4]))
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _finite_module(module: nn.Module) -> str | None:
    """Name of the first non-finite parameter or buffer, or None."""
    for name, t in list(module.named_parameters()) + list(module.named_buffers()):
        if t.is_floating_point() and not torch.isfinite(t).all():
            return name
    return None


class Trainer:
    """Train any generator ``z -> x`` against any discriminator ``x -> score``.

    ``data`` is a DataSource (``stablegan.data``) or a tensor of training samples (N, ...).
    ``config`` is a :class:`Config`, a nested dict (validated like a recipe) or None (defaults).
    With ``out_dir`` the run directory gets config.yaml, metrics.jsonl, samples, checkpoints.
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module, data: Any,
                 config: Config | dict[str, Any] | None = None, *,
                 out_dir: str | Path | None = None, classifier: nn.Module | None = None) -> None:
        from stablegan.data.adapt import as_source

        if config is None:
            config = Config()
        elif isinstance(config, dict):
            config = from_dict(config)
        self.cfg: Config = config
        self.data = as_source(data, config)
        self.device = torch.device(config.device)
        self.method: GANMethod = build_method(config, generator, discriminator, self.data,
                                              self.device, classifier)
        self.ema = (ExponentialMovingAverage(self.method.G, config.ema.decay, config.ema.start)
                    if config.ema.decay > 0 else None)
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.step = 0
        self.lr_scale = 1.0
        self.rollbacks = 0
        self.warmed_up = False
        self.best: dict[str, Any] = {"value": None, "step": None, "stale": 0}
        self.loss_var = {k: RollingVariance(config.log.loss_variance_window) for k in ("d", "g")}
        self.history: list[dict[str, Any]] = []  # the logged rows of this process
        self.last_eval: dict[str, Any] | None = None
        gen = torch.Generator().manual_seed(config.seed + SAMPLE_SEED_OFFSET)
        n_fixed = 64 if self.data.kind == "image" else 1000  # a grid, or a scatter of points
        self.fixed_z = torch.randn(n_fixed, self.method.latent_dim, generator=gen).to(self.device)
        self._signal: int | None = None
        self._last_good: dict[str, Any] | None = None
        self._check_shapes()

    # ------------------------------------------------------------------ construction helpers
    @classmethod
    def from_config(cls, cfg: Config, out_dir: str | Path | None = None) -> Trainer:
        """Build data and models from the config (recipes and the CLI use this)."""
        from stablegan.data import build_data
        from stablegan.models import build_models

        seed_everything(cfg.seed)
        data = build_data(cfg.data, cfg.seed)
        generator, discriminator = build_models(cfg.model, tuple(data.sample_shape))
        return cls(generator, discriminator, data, cfg, out_dir=out_dir)

    def _check_shapes(self) -> None:
        """One forward pass of G and D on tiny batches, with messages naming any mismatch."""
        from stablegan.errors import ShapeError

        m = self.method
        was = {k: n.training for k, n in m.networks.items()}
        try:
            with torch.no_grad():
                for net in m.networks.values():
                    net.eval()
                try:
                    fake = m.G(m.sample_z(2))
                except Exception as err:  # noqa: BLE001 - user modules fail in many ways
                    raise ShapeError(f"the generator failed on z of shape (2, {m.latent_dim}): "
                                     f"{err}".splitlines()[0],
                                     hint="check generator.latent_dim and its first layer") from None
                shape = tuple(self.data.sample_shape)
                if tuple(fake.shape[1:]) != shape:
                    raise ShapeError(
                        f"the generator produced samples of shape {tuple(fake.shape[1:])} but "
                        f"the data '{self.data.name}' has shape {shape}",
                        hint="make the generator output match the data (or pick another model)")
                try:
                    m.critic_scores(fake, "fake")
                except ShapeError:
                    raise
                except Exception as err:  # noqa: BLE001
                    raise ShapeError(f"the discriminator failed on a batch of shape "
                                     f"{tuple(fake.shape)}: {err}".splitlines()[0],
                                     hint="its input layer must accept the data's shape") from None
        finally:
            for k, n in m.networks.items():
                n.train(was[k])

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        m = self.method
        return {
            "version": 1,
            "code_version": __version__,
            "step": self.step,
            "lr_scale": self.lr_scale,
            "rollbacks": self.rollbacks,
            "warmed_up": self.warmed_up,
            "config": self.cfg.to_dict(),
            "networks": {k: n.state_dict() for k, n in m.networks.items()},
            "optimizers": {k: o.state_dict() for k, o in m.optimizers.items()},
            "ema": self.ema.state_dict() if self.ema else None,
            "method": m.extra_state(),
            "data": self.data.state_dict(),
            "rng": rng_state(),
            "best": dict(self.best),
            "loss_var": {k: v.state() for k, v in self.loss_var.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        m = self.method
        missing = set(m.networks) - set(state["networks"])
        if missing:
            raise CheckpointError(f"checkpoint has no state for network(s) {sorted(missing)}")
        for k, net in m.networks.items():
            _load_module(net, state["networks"][k], k)
        for k, opt in m.optimizers.items():
            opt.load_state_dict(state["optimizers"][k])
        if self.ema and state.get("ema") is not None:
            _load_module(self.ema.shadow, state["ema"], "G (EMA)")
        m.load_extra_state(state.get("method", {}))
        self.data.load_state_dict(state["data"])
        set_rng_state(state["rng"])
        self.step = int(state["step"])
        self.lr_scale = float(state["lr_scale"])
        self.rollbacks = int(state["rollbacks"])
        self.warmed_up = bool(state.get("warmed_up", True))
        self.best = dict(state.get("best", self.best))
        for k, v in state.get("loss_var", {}).items():
            self.loss_var[k].load(v)

    @property
    def checkpoint_path(self) -> Path | None:
        return self.out_dir / "checkpoints" / "last.pt" if self.out_dir else None

    def save(self, name: str = "last.pt") -> Path | None:
        """Write a checkpoint, refusing to save a non-finite state over a good one."""
        for k, net in self.method.networks.items():
            bad = _finite_module(net)
            if bad:
                raise NonFiniteError(k, f"weight {bad}")
        state = self.state_dict()
        self._last_good = _detached_copy(state)
        if self.out_dir is None:
            return None
        return save_checkpoint(state, self.out_dir / "checkpoints" / name)

    def resume(self, force: bool = False) -> list[str]:
        """Load ``out_dir/checkpoints/last.pt`` (falling back to ``.prev``); returns warnings."""
        if self.checkpoint_path is None:
            raise ConfigError("resume needs a run directory", hint="pass --out DIR")
        state, _, warnings = load_latest(self.checkpoint_path, map_location=self.device)
        changes = diff(state["config"], self.cfg.to_dict())
        changes = [c for c in changes if not c.startswith("steps:")]
        if state.get("code_version") != __version__:
            changes.append(f"stablegan version: {state.get('code_version')} -> {__version__}")
        if changes and not force:
            raise CheckpointError(
                "refusing to resume: the config differs from the checkpoint's:\n  "
                + "\n  ".join(changes),
                hint="resume with the same config, or pass --force to resume anyway")
        self.load_state_dict(state)
        self._last_good = _detached_copy(state)
        for name in ("metrics.jsonl", "evals.jsonl"):
            truncate_jsonl(self.out_dir / name, self.step)  # type: ignore[operator]
        return warnings

    # ------------------------------------------------------------------ the loop
    def _lr_factor(self) -> float:
        decay = 1.0
        if self.cfg.optim.lr_decay == "linear":
            decay = max(0.0, 1.0 - self.step / self.cfg.steps)
        return decay * self.lr_scale

    def batches_consumed(self) -> int:
        """Minibatch updates of all networks together (D + G + C steps): the x-axis for
        comparing schedules at equal compute."""
        return int(sum(self.method.counts.values()))

    def iteration(self, diagnostics: bool) -> dict[str, float]:
        """n_critic critic steps, then the generator phase; returns averaged stats."""
        m = self.method
        d_stats = [m.d_step(diagnostics and k == self.cfg.schedule.n_critic - 1)
                   for k in range(self.cfg.schedule.n_critic)]
        g_stats = m.g_phase(diagnostics)
        return _average(d_stats + g_stats)

    def _install_signals(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous = {}

        def handler(signum: int, frame: Any) -> None:
            if self._signal is not None:  # second signal: stop now
                raise KeyboardInterrupt
            self._signal = signum

        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, handler)
        return previous

    def fit(self, steps: int | None = None) -> dict[str, Any]:
        """Train until ``steps`` iterations (default ``config.steps``); returns the final eval."""
        cfg = self.cfg
        total = steps if steps is not None else cfg.steps
        writer = tb = None
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            (self.out_dir / "samples").mkdir(exist_ok=True)
            save_yaml(cfg, self.out_dir / "config.yaml")
            writer = JsonlWriter(self.out_dir / "metrics.jsonl")
            tb = TensorBoard(self.out_dir / "tb", cfg.log.tensorboard)
        previous = self._install_signals()
        bar = _progress(total, self.step, cfg.log.progress)
        sample_every = cfg.log.sample_every or max(1, total // 10)
        ckpt_every = cfg.log.checkpoint_every or max(1, total // 10)
        try:
            if self._last_good is None:
                if not self.warmed_up:
                    self.method.set_lr(self._lr_factor())
                    self.method.warmup()
                    self.warmed_up = True
                self.save()
            while self.step < total:
                t0 = time.perf_counter()
                self.method.set_lr(self._lr_factor())
                log_now = (self.step + 1) % cfg.log.every == 0
                try:
                    stats = self.iteration(diagnostics=log_now)
                    for k, net in self.method.networks.items():
                        bad = _finite_module(net)
                        if bad:
                            raise NonFiniteError(k, f"weight {bad}")
                except NonFiniteError as err:
                    self._rollback(err)
                    continue
                self.step += 1
                if self.ema:
                    self.ema.update(self.method.G, self.step)
                row = self._log_row(stats, time.perf_counter() - t0)
                if log_now:
                    self.history.append(row)
                    if writer:
                        writer.write(row)
                    if tb:
                        tb.scalars(row, self.step)
                bar.update(1)
                bar.set_postfix({"d": f"{row['loss/d']:.3f}", "g": f"{row['loss/g']:.3f}"},
                                refresh=False)
                done = self.step == total
                if self.out_dir is not None and (self.step % sample_every == 0 or done):
                    self.save_samples(self.out_dir / "samples" / f"step_{self.step:06d}.png")
                stop = False
                if cfg.eval.every and self.step % cfg.eval.every == 0 and not done:
                    stop = self._periodic_eval()
                if self.step % ckpt_every == 0 or done or stop or self._signal is not None:
                    self.save()
                if self._signal is not None:
                    raise Interrupted(self._signal, self.out_dir)
                if stop:
                    break
        finally:
            bar.close()
            for sig, h in previous.items():
                signal.signal(sig, h)
            if writer:
                writer.close()
            if tb:
                tb.close()
        result = self.evaluate()
        self.last_eval = result
        if self.out_dir is not None:
            self.finish_outputs(result)
        return result

    def _log_row(self, stats: dict[str, float], seconds: float) -> dict[str, Any]:
        row: dict[str, Any] = {"step": self.step, "batches": self.batches_consumed()}
        row.update(stats)
        row["loss_var/d"] = self.loss_var["d"].add(stats.get("loss/d", float("nan")))
        row["loss_var/g"] = self.loss_var["g"].add(stats.get("loss/g", float("nan")))
        row["lr/g"] = self.method.optimizers["G"].param_groups[0]["lr"]
        row["lr/d"] = self.method.optimizers["D"].param_groups[0]["lr"]
        row["time/sec"] = seconds
        if self.step % max(1, self.cfg.log.every * 10) == 0:
            row.update(self.overfitting_check())
        return row

    def _rollback(self, err: NonFiniteError) -> None:
        """Restore the last good state, lower the learning rates, or stop with a diagnosis."""
        self.rollbacks += 1
        where = f"step {self.step + 1}: {err}"
        if self.rollbacks > self.cfg.fault.max_rollbacks or self._last_good is None:
            raise DivergenceError(
                f"training diverged at {where}; gave up after {self.rollbacks - 1} rollback(s)",
                hint="lower the learning rates (optim.g_lr/d_lr), add a gradient penalty or "
                "gradient clipping (optim.grad_clip); the last good checkpoint is intact")
        rollbacks = self.rollbacks
        scale = self.lr_scale * self.cfg.fault.lr_factor
        self.load_state_dict(copy.deepcopy(self._last_good))
        self.rollbacks, self.lr_scale = rollbacks, scale
        print(f"warning: non-finite value at {where}; rolled back to step {self.step} and "
              f"scaled learning rates by {self.cfg.fault.lr_factor} (rollback {rollbacks}/"
              f"{self.cfg.fault.max_rollbacks})", file=sys.stderr)

    # ------------------------------------------------------------------ sampling & evaluation
    def generator_for_sampling(self) -> nn.Module:
        return self.ema.shadow if self.ema else self.method.G

    @torch.no_grad()
    def sample(self, n: int, z: Tensor | None = None, batch: int = 1000) -> Tensor:
        """``n`` samples from the (EMA) generator in eval mode, on the CPU."""
        G = self.generator_for_sampling()
        was = G.training
        G.eval()
        try:
            out = []
            for i in range(0, n, batch):
                k = min(batch, n - i)
                zz = z[i:i + k] if z is not None else self.method.sample_z(k)
                out.append(G(zz.to(self.device)).cpu())
            return torch.cat(out)
        finally:
            G.train(was)

    def save_samples(self, path: Path) -> None:
        from stablegan.reports import save_samples

        x = self.sample(self.fixed_z.shape[0], z=self.fixed_z)
        real = self.data.reals(1000) if self.data.kind == "points" else None
        try:
            save_samples(x, path, kind=self.data.kind, modes=self.data.modes, real=real,
                         title=f"step {self.step}")
        except OSError as err:
            print(f"warning: could not write samples {path}: {err.strerror or err}",
                  file=sys.stderr)

    @torch.no_grad()
    def overfitting_check(self, n: int = 256) -> dict[str, float]:
        """Mean D score on training reals minus held-out reals (> 0 grows as D memorises)."""
        held = self.data.reals(n, "holdout")
        if held is None or len(held) == 0 or self.data.kind == "points":
            return {}
        train = self.data.reals(len(held), "train")
        D = self.method.D
        was = D.training
        D.eval()
        try:
            s_train = float(D(train.to(self.device)).mean())
            s_held = float(D(held.to(self.device)).mean())
        finally:
            D.train(was)
        return {"overfit/d_train": s_train, "overfit/d_holdout": s_held,
                "overfit/d_train_minus_holdout": s_train - s_held}

    def evaluate(self, n: int | None = None) -> dict[str, Any]:
        """Metrics of the current (EMA) generator: see ``stablegan.evaluation``."""
        from stablegan.evaluation import evaluate_generator

        state = torch.get_rng_state()
        try:
            torch.manual_seed(self.cfg.seed + 1)
            return evaluate_generator(self, n or self.cfg.eval.n_samples)
        finally:
            torch.set_rng_state(state)

    def _periodic_eval(self) -> bool:
        """Evaluate, append to evals.jsonl, keep best.pt; returns True to stop early."""
        result = self.evaluate()
        row = {"step": self.step, "batches": self.batches_consumed(), **result}
        if self.out_dir is not None:
            with open(self.out_dir / "evals.jsonl", "a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")
        key = self.cfg.eval.best_metric
        if not key:
            return False
        if key not in result:
            raise ConfigError(f"eval.best_metric '{key}' is not among the evaluated metrics "
                              f"{sorted(k for k in result if isinstance(result[k], (int, float)))}")
        value = float(result[key])
        best = self.best["value"]
        better = best is None or (value < best if self.cfg.eval.best_mode == "min"
                                  else value > best)
        if better and math.isfinite(value):
            self.best = {"value": value, "step": self.step, "stale": 0}
            self.save("best.pt")
        else:
            self.best["stale"] = int(self.best.get("stale", 0)) + 1
        patience = self.cfg.eval.patience
        if patience and self.best["stale"] >= patience:
            print(f"early stopping at step {self.step}: {key} has not improved for {patience} "
                  f"evaluations (best {self.best['value']:.4g} at step {self.best['step']})",
                  file=sys.stderr)
            return True
        return False

    def finish_outputs(self, result: dict[str, Any]) -> None:
        from stablegan.reports import plot_losses, read_jsonl

        assert self.out_dir is not None
        try:
            (self.out_dir / "eval.json").write_text(json.dumps(result, indent=2) + "\n")
            rows = read_jsonl(self.out_dir / "metrics.jsonl")
            if rows:
                plot_losses(rows, self.out_dir / "losses.png",
                            window=self.cfg.log.loss_variance_window)
        except OSError as err:
            print(f"warning: could not write the final outputs: {err.strerror or err}",
                  file=sys.stderr)


# ---------------------------------------------------------------------- helpers
def _load_module(net: nn.Module, state: dict[str, Tensor], name: str) -> None:
    own = net.state_dict()
    problems = []
    for k in sorted(set(own) | set(state)):
        if k not in state:
            problems.append(f"{k}: missing in checkpoint")
        elif k not in own:
            problems.append(f"{k}: unexpected in checkpoint")
        elif tuple(own[k].shape) != tuple(state[k].shape):
            problems.append(f"{k}: checkpoint {tuple(state[k].shape)} vs model "
                            f"{tuple(own[k].shape)}")
    if problems:
        shown = "; ".join(problems[:5]) + (f"; ... {len(problems) - 5} more"
                                          if len(problems) > 5 else "")
        raise CheckpointError(f"checkpoint does not fit network {name}: {shown}",
                              hint="the checkpoint comes from another architecture or config")
    net.load_state_dict(state)


def _detached_copy(state: Any) -> Any:
    if isinstance(state, Tensor):
        return state.detach().clone()
    if isinstance(state, dict):
        return {k: _detached_copy(v) for k, v in state.items()}
    if isinstance(state, list):
        return [_detached_copy(v) for v in state]
    if isinstance(state, tuple):
        return tuple(_detached_copy(v) for v in state)
    return copy.copy(state)


def _average(stats: list[dict[str, float]]) -> dict[str, float]:
    sums: dict[str, list[float]] = {}
    for s in stats:
        for k, v in s.items():
            sums.setdefault(k, []).append(v)
    return {k: sum(v) / len(v) for k, v in sums.items()}


class _NoBar:
    def update(self, n: int) -> None: ...

    def set_postfix(self, *a: Any, **k: Any) -> None: ...

    def close(self) -> None: ...


def _progress(total: int, initial: int, enabled: bool) -> Any:
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="it", dynamic_ncols=True, mininterval=0.5,
                desc="train")


def load_run(run_dir: str | Path, checkpoint: str = "last.pt") -> Trainer:
    """Rebuild a trainer from a run directory's config and checkpoint (for sample/eval)."""
    from stablegan.config import read_yaml

    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise ConfigError(f"'{run_dir}' is not a stablegan run directory (no config.yaml)",
                          hint="pass the --out directory of a finished or running train")
    cfg = from_dict(read_yaml(run_dir / "config.yaml"))
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
