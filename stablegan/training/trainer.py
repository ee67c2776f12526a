"""The trainer: owns the loop, the schedule, RNG, checkpoints, logging, evaluation and faults.

One iteration::

    n_critic x method.d_step()  ->  method.g_phase() (n_gen generator steps)  ->  EMA update
    -> metrics.jsonl row  -> [sample grid] [evaluation] [checkpoint]

The maths lives in the method (``stablegan.methods``); the trainer never looks inside it. Samples
are tensors of any shape, so points, images, token sequences and latent codes all train here.
Every network the method lists in ``method.networks`` is optimised, checkpointed and logged.

Faults (see docs/reliability.md): a non-finite loss or gradient raises inside the step, before
that step changes any weight, and every weight is checked after each iteration; the trainer rolls
back to the last good checkpoint, multiplies the learning rates by ``fault.lr_factor`` and goes on,
at most ``fault.max_rollbacks`` times, then stops with :class:`DivergenceError` naming the network,
the term and the step. A non-finite state is never saved. SIGINT/SIGTERM finish the current
iteration, save a checkpoint and stop with :class:`Interrupted`. Every file of the run directory is
written atomically (temporary file, fsync, rename); a write that fails (disk full, read-only)
leaves what is on disk intact and stops with a one-line reason.
"""

from __future__ import annotations

import copy
import json
import math
import random
import shlex
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
from stablegan.training.fsutil import (
    RunDirectoryError,
    atomic_write,
    atomic_write_text,
    describe_os_error,
    remove_stale_temporaries,
    run_dir_error,
)
from stablegan.training.logging import JsonlWriter, RollingVariance, TensorBoard, truncate_jsonl
from stablegan.tricks import ExponentialMovingAverage

SAMPLE_SEED_OFFSET = 9_973
# config keys that may change between a checkpoint and its resume without --force
RESUME_IGNORED_KEYS = ("steps", "description", "log.progress", "log.tensorboard")
# iterations after which generated images are compared with the data's range (one warning)
RANGE_CHECK_STEPS = (1, 10, 100)

__all__ = ["Interrupted", "RunDirectoryError", "Trainer", "load_run"]


class Interrupted(StableganError):
    """Training stopped by a signal (after saving a checkpoint when ``saved``)."""

    def __init__(self, signum: int, run_dir: Path | None, *, saved: bool = True,
                 step: int | None = None) -> None:
        name = signal.Signals(signum).name
        at = f" at step {step}" if step is not None else ""
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
    """Name of the first non-finite parameter or buffer, or None.

    Runs every iteration, so the common all-finite case is one fused reduction (one device
    sync); names are looked up only when something is wrong.
    """
    named = [(n, t) for n, t in list(module.named_parameters()) + list(module.named_buffers())
             if t.is_floating_point()]
    if not named:
        return None
    with torch.no_grad():
        ok = torch.stack([torch.isfinite(t).all() for _, t in named])
    if bool(ok.all()):
        return None
    return next(n for (n, _), good in zip(named, ok.tolist()) if not good)


def _nonfinite_entry(obj: Any, prefix: str = "") -> str | None:
    """Path of the first non-finite floating tensor in a nested state (optimiser moments)."""
    if isinstance(obj, Tensor):
        if obj.is_floating_point() and not torch.isfinite(obj).all():
            return prefix or "<tensor>"
        return None
    if isinstance(obj, dict):
        items = obj.items()
    elif isinstance(obj, (list, tuple)):
        items = enumerate(obj)
    else:
        return None
    for k, v in items:
        bad = _nonfinite_entry(v, f"{prefix}.{k}" if prefix else str(k))
        if bad:
            return bad
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
        self.device = _check_device(config.device)
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
        n_fixed = 64 if self.data.task == "images" else 1000  # a grid, or a scatter of points
        self.fixed_z = torch.randn(n_fixed, self.method.latent_dim, generator=gen).to(self.device)
        self._signal: int | None = None
        self._final_phase = False
        self._writer: JsonlWriter | None = None
        self._last_good: dict[str, Any] | None = None
        self._range: tuple[float, float] | None = None
        self._range_warned = False
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
                                     hint="check generator.latent_dim and its first layer"
                                     ) from None
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
                self._check_range(fake)
        finally:
            for k, n in m.networks.items():
                n.train(was[k])

    def _data_range(self) -> tuple[float, float] | None:
        if self._range is None:
            try:
                reals = self.data.reals(256)
                if reals is not None and reals.numel() and torch.isfinite(reals).all():
                    self._range = (float(reals.min()), float(reals.max()))
            except Exception:  # noqa: BLE001 - only a warning depends on it
                self._range = None
        return self._range

    def _check_range(self, fake: Tensor) -> None:
        """Warn once when generated images lie far outside the data's value range.

        Images only (points are unbounded). "Far": beyond the data's [lo, hi] by more than half
        its span, e.g. outside [-2, 2] for images in [-1, 1] -- typically a generator without a
        final tanh, or data not scaled to [-1, 1].
        """
        if self._range_warned or self.data.task != "images":
            return
        rng = self._data_range()
        fake = fake.detach()
        if rng is None or not fake.numel() or not torch.isfinite(fake).all():
            return
        lo, hi = rng
        margin = 0.5 * max(hi - lo, 1e-6)
        f_lo, f_hi = float(fake.min()), float(fake.max())
        if f_lo < lo - margin or f_hi > hi + margin:
            self._range_warned = True
            print(f"warning: generated images span [{f_lo:.3g}, {f_hi:.3g}] at step {self.step} "
                  f"but the data lies in [{lo:.3g}, {hi:.3g}]; the generator's output range "
                  "does not match the data (image generators should end in tanh for data in "
                  "[-1, 1])", file=sys.stderr)

    @torch.no_grad()
    def _check_range_now(self) -> None:
        if self._range_warned or self.data.task != "images":
            return
        G = self.method.G
        was, rng = G.training, torch.get_rng_state()  # a check must not change the run
        G.eval()
        try:
            self._check_range(G(self.fixed_z[:16]))
        finally:
            G.train(was)
            torch.set_rng_state(rng)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        m = self.method
        return {
            "version": 1,
            "code_version": __version__,
            "sample_shape": list(self.data.sample_shape),
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
        """Restore a :meth:`state_dict`; a malformed state raises CheckpointError."""
        try:
            self._load_state(state)
        except StableganError:
            raise
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, RuntimeError) as err:
            what = f"missing entry {err}" if isinstance(err, KeyError) else f"{err}"
            raise CheckpointError(
                f"the checkpoint does not hold a usable training state ({type(err).__name__}: "
                f"{what})".splitlines()[0],
                hint="it comes from another version or configuration, or is damaged; "
                "restart without --resume") from None

    def _load_state(self, state: dict[str, Any]) -> None:
        saved = state.get("sample_shape")
        if saved is not None and tuple(saved) != tuple(self.data.sample_shape):
            raise CheckpointError(
                f"the run was trained on data of shape {tuple(saved)}, but the data "
                f"'{self.data.name}' now has shape {tuple(self.data.sample_shape)}",
                hint="point data.path (and data.image_size/channels) at the data the run was "
                "trained on")
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

    def _nonfinite_state(self) -> NonFiniteError | None:
        """The first non-finite weight, EMA weight or optimiser moment, or None."""
        for k, net in self.method.networks.items():
            bad = _finite_module(net)
            if bad:
                return NonFiniteError(k, f"weight {bad}")
        if self.ema is not None:
            bad = _finite_module(self.ema.shadow)
            if bad:
                return NonFiniteError("G (EMA)", f"weight {bad}")
        for k, opt in self.method.optimizers.items():
            bad = _nonfinite_entry(opt.state_dict().get("state", {}))
            if bad:
                return NonFiniteError(k, f"optimiser state {bad}")
        return None

    def save(self, name: str = "last.pt") -> Path | None:
        """Write a checkpoint, refusing to save a non-finite state over a good one
        (raises NonFiniteError and leaves the file on disk and the last good state alone)."""
        bad = self._nonfinite_state()
        if bad is not None:
            raise bad
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
        changes = diff(state.get("config") or {}, self.cfg.to_dict())
        changes = [c for c in changes if c.split(":", 1)[0] not in RESUME_IGNORED_KEYS]
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
            for name in ("metrics.jsonl", "evals.jsonl"):
                truncate_jsonl(out / name, self.step)

    def fit(self, steps: int | None = None) -> dict[str, Any]:
        """Train until ``steps`` iterations (default ``config.steps``); returns the final eval."""
        cfg = self.cfg
        total = steps if steps is not None else cfg.steps
        fresh = self._last_good is None
        self._signal = None
        self._final_phase = False
        from stablegan.evaluation import preflight

        preflight(cfg, self.data, self.out_dir)  # a bad eval.* setting fails now, not later
        writer = tb = None
        previous: dict[int, Any] = {}
        bar: Any = _NoBar()
        sample_every = cfg.log.sample_every or max(1, total // 10)
        ckpt_every = cfg.log.checkpoint_every or max(1, total // 10)
        try:
            if self.out_dir is not None:
                self._prepare_run_dir(fresh)
                writer = self._writer = JsonlWriter(self.out_dir / "metrics.jsonl")
                tb = TensorBoard(self.out_dir / "tb", cfg.log.tensorboard)
            previous = self._install_signals()
            bar = _progress(total, self.step, cfg.log.progress)
            if fresh:
                if not self.warmed_up:
                    self.method.set_lr(self._lr_factor())
                    try:
                        self.method.warmup()
                    except NonFiniteError as err:
                        raise self._divergence(err, "warm-up (before step 1)", None) from None
                    self.warmed_up = True
                self._save_or_diverge()
            while self.step < total:
                t0 = time.perf_counter()
                self.method.set_lr(self._lr_factor())
                diag_now = (self.step + 1) % cfg.log.every == 0
                log_now = diag_now or self.step + 1 == total
                try:
                    stats = self.iteration(diagnostics=diag_now)
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
                if self.step in RANGE_CHECK_STEPS:
                    self._check_range_now()
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
                    self._save_or_diverge()
                if self._signal is not None:
                    raise Interrupted(self._signal, self.out_dir, step=self.step)
                if stop:
                    break
            if writer:
                writer.close()
                writer = self._writer = None
            bar.close()
            # every step is saved: a signal from here on stops at once (the handler raises)
            self._final_phase = True
            if self._signal is not None:
                raise Interrupted(self._signal, self.out_dir, step=self.step)
            result = self.evaluate(final=True)
            self.last_eval = result
            if self.out_dir is not None:
                self.finish_outputs(result)
        finally:
            self._final_phase = False
            self._writer = None
            bar.close()
            for sig, h in previous.items():
                signal.signal(sig, h)
            if writer:
                writer.close()
            if tb:
                tb.close()
        return result

    def _save_or_diverge(self, name: str = "last.pt") -> None:
        """``save``; a non-finite state (which the step checks should have caught) stops the run
        with DivergenceError instead of being written."""
        try:
            self.save(name)
        except NonFiniteError as err:
            raise self._divergence(err, f"step {self.step}", None) from None

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

    def _diagnose(self, err: NonFiniteError) -> str:
        """``err`` in words, naming a non-finite weight first when one is the root cause."""
        if not err.term.startswith("weight"):
            for k, net in self.method.networks.items():
                bad = _finite_module(net)
                if bad:
                    return f"non-finite weight {bad} in network {k} (seen as: {err})"
        return str(err)

    def _divergence(self, err: NonFiniteError, where: str,
                    rollbacks: int | None) -> DivergenceError:
        good = self._last_good
        if good is not None and self.out_dir is not None:
            kept = (f"the last good checkpoint (step {good['step']}) is intact in "
                    f"{self.checkpoint_path}")
        elif good is not None:
            kept = f"the last good state is step {good['step']}"
        else:
            kept = "no checkpoint was written"
        gave_up = (f"; gave up after {rollbacks} rollback(s), learning rates at "
                   f"{self.lr_scale:g}x" if rollbacks is not None else "")
        return DivergenceError(
            f"training diverged at {where}: {self._diagnose(err)}{gave_up}",
            hint="lower the learning rates (optim.g_lr/d_lr), add a gradient penalty or "
            f"gradient clipping (optim.grad_clip) or raise fault.max_rollbacks; {kept}")

    def _rollback(self, err: NonFiniteError) -> None:
        """Restore the last good state, lower the learning rates, or stop with a diagnosis."""
        where = f"step {self.step + 1}"
        if self.rollbacks >= self.cfg.fault.max_rollbacks or self._last_good is None:
            raise self._divergence(err, where, self.rollbacks)
        what = self._diagnose(err)
        rollbacks = self.rollbacks + 1
        scale = self.lr_scale * self.cfg.fault.lr_factor
        self.load_state_dict(copy.deepcopy(self._last_good))
        self.rollbacks, self.lr_scale = rollbacks, scale
        # the logs restart where the restored state stands, as after a resume
        self.history = [r for r in self.history if r["step"] <= self.step]
        if self._writer is not None:
            self._writer.truncate(self.step)
        if self.out_dir is not None:
            truncate_jsonl(self.out_dir / "evals.jsonl", self.step)
        self.method.set_lr(self._lr_factor())
        lrs = ", ".join(f"{k} lr {o.param_groups[0]['lr']:.3g}"
                        for k, o in self.method.optimizers.items())
        print(f"warning: non-finite value at {where}: {what}; rolled back to step {self.step} "
              f"and lowered the learning rates by fault.lr_factor={self.cfg.fault.lr_factor:g} "
              f"to {scale:g}x ({lrs}) (rollback {rollbacks}/{self.cfg.fault.max_rollbacks})",
              file=sys.stderr)

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
        real = self.data.reals(1000) if self.data.task == "points" else None
        try:
            atomic_write(path, lambda tmp: save_samples(
                x, tmp, kind=self.data.task, modes=self.data.modes, real=real,
                title=f"step {self.step}"))
        except OSError as err:  # samples are a view of the run, not its state: warn, go on
            print(f"warning: could not write samples {path}: {describe_os_error(err)}; "
                  "training goes on", file=sys.stderr)
        except StableganError as err:
            print(f"warning: could not draw samples {path}: {err.message}", file=sys.stderr)

    @torch.no_grad()
    def overfitting_check(self, n: int = 256) -> dict[str, float]:
        """Mean D score on training reals minus held-out reals (> 0 grows as D memorises)."""
        held = self.data.reals(n, "holdout")
        if held is None or len(held) == 0 or self.data.task == "points":
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

    def evaluate(self, n: int | None = None, *, final: bool | None = None) -> dict[str, Any]:
        """Metrics of the current (EMA) generator: see ``stablegan.evaluation``. ``final`` adds
        the descriptive entries and ``nearest_pairs.png`` (default: inferred from the step)."""
        from stablegan.evaluation import evaluate_generator

        state = torch.get_rng_state()
        try:
            torch.manual_seed(self.cfg.seed + 1)
            return evaluate_generator(self, n or self.cfg.eval.n_samples, final=final)
        finally:
            torch.set_rng_state(state)

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
        value = float(result[key])
        best = self.best["value"]
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

    def finish_outputs(self, result: dict[str, Any]) -> None:
        from stablegan.reports import plot_losses, read_jsonl

        assert self.out_dir is not None
        try:
            atomic_write_text(self.out_dir / "eval.json", json.dumps(result, indent=2) + "\n")
            rows = read_jsonl(self.out_dir / "metrics.jsonl")
            if rows:
                atomic_write(self.out_dir / "losses.png", lambda tmp: plot_losses(
                    rows, tmp, window=self.cfg.log.loss_variance_window))
        except OSError as err:
            print(f"warning: could not write the final outputs: {describe_os_error(err)} (the "
                  "checkpoint is complete)", file=sys.stderr)
        except StableganError as err:
            print(f"warning: could not draw the loss plot: {err.message}", file=sys.stderr)


# ---------------------------------------------------------------------- helpers
def _check_device(name: str) -> torch.device:
    """``torch.device(name)``, or ConfigError when that device does not exist here."""
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ConfigError(f"config key 'device' names no device: '{name}'",
                          hint="use cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (device.index is not None and device.index >= count):
            raise ConfigError(f"config key 'device' is '{name}' but this machine has "
                              f"{count} usable CUDA device(s)", hint="--set device=cpu")
    return device


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


def load_run(run_dir: str | Path, checkpoint: str = "last.pt",
             eval_overrides: list[str] | None = None) -> Trainer:
    """Rebuild a trainer from a run directory's config and checkpoint (for sample/eval).

    ``eval_overrides`` (``["eval.extractor=pixels", ...]``) change how the run is evaluated;
    only ``eval.*`` keys are accepted, since anything else would not match the checkpoint.
    """
    from stablegan.config import deep_merge, parse_set, read_yaml

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
