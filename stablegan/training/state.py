"""Training state: the trainer's checkpoints (:class:`Checkpointer`, a part of the Trainer), RNG
state, finiteness checks, safe module loading, detached copies."""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor, nn

from stablegan.config import Config, deep_merge, diff
from stablegan.core import __version__
from stablegan.core.checkpoint import (
    load_latest,
    load_module,
    pretrained_checkpoint,
    save_checkpoint,
)
from stablegan.core.errors import CheckpointError, ConfigError, StableganError
from stablegan.core.finite import all_finite
from stablegan.training import distributed
from stablegan.training.logging import LossVariances
from stablegan.training.progress import Progress

if TYPE_CHECKING:
    from stablegan.data.base import DataSource
    from stablegan.methods.gan import GANMethod
    from stablegan.training.distributed import RankGroup
    from stablegan.training.health import HealthMonitor
    from stablegan.training.rundir import RunDirectory
    from stablegan.tricks.ema import ExponentialMovingAverage


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


def first_nonfinite(module: nn.Module) -> str | None:
    """Name of the first non-finite parameter or buffer, or None.

    Runs every iteration, so the common all-finite case is one fused reduction (one device
    sync); names are looked up only when something is wrong.
    """
    named = [(n, t) for n, t in list(module.named_parameters()) + list(module.named_buffers())
             if t.is_floating_point()]
    if not named:
        return None
    if all_finite([t for _, t in named]):
        return None
    return next(n for n, t in named if not bool(torch.isfinite(t).all()))


def first_nonfinite_of(networks: dict[str, nn.Module]) -> tuple[str, str] | None:
    """(network, "weight <name>") of the first non-finite parameter or buffer of any of
    ``networks``, with one host sync for all of them in the common all-finite case."""
    tensors = [t for net in networks.values()
               for t in list(net.parameters()) + list(net.buffers()) if t.is_floating_point()]
    if not tensors:
        return None
    if all_finite(tensors):
        return None
    for k, net in networks.items():
        bad = first_nonfinite(net)
        if bad:
            return k, f"weight {bad}"
    return None


def nonfinite_entry(obj: Any, prefix: str = "") -> str | None:
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
        bad = nonfinite_entry(v, f"{prefix}.{k}" if prefix else str(k))
        if bad:
            return bad
    return None


def init_generator(generator: nn.Module, cfg: Any, data: Any) -> None:
    """Load G's weights from ``cfg.pretrain.init_from`` (a checkpoint or a run directory),
    refusing a checkpoint trained on other data."""
    path, state = pretrained_checkpoint(cfg, data)
    if "G" not in state.get("networks", {}):
        raise CheckpointError(f"pretrain.init_from: {path} holds no generator")
    load_module(generator, state["networks"]["G"], "G")


def detached_copy(state: Any) -> Any:
    if isinstance(state, Tensor):
        return state.detach().clone()
    if isinstance(state, dict):
        return {k: detached_copy(v) for k, v in state.items()}
    if isinstance(state, list):
        return [detached_copy(v) for v in state]
    if isinstance(state, tuple):
        return tuple(detached_copy(v) for v in state)
    return copy.copy(state)


def check_device(name: str) -> torch.device:
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


# config keys that may change between a checkpoint and its resume without --force
# (health.*: alarms only watch the run, they never change its trajectory)
# (threads: a speed setting, named in the run's first line)
RESUME_IGNORED_KEYS = ("steps", "description", "log.progress", "log.tensorboard", "health",
                       "threads")


class Checkpointer:
    """What a checkpoint holds and how it is saved, restored and resumed (a part of the
    Trainer). It reads and restores the parts it is given: the method (networks, optimisers,
    its extra state), the data sampler, the EMA generator, the run's :class:`Progress`, the
    loss variances and the health monitor; ``phase_name()`` is the current phase's name;
    ``refuse()`` runs before every save and returns the problem (a non-finite weight) that
    stops it, or None. ``last_good`` is a detached copy of the last state saved or loaded:
    what a rollback restores."""

    def __init__(self, cfg: Config, method: GANMethod, data: DataSource,
                 ema: ExponentialMovingAverage | None, progress: Progress,
                 variances: LossVariances, health: HealthMonitor, ranks: RankGroup,
                 run_dir: RunDirectory, phase_name: Callable[[], str],
                 refuse: Callable[[], Exception | None]) -> None:
        self.cfg = cfg
        self.method = method
        self.data = data
        self.ema = ema
        self.progress = progress
        self.variances = variances
        self.health = health
        self.ranks = ranks
        self.run_dir = run_dir
        self.phase_name = phase_name
        self.refuse = refuse
        self.last_good: dict[str, Any] | None = None

    def state_dict(self, gather: bool = True) -> dict[str, Any]:
        """The checkpoint's contents. Under data-parallel training ``rng_ranks`` holds every
        rank's RNG state (a collective: every rank calls this at the same step, unless
        ``gather`` is False, as for rank 0's best.pt)."""
        m, p = self.method, self.progress
        pending = self.variances.pending_state(gather and self.ranks.active)
        extra: dict[str, Any] = {}
        if self.ranks.active and gather:
            extra = {"rng_ranks": distributed.all_gather_object(rng_state()),
                     "world_size": distributed.world_size()}
        return {**extra,
            "version": 2, "code_version": __version__,
            "sample_shape": list(self.data.sample_shape),
            "step": p.step, "phase_steps": dict(p.phase_steps),
            "phase": self.phase_name(),
            "lr_scale": p.lr_scale, "rollbacks": p.rollbacks,
            "config": self.cfg.to_dict(),
            "networks": {k: n.state_dict() for k, n in m.networks.items()},
            "optimizers": {k: o.state_dict() for k, o in m.optimizers.items()},
            "ema": self.ema.state_dict() if self.ema else None,
            "method": m.extra_state(),
            "data": self.data.state_dict(),
            "rng": rng_state(),
            "best": p.best.to_dict(),
            "loss_var": self.variances.state_dict(),
            "pending_losses": pending,
            "health": self.health.state_dict(),
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
            load_module(net, state["networks"][k], k)
        for k, opt in m.optimizers.items():
            opt.load_state_dict(state["optimizers"][k])
        if self.ema and state.get("ema") is not None:
            load_module(self.ema.shadow, state["ema"], "G (EMA)")
        m.load_extra_state(state.get("method", {}))
        self.data.load_state_dict(state["data"])
        ranks = state.get("rng_ranks")
        if self.ranks.active and ranks and len(ranks) == distributed.world_size():
            set_rng_state(ranks[distributed.rank()])  # each rank's own stream: exact resume
        elif self.ranks.active:  # another world size: fresh per-rank streams from the step
            distributed.seed_rank(int(self.cfg.seed) + int(state["step"]))
        else:
            set_rng_state(state["rng"])
        # losses of the steps since the last logged row, not yet in the rolling variances
        self.variances.load_state_dict(state.get("loss_var", {}),
                                       state.get("pending_losses", []))
        self.progress.load_state_dict(state, m.warmup_steps())
        self.health.load_state_dict(state.get("health", {}))

    def save(self, name: str = "last.pt") -> Path | None:
        """Write a checkpoint, refusing to save a non-finite state over a good one
        (raises ``refuse()``'s NonFiniteError and leaves the file on disk and the last good
        state alone)."""
        bad = self.refuse()
        if bad is not None:
            raise bad
        state = self.state_dict(gather=name == "last.pt")
        self.last_good = detached_copy(state)
        if self.run_dir.out_dir is None or not self.ranks.is_main:  # rank 0 alone writes
            return None
        return save_checkpoint(state, self.run_dir.out_dir / "checkpoints" / name)

    def restore_last_good(self) -> None:
        """Load the last good state again (a rollback); its copy stays for the next one."""
        assert self.last_good is not None
        self.load_state_dict(copy.deepcopy(self.last_good))

    def resume(self, force: bool = False) -> list[str]:
        """Load ``out_dir/checkpoints/last.pt`` (falling back to ``.prev``); returns warnings."""
        path = self.run_dir.checkpoint_path
        if path is None:
            raise ConfigError("resume needs a run directory", hint="pass --out DIR")
        state, _, warnings = load_latest(path, map_location=self.method.device)
        # keys the checkpoint's config predates count at their defaults (a newer stablegan may
        # add settings; only a value that differs from what the run used is a change)
        saved = deep_merge(Config().to_dict(), state.get("config") or {})
        changes = diff(saved, self.cfg.to_dict())
        changes = [c for c in changes
                   if not c.split(":", 1)[0].startswith(tuple(k + "." for k in RESUME_IGNORED_KEYS))
                   and c.split(":", 1)[0] not in RESUME_IGNORED_KEYS]
        if state.get("code_version") != __version__:
            changes.append(f"stablegan version: {state.get('code_version')} -> {__version__}")
        if changes and not force:
            raise CheckpointError(
                "refusing to resume: the config differs from the checkpoint's:\n  "
                + "\n  ".join(changes),
                hint="resume with the same config, or pass --force to resume anyway")
        self.load_state_dict(state)
        self.last_good = detached_copy(state)
        self.run_dir.truncate(self.progress.step, self.progress.phase_steps)
        return warnings
