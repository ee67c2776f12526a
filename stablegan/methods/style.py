"""Text style transfer with adversarial training on hidden states (task "style").

Networks: ``G`` the :class:`~stablegan.models.style.StyleAutoencoder` (encoder, style codes,
decoder), ``D`` the latent-code critic on the content code z, ``C`` the model's own CNN style
classifier (trained on real labelled sentences), and with probability-ratio clipping ``R``, the
ratio classifier between prior draws and codes. The pair is
:class:`~stablegan.methods.pair.LatentPair` (real = z ~ N(0, I), fake = ``G.encode(x)``), so
``GANMethod.d_step`` is the critic step unchanged: the configured objective, gradient penalty
and the critic-side re-weighting of fakes (``variational.reweight``) apply to codes.

Phases:

* ``autoencoder`` (``style.autoencoder_steps``): reconstruction only (teacher forcing), plus one
  step of C on real sentences;
* [``warmup``: ``schedule.d_warmup`` critic steps];
* ``adversarial``: ``n_critic`` D steps via the pair, then ``n_gen`` encoder/decoder steps::

      z = E(x) ; c = style(y) ; c' = style(y'),  y' != y
      L = rec_weight * CE(dec(z, c) | x)                         teacher forcing
        + style_weight * CE(C(soft_dec(z, c', tau)), y')         Gumbel-softmax, C fixed
        + adv_weight * A(D(z))

  where A is ``objective.g_loss`` (classic), the authors' ``mean(w * g_loss_i)`` with
  ``w = B softmax(D(z))`` detached (``style.importance=softmax``), or, with
  ``variational.clip``, minus PPO's clipped surrogate of Eq. 5 with
  ``log r = R_old(z_old) - R(z)`` on one source batch for the phase; then one C step.

The Gumbel temperature tau starts at ``style.tau_start`` and is multiplied by ``style.tau_decay``
every ``style.tau_every`` adversarial steps (0: one data epoch), floor ``style.tau_min``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stablegan.config import Config
from stablegan.methods.gan import GANMethod
from stablegan.methods.pair import LatentPair
from stablegan.models.style import PAD_ID, LatentCritic, soft_pad_mask
from stablegan.training.phases import ADVERSARIAL, Phase, Stats, average
from stablegan.variational import (
    advantage,
    binary_accuracy,
    clipped_surrogate,
    effective_sample_size,
    importance_weights,
    ratio_statistics,
)

MAX_LOG_RATIO = 20.0


def reconstruction_loss(logits: Tensor, ids: Tensor) -> Tensor:
    """Mean per-token cross-entropy over the sentence and its ``<eos>`` (``<pad>`` ignored)."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids.reshape(-1).long(),
                           ignore_index=PAD_ID)


def gumbel_temperature(step: int, cfg: Any, steps_per_epoch: int) -> float:
    """``max(tau_min, tau_start * tau_decay ** (step // every))``."""
    st = cfg.style
    every = st.tau_every or max(1, steps_per_epoch)
    return max(st.tau_min, st.tau_start * st.tau_decay ** (step // every))


class StyleMethod(GANMethod):
    """Autoencoder pre-training, then joint adversarial training on the content code."""

    def __init__(self, cfg: Config, generator: nn.Module, discriminator: nn.Module, task: Any,
                 device: torch.device | str = "cpu", classifier: nn.Module | None = None
                 ) -> None:
        super().__init__(cfg, generator, discriminator, task, device)
        st = cfg.style
        self.pair = LatentPair(self)
        self.K = int(task.data.num_styles)
        self.C = (classifier or task.build_classifier(cfg.model)).to(self.device)
        self._add("C", self.C, st.classifier_lr)
        task.own_classifier = self.C  # the own_accuracy metric reads it
        self.clip = bool(cfg.variational.clip)
        if self.clip:
            self.R = LatentCritic(self.latent_dim, st.critic_hidden).to(self.device)
            self._add("R", self.R, cfg.optim.c_lr)
        self.tau = st.tau_start
        self._logit_old: Tensor | None = None

    def _add(self, name: str, net: nn.Module, lr: float) -> None:
        self.networks[name] = net
        self.base_lr[name] = lr
        self.optimizers[name] = self._adam(net, lr)
        self.counts[name] = 0

    # ---------------------------------------------------------------- schedule
    @classmethod
    def updates_per_iteration(cls, cfg: Config) -> int:
        """n_critic + n_gen (+ n_gen ratio-classifier steps with clipping) + one C step."""
        per_g = 2 if cfg.variational.clip else 1
        return cfg.schedule.n_critic + cfg.schedule.n_gen * per_g + 1

    def phases(self, steps: int) -> list[Phase]:
        self.adversarial_steps = steps
        out = []
        if self.cfg.style.autoencoder_steps:
            out.append(Phase("autoencoder", self.cfg.style.autoencoder_steps,
                             self.autoencoder_step, ("G", "C")))
        if self.warmup_steps():
            out.append(Phase("warmup", self.warmup_steps(), self.warmup_step, ("D",)))
        out.append(Phase(ADVERSARIAL, steps, self.iteration, tuple(self.networks)))
        return out

    def steps_per_epoch(self) -> int:
        return int(self.data.size) // self.batch_size

    # ---------------------------------------------------------------- pieces
    def _split(self, packed: Tensor) -> tuple[Tensor, Tensor]:
        return packed[:, :-1], packed[:, -1].long()

    def other_styles(self, labels: Tensor) -> Tensor:
        """A different style for every sentence: the other one for two styles, else uniform
        over the K - 1 others."""
        if self.K == 2:
            return 1 - labels
        shift = torch.randint(1, self.K, labels.shape, device=labels.device)
        return (labels + shift) % self.K

    def autoencoder_step(self, index: int, diagnostics: bool = False) -> Stats:
        """One reconstruction step of G, then one step of C on real sentences."""
        ids, labels = self._split(self.pair.source(self.batch_size))
        z = self.G.encode(ids)
        rec = reconstruction_loss(self.G.reconstruct_logits(ids, z, labels), ids)
        norm = self.step("G", rec, {"reconstruction loss": rec})
        stats = {"loss/g": float(rec.detach()), "loss/rec": float(rec.detach()),
                 "grad/g_norm": norm}
        stats.update(self.classifier_step())
        return stats

    def classifier_step(self) -> Stats:
        """One cross-entropy step of the model's own style classifier on real sentences."""
        ids, labels = self._split(self.pair.source(self.batch_size))
        self.C.train()
        logits = self.C(ids)
        loss = F.cross_entropy(logits, labels)
        self.step("C", loss, {"classifier loss": loss})
        acc = (logits.detach().argmax(1) == labels).float().mean()
        return {"loss/c": float(loss.detach()), "classifier/accuracy": float(acc)}

    # ---------------------------------------------------------------- adversarial phase
    def iteration(self, index: int = 0, diagnostics: bool = False) -> Stats:
        self.tau = gumbel_temperature(index, self.cfg, self.steps_per_epoch())
        n_critic = self.cfg.schedule.n_critic
        d_stats = [self.d_step(diagnostics and k == n_critic - 1) for k in range(n_critic)]
        out = average(d_stats + self.g_phase(diagnostics))
        out["style/tau"] = self.tau
        return out

    def g_phase(self, diagnostics: bool = False) -> list[Stats]:
        fixed = (self.pair.source(self.batch_size)
                 if self.cfg.schedule.same_z_for_gen_steps or self.clip else None)
        if self.clip:
            with torch.no_grad():
                self._logit_old = self.R(self.pair.fake(fixed))
        out = []
        for _ in range(self.cfg.schedule.n_gen):
            stats = self.ratio_update() if self.clip else {}
            stats.update(self.g_step(fixed if fixed is not None
                                     else self.pair.source(self.batch_size)))
            out.append(stats)
        out.append(self.classifier_step())
        return out

    def ratio_update(self) -> Stats:
        """One BCE step of R: prior draws labelled 1, fresh codes labelled 0."""
        real = self.pair.real()
        with torch.no_grad():
            fake = self.pair.fake(self.pair.source(real.shape[0]))
        logits = self.R(torch.cat([real, fake]))
        l_real, l_fake = logits[: real.shape[0]], logits[real.shape[0]:]
        loss = (F.binary_cross_entropy_with_logits(l_real, torch.ones_like(l_real))
                + F.binary_cross_entropy_with_logits(l_fake, torch.zeros_like(l_fake)))
        self.step("R", loss, {"ratio classifier loss": loss},
                  max_norm=self.cfg.optim.c_grad_clip)
        return {"classifier/ratio_loss": loss.item(),
                "classifier/ratio_accuracy": binary_accuracy(l_real.detach(), l_fake.detach())}

    def g_step(self, source: Tensor) -> Stats:
        st = self.cfg.style
        ids, labels = self._split(source)
        targets = self.other_styles(labels)
        z = self.G.encode(ids)
        rec = reconstruction_loss(self.G.reconstruct_logits(ids, z, labels), ids)
        loss, terms = st.rec_weight * rec, {"reconstruction loss": rec}
        stats: Stats = {"loss/rec": float(rec.detach())}
        if st.style_weight > 0:
            soft = soft_pad_mask(self.G.soft_decode(z, targets, self.tau))
            was = self.C.training
            self.C.eval()  # guidance without dropout; C's weights are not stepped here
            try:
                logits = self.C(soft)
            finally:
                self.C.train(was)
            style = F.cross_entropy(logits, targets)
            loss, terms["style loss"] = loss + st.style_weight * style, style
            stats["loss/style"] = float(style.detach())
            stats["style/soft_transfer_accuracy"] = float(
                (logits.detach().argmax(1) == targets).float().mean())
        if st.adv_weight > 0:
            scores = self.critic_scores(z, "fake")
            adv, more = self.adversarial_term(scores, z)
            loss, terms["adversarial loss"] = loss + st.adv_weight * adv, adv
            stats.update(more)
            stats["loss/adv"] = float(adv.detach())
            stats["critic/g_fake"] = float(scores.detach().mean())
        stats["grad/g_norm"] = self.step("G", loss, terms)
        stats["loss/g"] = float(loss.detach())
        return stats

    def adversarial_term(self, scores: Tensor, z: Tensor) -> tuple[Tensor, Stats]:
        """The encoder's adversarial loss on critic scores of its codes (see the module doc)."""
        v, stats = self.cfg.variational, {}
        if self.clip:
            assert self._logit_old is not None
            log_r = self._logit_old - self.R(z)
            r = log_r.clamp(max=MAX_LOG_RATIO).exp()
            if not v.ratio_gradient:
                r = r.detach()
            adv = advantage(scores, v.advantage)
            loss = -clipped_surrogate(r, adv, v.eps, v.clip_mode).mean()
            return loss, ratio_statistics(log_r, adv, v.eps, v.clip_mode)
        real = (self.critic_scores(self.pair.real(z.shape[0]), "real").detach()
                if self.objective.relativistic else None)
        if self.cfg.style.importance == "softmax":
            w = importance_weights(scores, v.temperature)
            stats["weights/g_ess"] = float(effective_sample_size(w))
            return (w * self.objective.g_per_sample(scores, real)).mean(), stats
        return self.objective.g_loss(scores, real), stats

    def extra_state(self) -> dict[str, Any]:
        state = super().extra_state()
        state["tau"] = self.tau
        return state

    def load_extra_state(self, state: dict[str, Any]) -> None:
        super().load_extra_state(state)
        self.tau = float(state.get("tau", self.tau))
