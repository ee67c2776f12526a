"""Safeguards of the trainer: shape checks before training, non-finite states, rollbacks.

Mixed into :class:`stablegan.training.trainer.Trainer`; see its docstring and
docs/reliability.md for the fault model.
"""

from __future__ import annotations

import copy
import sys
from typing import Any

import torch

from stablegan.errors import DivergenceError, ShapeError
from stablegan.methods import NonFiniteError
from stablegan.training.phases import Phase
from stablegan.training.state import first_nonfinite, nonfinite_entry


class Safeguards:
    """Shape checks, finiteness checks, divergence diagnosis and rollback (a Trainer mixin)."""

    method: Any
    task: Any
    cfg: Any
    step: int
    ema: Any
    fixed_z: Any
    out_dir: Any
    rollbacks: int
    lr_scale: float
    history: list[dict[str, Any]]
    _last_good: dict[str, Any] | None

    def _check_shapes(self) -> None:
        """One forward pass of G and D on tiny batches, with messages naming any mismatch."""
        m = self.method
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
                self.task.check_fake(fake)
                try:
                    m.critic_scores(fake, "fake")
                except ShapeError:
                    raise
                except Exception as err:  # noqa: BLE001
                    raise ShapeError(f"the discriminator failed on a batch of shape "
                                     f"{tuple(fake.shape)}: {err}".splitlines()[0],
                                     hint="its input layer must accept the data's shape") from None
                self.task.watch_samples(fake, self.step)
        finally:
            for k, n in m.networks.items():
                n.train(was[k])

    @torch.no_grad()
    def _watch_now(self) -> None:
        G = self.method.G
        was, rng = G.training, torch.get_rng_state()  # a look must not change the run
        G.eval()
        try:
            self.task.watch_samples(G(self.fixed_z[:16]), self.step)
        finally:
            G.train(was)
            torch.set_rng_state(rng)

    def _nonfinite_state(self) -> NonFiniteError | None:
        """The first non-finite weight, EMA weight or optimiser moment, or None."""
        nets = dict(self.method.networks)
        if self.ema is not None:
            nets["G (EMA)"] = self.ema.shadow
        for k, net in nets.items():
            bad = first_nonfinite(net)
            if bad:
                return NonFiniteError(k, f"weight {bad}")
        for k, opt in self.method.optimizers.items():
            bad = nonfinite_entry(opt.state_dict().get("state", {}))
            if bad:
                return NonFiniteError(k, f"optimiser state {bad}")
        return None

    def _save_or_diverge(self, name: str = "last.pt") -> None:
        """``save``; a non-finite state (which the step checks should have caught) stops the run
        with DivergenceError instead of being written."""
        try:
            self.save(name)
        except NonFiniteError as err:
            raise self._divergence(err, f"step {self.step}", None) from None

    # ------------------------------------------------------------------ faults
    def _diagnose(self, err: NonFiniteError) -> str:
        """``err`` in words, naming a non-finite weight first when one is the root cause."""
        if not err.term.startswith("weight"):
            for k, net in self.method.networks.items():
                bad = first_nonfinite(net)
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

    def _rollback(self, err: NonFiniteError, phase: Phase) -> None:
        """Restore the last good state, lower the learning rates, or stop with a diagnosis."""
        where = (f"step {self.step + 1}" if phase.adversarial else
                 f"step {self._done(phase) + 1} of phase '{phase.name}'")
        if self.rollbacks >= self.cfg.fault.max_rollbacks or self._last_good is None:
            raise self._divergence(err, where, self.rollbacks)
        what = self._diagnose(err)
        rollbacks, scale = self.rollbacks + 1, self.lr_scale * self.cfg.fault.lr_factor
        self.load_state_dict(copy.deepcopy(self._last_good))
        self.rollbacks, self.lr_scale = rollbacks, scale
        # the logs restart where the restored state stands, as after a resume
        self.history = [r for r in self.history if "phase" in r or r["step"] <= self.step]
        self._truncate_logs()
        self.method.set_lr(self._lr_factor(phase))
        lrs = ", ".join(f"{k} lr {o.param_groups[0]['lr']:.3g}"
                        for k, o in self.method.optimizers.items())
        print(f"warning: non-finite value at {where}: {what}; rolled back to step {self.step} "
              f"and lowered the learning rates by fault.lr_factor={self.cfg.fault.lr_factor:g} "
              f"to {scale:g}x ({lrs}) (rollback {rollbacks}/{self.cfg.fault.max_rollbacks})",
              file=sys.stderr)

