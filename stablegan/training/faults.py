"""Safeguards of the trainer: shape checks before training, non-finite states, rollbacks.

:class:`FaultGuard` is a part of :class:`stablegan.training.trainer.Trainer`; see its docstring
and docs/reliability.md for the fault model.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from stablegan.config import FaultConfig
from stablegan.errors import DivergenceError, ShapeError
from stablegan.methods import GANMethod, NonFiniteError
from stablegan.training.phases import Phase
from stablegan.training.progress import Progress
from stablegan.training.rundir import RunDirectory
from stablegan.training.state import (
    Checkpointer,
    first_nonfinite,
    first_nonfinite_of,
    nonfinite_entry,
)

if TYPE_CHECKING:
    from stablegan.tasks.base import Task
    from stablegan.tricks.ema import ExponentialMovingAverage


def check_shapes(method: GANMethod, task: Task, step: int) -> None:
    """One forward pass of G and D on tiny batches, with messages naming any mismatch."""
    m = method
    was = {k: n.training for k, n in m.networks.items()}
    try:
        with torch.no_grad():
            for net in m.networks.values():
                net.eval()
            try:
                fake = m.pair.fake(m.sample_z(2))
            except Exception as err:  # noqa: BLE001 - user modules fail in many ways
                raise ShapeError(f"the generator failed on z of shape (2, {m.latent_dim}): "
                                 f"{err}".splitlines()[0],
                                 hint="check generator.latent_dim and its first layer"
                                 ) from None
            task.check_fake(fake)
            try:
                m.critic_scores(fake, "fake")
            except ShapeError:
                raise
            except Exception as err:  # noqa: BLE001
                raise ShapeError(f"the discriminator failed on a batch of shape "
                                 f"{tuple(fake.shape)}: {err}".splitlines()[0],
                                 hint="its input layer must accept the data's shape") from None
            task.watch_samples(fake, step)
    finally:
        for k, n in m.networks.items():
            n.train(was[k])


@torch.no_grad()
def watch_samples(generator: torch.nn.Module, task: Task, z: Tensor, step: int) -> None:
    """The task's early look at generated samples (e.g. the image range warning); the look
    changes neither the generator's mode nor the global RNG."""
    was, rng = generator.training, torch.get_rng_state()
    generator.eval()
    try:
        task.watch_samples(generator(z), step)
    finally:
        generator.train(was)
        torch.set_rng_state(rng)


def nonfinite_state(method: GANMethod, ema: ExponentialMovingAverage | None
                    ) -> NonFiniteError | None:
    """The first non-finite weight, EMA weight or optimiser moment, or None."""
    nets = dict(method.networks)
    if ema is not None:
        nets["G (EMA)"] = ema.shadow
    for k, net in nets.items():
        bad = first_nonfinite(net)
        if bad:
            return NonFiniteError(k, f"weight {bad}")
    for k, opt in method.optimizers.items():
        bad = nonfinite_entry(opt.state_dict().get("state", {}))
        if bad:
            return NonFiniteError(k, f"optimiser state {bad}")
    return None


class FaultGuard:
    """Finiteness after each step, saving only finite states, divergence diagnosis and
    rollback (a part of the Trainer). A rollback restores ``checkpoints.last_good``, counts in
    ``progress`` (rollbacks, lr_scale), truncates the logs of ``run_dir`` and sets the method's
    learning rates to ``lr_factor(phase)`` times their base; past ``fault.max_rollbacks`` it
    raises :class:`DivergenceError`."""

    def __init__(self, cfg: FaultConfig, method: GANMethod, checkpoints: Checkpointer,
                 progress: Progress, run_dir: RunDirectory,
                 lr_factor: Callable[[Phase], float]) -> None:
        self.cfg = cfg
        self.method = method
        self.checkpoints = checkpoints
        self.progress = progress
        self.run_dir = run_dir
        self.lr_factor = lr_factor

    def check_step(self, phase: Phase) -> None:
        """Raise NonFiniteError when a weight of a network ``phase`` trains is not finite."""
        bad = first_nonfinite_of({k: self.method.networks[k] for k in phase.networks})
        if bad:
            raise NonFiniteError(*bad)

    def save(self, name: str = "last.pt") -> None:
        """``checkpoints.save``; a non-finite state (which the step checks should have caught)
        stops the run with DivergenceError instead of being written."""
        try:
            self.checkpoints.save(name)
        except NonFiniteError as err:
            raise self.divergence(err, f"step {self.progress.step}", None) from None

    def diagnose(self, err: NonFiniteError) -> str:
        """``err`` in words, naming a non-finite weight first when one is the root cause."""
        if not err.term.startswith("weight"):
            for k, net in self.method.networks.items():
                bad = first_nonfinite(net)
                if bad:
                    return f"non-finite weight {bad} in network {k} (seen as: {err})"
        return str(err)

    def divergence(self, err: NonFiniteError, where: str,
                   rollbacks: int | None) -> DivergenceError:
        good = self.checkpoints.last_good
        if good is not None and self.run_dir.out_dir is not None:
            kept = (f"the last good checkpoint (step {good['step']}) is intact in "
                    f"{self.run_dir.checkpoint_path}")
        elif good is not None:
            kept = f"the last good state is step {good['step']}"
        else:
            kept = "no checkpoint was written"
        gave_up = (f"; gave up after {rollbacks} rollback(s), learning rates at "
                   f"{self.progress.lr_scale:g}x" if rollbacks is not None else "")
        return DivergenceError(
            f"training diverged at {where}: {self.diagnose(err)}{gave_up}",
            hint="lower the learning rates (optim.g_lr/d_lr), add a gradient penalty or "
            f"gradient clipping (optim.grad_clip) or raise fault.max_rollbacks; {kept}")

    def rollback(self, err: NonFiniteError, phase: Phase) -> None:
        """Restore the last good state and lower the learning rates by ``fault.lr_factor``, or
        stop with a diagnosis."""
        p = self.progress
        where = (f"step {p.step + 1}" if phase.adversarial else
                 f"step {p.done(phase) + 1} of phase '{phase.name}'")
        if p.rollbacks >= self.cfg.max_rollbacks or self.checkpoints.last_good is None:
            raise self.divergence(err, where, p.rollbacks)
        what = self.diagnose(err)
        rollbacks, scale = p.rollbacks + 1, p.lr_scale * self.cfg.lr_factor
        self.checkpoints.restore_last_good()
        p.rollbacks, p.lr_scale = rollbacks, scale
        # the logs restart where the restored state stands, as after a resume
        self.run_dir.truncate(p.step, p.phase_steps)
        self.method.set_lr(self.lr_factor(phase))
        lrs = ", ".join(f"{k} lr {o.param_groups[0]['lr']:.3g}"
                        for k, o in self.method.optimizers.items())
        print(f"warning: non-finite value at {where}: {what}; rolled back to step {p.step} "
              f"and lowered the learning rates by fault.lr_factor={self.cfg.lr_factor:g} "
              f"to {scale:g}x ({lrs}) (rollback {rollbacks}/{self.cfg.max_rollbacks})",
              file=sys.stderr)
