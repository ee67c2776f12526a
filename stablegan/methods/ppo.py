"""PPO-GAN (Wu et al., NeurIPS 2020): the generator phase with probability-ratio clipping.

One generator phase (``n_gen`` steps, usually on one latent batch z)::

    ratio.before_phase(n_gen)          classifier_schedule=per_phase: the phase's C steps first
    ratio.begin_phase(z)               record the old generator: C_old(x_old), a frozen copy
                                       C^(t) (Eq. 6 at the same x) or log p_old(x)
    repeat n_gen times (stopped early past variational.target_kl):
        ratio.before_step()            classifier estimator: one C step, fresh reals and fakes
        x = G(z) ; log r = ratio.log_ratio(x)
        A = advantage(D(x))            raw / centered / normalized critic value (exact ratio on
                                       text: D of the phase's relaxed sample, D's own input)
        L_G = clipped_loss(log r, A, eps, clip_mode)     Eq. 5, -mean(clipped_surrogate(r, A))
                                       (or the authors' variant; r detached with
                                       variational.ratio_gradient=false)

The critic side (importance re-weighting of fakes, Eq. 8) lives in ``GANMethod.d_step`` behind
``variational.reweight``, so it composes with every objective. The ratio estimators live in
``methods.ratio`` (shared with the conditional and the style methods) and share one small
interface (``before_phase``, ``begin_phase``, ``before_step``, ``log_ratio``, ``samples``), so a
generator with a tractable likelihood can use the exact ratio instead of the classifier.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from stablegan.config import Config
from stablegan.core.phases import Stats
from stablegan.errors import ConfigError
from stablegan.methods.gan import GANMethod
from stablegan.methods.ratio import (
    CLASSIFIER_RATIOS,
    ClassifierRatio,
    ExactRatio,
    classifier_lr,
    run_generator_phase,
)
from stablegan.objectives import per_sample
from stablegan.variational import advantage, clipped_loss

__all__ = ["CLASSIFIER_RATIOS", "ClassifierRatio", "ExactRatio", "PPOGANMethod"]


class PPOGANMethod(GANMethod):
    """GANMethod whose generator minimises the clipped surrogate of Eq. 5."""

    ratio_class: type[ClassifierRatio] = ClassifierRatio  # the conditional form: C(x, y)

    def __init__(self, cfg: Config, generator: nn.Module, discriminator: nn.Module, task: Any,
                 device: torch.device | str = "cpu", classifier: nn.Module | None = None) -> None:
        super().__init__(cfg, generator, discriminator, task, device)
        v = cfg.variational
        self.divide_generator_lr()
        self.ratio: ClassifierRatio | ExactRatio
        if v.ratio in CLASSIFIER_RATIOS:
            if classifier is None:
                classifier = task.build_classifier(cfg.model)
            self.C = classifier.to(self.device)
            self.add_network("C", self.C, classifier_lr(cfg))
            self.ratio = self.ratio_class.from_config(self, self.C, v)
        else:
            self.ratio = ExactRatio(self)

    @classmethod
    def updates_per_iteration(cls, cfg: Config) -> int:
        """n_critic + n_gen, plus one classifier step per generator step with the classifier
        ratio."""
        per_g = 2 if cfg.variational.ratio in CLASSIFIER_RATIOS else 1
        return cfg.schedule.n_critic + cfg.schedule.n_gen * per_g

    def begin_generator_phase(self, z: Tensor | None) -> None:
        if z is None:
            raise ConfigError(
                "probability-ratio clipping compares G and G_old on one latent batch",
                hint="set schedule.same_z_for_gen_steps=true")
        self.ratio.before_phase(self.cfg.schedule.n_gen)
        self.ratio.begin_phase(z)

    def g_phase(self, diagnostics: bool = False) -> list[Stats]:
        """The ``n_gen`` generator steps on one latent batch, stopped early (CleanRL's
        ``target_kl``) once a step's approx-KL exceeds ``variational.target_kl``
        (:func:`~stablegan.methods.ratio.run_generator_phase`, which also adds the phase's
        ``ppo/*`` and ``ratio/first_mean`` / ``last_mean`` stats to the last step's)."""
        z = self.sample_z(self.batch_size) if self.cfg.schedule.same_z_for_gen_steps else None
        self.begin_generator_phase(z)
        assert z is not None
        return run_generator_phase(self.cfg.schedule.n_gen, lambda: self.g_step(z),
                                   self.cfg.variational.target_kl)

    def g_step(self, z: Tensor) -> Stats:
        stats = self.ratio.before_step()
        if isinstance(self.ratio, ExactRatio):
            loss, terms, more = self.generator_loss(z, self.ratio.samples(z))
            stats.update(more)
            stats["grad/g_norm"] = self.step("G", loss, terms)
            stats["loss/g"] = loss.detach()
            return stats
        stats.update(super().g_step(z))
        return stats

    def generator_loss(self, z: Tensor, fake: Tensor) -> tuple[Tensor, dict[str, Tensor], Stats]:
        v = self.cfg.variational
        exact = isinstance(self.ratio, ExactRatio)
        # the exact ratio's samples are in the generator's sample form (token ids for text); the
        # critic scores the relaxed sample of the same draw, its own training input
        fake_in = self.augment(self.ratio.critic_input() if isinstance(self.ratio, ExactRatio)
                               else fake)
        scores = self.critic_scores(fake_in, "fake")
        if exact:
            scores = scores.detach()
        log_r = self.ratio.log_ratio(fake)
        adv = advantage(per_sample(scores), v.advantage)
        loss, stats = clipped_loss(log_r, adv, v.eps, v.clip_mode,
                                   ratio_gradient=v.ratio_gradient)
        mean_score = scores.detach().mean()
        stats["critic/g_fake"] = mean_score
        stats["loss/g_wgan"] = -mean_score
        terms = {"clipped surrogate": loss, "log ratio": log_r}
        return self.generator_terms(loss, terms, stats), terms, stats

    def warmup_steps(self) -> int:
        return super().warmup_steps() + self.ratio.warmup

    def warmup_step(self, index: int, diagnostics: bool = False) -> Stats:
        """Critic warm-up steps first, then ``variational.classifier_warmup`` C steps."""
        if index < self.cfg.schedule.d_warmup:
            return super().warmup_step(index, diagnostics)
        return self.ratio.update()
