"""The probability ratio ``r = p_theta(x) / p_theta_old(x)`` of PPO-GAN (Eq. 6), for every method.

One module holds the ratio estimators that PPO-GAN (``methods.ppo``), its conditional form
(``methods.conditional``) and the style task's latent and sentence adversaries
(``methods.style``) use, with every option of ``variational.*``:

* :class:`ClassifierRatio`, a real-vs-fake classifier C fine-tuned one step at a time:
  ``ratio=classifier`` (the authors' code, ``log r = l_old(x_old) - l(x_new)``) or
  ``ratio=classifier_same_x`` (Eq. 6 as printed, a frozen copy C^(t) at the same x);
  ``classifier_bn`` (joint or the authors' BatchNorm handling), ``classifier_schedule``
  (``per_step``: one C step before each generator step; ``per_phase``: the phase's C steps
  first, then C fixed), ``classifier_warmup`` (C steps before training) and
  ``classifier_lr_divide`` (:func:`classifier_lr`);
* :class:`ExactRatio`, ``log r = log p_theta(x) - log p_theta_old(x)`` for a generator with a
  tractable likelihood (``ratio=exact``).

Both share one interface for the generator phase::

    ratio.before_phase(n_gen)     per_phase: the phase's n_gen C steps now
    ratio.begin_phase(z)          record the old generator (``record(x_old)`` with own samples)
    repeat: ratio.before_step()   per_step: one C step (its stats), per_phase: the queued stats
            log r = ratio.log_ratio(x)

and :func:`run_generator_phase` is the phase's loop with CleanRL's ``target_kl`` early stop.
The loss itself is :func:`stablegan.variational.clipped_loss` (Eq. 5's one call site).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stablegan.core.phases import Stats
from stablegan.errors import ConfigError
from stablegan.methods.gan import dense_like
from stablegan.variational import (
    MAX_LOG_RATIO,
    binary_accuracy,
    classifier_log_ratio,
    exact_log_ratio,
)

CLASSIFIER_RATIOS = ("classifier", "classifier_same_x")

__all__ = ["CLASSIFIER_RATIOS", "MAX_LOG_RATIO", "ClassifierRatio", "ExactRatio",
           "classifier_lr", "run_generator_phase"]


def classifier_lr(cfg: Any) -> float:
    """The ratio classifier's learning rate: ``optim.c_lr``, divided by ``schedule.n_gen`` with
    ``variational.classifier_lr_divide`` (the authors' code, which divides G's too)."""
    divide = cfg.schedule.n_gen if cfg.variational.classifier_lr_divide else 1
    return cfg.optim.c_lr / divide


class ClassifierRatio:
    """Eq. 6 with a real-vs-fake classifier C, fine-tuned one step per generator step.

    ``same_x=False`` (``variational.ratio=classifier``, the authors' code):
    ``log r = l_old(x_old) - l(x_new)``, C_old's logit recorded once on the phase's old samples.
    ``same_x=True`` (``classifier_same_x``, Eq. 6 as printed): a frozen copy C^(t) of C is taken at
    the phase's start and ``log r = l^(t)(x) - l(x)`` at the same ``x = G_theta(z)``, so r = 1 at
    theta_old before any C step. The copy is rebuilt from C at every phase start (checkpoints fall
    between phases), so it needs no state of its own and resumes bit-exactly.

    ``bn="joint"``: C trains on one concatenated real+fake batch and r's logits use eval mode;
    ``bn="authors"``: train mode everywhere, separate real and fake passes, r's logits on pure
    (all-fake) batches in train mode.

    ``schedule`` (``per_step`` / ``per_phase``) and ``warmup`` (C steps before training) are
    ``variational.classifier_schedule`` and ``classifier_warmup``. ``name`` is C's network in
    ``method.networks`` (stepped with ``method.step``), ``keys`` the names of its loss and
    accuracy in the stats, ``term`` the loss's name in a non-finite error. A classifier that
    also reads a condition (the class y of a conditional GAN, the target style of a sentence)
    takes it as further arguments of :meth:`fit`, :meth:`record` and :meth:`log_ratio`:
    ``C(x, *cond)``.
    """

    def __init__(self, method: Any, classifier: nn.Module, same_x: bool = False,
                 bn: str = "joint", *, schedule: str = "per_step", warmup: int = 0,
                 name: str = "C", keys: tuple[str, str] = ("classifier/loss",
                                                           "classifier/accuracy"),
                 term: str = "classifier loss") -> None:
        self.method = method
        self.C = classifier
        self.same_x = same_x
        self.bn = bn
        self.schedule = schedule
        self.warmup = warmup
        self.name, self.keys, self.term = name, keys, term
        self.C_old: nn.Module | None = None
        self.logit_old: Tensor | None = None
        self.x_old: Tensor | None = None
        self._queued: list[Stats] = []

    @classmethod
    def from_config(cls, method: Any, classifier: nn.Module, v: Any, **kw: Any
                    ) -> ClassifierRatio:
        """The estimator ``variational`` (a VariationalConfig) asks for, over ``classifier``."""
        options = {"same_x": v.ratio == "classifier_same_x", "bn": v.classifier_bn,
                   "schedule": v.classifier_schedule, "warmup": v.classifier_warmup}
        return cls(method, classifier, **{**options, **kw})

    @property
    def per_phase(self) -> bool:
        return self.schedule == "per_phase"

    # ---------------------------------------------------------------- C's training
    def logits(self, x: Tensor, *cond: Tensor, net: nn.Module | None = None) -> Tensor:
        """The logit of C (or ``net``) at x: eval mode with ``bn="joint"`` (BatchNorm running
        statistics, a pointwise function), train mode with ``bn="authors"`` (batch statistics)."""
        net = self.C if net is None else net
        if net.training != (self.bn == "authors"):  # C is left in this mode: fit() and
            net.train(self.bn == "authors")  # the next logits() set the mode they need
        return net(x, *cond).reshape(-1)

    def fit(self, real: Tensor, fake: Tensor, *cond: Tensor) -> Stats:
        """One BCE step of C on ``real`` (labelled 1) and ``fake`` (labelled 0), both of the
        condition ``cond`` when C reads one."""
        self.C.train()
        if self.bn == "authors":  # pure batches, each with its own batch statistics
            l_real = self.C(real, *cond).reshape(-1)
            l_fake = self.C(fake, *cond).reshape(-1)
        else:
            # one forward pass over reals and fakes together: with BatchNorm, separate passes
            # would let C tell them apart by batch statistics, which its eval-mode logits never see
            both = [torch.cat([c, c]) for c in cond]
            logits = self.C(torch.cat([dense_like(real, fake), fake]), *both).reshape(-1)
            l_real, l_fake = logits[: real.shape[0]], logits[real.shape[0]:]
        loss = (F.binary_cross_entropy_with_logits(l_real, torch.ones_like(l_real))
                + F.binary_cross_entropy_with_logits(l_fake, torch.zeros_like(l_fake)))
        m = self.method
        m.step(self.name, loss, {self.term: loss}, max_norm=m.cfg.optim.c_grad_clip)
        return {self.keys[0]: loss.detach(),
                self.keys[1]: binary_accuracy(l_real.detach(), l_fake.detach())}

    def update(self) -> Stats:
        """One step of C on the method's pair: reals labelled 1, fresh fakes labelled 0."""
        m = self.method
        real = m.pair.real()
        with torch.no_grad():
            fake = m.pair.fake(m.pair.source(real.shape[0]))
        return self.fit(real, fake)

    # ---------------------------------------------------------------- the generator phase
    def before_phase(self, n_steps: int) -> None:
        """``per_phase``: the phase's ``n_steps`` C steps now (their stats handed out by
        :meth:`before_step`), so C is fixed while G moves; ``per_step``: nothing."""
        self._queued = [self.update() for _ in range(n_steps)] if self.per_phase else []

    def before_step(self) -> Stats:
        """Before each generator step: ``per_step``, one C step; ``per_phase``, the stats of one
        of the phase's C steps taken by :meth:`before_phase`."""
        if self.per_phase:
            return self._queued.pop(0) if self._queued else {}
        return self.update()

    def begin_phase(self, z: Tensor) -> None:
        """Record the old generator on the phase's latent batch: its samples ``G(z)``."""
        with torch.no_grad():
            self.x_old = self.method.G(z)
        self.record(self.x_old)

    def record(self, x_old: Tensor | None, *cond: Tensor) -> None:
        """Record C_old: its logit at the old samples ``x_old`` (``same_x=False``), or a frozen
        copy C^(t) of C (``same_x=True``, which needs no samples)."""
        with torch.no_grad():
            if self.same_x:
                self.C_old = copy.deepcopy(self.C).requires_grad_(False)
                self.logit_old = None
            else:
                assert x_old is not None, "the classifier ratio records C_old at the old samples"
                self.logit_old = self.logits(x_old, *cond)

    def samples(self, z: Tensor) -> Tensor:
        return self.method.pair.fake(z)

    def log_ratio(self, x: Tensor, *cond: Tensor) -> Tensor:
        if self.same_x:
            assert self.C_old is not None, "begin_phase must run first"
            return classifier_log_ratio(self.logits(x, *cond),
                                        self.logits(x, *cond, net=self.C_old))
        assert self.logit_old is not None, "begin_phase must run first"
        return classifier_log_ratio(self.logits(x, *cond), self.logit_old)


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

    per_phase = False
    warmup = 0

    def __init__(self, method: Any) -> None:
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

    def before_phase(self, n_steps: int) -> None:
        """Nothing to train."""

    def before_step(self) -> Stats:
        return {}

    def update(self) -> Stats:
        return {}

    def begin_phase(self, z: Tensor) -> None:
        G = self.method.G
        with torch.no_grad():
            if callable(getattr(G, "relaxed_sample", None)):
                self.critic_x, self.x_old = G.relaxed_sample(z.shape[0])
            else:
                self.x_old = G.sample(z.shape[0])
                self.critic_x = self.method.task.critic_view(self.x_old)
            self.logp_old = G.log_prob(self.x_old)

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


def run_generator_phase(n_gen: int, step: Callable[[], Stats], target_kl: float = 0.0
                        ) -> list[Stats]:
    """The ``n_gen`` generator steps of a clipped phase (``step()`` takes one and returns its
    stats), stopped early (CleanRL's ``target_kl``) once a step's ``ratio/approx_kl`` exceeds
    ``target_kl`` (> 0; that step is still taken). The last step's stats carry the phase's
    ``ppo/gen_steps``, ``ppo/early_stop`` and the ratio's mean at the first and the last inner
    step (``ratio/first_mean``, ``ratio/last_mean``; 1 at theta_old for the exact ratio)."""
    out: list[Stats] = []
    stopped = False
    for k in range(n_gen):
        out.append(step())
        kl = out[-1].get("ratio/approx_kl")
        if target_kl > 0 and k < n_gen - 1 and kl is not None and float(kl) > target_kl:
            stopped = True
            break
    out[-1].update({"ppo/gen_steps": float(len(out)), "ppo/early_stop": float(stopped)})
    if "ratio/mean" in out[0] and "ratio/mean" in out[-1]:
        out[-1].update({"ratio/first_mean": out[0]["ratio/mean"],
                        "ratio/last_mean": out[-1]["ratio/mean"]})
    return out
