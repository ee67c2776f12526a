"""PPO-GAN (Wu et al., NeurIPS 2020): the generator phase with probability-ratio clipping.

One generator phase (``n_gen`` steps, usually on one latent batch z)::

    ratio.begin_phase(z)               record the old generator: C_old(x_old), a frozen copy
                                       C^(t) (Eq. 6 at the same x) or log p_old(x)
    repeat n_gen times:
        ratio.update()                 classifier estimator: one C step, fresh reals and fakes
        x = G(z) ; log r = ratio.log_ratio(x)
        A = advantage(D(x))            raw / centered / normalized critic value (exact ratio on
                                       text: D of the phase's relaxed sample, D's own input)
        L_G = -mean(clipped_surrogate(r, A, eps, clip_mode))     Eq. 5 (or the authors' variant;
                                       r detached with variational.ratio_gradient=false)

The critic side (importance re-weighting of fakes, Eq. 8) lives in ``GANMethod.d_step`` behind
``variational.reweight``, so it composes with every objective. Ratio estimators share one small
interface (``begin_phase``, ``update``, ``log_ratio``, ``samples``) so a generator with a tractable
likelihood can use the exact ratio instead of the classifier.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stablegan.config import Config
from stablegan.core.phases import Stats
from stablegan.errors import ConfigError
from stablegan.methods.gan import GANMethod, dense_like
from stablegan.objectives import per_sample
from stablegan.variational import (
    advantage,
    binary_accuracy,
    classifier_log_ratio,
    clipped_surrogate,
    exact_log_ratio,
    ratio_statistics,
)

MAX_LOG_RATIO = 20.0
CLASSIFIER_RATIOS = ("classifier", "classifier_same_x")


class ClassifierRatio:
    """Eq. 6 with a real-vs-fake classifier C, fine-tuned one step per G step.

    ``same_x=False`` (``variational.ratio=classifier``, the authors' code):
    ``log r = l_old(x_old) - l(x_new)``, C_old's logit recorded once on the phase's old samples.
    ``same_x=True`` (``classifier_same_x``, Eq. 6 as printed): a frozen copy C^(t) of C is taken at
    the phase's start and ``log r = l^(t)(x) - l(x)`` at the same ``x = G_theta(z)``, so r = 1 at
    theta_old before any C step. The copy is rebuilt from C at every phase start (checkpoints fall
    between phases), so it needs no state of its own and resumes bit-exactly.

    ``bn="joint"``: C trains on one concatenated real+fake batch and r's logits use eval mode;
    ``bn="authors"``: train mode everywhere, separate real and fake passes, r's logits on pure
    (all-fake) batches in train mode.
    """

    def __init__(self, method: PPOGANMethod, classifier: nn.Module, same_x: bool = False,
                 bn: str = "joint") -> None:
        self.method = method
        self.C = classifier
        self.same_x = same_x
        self.bn = bn
        self.C_old: nn.Module | None = None
        self.logit_old: Tensor | None = None
        self.x_old: Tensor | None = None

    def logits(self, x: Tensor, net: nn.Module | None = None) -> Tensor:
        """The logit of C (or ``net``) at x: eval mode with ``bn="joint"`` (BatchNorm running
        statistics, a pointwise function), train mode with ``bn="authors"`` (batch statistics)."""
        net = self.C if net is None else net
        if net.training != (self.bn == "authors"):  # C is left in this mode: update() and
            net.train(self.bn == "authors")  # the next logits() set the mode they need
        return net(x).reshape(-1)

    def begin_phase(self, z: Tensor) -> None:
        with torch.no_grad():
            self.x_old = self.method.G(z)
            if self.same_x:
                self.C_old = copy.deepcopy(self.C).requires_grad_(False)
                self.logit_old = None
            else:
                self.logit_old = self.logits(self.x_old)

    def update(self) -> Stats:
        """One BCE step of C: reals labelled 1, fresh fakes labelled 0."""
        m = self.method
        real = m.pair.real()
        with torch.no_grad():
            fake = m.pair.fake(m.pair.source(real.shape[0]))
        self.C.train()
        if self.bn == "authors":  # pure batches, each with its own batch statistics
            l_real, l_fake = self.C(real).reshape(-1), self.C(fake).reshape(-1)
        else:
            # one forward pass over reals and fakes together: with BatchNorm, separate passes
            # would let C tell them apart by batch statistics, which its eval-mode logits never see
            logits = self.C(torch.cat([dense_like(real, fake), fake])).reshape(-1)
            l_real, l_fake = logits[: real.shape[0]], logits[real.shape[0]:]
        loss = (F.binary_cross_entropy_with_logits(l_real, torch.ones_like(l_real))
                + F.binary_cross_entropy_with_logits(l_fake, torch.zeros_like(l_fake)))
        m.step("C", loss, {"classifier loss": loss}, max_norm=m.cfg.optim.c_grad_clip)
        return {"classifier/loss": loss.detach(),
                "classifier/accuracy": binary_accuracy(l_real.detach(), l_fake.detach())}

    def samples(self, z: Tensor) -> Tensor:
        return self.method.pair.fake(z)

    def log_ratio(self, x: Tensor) -> Tensor:
        if self.same_x:
            assert self.C_old is not None, "begin_phase must run first"
            return classifier_log_ratio(self.logits(x), self.logits(x, self.C_old))
        assert self.logit_old is not None, "begin_phase must run first"
        return classifier_log_ratio(self.logits(x), self.logit_old)


class ExactRatio:
    """``log r = log p_theta(x) - log p_theta_old(x)`` on samples of the old generator.

    Needs a generator with ``sample(n) -> x`` and ``log_prob(x) -> (B,)`` (e.g. a language model);
    the samples are fixed for the phase and the gradient reaches G through ``log p_theta`` only.

    The advantage is scored on the critic's own training input. A generator with
    ``relaxed_sample(n) -> (o, x)`` (the text generators: RelGAN's critic trains on relaxed
    one-hots ``o = softmax(beta * (logits + g))``, never on exact one-hots) gives the phase's
    sentences ``x`` and, kept beside them, the relaxed sample ``o`` of the same draw, which the
    critic scores (:meth:`critic_input`); the token ids are the same ones ``sample(n)`` would
    draw from the same RNG state. Other generators (flows) are scored on ``critic_view(x)``.
    """

    def __init__(self, method: PPOGANMethod) -> None:
        G = method.G
        if not (callable(getattr(G, "sample", None)) and callable(getattr(G, "log_prob", None))):
            raise ConfigError(
                f"variational.ratio=exact needs a generator with sample(n) and log_prob(x); "
                f"{type(G).__name__} has not both",
                hint="use variational.ratio=classifier for implicit generators")
        self.method = method
        self.x_old: Tensor | None = None
        self.critic_x: Tensor | None = None
        self.logp_old: Tensor | None = None

    def begin_phase(self, z: Tensor) -> None:
        G = self.method.G
        with torch.no_grad():
            if callable(getattr(G, "relaxed_sample", None)):
                self.critic_x, self.x_old = G.relaxed_sample(z.shape[0])
            else:
                self.x_old = G.sample(z.shape[0])
                self.critic_x = self.method.task.critic_view(self.x_old)
            self.logp_old = G.log_prob(self.x_old)

    def update(self) -> Stats:
        return {}

    def samples(self, z: Tensor) -> Tensor:
        assert self.x_old is not None
        return self.x_old

    def critic_input(self) -> Tensor:
        """What the critic scores for the advantage: the relaxed sample of the phase's draw
        (text) or the critic's view of the samples."""
        assert self.critic_x is not None, "begin_phase must run first"
        return self.critic_x

    def log_ratio(self, x: Tensor) -> Tensor:
        assert self.logp_old is not None
        return exact_log_ratio(self.method.G.log_prob(x), self.logp_old)


class PPOGANMethod(GANMethod):
    """GANMethod whose generator minimises the clipped surrogate of Eq. 5."""

    def __init__(self, cfg: Config, generator: nn.Module, discriminator: nn.Module, task: Any,
                 device: torch.device | str = "cpu", classifier: nn.Module | None = None) -> None:
        super().__init__(cfg, generator, discriminator, task, device)
        v = cfg.variational
        if v.classifier_lr_divide:  # the authors' code: G and C at lr / n_gen
            self.base_lr["G"] = cfg.optim.g_lr / cfg.schedule.n_gen
            self.set_lr(1.0)
        self.ratio: ClassifierRatio | ExactRatio
        if v.ratio in CLASSIFIER_RATIOS:
            if classifier is None:
                classifier = task.build_classifier(cfg.model)
            self.C = classifier.to(self.device)
            self.networks["C"] = self.C
            c_lr = cfg.optim.c_lr / (cfg.schedule.n_gen if v.classifier_lr_divide else 1)
            self.base_lr["C"] = c_lr
            self.optimizers["C"] = self._adam(self.C, c_lr)
            self.counts["C"] = 0
            self.ratio = ClassifierRatio(self, self.C, same_x=v.ratio == "classifier_same_x",
                                         bn=v.classifier_bn)
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
        self._phase_c_stats: list[Stats] = []
        if self.per_phase:  # all of the phase's C steps first, then C stays fixed
            self._phase_c_stats = [self.ratio.update() for _ in range(self.cfg.schedule.n_gen)]
        self.ratio.begin_phase(z)

    def g_phase(self, diagnostics: bool = False) -> list[Stats]:
        """The ``n_gen`` generator steps on one latent batch, stopped early (CleanRL's
        ``target_kl``) once a step's approx-KL exceeds ``variational.target_kl``. The last step's
        stats carry the phase's ``ppo/gen_steps``, ``ppo/early_stop`` and the ratio's mean at the
        first and the last inner step (``ratio/first_mean`` is 1 for the exact ratio)."""
        n_gen, target = self.cfg.schedule.n_gen, self.cfg.variational.target_kl
        z = self.sample_z(self.batch_size) if self.cfg.schedule.same_z_for_gen_steps else None
        self.begin_generator_phase(z)
        assert z is not None
        out: list[Stats] = []
        stopped = False
        for k in range(n_gen):
            out.append(self.g_step(z))
            if target > 0 and k < n_gen - 1 and float(out[-1]["ratio/approx_kl"]) > target:
                stopped = True
                break
        out[-1].update({"ppo/gen_steps": float(len(out)), "ppo/early_stop": float(stopped),
                        "ratio/first_mean": out[0]["ratio/mean"],
                        "ratio/last_mean": out[-1]["ratio/mean"]})
        return out

    @property
    def per_phase(self) -> bool:
        return (self.cfg.variational.classifier_schedule == "per_phase"
                and isinstance(self.ratio, ClassifierRatio))

    def g_step(self, z: Tensor) -> Stats:
        if self.per_phase:
            stats = self._phase_c_stats.pop(0) if self._phase_c_stats else {}
        else:
            stats = self.ratio.update()
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
        r = log_r.clamp(max=MAX_LOG_RATIO).exp()  # a saturated C must not give inf * 0 = NaN
        if not v.ratio_gradient:  # r only picks the branch: grad L = -mean(coef * grad f)
            r = r.detach()
        adv = advantage(per_sample(scores), v.advantage)
        surrogate = clipped_surrogate(r, adv, v.eps, v.clip_mode)
        loss = -surrogate.mean()
        stats = ratio_statistics(log_r, adv, v.eps, v.clip_mode)
        mean_score = scores.detach().mean()
        stats["critic/g_fake"] = mean_score
        stats["loss/g_wgan"] = -mean_score
        terms = {"clipped surrogate": loss, "log ratio": log_r}
        return self.generator_terms(loss, terms, stats), terms, stats

    def warmup_steps(self) -> int:
        extra = (self.cfg.variational.classifier_warmup
                 if isinstance(self.ratio, ClassifierRatio) else 0)
        return super().warmup_steps() + extra

    def warmup_step(self, index: int, diagnostics: bool = False) -> Stats:
        """Critic warm-up steps first, then ``variational.classifier_warmup`` C steps."""
        if index < self.cfg.schedule.d_warmup:
            return super().warmup_step(index, diagnostics)
        return self.ratio.update()
